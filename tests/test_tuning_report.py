"""Tests of a tuning study's report: tune.csv, trials.csv and expected_max.csv against the runs' own
files, the sentences, the figures, and the performance profile of several studies."""

from __future__ import annotations

import csv
import itertools
import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from optbench import plots, report
from optbench.cli import main
from optbench.config import load_tune
from optbench.report import PROFILE_TAUS, tune_findings
from optbench.report.tune_numbers import leaders
from optbench.report.tune_words import gain_words
from optbench.results import (
    ExperimentResult,
    PerformanceProfile,
    RunResult,
    TrialResult,
    TuneResult,
    performance_profile,
    read_tune,
)
from optbench.results.tuning import (
    task_ratios,
)
from optbench.tune import run_tune

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

FUNCTION_STUDY = """experiment: rb
task: {function: rosenbrock}
train: {steps: 150}
tune:
  budget: 7
  sampler: random
  seed: 1
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-4, 1.0e-1]}}
    - name: adam
      search: {lr: {log_uniform: [1.0e-3, 1.0]}, betas.0: {uniform: [0.5, 0.99]}}
"""
"""Six random trials each (few enough to enumerate every 6-tuple); sgd diverges at its larger rates."""

EMPTY_STUDY = """experiment: empty
task: {function: rosenbrock}
train: {steps: 100}
tune:
  budget: 4
  sampler: random
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-4, 1.0e-3]}}
    - name: momentum
      lr: 5.0
      search: {momentum: {uniform: [0.5, 0.9]}}
"""
"""momentum at lr 5 diverges whatever its momentum: a search space that yields no finite trial."""

MNIST_STUDY = """experiment: mnist-tune
task: {dataset: mnist, validation: 2000}
model: {hidden: [16]}
train: {steps: 60, eval_every: 20, batch_size: 32}
tune:
  budget: 5
  sampler: random
  final_seeds: 2
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-3, 1.0]}}
    - name: adam
      search: {lr: {log_uniform: [1.0e-4, 1.0e-1]}}
"""


def tune_folder(root: Path, text: str) -> Path:
    """Run a study (no figures, no report) and return its folder."""
    config = root / "study.yaml"
    config.write_text(text)
    outcome = run_tune(load_tune(config), root / "out", jobs=1, progress=False)
    assert not outcome.interrupted
    return outcome.folder


@pytest.fixture(scope="module")
def function_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tune_folder(tmp_path_factory.mktemp("function"), FUNCTION_STUDY)
    report.write_report(folder)
    return folder


@pytest.fixture(scope="module")
def empty_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tune_folder(tmp_path_factory.mktemp("empty"), EMPTY_STUDY)
    report.write_report(folder)
    return folder


@pytest.fixture(scope="module")
def mnist_study(tmp_path_factory: pytest.TempPathFactory, mnist: object) -> Path:
    folder = tune_folder(tmp_path_factory.mktemp("mnist"), MNIST_STUDY)
    report.write_report(folder)
    return folder


# --------------------------------------------------------------------------------------------------
# Independent readings of a study: experiment.yaml, then each run's metrics.csv and status.json
# --------------------------------------------------------------------------------------------------


def recorded_trials(folder: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load((folder / "experiment.yaml").read_text())["tune"]["trials"])


def own_score(folder: Path, run_id: str, column: str) -> float:
    """A run's score as its files say: the last row's value of the column, if the run completed."""
    status = json.loads((folder / "runs" / run_id / "status.json").read_text())
    if status["status"] != "completed":
        return math.nan
    with open(folder / "runs" / run_id / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r[column] != ""]
    return float(rows[-1][column])


def own_scores(folder: Path, column: str, role: str = "trial") -> dict[str, dict[int, float]]:
    """Per optimizer and trial number: the mean score over the trial's runs (NaN if one has none)."""
    out: dict[str, dict[int, float]] = {}
    for entry in recorded_trials(folder):
        if entry["role"] == role:
            scores = [own_score(folder, r, column) for r in entry["runs"]]
            out.setdefault(entry["optimizer"], {})[entry["trial"]] = float(np.mean(scores))
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def brute_force_expected_max(scores: Sequence[float], maximise: bool) -> list[tuple[float, float]]:
    """Mean and std of the best of n draws with replacement, over every n-tuple of the scores."""
    out = []
    for n in range(1, len(scores) + 1):
        best = [max(t) if maximise else min(t) for t in itertools.product(scores, repeat=n)]
        out.append((float(np.mean(best)), float(np.std(best))))
    return out


