"""Suites: several experiment configs run as one sweep (`optbench suite`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from optbench.config.expansion import _read_config
from optbench.config.fields import _check_keys, _describe, _Problems
from optbench.errors import ConfigError
from optbench.files import is_safe_name


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
