"""The experiments under a results root and the state of their runs: what `optbench runs` lists.

Read from disk only (experiment.yaml, each run's status.json, the folder lock), so it works on any
results folder, including one a command is writing into right now.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optbench.files import FolderLock
from optbench.layout import (
    CONFIG_FILE,
    EXPERIMENT_FILE,
    RUNS_DIR,
    STATUS_FILE,
    STATUSES,
    SUMMARY_FILE,
    read_status,
)
from optbench.results import is_activations_folder, is_result_folder, read_yaml
from optbench.text import plural, summary_sentence, text_table

ABANDONED = "abandoned"
"""A run whose status.json still says `running` while no process holds the folder: it was killed;
the next command into the folder runs it again."""
ORDER = (*STATUSES, ABANDONED, "pending")


@dataclass(frozen=True)
class ExperimentEntry:
    """One experiment folder: its kind, its runs by status, when it last changed, what it is."""

    folder: Path
    kind: str
    """experiment, tune or activations."""
    runs: int
    statuses: Counter[str]
    changed: float
    """The newest modification time (seconds since the epoch) of its definition, summary and statuses."""
    description: str
    writer: int | None = None
    """The pid of the optbench process writing into it now (0 if unknown), None if none is."""

    def __repr__(self) -> str:
        return f"ExperimentEntry({self.folder.name!r}, {self.kind}, {self.runs} runs)"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read_entry(folder: Path) -> ExperimentEntry:
    """The state of one experiment folder (of compare, train, tune or activations)."""
    writer = FolderLock.holder(folder)
    if is_activations_folder(folder):
        info = read_yaml(folder / CONFIG_FILE)
        info = info if isinstance(info, dict) else {}
        cases = info.get("cases")
        n = len(cases) if isinstance(cases, list) else 0
        description = str(info.get("description") or "")
        return ExperimentEntry(
            folder, "activations", n, Counter(), _mtime(folder / CONFIG_FILE), description, writer
        )
    info = read_yaml(folder / EXPERIMENT_FILE)
    info = info if isinstance(info, dict) else {}
    run_ids = [str(r) for r in info.get("runs") or []]
    statuses: Counter[str] = Counter()
    changed = max(_mtime(folder / name) for name in (EXPERIMENT_FILE, SUMMARY_FILE))
    for run_id in run_ids:
        run_folder = folder / RUNS_DIR / run_id
        status = read_status(run_folder)
        state = str(status.get("status")) if status is not None else "pending"
        if state == "running" and writer is None:
            state = ABANDONED
        statuses[state] += 1
        changed = max(changed, _mtime(run_folder / STATUS_FILE))
    kind = "tune" if isinstance(info.get("tune"), dict) else "experiment"
    return ExperimentEntry(
        folder, kind, len(run_ids), statuses, changed, str(info.get("description") or ""), writer
    )


def scan(root: Path) -> list[ExperimentEntry]:
    """Every experiment folder in `root` (or `root` itself when it is one), by name."""
    if is_result_folder(root):
        return [read_entry(root)]
    folders = sorted(f for f in root.iterdir() if f.is_dir() and is_result_folder(f))
    return [read_entry(f) for f in folders]


def _counts(entry: ExperimentEntry) -> str:
    if entry.kind == "activations":
        return plural(entry.runs, "case")
    order = [s for s in ORDER if entry.statuses[s]]
    order += sorted(s for s in entry.statuses if s not in order)
    return ", ".join(f"{entry.statuses[s]} {s}" for s in order) or "no runs"


def table(entries: Sequence[ExperimentEntry]) -> str:
    """The listing: experiment, kind, runs by status, last change, the first sentence of its description."""
    rows = []
    for e in entries:
        now = "" if e.writer is None else f"writing now (pid {e.writer or '?'}); "
        changed = dt.datetime.fromtimestamp(e.changed).strftime("%Y-%m-%d %H:%M") if e.changed else ""
        runs = "" if e.kind == "activations" else str(e.runs)
        rows.append([e.folder.name, e.kind, runs, now + _counts(e), changed, summary_sentence(e.description)])
    return text_table(["experiment", "kind", "runs", "status", "last change", "description"], rows)
