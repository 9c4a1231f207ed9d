"""The config of a tuning study (`optbench tune`): a base run and a `tune:` section, validated.

The base (task, model, optimizer, train) says what every trial trains; `tune:` says how it is tuned:

    tune:
      budget: 20          trials per optimizer, numbered 0..budget-1; trial 0 is the defaults
      sampler: random     random | qmc | tpe (Optuna's samplers)
      seed: 0             seeds the sampler
      metric: val_acc     val_acc (maximised) | val_loss (minimised); a function task: loss
      mode: final         final: the value at the last step; best: the best evaluation of the run
      trial_seeds: 1      seeds per trial; a setting is scored by the mean over them
      final_seeds: 5      the chosen setting rerun with this many new seeds (dataset tasks)
      batch: 4            tpe: trials asked at a time, per optimizer (not tied to --jobs)
      optimizers:
        - name: momentum
          nesterov: true                        hyperparameters fixed for every trial
          search:
            lr: {log_uniform: [1.0e-4, 1.0]}    log_uniform | uniform | int: [low, high]
            momentum: {uniform: [0.5, 0.999]}   choice: [a, b, ...]
            betas.0: {uniform: [0.8, 0.99]}     one element of a tuple hyperparameter (β1 of betas)

            model.l2: {log_uniform: [1.0e-8, 1.0e-4]}   any numeric key of task, model or train

Searched names are hyperparameters of their optimizer, or the dotted key of a number in the task,
model or train section (the book searches the weight penalty λ alongside the learning rate), checked
like every other key (an unknown name gets a did-you-mean); their ranges must lie inside the declared
range. Hyperparameters not searched keep the optimizer's defaults, what the entry sets, or what the
base config's optimizer sets when it names the same optimizer. Trial 0 sets every searched
hyperparameter to its default, and every searched config key to the base config's value.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.config.fields import (
    Problems,
    check_keys,
    convert_value,
    describe_value,
    did_you_mean,
    unknown_name,
)
from optbench.config.kinds import refuse_other_kind
from optbench.config.overrides import COMMAND_LINE, merge, nested_patch, normalise_named, overridden_values
from optbench.config.reading import Origin, Where, read_config
from optbench.config.schema import SECTIONS, RunConfig
from optbench.config.validation import check_top_level, validate_run
from optbench.errors import ConfigError
from optbench.hparams import AT_LEAST_ONE, NON_NEGATIVE, HyperParam, hyper, hyperparameters
from optbench.optim import OPTIMIZERS

SAMPLERS = ("random", "qmc", "tpe")
DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")
MODES = ("final", "best")
METRICS = {"dataset": ("val_acc", "val_loss"), "function": ("loss",)}
"""The scores a task offers: a dataset's validation accuracy or loss, a function's value."""
MAXIMISED = ("val_acc",)

ELEMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\.(?P<index>\d+))?$")
SEARCHED_SECTIONS = ("task", "model", "train")
"""The sections whose numeric keys a study may search by their dotted names (`model.l2`)."""
"""A searched name: a hyperparameter, or one element of a tuple one, numbered from 0 (`betas.0` is β1
of Adam's betas); a dot and not brackets, which YAML's inline mappings do not allow in a key."""


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter (or tuple element) and the distribution its values come from."""

    key: str
    """As written in the config: `lr`, `betas.0`."""
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def section(self) -> str | None:
        """The config section of a searched config key (`model` of `model.l2`); None for an optimizer's
        hyperparameter."""
        head = self.key.split(".")[0]
        return head if head in SEARCHED_SECTIONS and ELEMENT.match(self.key) is None else None

    @property
    def hyperparameter(self) -> str:
        """The optimizer hyperparameter searched (`betas` of `betas.0`), or the searched config key's
        name within its section (`l2` of `model.l2`)."""
        return self.key.split(".")[1] if self.section else self.key.split(".")[0]

    @property
    def dotted(self) -> str:
        """The config key whose value it sets: `optimizer.lr`, `model.l2`."""
        return self.key if self.section else f"optimizer.{self.hyperparameter}"

    @property
    def index(self) -> int | None:
        found = ELEMENT.match(self.key)
        return int(found["index"]) if found and found["index"] is not None else None

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.key} ∈ {{{', '.join(map(str, self.choices))}}}"
        return f"{self.key} ~ {self.kind}[{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class SearchSpace:
    """One optimizer of the study: what its trials fix and what they search."""

    optimizer: str
    fixed: Mapping[str, Any]
    dimensions: tuple[Dimension, ...]