def check_expected_max(folder: Path, column: str, maximise: bool) -> None:
    table = rows(folder / "expected_max.csv")
    assert list(table[0]) == ["optimizer", "n", "mean", "std"]
    for optimizer, trials in own_scores(folder, column).items():
        drawn = [s for number, s in sorted(trials.items()) if number > 0 and math.isfinite(s)]
        mine = [(float(r["mean"]), float(r["std"])) for r in table if r["optimizer"] == optimizer]
        assert [int(r["n"]) for r in table if r["optimizer"] == optimizer] == list(range(1, len(drawn) + 1))
        for (mean, std), (want_mean, want_std) in zip(mine, brute_force_expected_max(drawn, maximise)):
            assert mean == pytest.approx(want_mean, rel=1e-12, abs=1e-15)
            assert std == pytest.approx(want_std, rel=1e-9, abs=1e-12)


def check_choice(folder: Path, column: str, maximise: bool) -> None:
    """tune.csv's best trial, score and values are the best trial in the runs' own files."""
    params = {
        (e["optimizer"], e["trial"]): e["params"] for e in recorded_trials(folder) if e["role"] == "trial"
    }
    table = {r["optimizer"]: r for r in rows(folder / "tune.csv")}
    for optimizer, trials in own_scores(folder, column).items():
        finite = {n: s for n, s in trials.items() if math.isfinite(s)}
        best = (max if maximise else min)(
            finite, key=lambda n: (finite[n], -n) if maximise else (finite[n], n)
        )
        row = table[optimizer]
        assert int(row["best_trial"]) == best
        assert float(row["best_score"]) == pytest.approx(finite[best], rel=1e-12)
        assert float(row["default_score"]) == pytest.approx(trials[0], rel=1e-12)
        assert int(row["trials"]) == len(trials) and int(row["finite_trials"]) == len(finite)
        for key, value in params[(optimizer, best)].items():
            assert float(row[key]) == value
        sign = 1.0 if maximise else -1.0
        assert float(row["improvement"]) == pytest.approx(sign * (finite[best] - trials[0]), rel=1e-9)


# --------------------------------------------------------------------------------------------------
# The CSV files
# --------------------------------------------------------------------------------------------------


def test_expected_max_csv_is_every_n_tuple_of_the_finite_random_trials_enumerated(
    function_study: Path,
) -> None:
    check_expected_max(function_study, "loss", maximise=False)


def test_the_study_has_a_diverged_random_trial_left_out_of_the_curve(function_study: Path) -> None:
    drawn = [s for n, s in own_scores(function_study, "loss")["sgd"].items() if n > 0]
    assert 0 < sum(not math.isfinite(s) for s in drawn) < len(drawn)
    n_rows = [r for r in rows(function_study / "expected_max.csv") if r["optimizer"] == "sgd"]
    assert len(n_rows) == sum(math.isfinite(s) for s in drawn)


def test_tune_csv_chooses_the_lowest_final_f_in_the_trials_own_files(function_study: Path) -> None:
    check_choice(function_study, "loss", maximise=False)


def test_tune_csv_of_a_function_task_has_the_searched_columns_and_leaves_final_and_test_empty(
    function_study: Path,
) -> None:
    table = rows(function_study / "tune.csv")
    assert list(table[0]) == [
        "optimizer", "trials", "finite_trials", "default_score", "best_score", "best_trial", "improvement",
        "chosen", "lr", "betas.0",
        "final_seeds", "final_val_mean", "final_val_std", "final_test_mean", "final_test_std",
    ]  # fmt: skip
    for row in table:
        assert all(row[c] == "" for c in list(row)[-5:])
    sgd = next(r for r in table if r["optimizer"] == "sgd")
    assert sgd["betas.0"] == "" and sgd["chosen"].startswith("lr=")


def test_trials_csv_has_a_row_per_trial_with_its_status_seeds_and_runs(function_study: Path) -> None:
    table = rows(function_study / "trials.csv")
    assert list(table[0])[:7] == ["optimizer", "trial", "role", "seeds", "score", "finite", "status"]
    assert list(table[0])[-1] == "run_ids"
    by_trial = {(e["optimizer"], e["trial"]): e for e in recorded_trials(function_study)}
    assert len(table) == len(by_trial) == 14
    for row in table:
        entry = by_trial[(row["optimizer"], int(row["trial"]))]
        (run_id,) = entry["runs"]
        assert row["run_ids"] == run_id and row["seeds"] == "0"
        status = json.loads((function_study / "runs" / run_id / "status.json").read_text())["status"]
        assert row["status"] == status
        assert row["finite"] == ("true" if status == "completed" else "false")
        assert (row["score"] == "") == (status != "completed")


