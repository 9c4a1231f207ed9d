"""Validating one resolved run: a raw run dict as a `RunConfig`, or every problem that prevents it.

Each section has its validator; they check what the declared fields cannot say alone (names in the
registries, task kinds, the batch size against the training set) and fill in defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.config.fields import (
    Problems,
    build_named,
    convert_value,
    describe_value,
    section_values,
    unknown_name,
)
from optbench.config.schema import (
    DEFAULT_INIT,
    DEFAULT_OPTIMIZER,
    DEFAULT_SCHEDULE,
    DTYPES,
    SAMPLINGS,
    TOP_LEVEL_KEYS,
    BatchNormSettings,
    ModelConfig,
    OptimizerConfig,
    OptimizerSection,
    RunConfig,
    TaskConfig,
    TrainConfig,
    nested_keys,
)
from optbench.data import DATASETS, pinned_train_set_size, train_set_size, updates_per_epoch
from optbench.files import is_safe_name
from optbench.functions import FUNCTIONS
from optbench.hparams import hyperparameters
from optbench.init import INITIALIZERS
from optbench.nn import ACTIVATIONS
from optbench.optim import OPTIMIZERS, SCHEDULES, Cosine


def _train_set_size(task: TaskConfig, counting_epochs: bool = False) -> int | None:
    """How many training examples the task's dataset has, read from the label file's header; when
    counting epochs, a registered dataset's pinned size if its default folder holds no data yet."""
    if task.dataset is None:
        return None
    folder = Path(task.data_dir).expanduser() if task.data_dir is not None else None
    size = train_set_size(task.dataset, folder)
    if size is None and counting_epochs and folder is None:
        return pinned_train_set_size(task.dataset)
    return size


def _section(raw: dict[str, Any], key: str, problems: Problems) -> dict[str, Any]:
    value = raw.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(key, f"must be a mapping, got {describe_value(value)}")
        return {}
    return value


DATASET_ONLY = {
    "task.validation": "only dataset tasks hold out a validation split",
    "task.split_seed": "only dataset tasks hold out a validation split",
    "task.train_size": "only dataset tasks have training images",
    "train.epochs": "only dataset tasks have epochs; give train.steps",
    "train.batch_size": "only dataset tasks draw minibatches",
    "train.sampling": "only dataset tasks draw minibatches",
    "train.eval_every": "only dataset tasks are evaluated",
    "train.init_seed": "a function task has no random weights; train.seed is its only seed",
    "train.data_seed": "a function task has no minibatches; train.seed is its only seed",
    "train.checkpoint_every": "a function task is not checkpointed (it runs in moments)",
    "train.keep_checkpoint": "a function task is not checkpointed (it runs in moments)",
}
"""Settings that mean nothing for a function task: refused there, as a model section is."""


def _refuse_dataset_settings(
    task: TaskConfig, task_raw: dict[str, Any], train_raw: dict[str, Any], problems: Problems
) -> None:
    for dotted, reason in DATASET_ONLY.items():
        section, key = dotted.split(".")
        if (task_raw if section == "task" else train_raw).get(key) is not None:
            problems.add(dotted, f"{reason} ({task.function} is a function task); remove this setting")


def _check_sizes(
    task: TaskConfig, batch_size: int | None, counting_epochs: bool, problems: Problems
) -> int | None:
    """The validation split, the training subset and a batch must fit the training set (when its size
    can be read); returns the number of images trained on, or None when it is unknown."""
    size = _train_set_size(task, counting_epochs)
    if size is None:
        return None
    if task.validation >= size:
        problems.add(
            "task.validation",
            f"must leave training images: the training set has {size}, got {task.validation}",
        )
        return None
    left = size - task.validation
    held = f" ({size} minus {task.validation} held out for validation)" if task.validation else ""
    if task.train_size is not None and task.train_size > left:
        problems.add(
            "task.train_size",
            f"must be at most the training images left, {left}{held}, got {task.train_size}",
        )
        return None
    trained = left if task.train_size is None else task.train_size
    if batch_size is not None and batch_size > trained:
        where = (
            f"the training subset's size {trained}"
            if task.train_size
            else f"the training-set size {left}{held}"
        )
        problems.add("train.batch_size", f"must be at most {where}, got {batch_size}")
        return None
    return trained


