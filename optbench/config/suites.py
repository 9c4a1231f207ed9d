"""Suites: several experiment configs run as one command (`optbench suite`), e.g. the lecture demo.

A suite file lists configs by kind, relative to the suite file:

    compare: [paths_book.yaml, ...]          experiments whose runs go into one sweep
    activations: [activations.yaml]          activation-distribution experiments
    tune: [tune_rosenbrock.yaml, ...]        tuning studies, run one after the other

An entry is a path, or `{config: PATH, set: [KEY=VALUE, ...]}` to run it with overrides (a smaller
budget for a demo, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.config.expansion import _read_config
from optbench.config.fields import _check_keys, _describe, _Problems
from optbench.errors import ConfigError
from optbench.files import is_safe_name

KINDS = ("compare", "activations", "tune")


@dataclass(frozen=True)
class Entry:
    """One config of a suite and the overrides it runs with."""

    path: Path
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A list of experiment configs run together (`optbench suite`), e.g. the lecture demo."""

    name: str
    description: str
    compare: tuple[Entry, ...]
    activations: tuple[Entry, ...]
    tune: tuple[Entry, ...] = ()


def _entry(raw: Any, folder: Path, where: str, problems: _Problems) -> Entry | None:
    if isinstance(raw, str):
        raw = {"config": raw}
    if not isinstance(raw, dict):
        problems.add(where, f"must be a config path or {{config: PATH, set: [...]}}, got {_describe(raw)}")
        return None
    _check_keys(raw, ("config", "set"), where, problems)
    config, overrides = raw.get("config"), raw.get("set", [])
    if not isinstance(config, str):
        problems.add(f"{where}.config", f"must be a config file path, got {_describe(config)}")
        return None
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        problems.add(f"{where}.set", f"must be a list of KEY=VALUE strings, got {_describe(overrides)}")
        return None
    path = folder / config
    if not path.is_file():
        problems.add(where, f"no such file: {path}")
        return None
    return Entry(path, tuple(overrides))


def load_suite(path: Path) -> Suite:
    """Read a suite file: `compare:`, `activations:` and `tune:` lists of configs, relative to the file."""
    raw, _, _ = _read_config(path, ())
    source = str(path)
    problems = _Problems()
    _check_keys(raw, ("experiment", "suite", "description", *KINDS), "", problems)
    name = raw.get("suite", path.stem)
    if not isinstance(name, str) or not is_safe_name(name):
        problems.add("suite", f"must be a simple name, got {_describe(name)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add("description", f"must be a string, got {_describe(description)}")
    lists: dict[str, tuple[Entry, ...]] = {}
    for key in KINDS:
        entries = raw.get(key, [])
        if not isinstance(entries, list):
            problems.add(key, f"must be a list of configs, got {_describe(entries)}")
            entries = []
        found = [_entry(e, path.parent, f"{key}[{i}]", problems) for i, e in enumerate(entries)]
        lists[key] = tuple(e for e in found if e is not None)
    if not problems.items and not any(lists.values()):
        problems.add("compare", "the suite lists no experiments")
    if problems.items:
        raise ConfigError([f"{source}: {p}: {m}" for p, m in problems.items])
    assert isinstance(name, str) and isinstance(description, str)
    return Suite(name, description.strip(), lists["compare"], lists["activations"], lists["tune"])
