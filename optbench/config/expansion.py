"""Loading an experiment: a config file and its overrides -> runs x grid -> validated runs.

A config file describes one experiment: a base run (task, model, optimizer, train) and, for
`compare`, the variations to run (`runs:` entries merged into the base, `grid:` a cartesian product
over dotted keys). Loading turns it into a list of fully resolved, validated `RunConfig`s, or raises
`ConfigError` with every problem found, one `FILE: key.path: message` line each, reported where the
offending value was written (origin tracking, in `reading`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optbench.config.fields import Problems, describe_value, section_values
from optbench.config.kinds import refuse_other_kind
from optbench.config.overrides import COMMAND_LINE, merge, nested_patch, normalise_named, overridden_values
from optbench.config.reading import Origin, Where, read_config
from optbench.config.schema import Experiment, ReportConfig, RunConfig
from optbench.config.serialise import PLUGINS_KEY, to_dict
from optbench.config.validation import validate_run
from optbench.errors import ConfigError
from optbench.plain import leaves, value_at

MAX_RUNS = 10_000
"""More runs than this in one experiment is almost surely a typo in a grid."""


def load_experiment(path: Path, overrides: Sequence[str] = ()) -> Experiment:
    """Read, expand and validate a config file; raise ConfigError listing every problem."""
    raw, pairs, problems = read_config(path, overrides)
    refuse_other_kind(raw, path, overrides, "experiment", "an experiment")
    return expand(normalise_named(raw, ""), str(path), pairs, problems)


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
        problems.append(
            f"{grid_where}: must be a mapping of dotted keys to lists, got {describe_value(grid_raw)}"
        )
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
            problems.append(f"{where}: must be a list of values, got {describe_value(values)}")
        elif not values:
            problems.append(f"{where}: empty list; give at least one value")
        elif axis.split(".")[0] in ("runs", "grid", "experiment", "description", "label"):
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
                f"{runs_where}: must be a non-empty list of partial configs, got {describe_value(runs_raw)}"
            )
        elif not all(isinstance(e, dict) for e in runs_raw):
            bad = next(i for i, e in enumerate(runs_raw) if not isinstance(e, dict))
            problems.append(f"{runs_where}[{bad}]: must be a mapping, got {describe_value(runs_raw[bad])}")
        else:
            entries = [normalise_named(e, "") for e in runs_raw]

    total = len(entries) * math.prod(len(values) for values in grid.values())
    if total > MAX_RUNS:
        problems.append(f"{source}: grid: {total} runs; an experiment has at most {MAX_RUNS}")
        raise ConfigError(problems)

    name = fixed.get("experiment", raw.get("experiment"))
    description = fixed.get("description", base.get("description", ""))
    if not isinstance(description, str):
        where = f"{COMMAND_LINE}: description" if "description" in fixed else f"{source}: description"
        problems.append(f"{where}: must be a string, got {describe_value(description)}")
    notes = repeats + (_replaced_by_grid(entries, grid, runs_where) if runs_raw is not None else [])
    report = _report_section(
        merge(raw.get("report") or {}, nested_patch(list(fixed.items())).get("report", {})), source, problems
    )

    runs: dict[str, RunConfig] = {}
    made_by: dict[str, str] = {}  # run id -> the runs entry that first gave it
    collapsed: dict[str, list[str]] = {}  # run id -> the later entries that gave it again
    labels = Labels()
    for index, entry in enumerate(entries):
        resolved = merge(base, entry)
        origin = Origin(source, raw)
        if runs_raw is not None:
            origin.mark(entry, Where(f"{runs_where}[{index}].", inline=True))
        for point in itertools.product(*grid.values()):
            run_raw = merge(
                merge(resolved, nested_patch(list(zip(grid, point)))), nested_patch(list(fixed.items()))
            )
            run_origin = origin.copy()
            for axis, value in zip(grid, point):
                run_origin.mark({axis: value}, Where(grid_origin[axis], inline=False))
            for key, value in fixed.items():
                run_origin.mark({key: value}, Where(f"{COMMAND_LINE}: {key}", inline=False))
            label = run_raw.pop("label", None)
            run, found = validate_run(run_raw)
            for path, message in found:
                line = f"{run_origin.locate(path)}: {message}"
                if line not in problems:
                    problems.append(line)
            if label is not None:
                labels.add(label, run, run_origin.locate("label"), problems)
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
    written = [*_dotted_paths(entries), *_dotted_paths([nested_patch([(k, v)]) for k, v in grid.items()])]
    return Experiment(
        str(name),
        source,
        description,
        ordered,
        _varied_keys(ordered, written),
        overridden=overridden_values(raw, overrides),
        notes=tuple(notes),
        labels={run_id: {"label": label} for run_id, label in labels.of_run.items()},
        report=report,
    )


class Labels:
    """The `label:` of each run, checked as the runs are resolved: a non-empty line of text, one per
    run, and one variant (runs that differ only in their seeds) per label. A label changes no number:
    it is kept out of the run's config and id, and goes to summary.csv and experiment.yaml."""

    def __init__(self) -> None:
        self.of_run: dict[str, str] = {}
        self._where: dict[str, str] = {}  # run id -> where its label was written
        self._variant: dict[str, tuple[str, str, str]] = {}  # label -> (variant, where, a run id of it)

    def add(self, label: Any, run: RunConfig | None, where: str, problems: list[str]) -> None:
        """Record the label of a resolved run (None: the run has problems of its own), or a problem."""
        if not isinstance(label, str) or not label.strip() or "\n" in label.strip():
            line = f"{where}: must be a non-empty one-line string, got {describe_value(label)}"
            if line not in problems:
                problems.append(line)
            return
        if run is None:
            return
        label = label.strip()
        known = self.of_run.get(run.run_id)
        if known is not None and known != label:
            problems.append(
                f"{where}: label {label!r} is given to run {run.run_id}, which {self._where[run.run_id]} "
                f"already labels {known!r}; a run has one label"
            )
            return
        self.of_run[run.run_id], self._where[run.run_id] = label, where
        variant = variant_id(run)
        first = self._variant.setdefault(label, (variant, where, run.run_id))
        if first[0] != variant:
            if first[1] == where:
                problems.append(
                    f"{where}: label {label!r} is given to two different variants ({first[2]} and "
                    f"{run.run_id}); a label names one variant, runs that differ only in their seeds: "
                    "give it in a runs entry of its own"
                )
            else:
                mine, theirs = where.split(": ", 1)[0], first[1].split(": ", 1)
                at = theirs[1] if theirs[0] == mine and len(theirs) == 2 else first[1]
                problems.append(
                    f"{where}: label {label!r} is also given at {at} to a different variant "
                    f"({first[2]} there, {run.run_id} here); a label names one variant: give each its own"
                )
            self._variant[label] = (variant, where, run.run_id)


def variant_id(run: RunConfig) -> str:
    """What the runs of one variant share: the run id of the run with its seeds set aside."""
    train = dataclasses.replace(run.train, seed=0, init_seed=0, data_seed=0)
    return dataclasses.replace(run, train=train).run_id


def _report_section(raw: Any, source: str, problems: list[str]) -> ReportConfig:
    """The `report:` section: checked like the others, kept out of the runs (it changes no number)."""
    found = Problems()
    if not isinstance(raw, dict):
        found.add("report", f"must be a mapping, got {describe_value(raw)}")
        raw = {}
    values = section_values(ReportConfig, raw, "report", found)
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
    # The plugins' code is no setting: runs of one folder share it (`optbench.definition`).
    keys = dict.fromkeys(k for c in configs for k in leaves(c) if k not in ("experiment", PLUGINS_KEY))
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
