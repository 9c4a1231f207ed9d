"""Loading an experiment: a config file and its overrides -> runs x grid -> validated runs.

A config file describes one experiment: a base run (task, model, optimizer, train) and, for
`compare`, the variations to run (`runs:` entries merged into the base, `grid:` a cartesian product
over dotted keys). Loading turns it into a list of fully resolved, validated `RunConfig`s, or raises
`ConfigError` with every problem found, one `FILE: key.path: message` line each, reported where the
offending value was written (origin tracking: `Where`, `_Origin`).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.config.fields import _dataclass_section, _describe, _Problems
from optbench.config.kinds import refuse_other_kind
from optbench.config.overrides import COMMAND_LINE, _merge, _normalise_named, _patch, parse_overrides
from optbench.config.schema import Experiment, ReportConfig, RunConfig
from optbench.config.serialise import to_dict
from optbench.config.validation import validate_run
from optbench.config.yaml_text import _join, parse_yaml
from optbench.errors import ConfigError
from optbench.plain import leaves, value_at

MAX_RUNS = 10_000
"""More runs than this in one experiment is almost surely a typo in a grid."""


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
    refuse_other_kind(raw, path, overrides, "experiment", "an experiment")
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
    base = {k: v for k, v in raw.items() if k not in ("runs", "grid", "report")}
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
    repeats: list[str] = []
    for axis, (values, where) in axes.items():
        if not isinstance(values, list):
            problems.append(f"{where}: must be a list of values, got {_describe(values)}")
        elif not values:
            problems.append(f"{where}: empty list; give at least one value")
        elif axis.split(".")[0] in ("runs", "grid", "experiment", "description"):
            problems.append(f"{where}: cannot be varied")
        elif not any(axis == key or axis.startswith(key + ".") for key in fixed):
            grid[axis], grid_origin[axis] = values, where  # a key fixed on the command line is no axis
            twice = [json.dumps(v) for i, v in enumerate(values) if v in values[:i]]
            if twice:
                listed = ", ".join(dict.fromkeys(twice))
                repeats.append(f"{where}: {listed} listed more than once; each value runs once")

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

    name = fixed.get("experiment", raw.get("experiment"))
    description = fixed.get("description", base.get("description", ""))
    if not isinstance(description, str):
        where = f"{COMMAND_LINE}: description" if "description" in fixed else f"{source}: description"
        problems.append(f"{where}: must be a string, got {_describe(description)}")
    notes = repeats + (_replaced_by_grid(entries, grid, runs_where) if runs_raw is not None else [])
    report = _report_section(
        _merge(raw.get("report") or {}, _patch(list(fixed.items())).get("report", {})), source, problems
    )

    runs: dict[str, RunConfig] = {}
    made_by: dict[str, str] = {}  # run id -> the runs entry that first gave it
    collapsed: dict[str, list[str]] = {}  # run id -> the later entries that gave it again
    for index, entry in enumerate(entries):
        resolved = _merge(base, entry)
        origin = _Origin(source, raw)
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
                here = f"runs[{index}]" if runs_raw is not None else "the base"
                if run.run_id in runs:
                    if here != made_by[run.run_id]:
                        collapsed.setdefault(run.run_id, []).append(here)
                else:
                    runs[run.run_id], made_by[run.run_id] = run, here
    if problems:
        raise ConfigError(problems)
    for run_id, later in collapsed.items():
        entries_text = ", ".join(dict.fromkeys([made_by[run_id], *later]))
        notes.append(f"{runs_where}: {entries_text} resolve to the same runs (e.g. {run_id}); each runs once")
    ordered = tuple(runs.values())
    written = [*_dotted_paths(entries), *_dotted_paths([_patch([(k, v)]) for k, v in grid.items()])]
    return Experiment(
        str(name),
        source,
        description,
        ordered,
        _varied_keys(ordered, written),
        overridden=_overridden(raw, overrides),
        notes=tuple(notes),
        report=report,
    )


def _report_section(raw: Any, source: str, problems: list[str]) -> ReportConfig:
    """The `report:` section: checked like the others, kept out of the runs (it changes no number)."""
    found = _Problems()
    if not isinstance(raw, dict):
        found.add("report", f"must be a mapping, got {_describe(raw)}")
        raw = {}
    values = _dataclass_section(ReportConfig, raw, "report", found)
    problems += [f"{source}: {path}: {message}" for path, message in found.items]
    return ReportConfig(**{k: v for k, v in values.items() if v is not None})


def _replaced_by_grid(entries: Sequence[dict[str, Any]], grid: dict[str, list[Any]], where: str) -> list[str]:
    """One note per grid axis that replaces a value some runs entries set."""
    notes = []
    for axis in grid:
        setting = [i for i, entry in enumerate(entries) if value_at(entry, axis) is not None]
        if setting:
            listed = ", ".join(f"runs[{i}]" for i in setting)
            notes.append(f"{where}: grid axis {axis} replaces the {axis} set in {listed}")
    return notes


def _overridden(
    raw: dict[str, Any], overrides: Sequence[tuple[str, Any]]
) -> tuple[tuple[str, Any, Any], ...]:
    """(dotted key, the file's value or None, the value used) for every KEY=VALUE of the command line."""
    out = []
    for key, value in overrides:
        if key.startswith("grid."):
            grid = raw.get("grid")
            in_file = grid.get(key.removeprefix("grid.")) if isinstance(grid, dict) else None
        else:
            in_file = value_at(raw, key)
        out.append((key, in_file, value))
    return tuple(out)


@dataclass(frozen=True)
class Where:
    """Where a value was written. Inline: `prefix` + the key path (the file itself, a runs entry).
    Not inline: the value came from one dotted key (a grid axis, an override) that `prefix` names."""

    prefix: str
    inline: bool


class _Origin:
    """Maps dotted key paths of a resolved run to where their values were written.

    `file` is the config file's own mapping: a path it does not hold, created by a dotted key of the
    command line or a grid axis (`optimzer.lr=0.1` creates `optimzer`), is reported where that key
    was written, not in the file.
    """

    def __init__(self, source: str, file: Any = None) -> None:
        self.source = source
        self.file = file if isinstance(file, dict) else {}
        self.where: dict[str, tuple[str, Where]] = {}

    def copy(self) -> _Origin:
        other = _Origin(self.source, self.file)
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
        if parts and not _holds(self.file, parts):
            below = ".".join(parts) + "."
            for key, (_, where) in self.where.items():
                if key.startswith(below) and not where.inline:
                    return where.prefix
        return f"{self.source}: {path}" if path else self.source


def _holds(data: dict[str, Any], parts: Sequence[str]) -> bool:
    """Whether nested `data` has the key path `parts`."""
    node: Any = data
    for key in parts:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _dotted_paths(patches: Sequence[dict[str, Any]]) -> list[str]:
    """The dotted paths to the leaves of some patches, each once, in the order written."""
    paths: list[str] = []
    for patch in patches:
        for path in leaves(patch):
            if path not in paths:
                paths.append(path)
    return paths


def differing_keys(runs: Sequence[RunConfig]) -> tuple[str, ...]:
    """Every dotted key whose resolved value differs between runs (the experiment's name aside)."""
    configs = [to_dict(r) for r in runs]
    keys = dict.fromkeys(k for c in configs for k in leaves(c) if k != "experiment")
    return tuple(k for k in keys if len({json.dumps(value_at(c, k)) for c in configs}) > 1)


def _varied_keys(runs: Sequence[RunConfig], written: Sequence[str]) -> tuple[str, ...]:
    """Of the keys that runs entries and grid axes set, those whose resolved values differ between runs.

    Keys that differ only as a consequence (the defaults of two different optimizers) are not listed:
    they are not what the experiment varies.
    """
    if len(runs) < 2:
        return ()
    configs = [to_dict(r) for r in runs]
    keys = dict.fromkeys(written)  # a key both runs entries and a grid axis set is one key
    return tuple(k for k in keys if len({json.dumps(value_at(c, k)) for c in configs}) > 1)