def _train_length(
    raw: dict[str, Any],
    values: dict[str, Any],
    trained: int | None,
    size_unknown: bool,
    dataset: bool,
    problems: Problems,
) -> None:
    """Check train.steps, train.epochs and train.eval_every together; with epochs, set steps to
    epochs × updates per epoch (the training images must be countable then)."""
    steps, epochs = raw.get("steps"), values.get("epochs")
    if steps is not None:
        steps = convert_value(steps, int, "train.steps", TRAIN_PARAMS["steps"].bounds, problems)
        if steps is not None and epochs is None:
            values["steps"] = steps
    elif "steps" in raw and raw.get("epochs") is None:
        problems.add("train.steps", "must be a number of updates, or null with train.epochs given")
    every = raw.get("eval_every")
    if every == "epoch":
        values["eval_every"] = every
    elif isinstance(every, str):
        problems.add("train.eval_every", f"must be a number of updates or 'epoch', got {every!r}")
    elif "eval_every" in raw:
        declared = TRAIN_PARAMS["eval_every"]
        values["eval_every"] = convert_value(every, int, "train.eval_every", declared.bounds, problems)
    if dataset and (epochs is not None or values.get("eval_every") == "epoch"):
        if trained is None and size_unknown:
            problems.add(
                "train.epochs" if epochs is not None else "train.eval_every",
                "counting epochs needs the training set's size: fetch the data first (optbench data fetch)",
            )
        elif trained is not None and epochs is not None:
            counted = epochs * updates_per_epoch(trained, values.get("batch_size", TrainConfig.batch_size))
            # A resolved config (config.yaml) spells out the steps its epochs make: those are accepted.
            if steps is not None and steps != counted:
                problems.add(
                    "train.epochs",
                    "give train.steps or train.epochs, not both (train.steps=null to count epochs)",
                )
            values["steps"] = counted


def check_top_level(raw: dict[str, Any], allowed: Sequence[str], problems: Problems) -> None:
    """Unknown top-level keys; one that is the name of a key inside a section gets that key as its
    hint, so that `lr: 0.1` (or `lr=0.1` on the command line) suggests optimizer.lr."""
    inside = [k for k in nested_keys() if k.split(".")[0] in allowed]
    for key in map(str, raw):
        if key in allowed:
            continue
        meant = [k for k in inside if k.rsplit(".", 1)[1] == key]
        if meant:
            problems.add(key, f"unknown key {key!r}; did you mean {' or '.join(map(repr, meant))}?")
        else:
            problems.add(key, unknown_name(key, allowed, "key"))


def validate_run(raw: Any) -> tuple[RunConfig | None, list[tuple[str, str]]]:
    """A resolved raw run dict as a RunConfig, or the (key path, message) problems that prevent it."""
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add("", f"the config must be a mapping of sections, got {describe_value(raw)}")
        return None, problems.items
    check_top_level(raw, TOP_LEVEL_KEYS, problems)

    experiment = raw.get("experiment")
    if not isinstance(experiment, str) or not is_safe_name(experiment):
        problems.add(
            "experiment",
            "must be a simple folder name (letters, digits, '.', '_', '-'; no '..' or '/'),"
            f" got {describe_value(experiment)}",
        )

    task_raw = _section(raw, "task", problems)
    task_values = section_values(TaskConfig, task_raw, "task", problems)
    task = _validate_task(task_values, task_raw, problems)

    model = None
    model_raw = _section(raw, "model", problems)
    if task is not None and task.kind == "function":
        if raw.get("model"):
            problems.add("model", f"a function task ({task.function}) has no model; remove this section")
    else:
        model = _validate_model(model_raw, problems)

    optimizer = _validate_optimizer(raw, problems)

    train_raw = _section(raw, "train", problems)
    train_values = section_values(TrainConfig, train_raw, "train", problems, skip=("steps", "eval_every"))
    sampling = train_values.get("sampling")
    if sampling is not None and sampling not in SAMPLINGS:
        problems.add("train.sampling", unknown_name(sampling, SAMPLINGS, "sampling"))
    trained, size_unknown = None, False
    dataset = task is not None and task.kind == "dataset"
    if task is not None and dataset:
        before = len(problems.items)
        counting = train_values.get("epochs") is not None or train_raw.get("eval_every") == "epoch"
        trained = _check_sizes(
            task, train_values.get("batch_size", TrainConfig.batch_size), counting, problems
        )
        size_unknown = trained is None and len(problems.items) == before
    _train_length(train_raw, train_values, trained, size_unknown, dataset, problems)

    if task is not None and task.kind == "function":
        _refuse_dataset_settings(task, task_raw, train_raw, problems)
    if problems.items:
        return None, problems.items
    assert task is not None and optimizer is not None and isinstance(experiment, str)
    train = TrainConfig(**train_values)
    train = dataclasses.replace(
        train,
        init_seed=train.seed if train.init_seed is None else train.init_seed,
        data_seed=train.seed if train.data_seed is None else train.data_seed,
    )
    if isinstance(optimizer.schedule, Cosine) and optimizer.schedule.t_max is None:
        t_max = max(1, train.steps - optimizer.schedule.warmup_steps)
        optimizer = dataclasses.replace(
            optimizer, schedule=dataclasses.replace(optimizer.schedule, t_max=t_max)
        )
    return RunConfig(experiment, task, model, optimizer, train), []