@dataclass(frozen=True)
class TuneSpec:
    """The `tune:` section, validated; each field is declared with its meaning and range."""

    budget: int = hyper(20, "trials per optimizer, numbered from 0; trial 0 is the defaults", AT_LEAST_ONE)
    sampler: str = hyper("random", "random | qmc | tpe")
    seed: int = hyper(0, "seed of the sampler: the same config gives the same trials", NON_NEGATIVE)
    metric: str = hyper("val_acc", "val_acc | val_loss (dataset tasks); loss (function tasks)")
    mode: str = hyper("final", "final: value at the last step; best: best evaluation of the run")
    trial_seeds: int = hyper(1, "seeds per trial, the setting scored by their mean", AT_LEAST_ONE)
    final_seeds: int = hyper(5, "new seeds the chosen setting is rerun with (dataset tasks)", NON_NEGATIVE)
    batch: int = hyper(4, "tpe: trials asked at a time per optimizer, whatever --jobs is", AT_LEAST_ONE)
    spaces: tuple[SearchSpace, ...] = ()

    @property
    def maximise(self) -> bool:
        return self.metric in MAXIMISED

    def to_plain(self) -> dict[str, Any]:
        """The spec as plain data (recorded in experiment.yaml): what a report needs to redraw."""
        data: dict[str, Any] = {p.name: getattr(self, p.name) for p in hyperparameters(TuneSpec)}
        data["optimizers"] = [
            {
                "name": space.optimizer,
                **dict(space.fixed),
                "search": {d.key: _distribution_plain(d) for d in space.dimensions},
            }
            for space in self.spaces
        ]
        return data


def _distribution_plain(d: Dimension) -> dict[str, Any]:
    return {d.kind: list(d.choices) if d.kind == "choice" else [d.low, d.high]}


TUNE_KEYS = (*(p.name for p in hyperparameters(TuneSpec)), "optimizers")
TOP_LEVEL_KEYS = ("experiment", "description", "task", "model", "optimizer", "train", "tune")


@dataclass(frozen=True)
class Study:
    """A tune config, loaded: the base run, the spec, and how to build any trial's run."""

    name: str
    source: str
    description: str
    base: Mapping[str, Any]
    """The raw base config (no `tune:`), overrides applied: every trial run is built from it."""
    spec: TuneSpec
    kind: str
    """dataset or function: the task every trial trains on."""
    seed: int
    """The base train.seed: trial seeds count up from it, final seeds after them."""
    overridden: tuple[tuple[str, Any, Any], ...] = ()
    command: str = ""

    @property
    def trial_seed_values(self) -> tuple[int, ...]:
        return tuple(self.seed + i for i in range(self.spec.trial_seeds))

    @property
    def final_seed_values(self) -> tuple[int, ...]:
        first = self.seed + self.spec.trial_seeds
        return tuple(first + i for i in range(self.spec.final_seeds))

    def defaults(self, space: SearchSpace) -> dict[str, Any]:
        """Trial 0: every searched hyperparameter at the optimizer's default, every searched config
        key at the base config's value."""
        declared = {p.name: p.default for p in hyperparameters(OPTIMIZERS[space.optimizer])}
        values = {}
        for d in space.dimensions:
            if d.section is not None:
                values[d.key] = getattr(
                    getattr(self._base_run(space, self.seed), d.section), d.hyperparameter
                )
                continue
            default = declared[d.hyperparameter]
            values[d.key] = default[d.index] if d.index is not None else default
        return values

    def run(self, space: SearchSpace, params: Mapping[str, Any], seed: int) -> RunConfig:
        """The run of one trial setting at one seed; ValueError if the setting is not a valid run."""
        base = self._base_run(space, seed)
        hyper_values = dict(base.optimizer.hyper)
        sections: dict[str, dict[str, Any]] = {}
        optimizer_dims = [d for d in space.dimensions if d.section is None]
        for d in space.dimensions:
            if d.section is not None:
                sections.setdefault(d.section, {})[d.hyperparameter] = params[d.key]
        for d in optimizer_dims:
            value = params[d.key]
            if d.index is not None:
                element = list(hyper_values[d.hyperparameter])
                element[d.index] = value
                value = element
            hyper_values[d.hyperparameter] = value
        touched = {d.hyperparameter: _plain(hyper_values[d.hyperparameter]) for d in optimizer_dims}
        raw = merge(_run_raw(self.base, space, seed), {"optimizer": touched, **sections})
        run, problems = validate_run(raw)
        if run is None:
            detail = "; ".join(f"{path}: {message}" for path, message in problems)
            raise ValueError(f"{space.optimizer} {dict(params)} is not a valid run: {detail}")
        return run

    def _base_run(self, space: SearchSpace, seed: int) -> RunConfig:
        run, problems = validate_run(_run_raw(self.base, space, seed))
        if run is None:
            detail = "; ".join(f"{path}: {message}" for path, message in problems)
            raise ValueError(f"{space.optimizer}: {detail}")
        return run


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _run_raw(base: Mapping[str, Any], space: SearchSpace, seed: int) -> dict[str, Any]:
    patch = {"optimizer": {"name": space.optimizer, **dict(space.fixed)}, "train": {"seed": seed}}
    merged = merge(dict(base), normalise_named(patch, ""))
    assert isinstance(merged, dict)
    return merged


