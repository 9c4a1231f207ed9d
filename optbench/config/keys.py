"""Every key a config may set, with its type, default and meaning, read from the declared fields.

`optbench list keys` prints them and shell completion offers them for KEY=VALUE. The sections are
dataclasses whose fields are declared with `hyper` (meaning, default, range), so a field added to a
section appears here without an edit; only the few keys that are not fields of a section (the top
level, runs, grid, tune.optimizers, cases) are written out below.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optbench.config.activations import ActivationsConfig
from optbench.config.schema import DEFAULT_INIT, DEFAULT_SCHEDULE, NAMED_SECTIONS, SECTIONS
from optbench.config.tune import TuneSpec
from optbench.hparams import describe_default, hyperparameters
from optbench.init import INITIALIZERS, Initializer
from optbench.optim import OPTIMIZERS, SCHEDULES, Schedule


@dataclass(frozen=True)
class ConfigKey:
    """One key of a config: its dotted name, its type and default as a config spells them, its meaning."""

    key: str
    type: str
    default: str
    doc: str


NAMED_DEFAULTS = {
    "model.init": DEFAULT_INIT,
    "optimizer.schedule": DEFAULT_SCHEDULE,
    "model.batch_norm": "false",
}
"""Keys whose field default (null) stands for a choice the loader fills in, or for `false`."""

TOP_LEVEL = (
    ConfigKey("experiment", "str", "the file's name", "the results folder: <out>/<experiment>/"),
    ConfigKey("description", "str", '""', "what the experiment shows, for the report"),
    ConfigKey("label", "str | null", "null", "a run's name in legends, tables, reports (or in a runs entry)"),
)
VARIATIONS = (
    ConfigKey("runs", "list of partial configs", "null", "compare: one run per entry, merged into the base"),
    ConfigKey(
        "grid", "mapping: dotted key -> list", "null", "compare: one run per combination of the listed values"
    ),
)
TUNE_OPTIMIZERS = ConfigKey(
    "tune.optimizers",
    "list of {name, search, ...}",
    "(required)",
    "the optimizers tuned, each with its search space and fixed hyperparameters",
)
CASES = ConfigKey("cases", "list of {init, activation}", "(required)", "the networks compared, one per case")


def _type_name(hint: Any) -> str:
    """A type hint as a config spells it: `int`, `float | null`, `list of int`, `[float, float]`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hasattr(hint, "config_spelling"):
        return str(hint.config_spelling)
    if origin is typing.Literal:
        return " | ".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        inner = [_type_name(a) for a in args if a is not type(None)]
        nullable = type(None) in args and not any(hasattr(a, "config_spelling") for a in args)
        return " | ".join(inner + (["null"] if nullable else []))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_type_name(args[0])}"
        return "[" + ", ".join(_type_name(a) for a in args) + "]"
    if isinstance(hint, type) and issubclass(hint, Initializer):
        return "initialiser"
    if isinstance(hint, type) and issubclass(hint, Schedule):
        return "schedule"
    return getattr(hint, "__name__", str(hint))


def _declared(prefix: str, cls: type) -> list[ConfigKey]:
    keys = []
    for p in hyperparameters(cls):
        key = f"{prefix}.{p.name}" if prefix else p.name
        default = NAMED_DEFAULTS.get(key, describe_default(p.default) if p.default != "" else '""')
        keys.append(ConfigKey(key, _type_name(p.type), default, p.doc))
    return keys


def _members(registries: Sequence[Mapping[str, type]]) -> str:
    names = dict.fromkeys(p.name for r in registries for cls in r.values() for p in hyperparameters(cls))
    return ", ".join(names)


def _named_hyperparameters(section: str, registry: Mapping[str, type], listing: str) -> ConfigKey:
    return ConfigKey(
        f"{section}.<hyperparameter>",
        "per choice",
        "per choice",
        f"the hyperparameters of the chosen one ({_members([registry])}): see `optbench list {listing}`",
    )


def experiment_keys() -> tuple[ConfigKey, ...]:
    """The keys of an experiment config (`train`, `compare`; a tuning study's base), section by section."""
    keys = list(TOP_LEVEL)
    for section, cls in SECTIONS.items():
        keys += _declared(section, cls)
        if section == "model":
            keys.append(_named_hyperparameters("model.init", INITIALIZERS, "inits"))
        if section == "optimizer":
            keys.insert(
                len(keys) - len(hyperparameters(cls)) + 1,
                _named_hyperparameters("optimizer", OPTIMIZERS, "optimizers"),
            )
            keys.append(_named_hyperparameters("optimizer.schedule", SCHEDULES, "schedules"))
    return (*keys, *VARIATIONS)


def tune_keys() -> tuple[ConfigKey, ...]:
    """The keys of a tuning study's `tune:` section (the rest of the file is an experiment's base)."""
    return (*_declared("tune", TuneSpec), TUNE_OPTIMIZERS)


def activations_keys() -> tuple[ConfigKey, ...]:
    """The keys of an activations config (`optbench activations`)."""
    return (TOP_LEVEL[0], *_declared("", ActivationsConfig), CASES)


def completion_keys(kind: str) -> list[str]:
    """The dotted keys shell completion offers for KEY=VALUE after a config of this kind.

    Concrete keys only: every declared field, and every hyperparameter of every optimizer, initialiser
    and schedule under its section. `kind` is experiment, tune, activations or suite (all of them).
    """
    if kind == "activations":
        return [k.key for k in activations_keys() if k.key != "cases"]
    if kind == "suite":  # its overrides go to every listed config that has the key
        keys = completion_keys("experiment") + completion_keys("tune") + completion_keys("activations")
        return list(dict.fromkeys(keys))
    keys = [k.key for k in experiment_keys() if "<" not in k.key and k.key not in ("runs", "grid")]
    for section, registry in NAMED_SECTIONS.items():
        names = dict.fromkeys(p.name for cls in registry.values() for p in hyperparameters(cls))
        keys += [f"{section}.{name}" for name in names if f"{section}.{name}" not in keys]
    if kind == "tune":
        keys = [k for k in keys if not k.startswith("report.")] + [k.key for k in tune_keys()]
    return keys
