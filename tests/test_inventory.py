"""The experiments under a results root: kinds, runs by status, the folder a process is writing into."""

from __future__ import annotations

import json
from pathlib import Path

from optbench.config import load_experiment
from optbench.files import FolderLock
from optbench.inventory import read_entry, scan, table
from optbench.runner import run_experiment

BOOK = """experiment: book
description: "The bowl: x²/20 + y². More."
task: {function: book}
optimizer: {name: sgd, lr: 0.1}
train: {steps: 3}
grid: {train.seed: [0, 1, 2]}
"""


def experiment(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(BOOK)
    return run_experiment(load_experiment(config), tmp_path / "r", progress=False).folder


def set_status(run_folder: Path, state: str) -> None:
    path = run_folder / "status.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": state}))


def test_an_experiment_is_listed_with_its_runs_by_status(tmp_path: Path) -> None:
    folder = experiment(tmp_path)
    first, second, _ = sorted((folder / "runs").iterdir())
    set_status(first, "failed")
    (second / "status.json").unlink()
    (entry,) = scan(tmp_path / "r")
    assert (entry.kind, entry.runs, dict(entry.statuses)) == (
        "experiment",
        3,
        {"completed": 1, "failed": 1, "pending": 1},
    )
    assert entry.writer is None and entry.changed > 0
    line = table([entry]).splitlines()[1]
    assert "1 completed, 1 failed, 1 pending" in line and line.endswith("The bowl")


def test_a_run_left_running_is_abandoned_unless_a_process_holds_the_folder(tmp_path: Path) -> None:
    folder = experiment(tmp_path)
    set_status(sorted((folder / "runs").iterdir())[0], "running")
    assert read_entry(folder).statuses["abandoned"] == 1
    with FolderLock(folder):
        entry = read_entry(folder)
        assert entry.statuses["running"] == 1 and entry.writer is not None
        assert "writing now (pid" in table([entry])


def test_a_results_root_without_experiments_lists_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert scan(tmp_path) == []