def _written_kind(base: Mapping[str, Any]) -> str:
    """The kind of task the file names, when its base run has problems (so that the metric is
    checked against the right task, not reported a second time)."""
    task = base.get("task")
    return "function" if isinstance(task, dict) and "function" in task else "dataset"


def load_tune(path: Path, overrides: Sequence[str] = ()) -> Study:
    """Read and validate a tune config (with KEY=VALUE overrides); ConfigError lists every problem."""
    raw, pairs, found = read_config(path, overrides)
    refuse_other_kind(raw, path, overrides, "tune", "a tuning study")
    source = str(path)
    lines = list(found)
    overridden = overridden_values(raw, pairs)  # the file's values, before the command line's replace them
    origin = Origin(source, raw)
    for key, value in pairs:
        raw = merge(raw, nested_patch([(key, value)]))
        origin.mark({key: value}, Where(f"{COMMAND_LINE}: {key}", inline=False))
    raw = normalise_named(raw, "")
    problems = Problems()
    for key in ("runs", "grid"):
        if key in raw:
            problems.add(key, f"a tune config has no {key}: its trials are its runs (remove this section)")
    check_top_level({k: v for k, v in raw.items() if k not in ("runs", "grid")}, TOP_LEVEL_KEYS, problems)
    base = {k: v for k, v in raw.items() if k not in ("tune", "runs", "grid")}
    probe, run_problems = validate_run(base)
    for key_path, message in run_problems:
        problems.add(key_path, message)
    kind = probe.task.kind if probe is not None else _written_kind(base)
    section = raw.get("tune")
    spec = None
    if not isinstance(section, dict):
        problems.add(
            "tune", f"must be a mapping with budget, sampler, optimizers, ..., got {describe_value(section)}"
        )
    else:
        spec = _spec(section, kind, problems)
    lines += [f"{origin.locate(p)}: {m}" for p, m in problems.items]
    if lines:
        raise ConfigError(list(dict.fromkeys(lines)))  # the base run checks the top level too
    assert spec is not None and probe is not None
    study = Study(
        name=str(raw.get("experiment")),
        source=source,
        description=str(raw.get("description") or ""),
        base=base,
        spec=spec,
        kind=kind,
        seed=probe.train.seed,
        overridden=overridden,
    )
    _check_trial_zero(study, origin, source)
    return study


