"""One long, tidy CSV of experiments (`optbench export`): every metric row of every run, each with
its experiment, run id, status and resolved config values as columns.

What a pandas or R user loads in one call (`pd.read_csv`): one header, one row per logged step, the
same columns in every row (empty where a run has no such value). Metric values are copied as the
run logged them, so no digit is lost; config values are written as a config spells them (lists in
JSON). The file is written atomically: a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from optbench.errors import UsageError
from optbench.files import atomic_file, csv_cell
from optbench.layout import CONFIG_FILE, EXPERIMENT_FILE, METRICS_FILE, RUNS_DIR, read_status
from optbench.plain import leaves
from optbench.results import is_activations_folder, read_yaml

FIXED_COLUMNS = ("experiment", "run_id", "status")


@dataclass(frozen=True)
class _Run:
    """One run folder, and the cells that begin each of its rows."""

    folder: Path
    fixed: tuple[str, str, str]
    """The cells of FIXED_COLUMNS: its experiment, its run id, its status (`pending` without status.json)."""
    config: dict[str, str]
    """Its resolved config's values as cells, by dotted key (the experiment's name left out)."""


@dataclass(frozen=True)
class Exported:
    """What an export wrote: rows, runs, and the runs that had no metric rows yet."""

    rows: int
    runs: int
    experiments: int
    empty: int


def experiment_folders(names: Sequence[str], root: Path) -> list[Path]:
    """Each EXPERIMENT as its folder: a path to an experiment folder, or an experiment name under `root`.

    UsageError for a name that is neither, or an activations folder (it logs no metric rows).
    """
    folders = []
    for name in names:
        path = Path(name)
        folder = path if (path / EXPERIMENT_FILE).is_file() or path.is_dir() else root / name
        if is_activations_folder(folder):
            raise UsageError(f"{folder}: an activations experiment logs no metric rows; nothing to export")
        if folder != path and not folder.is_dir():
            listing = f"optbench runs {root} lists them"
            raise UsageError(f"{name}: no such folder, nor an experiment of that name in {root} ({listing})")
        if not (folder / EXPERIMENT_FILE).is_file():
            raise UsageError(f"{folder}: not an optbench experiment folder (no {EXPERIMENT_FILE})")
        folders.append(folder)
    return folders


def _cell(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return csv_cell(value)


def _runs(folder: Path) -> list[_Run]:
    info = yaml.safe_load((folder / EXPERIMENT_FILE).read_text(encoding="utf-8"))
    info = info if isinstance(info, dict) else {}
    name = str(info.get("experiment", folder.name))
    runs = []
    for run_id in map(str, info.get("runs") or []):
        run_folder = folder / RUNS_DIR / run_id
        config = read_yaml(run_folder / CONFIG_FILE)
        values = leaves(config) if isinstance(config, dict) else {}
        values.pop("experiment", None)
        status = read_status(run_folder)
        state = str(status.get("status")) if status is not None else "pending"
        runs.append(_Run(run_folder, (name, run_id, state), {k: _cell(v) for k, v in values.items()}))
    return runs


def _metric_rows(run_folder: Path) -> Iterator[list[str]]:
    """The header, then each whole row, of a run's metrics.csv (nothing when it has none)."""
    try:
        f = open(run_folder / METRICS_FILE, newline="", encoding="utf-8")  # noqa: SIM115 (a generator)
    except OSError:
        return
    with f:
        yield from csv.reader(f)


def _header(run_folder: Path) -> list[str]:
    return next(_metric_rows(run_folder), [])


def export(folders: Sequence[Path], dest: Path | None) -> Exported:
    """Write every metric row of every run of `folders` to `dest` (None: standard output)."""
    runs = [run for folder in folders for run in _runs(folder)]
    config_columns = list(dict.fromkeys(k for run in runs for k in run.config))
    metric_columns = list(dict.fromkeys(c for run in runs for c in _header(run.folder)))
    header = [*FIXED_COLUMNS, *config_columns, *metric_columns]
    clashes = set(config_columns) & set(metric_columns) | set(FIXED_COLUMNS) & set(metric_columns)
    if clashes:
        raise UsageError(f"a metric column has the name of another column: {', '.join(sorted(clashes))}")
    with _output(dest) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        rows = empty = 0
        for run in runs:
            lines = _metric_rows(run.folder)
            names = next(lines, [])
            fixed = [*run.fixed, *(run.config.get(k, "") for k in config_columns)]
            written = 0
            for line in lines:
                if len(line) != len(names):
                    continue
                values = dict(zip(names, line))
                writer.writerow(fixed + [values.get(c, "") for c in metric_columns])
                written += 1
            rows += written
            empty += written == 0
    return Exported(rows, len(runs), len(folders), empty)


@contextlib.contextmanager
def _output(dest: Path | None) -> Iterator[TextIO]:
    if dest is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_file(dest) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        yield text
        text.flush()
        text.detach()  # atomic_file syncs and closes the file itself