def test_optbench_report_regenerates_the_csv_files_from_the_runs(
    function_study: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(function_study, folder)
    before = {name: (folder / name).read_bytes() for name in ("tune.csv", "trials.csv", "expected_max.csv")}
    for name in before:
        (folder / name).unlink()
    result = CliRunner().invoke(main, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert all(
        (folder / name).is_file() for name in ("expected_max.png", "tune_scores.png", "final_curves.png")
    )


def test_a_maximised_score_chosen_on_validation_and_the_final_seeds_test_result(mnist_study: Path) -> None:
    check_expected_max(mnist_study, "val_acc", maximise=True)
    check_choice(mnist_study, "val_acc", maximise=True)
    finals = {e["optimizer"]: e for e in recorded_trials(mnist_study) if e["role"] == "final"}
    for row in rows(mnist_study / "tune.csv"):
        entry = finals[row["optimizer"]]
        assert int(row["best_trial"]) == entry["trial"] and int(row["final_seeds"]) == 2
        tests = [
            json.loads((mnist_study / "runs" / r / "status.json").read_text())["final_test_acc"]
            for r in entry["runs"]
        ]
        vals = [own_score(mnist_study, r, "val_acc") for r in entry["runs"]]
        assert float(row["final_test_mean"]) == pytest.approx(np.mean(tests), rel=1e-12)
        assert float(row["final_test_std"]) == pytest.approx(np.std(tests), abs=1e-12)
        assert float(row["final_val_mean"]) == pytest.approx(np.mean(vals), rel=1e-12)


def test_the_report_of_a_dataset_study_states_that_choices_were_made_on_validation(mnist_study: Path) -> None:
    text = (mnist_study / "report.md").read_text()
    assert "is made on the 2000 validation images held out of the training set" in text
    assert "Test accuracy of each chosen setting, mean ± std over its 2 final seeds: " in text
    tune = read_tune(mnist_study)
    for optimizer in ("sgd", "adam"):
        final = tune.final(optimizer)
        assert final is not None
        tests = [r.final_test_acc for r in final.runs]
        assert f"{optimizer} {np.mean(tests) * 100:.2f} ± {np.std(tests) * 100:.2f}%" in text


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


def run(name: str, state: str, test: float | None = None) -> RunResult:
    status: dict[str, Any] = {"status": state}
    if test is not None:
        status["final_test_acc"] = test
    return RunResult(name, Path(name), {}, status, None, None)


def trial(
    optimizer: str, number: int, score: float | str, role: str = "trial", lr: float = 0.01
) -> TrialResult:
    """A trial whose one run completed with `score`, or ended in the state `score` names."""
    state = score if isinstance(score, str) else "completed"
    value = score if isinstance(score, float) else math.nan
    r = run(f"{optimizer}-{number}-{role}", state)
    return TrialResult(optimizer, number, role, {"lr": lr * (number + 1)}, (r,), value, (value,))


def synthetic(
    scores: Mapping[str, Sequence[float | str]],
    metric: str = "val_acc",
    sampler: str = "random",
    finals: Mapping[str, Sequence[float]] | None = None,
    name: str = "synthetic",
    kind: str = "dataset",
) -> TuneResult:
    """A study from scores alone: trial i of each optimizer scored scores[optimizer][i]."""
    trials = tuple(trial(o, i, s) for o, values in scores.items() for i, s in enumerate(values))
    spec = {
        "budget": max(len(v) for v in scores.values()),
        "sampler": sampler,
        "metric": metric,
        "mode": "final",
        "final_seeds": len(next(iter(finals.values()))) if finals else 0,
        "optimizers": [{"name": o, "search": {"lr": {"log_uniform": [1e-4, 1.0]}}} for o in scores],
    }
    final_trials = []
    for optimizer, tests in (finals or {}).items():
        chosen = TuneResult(Path(name), _experiment(name, kind), spec, trials, ()).chosen(optimizer)
        assert chosen is not None
        # the final seeds' validation scores are taken equal to their test accuracies
        runs = tuple(run(f"{optimizer}-final-{i}", "completed", t) for i, t in enumerate(tests))
        score = float(np.mean(tests))
        final_trials.append(
            TrialResult(optimizer, chosen.number, "final", chosen.params, runs, score, tuple(tests))
        )
    return TuneResult(Path(name), _experiment(name, kind), spec, trials, tuple(final_trials))


def _experiment(name: str, kind: str) -> ExperimentResult:
    return ExperimentResult(Path(name), name, "", "", kind, (), ())


def texts(tune: TuneResult) -> list[str]:
    return [f.text for f in tune_findings(tune)]


def one_with(items: list[str], *parts: str) -> str:
    found = [s for s in items if all(p in s for p in parts)]
    assert len(found) == 1, (parts, items)
    return found[0]


LEADER_CHANGES = {"steady": [0.5, 0.8, 0.8, 0.8, 0.8], "erratic": [0.2, 0.1, 0.99, 0.99, 0.99]}
"""steady: 0.8 from any number of trials; erratic: E[best of 1] = 0.7675, of 2 = 0.934 (1/16 · 0.1 +
15/16 · 0.99), so the leader changes at n = 2."""


def test_the_leader_change_is_named_at_the_n_where_it_happens() -> None:
    tune = synthetic(LEADER_CHANGES)
    assert leaders(tune) == (["steady", "erratic", "erratic", "erratic"], 4)
    found = one_with(texts(tune), "The leader changes with the budget, at n = 2.")
    assert "steady for n = 1, erratic for n = 2–4" in found


def test_a_leader_that_never_changes_is_said_not_to() -> None:
    tune = synthetic({"steady": [0.5, 0.8, 0.8, 0.8], "weak": [0.6, 0.1, 0.2, 0.3]})
    one_with(texts(tune), "steady leads at every n from 1 to 3: the leader does not change with the budget")


def test_best_at_defaults_and_at_full_budget_are_named_with_their_scores() -> None:
    found = texts(synthetic(LEADER_CHANGES))
    one_with(
        found,
        "At their defaults (trial 0), by final validation accuracy: steady (50.00%), ahead of erratic "
        "(20.00%) by 30.00 points; with one seed each, whether this difference is real cannot be judged.",
    )
    budget = one_with(found, "With the full budget of 5 trials each, the best trial by final validation")
    assert (
        "erratic (99.00%), ahead of steady (80.00%) by 19.00 points; with one seed each, whether this "
        "difference is real cannot be judged (erratic's trial 2: lr=0.03). "
        "The lead changes with tuning: at the defaults steady led." in budget
    )


def test_how_far_tuning_moved_each_optimizer_is_given_in_points_and_in_its_values() -> None:
    found = texts(synthetic(LEADER_CHANGES))
    moved = one_with(found, "steady: tuning raised the final validation accuracy from 50.00% at its defaults")
    assert "to 80.00% (trial 1), +30.00 points, with lr 0.02 (default 0.01, ×2)." in moved


def test_a_minimised_score_moves_by_a_factor() -> None:
    tune = synthetic({"sgd": [4.0, 1.0, 2.0], "adam": [1.5, 3.0, 2.0]}, metric="loss", kind="function")
    assert gain_words(tune, "sgd") == "4 times lower"
    one_with(
        texts(tune), "sgd: tuning lowered the final f from 4 at its defaults to 1 (trial 1), 4 times lower"
    )
    one_with(texts(tune), "adam: no other trial beat its defaults (1.5); its choice is the defaults.")
    one_with(texts(tune), "The lead changes with tuning: at the defaults adam led")
    one_with(texts(tune), "sgd (1), ahead of adam (1.5) by 0.5; exact, as a function task has no randomness")


def test_trials_without_a_score_are_counted_out_of_the_curve_with_their_reasons() -> None:
    tune = synthetic({"sgd": [0.5, 0.8, "diverged", "failed", 0.7], "adam": [0.9, 0.95, 0.94, 0.93, 0.92]})
    one_with(
        texts(tune),
        "Left out of the expected-max curves",
        "sgd 2 of its 4 random trials (1 diverged, 1 failed)",
    )
    assert tune.expected_max("sgd")[0].size == 2


def test_an_optimizer_whose_space_gave_no_finite_trial_is_said_so_and_nothing_is_chosen() -> None:
    tune = synthetic({"sgd": ["diverged", "diverged", "failed"], "adam": [0.9, 0.95, 0.94]})
    found = one_with(texts(tune), "sgd: none of its 3 trials gave a score (2 diverged, 1 failed)")
    assert "lr ~ log_uniform[0.0001, 1]" in found and "no test result" in found
    assert tune.chosen("sgd") is None


def test_with_tpe_the_curve_is_said_to_describe_only_the_trials_seen() -> None:
    one_with(texts(synthetic(LEADER_CHANGES, sampler="tpe")), "only describe the trials seen")
    assert not [t for t in texts(synthetic(LEADER_CHANGES)) if "trials seen" in t]


def test_the_test_result_of_each_chosen_setting_is_its_final_seeds_mean_and_std() -> None:
    tune = synthetic(LEADER_CHANGES, finals={"steady": [0.75, 0.85], "erratic": [0.9, 0.96]})
    one_with(texts(tune), "Test accuracy of each chosen setting, mean ± std over its 2 final seeds: "
             "erratic 93.00 ± 3.00%, steady 80.00 ± 5.00%. Highest on test: no single winner")  # fmt: skip


def spread(mean: float, std: float) -> list[float]:
    """Three seeds with this mean and standard deviation (ddof 0): mean − d, mean, mean + d, d = std·√1.5."""
    d = std * math.sqrt(1.5)
    return [mean - d, mean, mean + d]


def test_a_test_ranking_whose_seeds_overlap_names_no_single_winner() -> None:
    """The issue's numbers: 95.17 ± 0.06 % against 94.91 ± 0.41 % on three seeds each. By hand (Welch):
    se² = (1.5·0.06²)/3 + (1.5·0.41²)/3 = 0.0018 + 0.08405 points², ν = se⁴/(0.0018²/2 + 0.08405²/2)
    = 2.0856, t(0.975, 2.0856) = 4.1384, so 0.26 ± 4.1384·0.29300 = [-0.95, 1.47] points."""
    finals = {"adam": spread(0.9517, 0.0006), "sgd": spread(0.9491, 0.0041)}
    tune = synthetic({"adam": [0.9, 0.95], "sgd": [0.9, 0.94]}, finals=finals)
    found = one_with(texts(tune), "Test accuracy of each chosen setting")
    assert found.endswith(
        "Highest on test: no single winner: adam (95.17%) and sgd (94.91%) are within noise of each other "
        "(adam ahead of sgd by 0.26 points; the 95 % CI of the difference, [-0.95, 1.47] points, includes 0; "
        "Welch's t, 3 seeds each)."
    )
    assert "scores best" not in " ".join(texts(tune))


def test_a_gap_the_seeds_resolve_is_said_to_be_resolved() -> None:
    """Equal spreads (1 point, ddof 1) on three seeds each: ν = 4, t(0.975, 4) = 2.7764 (printed tables),
    se = √(2/3) points, so the 95 % CI of a 10-point gap is 10 ± 2.2669 = [7.73, 12.27] points."""
    finals = {"steady": [0.80, 0.81, 0.82], "erratic": [0.90, 0.91, 0.92]}
    found = one_with(texts(synthetic(LEADER_CHANGES, finals=finals)), "Test accuracy of each chosen setting")
    assert found.endswith(
        "Highest on test: erratic (91.00%), ahead of steady (81.00%) by 10.00 points: resolved, the 95 % CI "
        "of the difference is [7.73, 12.27] points (Welch's t, 3 seeds each)."
    )


def test_the_final_seeds_validation_score_is_set_against_the_trial_it_was_chosen_from() -> None:
    tune = synthetic(LEADER_CHANGES, finals={"steady": [0.75, 0.85], "erratic": [0.9, 0.96]})
    found = one_with(
        texts(tune), "Rerun on their final seeds, the chosen settings reach a final validation accuracy of "
    )
    assert "steady 80.00 ± 5.00% (its trial: 80.00%), erratic 93.00 ± 3.00% (its trial: 99.00%)" in found
    assert "1 of 2 score worse than the trial they were chosen from" in found


def test_the_report_of_a_study_whose_space_gave_no_finite_trial_says_so(empty_study: Path) -> None:
    text = (empty_study / "report.md").read_text()
    assert "momentum: none of its 4 trials gave a score (4 diverged)." in text
    assert "(momentum ~ uniform[0.5, 0.9], with lr=5 fixed) yielded no setting to choose" in text
    momentum = next(r for r in rows(empty_study / "tune.csv") if r["optimizer"] == "momentum")
    assert momentum["finite_trials"] == "0" and momentum["best_trial"] == "" and momentum["chosen"] == ""
    assert {r["optimizer"] for r in rows(empty_study / "expected_max.csv")} == {"sgd"}
    assert [p.name for p in plots.experiment_figures(empty_study)] == [
        "expected_max.png",
        "tune_scores.png",
        "final_curves.png",
    ]


def test_the_index_gives_a_tune_entry_its_headlines(function_study: Path, tmp_path: Path) -> None:
    index = report.write_index(tmp_path, [function_study]).read_text()
    assert "## [rb](" in index
    assert "- With the full budget of 7 trials each" in index
    assert not (tmp_path / "performance_profile.png").exists()  # one study: no profile


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    return image.shape[1], image.shape[0]


def test_a_tune_folder_gets_its_three_figures_as_valid_pngs(function_study: Path) -> None:
    written = plots.experiment_figures(function_study)
    assert [p.name for p in written] == ["expected_max.png", "tune_scores.png", "final_curves.png"]
    for path in written:
        width, height = png_size(path)
        assert width >= 1000 and height >= 600
    text = report.write_report(function_study).read_text()
    assert all(f"]({p.name})" in text for p in written)


def test_the_figures_mark_the_choice_and_the_defaults_of_every_optimizer(function_study: Path) -> None:
    from optbench.plots.tuning import expected_max_figure, tune_scores_figure

    tune = read_tune(function_study)
    fig = tune_scores_figure(tune)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split(":")[0] for ax in panels] == ["sgd", "adam"]
    for ax, optimizer in zip(panels, ["sgd", "adam"]):
        chosen = tune.chosen(optimizer)
        assert chosen is not None
        stars = [line for line in ax.get_lines() if line.get_marker() == "*" and len(line.get_xdata())]
        assert [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in stars] == [
            (chosen.params["lr"], chosen.score - (tune.min_value or 0.0))
        ]
    shift = tune.min_value or 0.0
    expected = expected_max_figure(tune)
    for ax, optimizer in zip(expected.axes, ["sgd", "adam"]):
        scored, left_out = tune.random_scores(optimizer)
        note = f" ({left_out} unscored)" if left_out else ""
        assert ax.get_title() == f"{optimizer}: {len(scored)} random + defaults{note}"  # trial 0 is not drawn
        colour = plots.optimizer_color(optimizer)
        own = [line for line in ax.get_lines() if line.get_color() == colour and len(line.get_xdata())]
        curve, default = own[0], own[-1]
        assert list(curve.get_xdata()) == list(range(1, len(scored) + 1))
        assert list(curve.get_ydata()) == pytest.approx(list(tune.expected_max(optimizer)[0] - shift))
        trial_0 = tune.default(optimizer)
        assert trial_0 is not None
        low, high = ax.get_ylim()
        if low <= trial_0.score - shift <= high:  # ◇ at its score, else ▼▲ on the edge it lies beyond
            assert default.get_marker() == "D"
            assert list(default.get_ydata()) == pytest.approx([trial_0.score - shift])
        else:
            assert default.get_marker() == ("v" if trial_0.score - shift < low else "^")
            assert [t.get_text() for t in ax.texts] == [f"{trial_0.score:.3g}"]
        others = [line for line in ax.get_lines() if line.get_color() == "0.72"]
        assert len(others) == 1  # the other optimizer's curve, in grey behind


# --------------------------------------------------------------------------------------------------
# The performance profile
# --------------------------------------------------------------------------------------------------


def test_performance_ratios_by_hand() -> None:
    assert task_ratios([0.9, 0.8, math.nan], maximise=True).tolist() == [1.0, 0.9 / 0.8, math.inf]
    assert task_ratios([2.0, 1.0, 4.0], maximise=False).tolist() == [2.0, 1.0, 4.0]
    assert task_ratios([0.0, 1.0], maximise=False).tolist() == [1.0, math.inf]  # no ratio to a best of 0
    assert task_ratios([math.nan, math.nan], maximise=True).tolist() == [math.inf, math.inf]


def test_the_profile_of_several_studies_is_the_share_of_tasks_within_tau_by_hand() -> None:
    accuracy = synthetic({"sgd": [0.5, 0.8], "adam": [0.9, 0.88]}, name="acc")  # errors 0.2, 0.1
    loss = synthetic({"sgd": [2.0, 1.0], "adam": [4.0, 3.0]}, metric="val_loss", name="loss")  # adam ×3
    alone = synthetic({"adam": [0.5, 0.6], "lion": [0.3, 0.61]}, name="alone")  # errors 0.4, 0.39
    profile = performance_profile([accuracy, loss, alone])
    assert isinstance(profile, PerformanceProfile)
    assert profile.optimizers == ("sgd", "adam", "lion") and profile.names == ("acc", "loss", "alone")
    want = [[0.2 / 0.1, 1.0, math.inf], [1.0, 3.0, 0.4 / 0.39], [math.inf, math.inf, 1.0]]
    np.testing.assert_allclose(profile.ratios, want, rtol=1e-12)
    assert [t.quantity for t in profile.tasks] == [
        "validation error (1 − accuracy)",
        "validation loss",
        "validation error (1 − accuracy)",
    ]
    assert profile.share(1.0).tolist() == [1 / 3, 1 / 3, 1 / 3]
    assert profile.share(1.1).tolist() == [1 / 3, 2 / 3, 1 / 3]
    assert profile.share(2.0).tolist() == [2 / 3, 2 / 3, 1 / 3]
    assert profile.share(3.0).tolist() == [2 / 3, 1.0, 1 / 3]


def test_a_study_with_final_reruns_is_profiled_by_their_mean_not_by_the_best_trial() -> None:
    """sgd's best trial (96%) beats adam's (95%), but its reruns average 82% against adam's 91%."""
    rerun = synthetic(
        {"adam": [0.9, 0.95], "sgd": [0.5, 0.96]}, finals={"adam": [0.90, 0.92], "sgd": [0.80, 0.84]}
    )
    profile = performance_profile([rerun, synthetic({"adam": [0.9], "sgd": [0.8]}, name="plain")])
    assert profile.ratios[:, 0].tolist() == pytest.approx([1.0, 0.18 / 0.09], rel=1e-12)
    assert [t.source for t in profile.tasks] == ["final reruns, 2 seeds", "chosen trial, 1 seed"]
    assert profile.tasks[0].values == pytest.approx((0.09, 0.18), rel=1e-12)


def test_each_kind_of_task_gets_its_own_profile() -> None:
    acc = synthetic({"sgd": [0.5, 0.8], "adam": [0.9, 0.88]}, name="acc")
    fun = synthetic({"adam": [4.0, 3.0], "lion": [2.0, 1e6]}, metric="loss", name="fun", kind="function")
    kinds = performance_profile([acc, fun]).by_kind()
    assert [heading for heading, _ in kinds] == ["datasets", "2-D functions"]
    (_, datasets), (_, functions) = kinds
    assert datasets.optimizers == ("sgd", "adam") and datasets.names == ("acc",)
    np.testing.assert_allclose(datasets.ratios, [[2.0], [1.0]], rtol=1e-12)
    assert functions.optimizers == ("adam", "lion") and functions.ratios.tolist() == [[1.5], [1.0]]
    assert [t.quantity for t in functions.tasks] == ["f"]


def test_the_profile_axis_has_plain_ticks_from_one() -> None:
    from optbench.plots.tuning import profile_ticks

    assert profile_ticks(1.5) == [1.0, 1.1, 1.2, 1.5]
    assert profile_ticks(1.03) == [1.0, 1.01, 1.02]
    assert profile_ticks(2.5) == [1.0, 1.2, 1.5, 2.0]
    assert profile_ticks(1e15) == [1.0, 1e3, 1e6, 1e9, 1e12, 1e15]


def test_an_index_of_two_studies_has_the_profile_figure_and_table(
    function_study: Path, empty_study: Path, tmp_path: Path
) -> None:
    index = report.write_index(tmp_path, [function_study, empty_study]).read_text()
    assert png_size(tmp_path / "performance_profile.png")[0] >= 1000
    assert "## Performance profile" in index and "](performance_profile.png)" in index
    assert "### 2-D functions" in index and "### datasets" not in index
    assert "rb (f − f*; chosen trial, 1 seed), empty (f − f*; chosen trial, 1 seed)" in index
    best = {
        folder.name: {
            r["optimizer"]: float(r["best_score"]) if r["best_score"] else math.inf
            for r in rows(folder / "tune.csv")
        }
        for folder in (function_study, empty_study)
    }
    table = {line.split(" | ")[0].strip("| "): line for line in index.splitlines() if line.startswith("| ")}
    for optimizer in ("sgd", "adam", "momentum"):
        ratios = []
        for scores in best.values():
            value = scores.get(optimizer, math.inf)
            ratios.append(value / min(scores.values()))  # f* = 0 for Rosenbrock: the gap is f itself
        cells = [f"{sum(r <= tau for r in ratios)} of 2" for tau in PROFILE_TAUS["2-D functions"]]
        assert table[optimizer].endswith(" | " + " | ".join(cells) + " |")
    assert table["momentum"].startswith("| momentum | not tuned | — (—) |")


def test_a_panel_spreads_trials_along_lr_else_a_ranged_key_rather_than_a_choice() -> None:
    from optbench.plots.tuning import trials_axis_key

    tune = synthetic(LEADER_CHANGES)
    spec = dict(tune.spec)
    spec["optimizers"] = [
        {
            "name": "steady",
            "search": {"amsgrad": {"choice": [True, False]}, "betas.0": {"uniform": [0.5, 0.9]}},
        },
        {
            "name": "erratic",
            "search": {"momentum": {"uniform": [0.5, 0.9]}, "lr": {"log_uniform": [1e-4, 1.0]}},
        },
    ]
    other = TuneResult(tune.folder, tune.experiment, spec, tune.trials, tune.finals)
    assert (trials_axis_key(other, "steady"), trials_axis_key(other, "erratic")) == ("betas.0", "lr")


# --------------------------------------------------------------------------------------------------
# What ran, in index.md and report.md: from the files, never from the config's description
# --------------------------------------------------------------------------------------------------


def test_the_index_says_what_a_study_ran_from_its_files_not_from_its_description(tmp_path: Path) -> None:
    config = tmp_path / "study.yaml"
    described = "Two optimizers, each tuned with 30 random trials of 300 updates."
    config.write_text(
        FUNCTION_STUDY.replace("experiment: rb\n", f"experiment: rb\ndescription: {described}\n")
    )
    study = load_tune(config, ["tune.budget=3", "train.steps=40"])
    folder = run_tune(study, tmp_path / "out", jobs=1, progress=False).folder
    index = report.write_index(tmp_path / "out", [folder]).read_text()
    statuses = [
        json.loads((folder / "runs" / r / "status.json").read_text())["status"]
        for e in recorded_trials(folder)
        for r in e["runs"]
    ]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("completed", "diverged") if s in statuses)
    assert (
        "\nRan: 2 optimizers on function `rosenbrock` from (-1.2, 1), 40 updates; 3 trials each (trial 0 the "
        "defaults, the others drawn by the random sampler), 1 seed per trial, chosen by the final f; "
        f"{len(statuses)} runs ({counts}).\n" in index
    )
    assert described not in index and "30 random trials" not in index
    text = report.write_report(folder).read_text()
    assert "the command overrode `tune.budget`, `train.steps`, so where the description gives" in text
    assert f"\n> {described}\n" in text