def _validate_task(values: dict[str, Any], raw: dict[str, Any], problems: Problems) -> TaskConfig | None:
    dataset, function = values.get("dataset"), values.get("function")
    given = {key for key, value in raw.items() if value is not None}
    if "dataset" in given and "function" in given:
        problems.add("task", "give either dataset or function, not both")
        return None
    if dataset is None and function is None:
        if "dataset" not in given and "function" not in given:
            problems.add("task", "missing: give task.dataset (e.g. mnist) or task.function (e.g. book)")
        return None
    if function is not None:
        if function not in FUNCTIONS:
            problems.add("task.function", unknown_name(function, list(FUNCTIONS), "function"))
            return None
        if "data_dir" in given:
            problems.add("task.data_dir", "only dataset tasks read data")
        start = values.get("start") if "start" in given else FUNCTIONS[function].start
        return TaskConfig(function=function, start=start) if start is not None else None
    assert dataset is not None
    if dataset not in DATASETS:
        problems.add("task.dataset", unknown_name(dataset, list(DATASETS), "dataset"))
        return None
    if "start" in given:
        problems.add("task.start", "only function tasks have a starting point")
    data_dir = values.get("data_dir")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        problems.add("task.data_dir", f"no such folder: {data_dir}")
        return None
    split = {k: values[k] for k in ("validation", "split_seed", "train_size") if values.get(k) is not None}
    if len(split) < sum(k in given for k in ("validation", "split_seed", "train_size")):
        return None  # a value was refused by its declared range
    return TaskConfig(dataset=dataset, data_dir=data_dir, **split)


def _validate_model(raw: dict[str, Any], problems: Problems) -> ModelConfig | None:
    before = len(problems.items)
    values = section_values(ModelConfig, raw, "model", problems, skip=("init", "output_init", "batch_norm"))
    values["batch_norm"] = _batch_norm(raw.get("batch_norm"), problems)
    activation = values.get("activation")
    if activation is not None and activation not in ACTIVATIONS:
        problems.add("model.activation", unknown_name(activation, list(ACTIVATIONS), "activation"))
    dtype = values.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        problems.add("model.dtype", unknown_name(dtype, DTYPES, "dtype"))
    init, _ = build_named(raw.get("init", DEFAULT_INIT), "model.init", INITIALIZERS, "initialiser", problems)
    output_init = None
    if raw.get("output_init") is not None:
        output_init, _ = build_named(
            raw["output_init"], "model.output_init", INITIALIZERS, "initialiser", problems
        )
    if len(problems.items) != before:
        return None
    if not values.get("dropout"):
        values.pop("inverted_dropout", None)  # without dropout the form means nothing: one run, one id
    return ModelConfig(**values, init=init, output_init=output_init)


TRAIN_PARAMS = {p.name: p for p in hyperparameters(TrainConfig)}


def _batch_norm(raw: Any, problems: Problems) -> BatchNormSettings | None:
    """`model.batch_norm`: false or null (none), true (the defaults) or a mapping of its settings."""
    if raw is None or raw is False:
        return None
    if raw is True:
        return BatchNormSettings()
    if not isinstance(raw, dict):
        problems.add(
            "model.batch_norm", f"must be true, false or a mapping of settings, got {describe_value(raw)}"
        )
        return None
    before = len(problems.items)
    values = section_values(BatchNormSettings, raw, "model.batch_norm", problems)
    return BatchNormSettings(**values) if len(problems.items) == before else None


SECTION_PARAMS = {p.name: p for p in hyperparameters(OptimizerSection) if p.name != "name"}
OPTIMIZER_SECTION_KEYS = tuple(SECTION_PARAMS)
"""Keys of the optimizer section that are not the optimizer's hyperparameters (schedule, clip_norm)."""


def _validate_optimizer(raw: dict[str, Any], problems: Problems) -> OptimizerConfig | None:
    section = raw.get("optimizer", {"name": DEFAULT_OPTIMIZER})
    if isinstance(section, dict) and "name" not in section:
        section = {"name": DEFAULT_OPTIMIZER, **section}
    before = len(problems.items)
    opt, extra = build_named(
        section, "optimizer", OPTIMIZERS, "optimizer", problems, extra=OPTIMIZER_SECTION_KEYS
    )
    schedule = None
    if extra.get("schedule") is not None:
        schedule, _ = build_named(extra["schedule"], "optimizer.schedule", SCHEDULES, "schedule", problems)
    clip_norm = None
    if extra.get("clip_norm") is not None:
        declared = SECTION_PARAMS["clip_norm"]
        clip_norm = convert_value(extra["clip_norm"], float, "optimizer.clip_norm", declared.bounds, problems)
    if len(problems.items) != before or opt is None:
        return None
    values = {p.name: getattr(opt, p.name) for p in hyperparameters(type(opt))}
    return OptimizerConfig(opt.name, values, schedule or SCHEDULES[DEFAULT_SCHEDULE](), clip_norm)
