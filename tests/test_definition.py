"""One definition per experiment folder: experiment=NAME, extending, subsets, refusals, train folders."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optbench.cli import main

BOOK = """experiment: book
description: Five optimizers on the book's function, 30 updates.
task: {function: book}
train: {steps: 30}
runs:
  - optimizer: {name: sgd, lr: 0.95}
  - optimizer: {name: adam, lr: 0.3}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def config(tmp_path: Path, text: str = BOOK) -> str:
    path = tmp_path / "book.yaml"
    path.write_text(text)
    return str(path)


def summary_ids(folder: Path) -> list[str]:
    with (folder / "summary.csv").open(newline="") as f:
        return [row["run_id"] for row in csv.DictReader(f)]


def definition(folder: Path) -> dict[str, object]:
    data = yaml.safe_load((folder / "experiment.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_experiment_name_on_the_command_line_names_the_folder_and_every_run(tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, _, err = invoke("compare", config(tmp_path), "experiment=renamed", "--out", str(out), "-q")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["renamed"]
    for run in (out / "renamed" / "runs").iterdir():
        assert yaml.safe_load((run / "config.yaml").read_text())["experiment"] == "renamed"
    assert definition(out / "renamed")["experiment"] == "renamed"


def test_the_definition_records_the_command_line_and_each_override_with_the_files_value(
    tmp_path: Path,
) -> None:
    out = tmp_path / "r"
    path = config(tmp_path)
    assert invoke("compare", path, "train.steps=20", "--out", str(out), "-q")[0] == 0
    recorded = definition(out / "book")
    assert recorded["command"] == f"optbench compare {path} train.steps=20"
    assert recorded["overrides"] == [{"key": "train.steps", "file": 30, "used": 20}]


def test_a_second_definition_into_the_same_folder_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "r"
    path = config(tmp_path)
    assert invoke("compare", path, "train.steps=20", "--out", str(out), "-q")[0] == 0
    before = {p: p.read_bytes() for p in (out / "book").rglob("*") if p.is_file()}
    code, _, err = invoke("compare", path, "train.steps=10", "--out", str(out), "-q")
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {out / 'book'}: holds another definition of experiment 'book' (2 runs, ")
    assert f"defined by `optbench compare {path} train.steps=20`" in line
    assert "experiment=NAME or --out DIR" in line
    assert {p: p.read_bytes() for p in (out / "book").rglob("*") if p.is_file()} == before


def test_more_runs_of_the_same_definition_extend_it_and_finished_ones_are_skipped(tmp_path: Path) -> None:
    out = tmp_path / "r"
    path = config(tmp_path)
    assert invoke("compare", path, "--out", str(out), "-q")[0] == 0
    code, stdout, _ = invoke("compare", path, "grid.train.seed=[0, 1]", "--out", str(out), "-q")
    assert code == 0 and "2 run(s) already finished, skipped" in stdout
    assert len(summary_ids(out / "book")) == 4 == len(definition(out / "book")["runs"])  # type: ignore[arg-type]


def test_part_of_a_definition_runs_alone_and_the_summary_still_lists_every_run(tmp_path: Path) -> None:
    """`train` after `compare`: the first run trains again; the experiment keeps its two runs."""
    out = tmp_path / "r"
    path = config(tmp_path)
    assert invoke("compare", path, "--out", str(out), "-q")[0] == 0
    before = definition(out / "book")
    code, _, err = invoke("train", path, "--out", str(out), "-q")
    assert code == 0, err
    assert definition(out / "book") == before
    assert sorted(summary_ids(out / "book")) == sorted(before["runs"])  # type: ignore[arg-type]
    with (out / "book" / "summary.csv").open(newline="") as f:
        assert {row["status"] for row in csv.DictReader(f)} == {"completed"}


def test_runs_trained_one_by_one_into_a_folder_are_all_listed(tmp_path: Path) -> None:
    out = tmp_path / "r"
    path = config(tmp_path)
    for lr in ("0.95", "0.5", "0.1"):
        code, _, err = invoke("train", path, f"optimizer.lr={lr}", "--out", str(out), "-q")
        assert code == 0, err
    assert len(summary_ids(out / "book")) == 3
    assert definition(out / "book")["varied"] == ["optimizer.lr"]
    code, _, err = invoke("compare", path, "--out", str(out), "-q")
    assert code == 2 and "defined by `optbench train" in err


def test_runs_folders_not_in_the_definition_count_as_recorded(tmp_path: Path) -> None:
    """A folder whose experiment.yaml was lost still refuses a second definition: no run is hidden."""
    out = tmp_path / "r"
    path = config(tmp_path)
    assert invoke("compare", path, "--out", str(out), "-q")[0] == 0
    (out / "book" / "experiment.yaml").unlink()
    code, _, err = invoke("compare", path, "train.steps=10", "--out", str(out), "-q")
    assert code == 2 and "defined by an earlier command" in err


@pytest.mark.parametrize(
    ("extra", "note"),
    [
        (
            "grid:\n  optimizer.lr: [0.1, 0.01]\n",
            "grid axis optimizer.lr replaces the optimizer.lr set in runs[0], runs[1]",
        ),
        (
            "grid:\n  train.seed: [0, 0, 1]\n",
            "grid.train.seed: 0 listed more than once; each value runs once",
        ),
    ],
)
def test_the_command_says_when_the_grid_overrides_runs_or_values_collapse(
    tmp_path: Path, extra: str, note: str
) -> None:
    code, _, err = invoke("compare", config(tmp_path, BOOK + extra), "--dry-run")
    assert code == 0
    assert any(line.startswith("note: ") and note in line for line in err.splitlines()), err


def test_runs_entries_that_resolve_to_the_same_run_are_said_to(tmp_path: Path) -> None:
    text = BOOK + "  - optimizer: {name: sgd, lr: 0.95}\n"
    code, _, err = invoke("compare", config(tmp_path, text), "--dry-run")
    assert code == 0 and "runs[0], runs[2] resolve to the same runs" in err


def test_a_key_varied_by_runs_and_by_the_grid_is_one_summary_column(tmp_path: Path) -> None:
    text = """experiment: both
task: {function: book}
train: {steps: 5}
runs:
  - optimizer: {name: momentum, momentum: 0.5}
  - optimizer: {name: nesterov, momentum: 0.9}
grid:
  optimizer.momentum: [0.8, 0.95]
"""
    out = tmp_path / "r"
    assert invoke("compare", config(tmp_path, text), "--out", str(out), "-q")[0] == 0
    with (out / "both" / "summary.csv").open(newline="") as f:
        header = next(csv.reader(f))
    assert header.count("optimizer.momentum") == 1
    assert definition(out / "both")["varied"].count("optimizer.momentum") == 1  # type: ignore[union-attr]
