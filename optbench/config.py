"""Configs: strict YAML loading, KEY=VALUE overrides, runs/grid expansion, and validation.

A config file describes one experiment: a base run (task, model, optimizer, train) and, for
`compare`, the variations to run (`runs:` entries merged into the base, `grid:` a cartesian product
over dotted keys). Loading turns it into a list of fully resolved, validated `RunConfig`s, or raises
`ConfigError` with every problem found, one `FILE: key.path: message` line each.

Every section is a frozen dataclass whose fields are declared with `hyper` (meaning and range), like
the hyperparameters of optimizers, schedules and initialisers; one converter checks all of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from optbench.data import DATASETS, train_set_size
from optbench.errors import ConfigError
from optbench.files import is_safe_name
from optbench.functions import FUNCTIONS
from optbench.hparams import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Bounds, HyperParam, hyper, hyperparameters
from optbench.init import INITIALIZERS, Initializer
from optbench.nn import ACTIVATIONS
from optbench.optim import OPTIMIZERS, SCHEDULES, Cosine, Optimizer, Schedule
from optbench.plain import leaves, value_at

# --------------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads YAML 1.2 floats: `1e-3` is the number 0.001, not the string "1e-3"."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
            |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text into plain Python values; duplicate keys and syntax errors become ConfigError."""
    problems: list[str] = []
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        value = _construct(loader, node, "", source, problems) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError([f"{source}: {where}{exc.problem or exc}"]) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            [f"{source}: character {exc.position + 1}: {exc.reason} (#x{exc.character:04x})"]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: {' '.join(str(exc).split())}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if problems:
        raise ConfigError(problems)
    return value


