"""Suites: several experiment configs run as one command (`optbench suite`), e.g. the lecture demo.

A suite file lists configs by kind, relative to the suite file:

    compare: [paths_book.yaml, ...]          experiments whose runs go into one sweep
    activations: [activations.yaml]          activation-distribution experiments
    tune: [tune_rosenbrock.yaml, ...]        tuning studies, run one after the other

An entry is a path, or `{config: PATH, set: [KEY=VALUE, ...]}` to run it with overrides (a smaller
budget for a demo, say). KEY=VALUE overrides of the `optbench suite` command line go to every listed
config whose kind has that key (`train.steps=10` to the experiments and the tuning studies, `samples=`
to the activations configs), after the entry's own; a value a config cannot take is that config's
error, and a key no listed config has is refused with a did-you-mean.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.config.activations import ACTIVATIONS_KEYS, ActivationsConfig, load_activations
from optbench.config.expansion import load_experiment
from optbench.config.fields import Problems, check_keys, describe_value, unknown_name
from optbench.config.kinds import refuse_other_kind
from optbench.config.overrides import COMMAND_LINE
from optbench.config.reading import read_config
from optbench.config.schema import TOP_LEVEL_KEYS, Experiment
from optbench.config.tune import TOP_LEVEL_KEYS as TUNE_KEYS
from optbench.config.tune import Study, load_tune
from optbench.errors import ConfigError
from optbench.files import is_safe_name

KINDS = ("compare", "activations", "tune")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "compare": TOP_LEVEL_KEYS,
    "activations": ACTIVATIONS_KEYS,
    "tune": TUNE_KEYS,
}
"""The top-level keys of each kind of listed config: where a suite's KEY=VALUE override goes."""


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

    def load(self, command: str = "") -> LoadedSuite:
        """Every listed config loaded, each with its overrides; ConfigError lists every problem of all.

        `command` (the command line) is recorded in each experiment and study.
        """
        problems: list[str] = []
        experiments: list[Experiment] = []
        activations: list[ActivationsConfig] = []
        studies: list[Study] = []
        for entry in self.compare:
            with _collected(entry, problems):
                experiments.append(
                    dataclasses.replace(load_experiment(entry.path, entry.overrides), command=command)
                )
        for entry in self.activations:
            with _collected(entry, problems):
                activations.append(load_activations(entry.path, entry.overrides))
        for entry in self.tune:
            with _collected(entry, problems):
                studies.append(dataclasses.replace(load_tune(entry.path, entry.overrides), command=command))
        if problems:
            raise ConfigError(problems)
        return LoadedSuite(self, tuple(experiments), tuple(activations), tuple(studies))


@dataclass(frozen=True)
class LoadedSuite:
    """A suite's configs, loaded and validated: what `optbench suite` runs."""

    suite: Suite
    experiments: tuple[Experiment, ...]
    activations: tuple[ActivationsConfig, ...]
    studies: tuple[Study, ...]


@contextlib.contextmanager
def _collected(entry: Entry, problems: list[str]) -> Iterator[None]:
    """Collects a listed config's ConfigError lines; those about overrides get the config's path."""
    try:
        yield
    except ConfigError as exc:
        for line in exc.problems:
            problems.append(f"{entry.path}: {line}" if line.startswith(COMMAND_LINE) else line)


def _entry(raw: Any, folder: Path, where: str, problems: Problems) -> Entry | None:
    if isinstance(raw, str):
        raw = {"config": raw}
    if not isinstance(raw, dict):
        problems.add(
            where, f"must be a config path or {{config: PATH, set: [...]}}, got {describe_value(raw)}"
        )
        return None
    check_keys(raw, ("config", "set"), where, problems)
    config, overrides = raw.get("config"), raw.get("set", [])
    if not isinstance(config, str):
        problems.add(f"{where}.config", f"must be a config file path, got {describe_value(config)}")
        return None
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        problems.add(f"{where}.set", f"must be a list of KEY=VALUE strings, got {describe_value(overrides)}")
        return None
    path = folder / config
    if not path.is_file():
        problems.add(where, f"no such file: {path}")
        return None
    return Entry(path, tuple(overrides))


def load_suite(path: Path, overrides: Sequence[str] = ()) -> Suite:
    """Read a suite file: `compare:`, `activations:` and `tune:` lists of configs, relative to the file.

    Each KEY=VALUE of `overrides` is added to the entries of every kind that has its top-level key.
    """
    raw, pairs, malformed = read_config(path, overrides)
    refuse_other_kind(raw, path, overrides, "suite", "a suite")
    source = str(path)
    problems = Problems()
    check_keys(raw, ("experiment", "suite", "description", *KINDS), "", problems)
    name = raw.get("suite", path.stem)
    if not isinstance(name, str) or not is_safe_name(name):
        problems.add("suite", f"must be a simple name, got {describe_value(name)}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add("description", f"must be a string, got {describe_value(description)}")
    lists: dict[str, tuple[Entry, ...]] = {}
    for key in KINDS:
        entries = raw.get(key, [])
        if not isinstance(entries, list):
            problems.add(key, f"must be a list of configs, got {describe_value(entries)}")
            entries = []
        found = [_entry(e, path.parent, f"{key}[{i}]", problems) for i, e in enumerate(entries)]
        lists[key] = tuple(e for e in found if e is not None)
    if not problems.items and not any(lists.values()):
        problems.add("compare", "the suite lists no experiments")
    lines = list(malformed) + [f"{source}: {p}: {m}" for p, m in problems.items]
    routed = _route(overrides, [key for key, _ in pairs] if not malformed else [], lists, lines)
    if lines:
        raise ConfigError(lines)
    assert isinstance(name, str) and isinstance(description, str)
    return Suite(name, description.strip(), routed["compare"], routed["activations"], routed["tune"])


def _route(
    overrides: Sequence[str], keys: Sequence[str], lists: dict[str, tuple[Entry, ...]], lines: list[str]
) -> dict[str, tuple[Entry, ...]]:
    """The entries of each kind with the overrides whose top-level key that kind has appended."""
    listed = [kind for kind in KINDS if lists[kind]]
    taken: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for item, key in zip(overrides, keys):
        top = key.split(".")[0]
        kinds = [kind for kind in listed if top in KIND_KEYS[kind]]
        if not kinds:
            known = sorted({k for kind in listed for k in KIND_KEYS[kind]})
            lines.append(
                f"{COMMAND_LINE}: {key}: {unknown_name(top, known, 'key')} (in no config of this suite)"
            )
        for kind in kinds:
            taken[kind].append(item)
    return {
        kind: tuple(dataclasses.replace(e, overrides=(*e.overrides, *taken[kind])) for e in lists[kind])
        for kind in KINDS
    }
