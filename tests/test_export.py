"""One tidy CSV of experiments: every metric row, with the run's identity and config as columns."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from optbench.config import load_experiment
from optbench.errors import UsageError
from optbench.export import experiment_folders, export
from optbench.runner import run_experiment

BOOK = """experiment: book
task: {function: book}
optimizer: {name: sgd, lr: 0.1}
train: {steps: 3}
runs: [{}, {optimizer: {name: adam, lr: 0.2}}]
"""


def test_every_row_carries_its_run_and_config_and_a_pending_run_adds_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(BOOK)
    folder = run_experiment(load_experiment(config), tmp_path, progress=False).folder
    adam = next(p for p in (folder / "runs").iterdir() if p.name.startswith("adam"))
    (adam / "metrics.csv").unlink()
    done = export(experiment_folders(["book"], tmp_path), None)
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (done.rows, done.runs, done.experiments, done.empty) == (4, 2, 1, 1)
    assert [r["step"] for r in rows] == ["0", "1", "2", "3"] and {r["optimizer.name"] for r in rows} == {
        "sgd"
    }
    assert "optimizer.betas" in rows[0] and rows[0]["optimizer.betas"] == ""


def test_an_experiment_is_named_by_folder_or_by_name_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(UsageError, match="not an optbench experiment folder"):
        experiment_folders([str(tmp_path / "x")], tmp_path)
    with pytest.raises(UsageError, match="no such folder, nor an experiment of that name"):
        experiment_folders(["y"], tmp_path)