def _spec(raw: dict[str, Any], kind: str, problems: Problems) -> TuneSpec | None:
    before = len(problems.items)
    check_keys(raw, TUNE_KEYS, "tune", problems)
    values = {}
    for p in hyperparameters(TuneSpec):
        if p.name in raw:
            values[p.name] = convert_value(raw[p.name], p.type, f"tune.{p.name}", p.bounds, problems)
    sampler = values.get("sampler")
    if sampler is not None and sampler not in SAMPLERS:
        problems.add("tune.sampler", unknown_name(sampler, SAMPLERS, "sampler"))
    metric = values.get("metric", "loss" if kind == "function" else TuneSpec.metric)
    if metric is not None and metric not in METRICS[kind]:
        problems.add("tune.metric", unknown_name(metric, METRICS[kind], f"metric of a {kind} task"))
    values["metric"] = metric
    mode = values.get("mode")
    if mode is not None and mode not in MODES:
        problems.add("tune.mode", unknown_name(mode, MODES, "mode"))
    if kind == "function":
        if values.get("trial_seeds", 1) != 1:
            problems.add("tune.trial_seeds", "a function task has no randomness: one seed per trial")
        if raw.get("final_seeds", 0) != 0:
            problems.add("tune.final_seeds", "a function task has no randomness and no test set: remove it")
        values["final_seeds"] = 0
    spaces = _spaces(raw.get("optimizers"), problems)
    if len(problems.items) != before:
        return None
    return TuneSpec(**values, spaces=spaces)


