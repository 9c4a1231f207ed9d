"""Tests of a run's `label:`: checked where it is written, kept out of the run's id and config.yaml,
recorded in experiment.yaml and summary.csv, and shown in place of the generated name in tables,
reports, the index and legends."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optbench import report
from optbench.cli import main
from optbench.config import load_experiment
from optbench.errors import ConfigError
from optbench.results import read_experiment

LABELLED = """experiment: lab
task: {function: book}
train: {steps: 30}
runs:
  - {label: "Adam (book)", optimizer: {name: adam, lr: 0.3}}
  - {label: "SGD, the book's rate", optimizer: {name: sgd, lr: 0.95}}
  - {optimizer: {name: momentum, lr: 0.1}}
"""
"""Two labelled runs and one that keeps its generated name."""


def write(tmp_path: Path, text: str, name: str = "lab.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, *overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_experiment(write(tmp_path, text), overrides)
    return [str(p) for p in caught.value.problems]


# --------------------------------------------------------------------------------------------------
# The config
# --------------------------------------------------------------------------------------------------


def test_a_label_changes_no_run_id_and_is_kept_by_run(tmp_path: Path) -> None:
    labelled = load_experiment(write(tmp_path, LABELLED))
    plain = load_experiment(write(tmp_path, LABELLED.replace('label: "Adam (book)", ', ""), "plain.yaml"))
    assert [r.run_id for r in labelled.runs] == [r.run_id for r in plain.runs]
    adam, sgd, momentum = (r.run_id for r in labelled.runs)
    assert labelled.labels == {adam: {"label": "Adam (book)"}, sgd: {"label": "SGD, the book's rate"}}
    assert momentum not in labelled.labels


def test_one_label_on_two_variants_is_an_error_naming_both_entries(tmp_path: Path) -> None:
    text = LABELLED.replace("SGD, the book's rate", "Adam (book)")
    (line,) = problems(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'lab.yaml'}: runs[1].label: label 'Adam (book)' is also given at ")
    assert "runs[0].label to a different variant (adam-lr0.3-s0-" in line and "sgd-lr0.95-s0-" in line


def test_a_label_that_a_grid_spreads_over_several_variants_is_an_error(tmp_path: Path) -> None:
    text = "experiment: lab\nlabel: mine\ntask: {function: book}\ngrid: {optimizer.lr: [0.1, 0.2]}\n"
    (line,) = problems(tmp_path, text)
    assert line.startswith(f"{tmp_path / 'lab.yaml'}: label: label 'mine' is given to two different variants")
    seeds = "experiment: lab\nlabel: mine\ntask: {dataset: mnist}\ngrid: {train.seed: [0, 1, 2]}\n"
    exp = load_experiment(write(tmp_path, seeds, "seeds.yaml"))  # one variant, three seeds: one label
    assert {row["label"] for row in exp.labels.values()} == {"mine"} and len(exp.labels) == 3


@pytest.mark.parametrize(("label", "shown"), [('""', "''"), ("[a, b]", "a list"), ("'  '", "'  '")])
def test_a_label_must_be_a_non_empty_line_of_text(tmp_path: Path, label: str, shown: str) -> None:
    (line,) = problems(tmp_path, LABELLED.replace('"Adam (book)"', label))
    assert line.startswith(f"{tmp_path / 'lab.yaml'}: runs[0].label: must be a non-empty one-line string")


def test_two_labels_for_one_run_and_a_varied_label_are_refused(tmp_path: Path) -> None:
    twice = LABELLED.replace("name: momentum, lr: 0.1", "name: adam, lr: 0.3")
    (line,) = problems(
        tmp_path, twice.replace("{optimizer: {name: adam", "{label: other, optimizer: {name: adam")
    )
    assert (
        "runs[2].label: label 'other' is given to run adam-lr0.3-s0-" in line
        and "a run has one label" in line
    )
    assert f"{'command line'}: grid.label: cannot be varied" in problems(
        tmp_path, LABELLED, "grid.label=[a, b]"
    )


def test_a_bad_label_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    config = write(tmp_path, LABELLED.replace("SGD, the book's rate", "Adam (book)"))
    result = CliRunner().invoke(main, ["compare", str(config), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "runs[1].label" in result.output
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------------
# The results: experiment.yaml, summary.csv, tables, reports, the index, legends
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("labels")
    config = write(root, LABELLED)
    result = CliRunner().invoke(main, ["compare", str(config), "--out", str(root / "out"), "-q"])
    assert result.exit_code == 0, result.output
    return root / "out" / "lab", result.output


def test_the_label_is_recorded_in_experiment_yaml_and_summary_csv_not_in_config_yaml(
    compared: tuple[Path, str],
) -> None:
    folder, _ = compared
    recorded = yaml.safe_load((folder / "experiment.yaml").read_text())
    adam, sgd, momentum = recorded["runs"]
    assert recorded["labels"] == {adam: "Adam (book)", sgd: "SGD, the book's rate"}
    with open(folder / "summary.csv", newline="") as f:
        rows = {row["run_id"]: row for row in csv.DictReader(f)}
    assert {k: rows[k]["label"] for k in (adam, sgd, momentum)} == {
        adam: "Adam (book)",
        sgd: "SGD, the book's rate",
        momentum: "",
    }
    assert "label" not in yaml.safe_load((folder / "runs" / adam / "config.yaml").read_text())


def test_tables_reports_and_the_index_name_a_labelled_variant_by_its_label(
    compared: tuple[Path, str],
) -> None:
    folder, output = compared
    assert [v.label for v in read_experiment(folder).variants] == [
        "Adam (book)",
        "SGD, the book's rate",
        "momentum lr=0.1",
    ]
    header, *rows = output.splitlines()
    assert header.split()[0] == "variant" and rows[0].startswith("Adam (book)  ")
    assert "top by final f: SGD, the book's rate (" in output
    text = (folder / "report.md").read_text()
    assert "| Adam (book) | 1 |" in text and "- Lowest final f: SGD, the book's rate (" in text
    index = report.write_index(folder.parent, [folder]).read_text()
    assert "- Lowest final f: SGD, the book's rate (" in index


def test_a_legend_shows_the_label(compared: tuple[Path, str]) -> None:
    from optbench.plots.functions import paths_figure
    from optbench.plots.style import variant_styles

    exp = read_experiment(compared[0])
    variants = exp.finished_variants
    objective = variants[0].objective
    assert objective is not None
    fig = paths_figure(exp, variants, variant_styles(variants), objective)
    texts = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert {"Adam (book)", "SGD, the book's rate"} <= texts
