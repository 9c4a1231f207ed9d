"""The kind of a config file, and the command that runs it.

There are four kinds: an experiment (`train`, `compare`), an activations config (`activations`), a
tuning study (`tune`) and a suite (`suite`). A file given to a command of another kind would be
refused key by key; recognising its kind first gives one line naming the command that runs it.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from optbench.errors import ConfigError

KINDS = ("experiment", "activations", "tune", "suite")

DESCRIPTIONS = {
    "experiment": "an experiment config (task, model, optimizer, train)",
    "activations": "an activations config (it lists cases)",
    "tune": "a tuning study (it has a tune: section)",
    "suite": "a suite (it lists configs to run)",
}


def kind_of(raw: Mapping[str, Any]) -> str:
    """Which kind of config a file's top-level mapping is, from the keys only that kind has.

    A suite lists configs (`compare:`, `activations:` or `tune:` lists), an activations config
    lists `cases:`, a tuning study has a `tune:` mapping; anything else is read as an experiment.
    """
    lists = any(isinstance(raw.get(key), list) for key in ("compare", "activations", "tune"))
    if "suite" in raw or "compare" in raw or lists:
        return "suite"
    if "cases" in raw:
        return "activations"
    if "tune" in raw:
        return "tune"
    return "experiment"


def command_for(kind: str, raw: Mapping[str, Any]) -> str:
    """The optbench command that runs a config of this kind: an experiment without variations trains."""
    if kind == "experiment":
        return "compare" if raw.get("runs") is not None or raw.get("grid") is not None else "train"
    return kind


def refuse_other_kind(
    raw: Mapping[str, Any], path: Path, overrides: Sequence[str], accepted: str, what: str
) -> None:
    """ConfigError (one line, with the command to use) unless `raw` is a config of kind `accepted`.

    `what` names the accepted kind in the message ("not an experiment").
    """
    kind = kind_of(raw)
    if kind == accepted:
        return
    command = shlex.join(["optbench", command_for(kind, raw), str(path), *overrides])
    raise ConfigError([f"{path}: {DESCRIPTIONS[kind]}, not {what}; run it with: {command}"])