def _spaces(raw: Any, problems: Problems) -> tuple[SearchSpace, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(
            "tune.optimizers", f"must be a non-empty list of {{name, search}}, got {describe_value(raw)}"
        )
        return ()
    spaces = []
    names: list[str] = []
    for i, entry in enumerate(raw):
        where = f"tune.optimizers[{i}]"
        if not isinstance(entry, dict):
            problems.add(where, f"must be a mapping with name and search, got {describe_value(entry)}")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or name not in OPTIMIZERS:
            what = (
                unknown_name(name, list(OPTIMIZERS), "optimizer")
                if isinstance(name, str)
                else "must name an optimizer"
            )
            problems.add(f"{where}.name", what)
            continue
        if name in names:
            problems.add(f"{where}.name", f"{name!r} is listed twice; each optimizer is tuned once")
        names.append(name)
        declared = {p.name: p for p in hyperparameters(OPTIMIZERS[name])}
        fixed = {k: v for k, v in entry.items() if k not in ("name", "search")}
        for key in fixed:
            if key not in declared:
                hint = did_you_mean(key, list(declared)) or f" (it has: {', '.join(declared)})"
                problems.add(f"{where}.{key}", f"optimizer {name!r} has no hyperparameter {key!r}{hint}")
        search = entry.get("search")
        if not isinstance(search, dict) or not search:
            problems.add(
                f"{where}.search", f"must map hyperparameters to distributions, got {describe_value(search)}"
            )
            continue
        dims = []
        for key, dist in search.items():
            section = str(key).split(".")[0]
            if section in SEARCHED_SECTIONS and "." in str(key):
                dim = _dimension(
                    str(key), dist, _section_numbers(section), section, f"{where}.search.{key}", problems
                )
                if dim is not None:
                    dims.append(dim)
                continue
            dim = _dimension(str(key), dist, declared, name, f"{where}.search.{key}", problems)
            if dim is not None:
                if dim.hyperparameter in fixed:
                    problems.add(f"{where}.search.{key}", f"{dim.hyperparameter} is also fixed in this entry")
                dims.append(dim)
        spaces.append(SearchSpace(name, fixed, tuple(dims)))
    return tuple(spaces)


def _section_numbers(section: str) -> dict[str, HyperParam]:
    """The keys of a section a study may search: its declared numbers, a number or null included."""
    numbers = {}
    for p in hyperparameters(SECTIONS[section]):
        kinds = [a for a in typing.get_args(p.type) if a is not type(None)] or [p.type]
        if kinds in ([int], [float]):
            numbers[p.name] = dataclasses.replace(p, type=kinds[0])
    return numbers


def _dimension(
    key: str, raw: Any, declared: Mapping[str, HyperParam], owner: str, where: str, problems: Problems
) -> Dimension | None:
    """The distribution of one searched key: a hyperparameter (or tuple element) of the optimizer
    `owner`, or a number in the config section `owner` (`key` is then its dotted name)."""
    if owner in SEARCHED_SECTIONS:
        name = key.split(".", 1)[1]
        param = declared.get(name)
        if param is None:
            keys = [f"{owner}.{k}" for k in declared]
            hint = did_you_mean(key, keys) or f" (the {owner} section's numbers: {', '.join(keys)})"
            problems.add(where, f"{key!r} is not a number a study can search{hint}")
            return None
        return _distribution(key, raw, param, param.type, where, problems)
    found = ELEMENT.match(key)
    if found is None:
        problems.add(where, "a hyperparameter name, or one element of a tuple one such as betas.0")
        return None
    param = declared.get(found["name"])
    if param is None:
        hint = did_you_mean(found["name"], list(declared)) or f" (it has: {', '.join(declared)})"
        problems.add(where, f"optimizer {owner!r} has no hyperparameter {found['name']!r}{hint}")
        return None
    value_type = param.type
    if found["index"] is not None:
        size = len(param.default) if isinstance(param.default, tuple) else 0
        if not size:
            problems.add(where, f"{param.name} is not a tuple: search {param.name} itself")
            return None
        if int(found["index"]) >= size:
            problems.add(where, f"{param.name} has {size} elements: index 0 to {size - 1}")
            return None
        value_type = float
    elif isinstance(param.default, tuple):
        problems.add(where, f"{param.name} is a tuple: search its elements, e.g. {param.name}.0")
        return None
    return _distribution(key, raw, param, value_type, where, problems)


def _distribution(
    key: str, raw: Any, param: HyperParam, value_type: Any, where: str, problems: Problems
) -> Dimension | None:
    """The distribution `raw` of the searched `key`, its values of `value_type` inside `param`'s range."""
    if not isinstance(raw, dict) or len(raw) != 1:
        problems.add(
            where, f"must be one distribution, e.g. {{log_uniform: [1.0e-4, 1.0]}}, got {describe_value(raw)}"
        )
        return None
    ((kind, args),) = raw.items()
    if kind not in DISTRIBUTIONS:
        problems.add(f"{where}.{kind}", unknown_name(str(kind), DISTRIBUTIONS, "distribution"))
        return None
    if kind == "choice":
        if not isinstance(args, list) or not args:
            problems.add(f"{where}.choice", f"must be a non-empty list of values, got {describe_value(args)}")
            return None
        before = len(problems.items)
        values = [
            convert_value(v, value_type, f"{where}.choice[{i}]", param.bounds, problems)
            for i, v in enumerate(args)
        ]
        return Dimension(key, kind, choices=tuple(values)) if len(problems.items) == before else None
    if not isinstance(args, list) or len(args) != 2:
        problems.add(f"{where}.{kind}", f"must be [low, high], got {describe_value(args)}")
        return None
    numeric = int if kind == "int" else float
    if numeric is float and value_type is not float:
        problems.add(f"{where}.{kind}", f"{param.name} is not a real number: use choice")
        return None
    if numeric is int and value_type is not int:
        problems.add(f"{where}.{kind}", f"{param.name} is not a whole number: use uniform or log_uniform")
        return None
    before = len(problems.items)
    low = convert_value(args[0], numeric, f"{where}.{kind}[0]", param.bounds, problems)
    high = convert_value(args[1], numeric, f"{where}.{kind}[1]", param.bounds, problems)
    if len(problems.items) != before:
        return None
    if not low < high:
        problems.add(f"{where}.{kind}", f"low must be below high, got [{low}, {high}]")
        return None
    if kind == "log_uniform" and low <= 0:
        problems.add(f"{where}.{kind}[0]", f"a log-uniform range starts above 0, got {low}")
        return None
    return Dimension(key, kind, float(low), float(high))


def _check_trial_zero(study: Study, origin: Origin, source: str) -> None:
    """Every optimizer's defaults must be a valid run (trial 0), checked before anything runs."""
    lines = []
    for i, space in enumerate(study.spec.spaces):
        try:
            study.run(space, study.defaults(space), study.seed)
        except ValueError as exc:
            lines.append(f"{origin.locate(f'tune.optimizers[{i}]')}: trial 0 (the defaults): {exc}")
    if lines:
        raise ConfigError(lines)


__all__ = ["Dimension", "SearchSpace", "Study", "TuneSpec", "load_tune"]