def test_the_index_says_how_many_trials_seeds_and_final_reruns_a_dataset_study_ran(
    mnist_study: Path, tmp_path: Path
) -> None:
    index = report.write_index(tmp_path, [mnist_study]).read_text()
    assert (
        "Ran: 2 optimizers on dataset `mnist` (2000 validation images held out), MLP 784-16-10 (relu, init "
        "he), batch 32, 60 updates; 5 trials each (trial 0 the defaults, the others drawn by the random "
        "sampler), 1 seed per trial, chosen by the final validation accuracy; the chosen settings rerun on "
        "2 new seeds each and measured on test; 14 runs (14 completed)." in index
    )


def test_the_profile_figure_has_a_panel_per_kind_of_task_on_a_log_tau_axis_from_one() -> None:
    from optbench.plots.tuning import performance_profile_figure

    acc = synthetic({"sgd": [0.5, 0.8], "adam": [0.9, 0.88]}, name="acc")  # error ratio 2
    fun = synthetic({"adam": [4.0, 3.0], "lion": [2.0, 1e6]}, metric="loss", name="fun", kind="function")
    fig = performance_profile_figure(performance_profile([acc, fun]))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left").split(" (")[0] for ax in panels] == ["datasets", "2-D functions"]
    for ax in panels:
        assert ax.get_xscale() == "log" and ax.get_xlim()[0] == 1.0
    fig.canvas.draw()  # type: ignore[no-untyped-call]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["1", "1.2", "1.5", "2"]
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {"sgd (best on 0 of 2)", "adam (best on 1 of 2)", "lion (best on 1 of 2)"}