def _construct(loader: _Loader, node: yaml.Node, path: str, source: str, problems: list[str]) -> Any:
    """Build plain values from a YAML node tree, reporting duplicate keys with their key path."""
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<:` merge keys
        result: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                problems.append(f"{source}: {_join(path, str(key))}: keys must be plain names")
                continue
            key_path = _join(path, str(key))
            line = key_node.start_mark.line + 1
            if key in result:
                problems.append(f"{source}: {key_path}: duplicate key (lines {lines[key]} and {line})")
            lines[key] = line
            result[key] = _construct(loader, value_node, key_path, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, f"{path}[{i}]", source, problems) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------

DTYPES = ("float32", "float64")
SAMPLINGS = ("epoch", "replacement")


@dataclass(frozen=True)
class TaskConfig:
    """What is optimised: a dataset (with the MLP of `model`) or a 2-D function."""

    dataset: str | None = hyper(None, "dataset to train on (see `optbench list datasets`)")
    function: str | None = hyper(None, "2-D function to minimise (see `optbench list functions`)")
    data_dir: str | None = hyper(None, "folder with the four MNIST-layout IDX files; default: the cache")
    start: tuple[float, float] | None = hyper(None, "starting point (x, y) of a function task")

    @property
    def kind(self) -> Literal["dataset", "function"]:
        return "function" if self.function is not None else "dataset"


@dataclass(frozen=True)
class ModelConfig:
    """The MLP of a dataset task."""

    hidden: tuple[int, ...] = hyper((100, 100, 100, 100), "sizes of the hidden layers", AT_LEAST_ONE)
    activation: str = hyper("relu", "activation between layers (see `optbench list activations`)")
    init: Initializer = hyper(None, "weight initialiser: a name or {name: ..., std: ...}")
    output_init: Initializer | None = hyper(None, "initialiser of the last layer (null: as init)")
    dtype: str = hyper("float32", "float32 or float64")


@dataclass(frozen=True)
class OptimizerConfig:
    """The optimizer, its hyperparameters (every one, defaults filled in), schedule and clipping."""

    name: str
    hyper: Mapping[str, Any]
    schedule: Schedule
    clip_norm: float | None

    def build(self) -> Optimizer:
        return OPTIMIZERS[self.name](**self.hyper, schedule=self.schedule, clip_norm=self.clip_norm)

    @property
    def lr(self) -> float:
        return float(self.hyper["lr"])


@dataclass(frozen=True)
class TrainConfig:
    """How long and how to train."""

    steps: int = hyper(2000, "number of updates", AT_LEAST_ONE)
    batch_size: int = hyper(128, "examples per minibatch (dataset tasks)", AT_LEAST_ONE)
    eval_every: int = hyper(100, "updates between test-set evaluations (dataset tasks)", AT_LEAST_ONE)
    seed: int = hyper(0, "seed of the initial weights and the minibatch order", NON_NEGATIVE)
    sampling: str = hyper("epoch", "epoch: a fresh permutation per epoch; replacement: draw with replacement")


@dataclass(frozen=True)
class RunConfig:
    """One fully resolved run: everything that determines its numbers."""

    experiment: str
    task: TaskConfig
    model: ModelConfig | None
    optimizer: OptimizerConfig
    train: TrainConfig

    @property
    def run_id(self) -> str:
        return run_id(self)


@dataclass(frozen=True)
class Experiment:
    """A loaded config file: its runs, in order, and the dotted keys whose values differ between them."""

    name: str
    source: str
    description: str
    runs: tuple[RunConfig, ...]
    varied: tuple[str, ...] = field(default=())

    def first_only(self) -> Experiment:
        """The experiment reduced to its first run (what `optbench train` runs)."""
        return dataclasses.replace(self, runs=self.runs[:1], varied=())


TOP_LEVEL_KEYS = ("experiment", "description", "task", "model", "optimizer", "train", "runs", "grid")

NAMED_SECTIONS: dict[str, Mapping[str, type]] = {
    "optimizer": OPTIMIZERS,
    "optimizer.schedule": SCHEDULES,
    "model.init": INITIALIZERS,
    "model.output_init": INITIALIZERS,
}
"""Sections chosen by `name`. Changing the name in a run, grid or override drops the hyperparameters
of the previous choice, so that {name: sgd} after a base of adam does not inherit adam's betas."""

DEFAULT_INIT = "he"
DEFAULT_OPTIMIZER = "sgd"

# --------------------------------------------------------------------------------------------------
# Merging raw dicts: runs, grid values and overrides
# --------------------------------------------------------------------------------------------------


def _normalise_named(raw: Any, path: str) -> Any:
    """`model.init: he` is shorthand for `model.init: {name: he}`; the same for the other named sections."""
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        sub = _join(path, str(key))
        if sub in NAMED_SECTIONS and isinstance(value, str):
            value = {"name": value}
        out[key] = _normalise_named(value, sub)
    return out


def _hyper_names(registry: Mapping[str, type], name: Any) -> set[str]:
    cls = registry.get(name) if isinstance(name, str) else None
    return {p.name for p in hyperparameters(cls)} if cls is not None else set()


def _merge(base: Any, patch: Any, path: str = "") -> Any:
    """Deep-merge `patch` into `base` (neither is modified): mappings merge, everything else replaces."""
    if not (isinstance(base, dict) and isinstance(patch, dict)):
        return patch
    merged = dict(base)
    registry = NAMED_SECTIONS.get(path)
    if registry is not None and "name" in patch and patch["name"] != base.get("name"):
        stale = _hyper_names(registry, base.get("name"))
        merged = {k: v for k, v in merged.items() if k not in stale}
    for key, value in patch.items():
        sub = _join(path, str(key))
        merged[key] = _merge(merged[key], value, sub) if key in merged else value
    return merged


def _patch(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """One nested patch setting every dotted key of `pairs`, to be merged in a single step.

    Setting `optimizer.name` and `optimizer.lr` together must keep the new lr even though the name
    change drops the previous optimizer's hyperparameters, so the keys are combined first.
    """
    patch: dict[str, Any] = {}
    for dotted, value in pairs:
        nested: Any = value
        for key in reversed(dotted.split(".")):
            nested = {key: nested}
        merged = _merge(patch, _normalise_named(nested, ""))
        assert isinstance(merged, dict)
        patch = merged
    return patch


MAX_RUNS = 10_000
"""More runs than this in one experiment is almost surely a typo in a grid."""

OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
COMMAND_LINE = "command line"


def parse_overrides(items: Sequence[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """KEY=VALUE strings as (dotted key, YAML value) pairs, and a problem line for each malformed one."""
    problems = []
    parsed = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            problems.append(f"{COMMAND_LINE}: {item!r}: expected KEY=VALUE, e.g. optimizer.lr=0.1")
            continue
        grid_key = key.removeprefix("grid.") if key.startswith("grid.") else None
        if not OVERRIDE_KEY.match(grid_key if grid_key is not None else key):
            what = "missing key before '='" if not key else f"{key!r} is not a dotted key"
            problems.append(f"{COMMAND_LINE}: {item!r}: {what}, e.g. optimizer.lr=0.1")
            continue
        try:
            value = parse_yaml(text, f"{COMMAND_LINE}: {key}") if text.strip() else None
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        parsed.append((key, value))
    return parsed, problems


# --------------------------------------------------------------------------------------------------
# Validation: one converter for every declared field
# --------------------------------------------------------------------------------------------------


class _Problems:
    """Collects `key.path: message` problems while a raw dict is checked."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours turning a into b (optimal alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice: by typing mistakes first, then by similarity."""
    if not choices:
        return ""
    lowered = word.lower()
    distance, best = min((edit_distance(lowered, c.lower()), c) for c in choices)
    if distance <= max(1, len(word) // 3):
        return f"; did you mean {best!r}?"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(word: str, choices: Sequence[str], what: str) -> str:
    hint = did_you_mean(word, choices)
    return f"unknown {what} {word!r}{hint or '; choose from ' + ', '.join(sorted(choices))}"


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _convert(value: Any, hint: Any, path: str, bounds: Bounds | None, problems: _Problems) -> Any:
    """`value` checked against a type hint and bounds; returns the converted value or None on a problem."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, path, bounds, problems)
    if hint is bool:
        if not isinstance(value, bool):
            problems.add(path, f"must be true or false, got {_describe(value)}")
            return None
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(path, f"must be a number, got {_describe(value)}")
            return None
        if hint is int:
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                problems.add(path, f"must be a whole number, got {_describe(value)}")
                return None
            value = int(value)
        else:
            value = float(value)
        problem = bounds.problem(value) if bounds is not None else None
        if problem is None and not math.isfinite(value):
            problem = f"must be a finite number, got {value}"
        if problem:
            problems.add(path, problem)
            return None
        return value
    if hint is str:
        if not isinstance(value, str):
            problems.add(path, f"must be a string, got {_describe(value)}")
            return None
        return value
    if origin is tuple:
        if not isinstance(value, list):
            problems.add(path, f"must be a list, got {_describe(value)}")
            return None
        variadic = len(args) == 2 and args[1] is Ellipsis
        if variadic and not value:
            problems.add(path, "must not be empty")
            return None
        if not variadic and len(value) != len(args):
            problems.add(path, f"must be a list of {len(args)} numbers, got {len(value)} values")
            return None
        hints = [args[0]] * len(value) if variadic else list(args)
        before = len(problems.items)
        items = [
            _convert(v, h, f"{path}[{i}]", bounds, problems) for i, (v, h) in enumerate(zip(value, hints))
        ]
        return tuple(items) if len(problems.items) == before else None
    raise TypeError(f"no converter for {hint!r} at {path}")


def _check_keys(raw: dict[str, Any], allowed: Sequence[str], path: str, problems: _Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(_join(path, str(key)), _unknown(str(key), allowed, "key"))


def _fields(
    cls: type, raw: dict[str, Any], path: str, problems: _Problems, params: Sequence[HyperParam]
) -> dict[str, Any]:
    """Converted values for the declared `params` present in raw (the caller handles the rest)."""
    values = {}
    for p in params:
        if p.name in raw:
            values[p.name] = _convert(raw[p.name], p.type, _join(path, p.name), p.bounds, problems)
    return values


def _section(raw: dict[str, Any], key: str, problems: _Problems) -> dict[str, Any]:
    value = raw.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(key, f"must be a mapping, got {_describe(value)}")
        return {}
    return value


def _named(
    raw: Any,
    path: str,
    registry: Mapping[str, type],
    what: str,
    problems: _Problems,
    extra: Sequence[str] = (),
) -> tuple[Any, dict[str, Any]]:
    """Build a registry entry from {name: ..., <hyperparameters>}; `extra` keys are returned unbuilt."""
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        problems.add(path, f"must be a name or a mapping with 'name', got {_describe(raw)}")
        return None, {}
    name = raw.get("name")
    if not isinstance(name, str):
        problems.add(
            _join(path, "name"), f"must name a {what}" + ("" if name is None else f", got {_describe(name)}")
        )
        return None, {}
    cls = registry.get(name)
    if cls is None:
        problems.add(_join(path, "name"), _unknown(name, list(registry), what))
        return None, {}
    params = hyperparameters(cls)
    names = [p.name for p in params]
    for key in raw:
        if key != "name" and key not in names and key not in extra:
            hint = did_you_mean(str(key), [*names, *extra])
            has = ", ".join(names) if names else "none"
            problems.add(
                _join(path, str(key)),
                f"{what} {name!r} has no hyperparameter {key!r}{hint or f' (it has: {has})'}",
            )
    before = len(problems.items)
    values = _fields(cls, raw, path, problems, params)
    if len(problems.items) != before:
        return None, {}
    try:
        built = cls(**values)
    except (ValueError, TypeError) as exc:
        problems.add(path, str(exc))
        return None, {}
    return built, {k: raw[k] for k in extra if k in raw}


def _dataclass_section(
    cls: type, raw: dict[str, Any], path: str, problems: _Problems, skip: Sequence[str] = ()
) -> dict[str, Any]:
    params = [p for p in hyperparameters(cls) if p.name not in skip]
    _check_keys(raw, [p.name for p in hyperparameters(cls)], path, problems)
    return _fields(cls, raw, path, problems, params)


def _train_set_size(task: TaskConfig) -> int | None:
    """How many training examples the task's dataset has, read from the label file's header."""
    if task.dataset is None:
        return None
    folder = Path(task.data_dir).expanduser() if task.data_dir is not None else None
    return train_set_size(task.dataset, folder)


def validate_run(raw: Any) -> tuple[RunConfig | None, list[tuple[str, str]]]:
    """A resolved raw run dict as a RunConfig, or the (key path, message) problems that prevent it."""
    problems = _Problems()
    if not isinstance(raw, dict):
        problems.add("", f"the config must be a mapping of sections, got {_describe(raw)}")
        return None, problems.items
    _check_keys(raw, TOP_LEVEL_KEYS, "", problems)

    experiment = raw.get("experiment")
    if not isinstance(experiment, str) or not is_safe_name(experiment):
        problems.add(
            "experiment",
            "must be a simple folder name (letters, digits, '.', '_', '-'; no '..' or '/'),"
            f" got {_describe(experiment)}",
        )

    task_raw = _section(raw, "task", problems)
    task_values = _dataclass_section(TaskConfig, task_raw, "task", problems)
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
    train_values = _dataclass_section(TrainConfig, train_raw, "train", problems)
    sampling = train_values.get("sampling")
    if sampling is not None and sampling not in SAMPLINGS:
        problems.add("train.sampling", _unknown(sampling, SAMPLINGS, "sampling"))
    if task is not None and train_values.get("batch_size") is not None:
        size = _train_set_size(task)
        if size is not None and train_values["batch_size"] > size:
            problems.add(
                "train.batch_size",
                f"must be at most the training-set size {size}, got {train_values['batch_size']}",
            )

    if problems.items:
        return None, problems.items
    assert task is not None and optimizer is not None and isinstance(experiment, str)
    train = TrainConfig(**train_values)
    if isinstance(optimizer.schedule, Cosine) and optimizer.schedule.t_max is None:
        t_max = max(1, train.steps - optimizer.schedule.warmup_steps)
        optimizer = dataclasses.replace(
            optimizer, schedule=dataclasses.replace(optimizer.schedule, t_max=t_max)
        )
    return RunConfig(experiment, task, model, optimizer, train), []


def _validate_task(values: dict[str, Any], raw: dict[str, Any], problems: _Problems) -> TaskConfig | None:
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
            problems.add("task.function", _unknown(function, list(FUNCTIONS), "function"))
            return None
        if "data_dir" in given:
            problems.add("task.data_dir", "only dataset tasks read data")
        start = values.get("start") if "start" in given else FUNCTIONS[function].start
        return TaskConfig(function=function, start=start) if start is not None else None
    assert dataset is not None
    if dataset not in DATASETS:
        problems.add("task.dataset", _unknown(dataset, list(DATASETS), "dataset"))
        return None
    if "start" in given:
        problems.add("task.start", "only function tasks have a starting point")
    data_dir = values.get("data_dir")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        problems.add("task.data_dir", f"no such folder: {data_dir}")
        return None
    return TaskConfig(dataset=dataset, data_dir=data_dir)


def _validate_model(raw: dict[str, Any], problems: _Problems) -> ModelConfig | None:
    before = len(problems.items)
    values = _dataclass_section(ModelConfig, raw, "model", problems, skip=("init", "output_init"))
    activation = values.get("activation")
    if activation is not None and activation not in ACTIVATIONS:
        problems.add("model.activation", _unknown(activation, list(ACTIVATIONS), "activation"))
    dtype = values.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        problems.add("model.dtype", _unknown(dtype, DTYPES, "dtype"))
    init, _ = _named(raw.get("init", DEFAULT_INIT), "model.init", INITIALIZERS, "initialiser", problems)
    output_init = None
    if raw.get("output_init") is not None:
        output_init, _ = _named(
            raw["output_init"], "model.output_init", INITIALIZERS, "initialiser", problems
        )
    if len(problems.items) != before:
        return None
    return ModelConfig(**values, init=init, output_init=output_init)


OPTIMIZER_SECTION_KEYS = ("schedule", "clip_norm")


def _validate_optimizer(raw: dict[str, Any], problems: _Problems) -> OptimizerConfig | None:
    section = raw.get("optimizer", {"name": DEFAULT_OPTIMIZER})
    if isinstance(section, dict) and "name" not in section:
        section = {"name": DEFAULT_OPTIMIZER, **section}
    before = len(problems.items)
    opt, extra = _named(section, "optimizer", OPTIMIZERS, "optimizer", problems, extra=OPTIMIZER_SECTION_KEYS)
    schedule = None
    if extra.get("schedule") is not None:
        schedule, _ = _named(extra["schedule"], "optimizer.schedule", SCHEDULES, "schedule", problems)
    clip_norm = None
    if extra.get("clip_norm") is not None:
        clip_norm = _convert(extra["clip_norm"], float, "optimizer.clip_norm", POSITIVE, problems)
    if len(problems.items) != before or opt is None:
        return None
    values = {p.name: getattr(opt, p.name) for p in hyperparameters(type(opt))}
    return OptimizerConfig(opt.name, values, schedule or SCHEDULES["constant"](), clip_norm)


# --------------------------------------------------------------------------------------------------
# Resolved configs as plain data: config.yaml, run ids
# --------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _named_dict(obj: Any) -> dict[str, Any]:
    return {"name": obj.name, **{p.name: _plain(getattr(obj, p.name)) for p in hyperparameters(type(obj))}}


def to_dict(run: RunConfig) -> dict[str, Any]:
    """The resolved run as plain data, every default spelled out: what config.yaml holds."""
    task = (
        {"function": run.task.function, "start": _plain(run.task.start)}
        if run.task.kind == "function"
        else {"dataset": run.task.dataset, "data_dir": run.task.data_dir}
    )
    out: dict[str, Any] = {"experiment": run.experiment, "task": task}
    if run.model is not None:
        m = run.model
        out["model"] = {
            "hidden": list(m.hidden),
            "activation": m.activation,
            "init": _named_dict(m.init),
            "output_init": None if m.output_init is None else _named_dict(m.output_init),
            "dtype": m.dtype,
        }
    opt = run.optimizer
    out["optimizer"] = {
        "name": opt.name,
        **{k: _plain(v) for k, v in opt.hyper.items()},
        "schedule": _named_dict(opt.schedule),
        "clip_norm": opt.clip_norm,
    }
    train = dataclasses.asdict(run.train)
    if run.task.kind == "function":
        train = {"steps": run.train.steps, "seed": run.train.seed}
    out["train"] = train
    return out


def to_yaml(run: RunConfig) -> str:
    return yaml.safe_dump(to_dict(run), sort_keys=False, default_flow_style=None, width=110)


def run_id(run: RunConfig) -> str:
    """A readable, stable id: the main choices, then a hash of the whole resolved config.

    The hash covers every value that can change the numbers (not the experiment's name), so the same
    resolved config always gets the same id, and two runs that differ anywhere never share one.
    """
    data = to_dict(run)
    del data["experiment"]
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    parts = [run.optimizer.name, f"lr{run.optimizer.lr:g}"]
    if run.model is not None:
        init = run.model.init
        std = getattr(init, "std", None)
        parts += [f"{init.name}{std:g}" if isinstance(std, float) else init.name, run.model.activation]
    parts.append(f"s{run.train.seed}")
    return "-".join(parts) + "-" + digest


# --------------------------------------------------------------------------------------------------
# Loading an experiment: file + overrides -> runs
# --------------------------------------------------------------------------------------------------


def _read_config(
    path: Path, overrides: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]]:
    """The raw mapping of a config file, its parsed overrides, and the problems found so far."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: no such file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a folder, not a config file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{source}: cannot read: {exc}"]) from None
    raw = parse_yaml(text, source)
    pairs, problems = parse_overrides(overrides)
    if raw is None:
        raise ConfigError([f"{source}: the file is empty; a config needs at least a task section"])
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the config must be a mapping of sections, got {_describe(raw)}"])
    raw.setdefault("experiment", _default_experiment_name(path))
    return raw, pairs, problems


def load_experiment(path: Path, overrides: Sequence[str] = ()) -> Experiment:
    """Read, expand and validate a config file; raise ConfigError listing every problem."""
    raw, pairs, problems = _read_config(path, overrides)
    return expand(_normalise_named(raw, ""), str(path), pairs, problems)


def _default_experiment_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".-") or "experiment"


def expand(
    raw: dict[str, Any], source: str, overrides: Sequence[tuple[str, Any]] = (), problems: Sequence[str] = ()
) -> Experiment:
    """The runs of a raw config: base ⊕ runs[i] ⊕ grid point ⊕ overrides, each validated.

    Problems are reported at the key where the offending value was written: `runs[2].optimizer.lr`,
    `grid.optimizer.lr`, the command line, or the base key. `problems` found earlier (malformed
    overrides) are reported together with these.
    """
    problems = list(problems)
    base = {k: v for k, v in raw.items() if k not in ("runs", "grid")}
    runs_raw, runs_where = raw.get("runs"), f"{source}: runs"
    grid_raw, grid_where = raw.get("grid"), f"{source}: grid"
    axes: dict[str, tuple[Any, str]] = {}  # grid axis -> (values, where they were written)
    fixed = {}
    for key, value in overrides:  # the command line replaces runs, grid or grid axes of the file
        if key == "runs":
            runs_raw, runs_where = value, f"{COMMAND_LINE}: runs"
        elif key == "grid":
            grid_raw, grid_where = value, f"{COMMAND_LINE}: grid"
        elif not key.startswith("grid."):
            fixed[key] = value

    if grid_raw is not None and not isinstance(grid_raw, dict):
        problems.append(f"{grid_where}: must be a mapping of dotted keys to lists, got {_describe(grid_raw)}")
    elif grid_raw is not None:
        axes = {str(k): (v, f"{grid_where}.{k}") for k, v in grid_raw.items()}
    for key, value in overrides:
        if key.startswith("grid."):
            axes[key.removeprefix("grid.")] = (value, f"{COMMAND_LINE}: {key}")
    grid: dict[str, list[Any]] = {}
    grid_origin: dict[str, str] = {}
    for axis, (values, where) in axes.items():
        if not isinstance(values, list):
            problems.append(f"{where}: must be a list of values, got {_describe(values)}")
        elif not values:
            problems.append(f"{where}: empty list; give at least one value")
        elif axis.split(".")[0] in ("runs", "grid", "experiment", "description"):
            problems.append(f"{where}: cannot be varied")
        elif not any(axis == key or axis.startswith(key + ".") for key in fixed):
            grid[axis], grid_origin[axis] = values, where  # a key fixed on the command line is no axis

    entries: list[dict[str, Any]] = [{}]
    if runs_raw is not None:
        if not isinstance(runs_raw, list) or not runs_raw:
            problems.append(
                f"{runs_where}: must be a non-empty list of partial configs, got {_describe(runs_raw)}"
            )
        elif not all(isinstance(e, dict) for e in runs_raw):
            bad = next(i for i, e in enumerate(runs_raw) if not isinstance(e, dict))
            problems.append(f"{runs_where}[{bad}]: must be a mapping, got {_describe(runs_raw[bad])}")
        else:
            entries = [_normalise_named(e, "") for e in runs_raw]

    total = len(entries) * math.prod(len(values) for values in grid.values())
    if total > MAX_RUNS:
        problems.append(f"{source}: grid: {total} runs; an experiment has at most {MAX_RUNS}")
        raise ConfigError(problems)

    description = base.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{source}: description: must be a string, got {_describe(description)}")

    runs: dict[str, RunConfig] = {}
    for index, entry in enumerate(entries):
        resolved = _merge(base, entry)
        origin = _Origin(source)
        if runs_raw is not None:
            origin.mark(entry, Where(f"{runs_where}[{index}].", inline=True))
        for point in itertools.product(*grid.values()):
            run_raw = _merge(_merge(resolved, _patch(list(zip(grid, point)))), _patch(list(fixed.items())))
            run_origin = origin.copy()
            for axis, value in zip(grid, point):
                run_origin.mark({axis: value}, Where(grid_origin[axis], inline=False))
            for key, value in fixed.items():
                run_origin.mark({key: value}, Where(f"{COMMAND_LINE}: {key}", inline=False))
            run, found = validate_run(run_raw)
            for path, message in found:
                line = f"{run_origin.locate(path)}: {message}"
                if line not in problems:
                    problems.append(line)
            if run is not None:
                runs.setdefault(run.run_id, run)
    if problems:
        raise ConfigError(problems)
    ordered = tuple(runs.values())
    written = [*_dotted_paths(entries), *_dotted_paths([_patch([(k, v)]) for k, v in grid.items()])]
    return Experiment(str(raw["experiment"]), source, description, ordered, _varied_keys(ordered, written))


@dataclass(frozen=True)
class Where:
    """Where a value was written. Inline: `prefix` + the key path (the file itself, a runs entry).
    Not inline: the value came from one dotted key (a grid axis, an override) that `prefix` names."""

    prefix: str
    inline: bool


class _Origin:
    """Maps dotted key paths of a resolved run to where their values were written."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.where: dict[str, tuple[str, Where]] = {}

    def copy(self) -> _Origin:
        other = _Origin(self.source)
        other.where = dict(self.where)
        return other

    def mark(
        self, raw: dict[str, Any], where: Where, written_at: str | None = None, prefix: str = ""
    ) -> None:
        """Record that every key path in `raw` (under `prefix`) was written at `where`."""
        for key, value in raw.items():
            path = _join(prefix, str(key))
            top = written_at if written_at is not None else path
            self.where[path] = (top, where)
            if isinstance(value, dict):
                self.mark(value, where, top, path)

    def locate(self, path: str) -> str:
        """`FILE: key.path` (or the runs entry, grid axis or override) for a problem found at `path`."""
        parts = re.sub(r"\[\d+\]", "", path).split(".") if path else []
        for n in range(len(parts), 0, -1):
            found = self.where.get(".".join(parts[:n]))
            if found is not None:
                written_at, where = found
                if where.inline:
                    return where.prefix + path
                return where.prefix if path == written_at else f"{where.prefix}: {path}"
        return f"{self.source}: {path}" if path else self.source


def _dotted_paths(patches: Sequence[dict[str, Any]]) -> list[str]:
    """The dotted paths to the leaves of some patches, each once, in the order written."""
    paths: list[str] = []
    for patch in patches:
        for path in leaves(patch):
            if path not in paths:
                paths.append(path)
    return paths


def _varied_keys(runs: Sequence[RunConfig], written: Sequence[str]) -> tuple[str, ...]:
    """Of the keys that runs entries and grid axes set, those whose resolved values differ between runs.

    Keys that differ only as a consequence (the defaults of two different optimizers) are not listed:
    they are not what the experiment varies.
    """
    if len(runs) < 2:
        return ()
    configs = [to_dict(r) for r in runs]
    return tuple(k for k in written if len({json.dumps(value_at(c, k)) for c in configs}) > 1)


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------

INPUTS = ("normal", "mnist")


@dataclass(frozen=True)
class ActivationCase:
    """One network of the experiment: an initialiser and an activation."""

    init: Initializer
    activation: str

    @property
    def label(self) -> str:
        std = getattr(self.init, "std", None)
        init = f"std={std:g}" if isinstance(std, float) else self.init.name
        return f"{init} + {self.activation}"


@dataclass(frozen=True)
class ActivationsConfig:
    """`optbench activations`: histograms of each layer's outputs for several (init, activation) cases."""

    experiment: str
    description: str = hyper("", "what the experiment shows, for the report")
    input: str = hyper("normal", "normal: N×D standard normal input; mnist: N MNIST training images")
    samples: int = hyper(1000, "rows of input N", AT_LEAST_ONE)
    features: int = hyper(100, "input dimension D of the normal input (MNIST has 784)", AT_LEAST_ONE)
    layers: int = hyper(5, "hidden layers L", AT_LEAST_ONE)
    nodes: int = hyper(100, "units per hidden layer H", AT_LEAST_ONE)
    bins: int = hyper(30, "histogram bins per layer", AT_LEAST_ONE)
    readout_classes: int = hyper(
        10, "classes of the linear read-out whose cross-entropy gives the gradients", AT_LEAST_ONE
    )
    seed: int = hyper(0, "seed of the input and the weights", NON_NEGATIVE)
    data_dir: str | None = hyper(None, "folder of MNIST-layout files for input: mnist (default: the cache)")
    cases: tuple[ActivationCase, ...] = ()


ACTIVATIONS_KEYS = ("experiment", *(p.name for p in hyperparameters(ActivationsConfig)), "cases")


def load_activations(path: Path, overrides: Sequence[str] = ()) -> ActivationsConfig:
    """Read and validate an activations config (with overrides); raise ConfigError listing every problem."""
    raw, pairs, found = _read_config(path, overrides)
    source = str(path)
    lines = list(found)
    origin = _Origin(source)
    for key, value in pairs:
        raw = _merge(raw, _patch([(key, value)]))
        origin.mark({key: value}, Where(f"{COMMAND_LINE}: {key}", inline=False))
    problems = _Problems()
    _check_keys(raw, ACTIVATIONS_KEYS, "", problems)
    experiment = raw.get("experiment")
    if not isinstance(experiment, str) or not is_safe_name(experiment):
        problems.add("experiment", f"must be a simple folder name, got {_describe(experiment)}")
    values = _fields(ActivationsConfig, raw, "", problems, hyperparameters(ActivationsConfig))
    if values.get("input") is not None and values["input"] not in INPUTS:
        problems.add("input", _unknown(values["input"], INPUTS, "input"))
    classes = DATASETS["mnist"].classes
    if values.get("input") == "mnist" and values.get("readout_classes", classes) != classes:
        problems.add("readout_classes", f"MNIST input has {classes} classes, got {values['readout_classes']}")
    cases = []
    raw_cases = raw.get("cases")
    if not isinstance(raw_cases, list) or not raw_cases:
        problems.add(
            "cases", f"must be a non-empty list of {{init: ..., activation: ...}}, got {_describe(raw_cases)}"
        )
        raw_cases = []
    for i, case in enumerate(raw_cases):
        path_i = f"cases[{i}]"
        if not isinstance(case, dict):
            problems.add(path_i, f"must be a mapping with init and activation, got {_describe(case)}")
            continue
        _check_keys(case, ("init", "activation"), path_i, problems)
        init, _ = _named(case.get("init"), f"{path_i}.init", INITIALIZERS, "initialiser", problems)
        activation = case.get("activation")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            what = (
                _unknown(activation, list(ACTIVATIONS), "activation")
                if isinstance(activation, str)
                else (f"must name an activation, got {_describe(activation)}")
            )
            problems.add(f"{path_i}.activation", what)
        elif init is not None:
            cases.append(ActivationCase(init, activation))
    for key_path, message in problems.items:
        lines.append(f"{origin.locate(key_path)}: {message}")
    if lines:
        raise ConfigError(lines)
    assert isinstance(experiment, str)
    return ActivationsConfig(experiment=experiment, cases=tuple(cases), **values)


def activations_to_yaml(cfg: ActivationsConfig) -> str:
    """The resolved activations config, every default spelled out."""
    data: dict[str, Any] = {"experiment": cfg.experiment}
    data.update({p.name: getattr(cfg, p.name) for p in hyperparameters(ActivationsConfig)})
    data["cases"] = [{"init": _named_dict(c.init), "activation": c.activation} for c in cfg.cases]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)


# --------------------------------------------------------------------------------------------------
# Suites: several experiments run as one sweep
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A list of experiment configs run together (`optbench suite`), e.g. the lecture demo."""

    name: str
    description: str
    compare: tuple[Path, ...]
    activations: tuple[Path, ...]


def load_suite(path: Path) -> Suite:
    """Read a suite file: `compare:` and `activations:` lists of config paths, relative to the file."""
    raw, _, _ = _read_config(path, ())
    source = str(path)
    problems = _Problems()
    _check_keys(raw, ("experiment", "suite", "description", "compare", "activations"), "", problems)
    name = raw.get("suite", path.stem)
    if not isinstance(name, str) or not is_safe_name(name):
        problems.add("suite", f"must be a simple name, got {_describe(name)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add("description", f"must be a string, got {_describe(description)}")
    lists: dict[str, tuple[Path, ...]] = {}
    for key in ("compare", "activations"):
        entries = raw.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            problems.add(key, f"must be a list of config file paths, got {_describe(entries)}")
            entries = []
        paths = tuple(path.parent / e for e in entries)
        for i, p in enumerate(paths):
            if not p.is_file():
                problems.add(f"{key}[{i}]", f"no such file: {p}")
        lists[key] = paths
    if not problems.items and not (lists["compare"] or lists["activations"]):
        problems.add("compare", "the suite lists no experiments")
    if problems.items:
        raise ConfigError([f"{source}: {p}: {m}" for p, m in problems.items])
    assert isinstance(name, str) and isinstance(description, str)
    return Suite(name, description.strip(), lists["compare"], lists["activations"])
