"""Tuning studies: the tune section's validation, trials and their seeds, determinism, resuming."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from optbench.cli import main
from optbench.config import load_tune
from optbench.errors import ConfigError
from optbench.hparams import hyperparameters
from optbench.optim import OPTIMIZERS
from optbench.results import read_run, read_tune
from optbench.tune import planned_trials

STUDY = """experiment: study
task: {function: rosenbrock}
train: {steps: 300}
tune:
  budget: 6
  sampler: random
  seed: 3
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-5, 1.0e-2]}}
    - name: adam
      search: {lr: {log_uniform: [1.0e-3, 1.0]}, betas.0: {uniform: [0.5, 0.99]}}
"""

MNIST_STUDY = """experiment: mnist-study
task: {dataset: mnist, validation: 2000}
model: {hidden: [16]}
train: {steps: 60, eval_every: 20, batch_size: 32}
tune:
  budget: 4
  sampler: qmc
  final_seeds: 2
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-3, 1.0]}}
    - name: momentum
      search: {lr: {log_uniform: [1.0e-3, 1.0]}, momentum: {uniform: [0.5, 0.99]}}
"""


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, *overrides: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_tune(path, overrides)
    return [p.removeprefix(f"{path}: ") for p in info.value.problems]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def trial_table(folder: Path) -> list[tuple[str, int, str, str]]:
    """(optimizer, trial, role, params as JSON) of every trial experiment.yaml records."""
    info = yaml.safe_load((folder / "experiment.yaml").read_text())
    return sorted(
        (t["optimizer"], t["trial"], t["role"], json.dumps(t["params"], sort_keys=True))
        for t in info["tune"]["trials"]
    )


# -- the tune section --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("lr: {log_uniform: [1.0e-5", "lrr: {log_uniform: [1.0e-5"),
            "optimizer 'sgd' has no hyperparameter 'lrr'; did you mean 'lr'?",
        ),
        (
            ("betas.0: {uniform: [0.5, 0.99]}", "betas.0: {uniform: [0.5, 1.0]}"),
            "betas.0.uniform[1]: must be >= 0 and < 1, got 1.0",
        ),
        (("betas.0:", "betas.2:"), "betas has 2 elements: index 0 to 1"),
        (("betas.0:", "betas:"), "betas is a tuple: search its elements, e.g. betas.0"),
        (("[1.0e-5, 1.0e-2]", "[0, 1.0e-2]"), "lr.log_uniform[0]: must be > 0, got 0.0"),
        (("[1.0e-5, 1.0e-2]", "[1.0e-2, 1.0e-5]"), "low must be below high"),
        (
            ("log_uniform: [1.0e-5", "loguniform: [1.0e-5"),
            "unknown distribution 'loguniform'; did you mean 'log_uniform'?",
        ),
        (("sampler: random", "sampler: tpee"), "tune.sampler: unknown sampler 'tpee'; did you mean 'tpe'?"),
        (("budget: 6", "budget: 0"), "tune.budget: must be >= 1, got 0"),
        (("budget: 6", "budget: 6\n  final_seeds: 3"), "tune.final_seeds: a function task has no randomness"),
        (
            ("budget: 6", "budget: 6\n  metric: val_acc"),
            "tune.metric: unknown metric of a function task 'val_acc'",
        ),
        (("seed: 3", "sead: 3"), "tune.sead: unknown key 'sead'; did you mean 'seed'?"),
    ],
)
def test_a_bad_tune_section_is_one_line_per_problem_naming_the_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    found = problems(tmp_path, STUDY.replace(*edit))
    assert any(expected in line for line in found), found


def test_a_choice_of_a_boolean_and_an_int_range_are_checked_against_the_hyperparameters_type(
    tmp_path: Path,
) -> None:
    text = STUDY.replace(
        "search: {lr: {log_uniform: [1.0e-5, 1.0e-2]}}", "search: {nesterov: {uniform: [0, 1]}}"
    )
    assert any("nesterov is not a real number: use choice" in p for p in problems(tmp_path, text))
    text = STUDY.replace(
        "search: {lr: {log_uniform: [1.0e-5, 1.0e-2]}}", "search: {nesterov: {choice: [true, 3]}}"
    )
    assert any("choice[1]: must be true or false, got 3" in p for p in problems(tmp_path, text))


def test_a_tune_config_has_no_runs_or_grid(tmp_path: Path) -> None:
    found = problems(tmp_path, STUDY + "grid:\n  train.seed: [0, 1]\n")
    assert any(p.startswith("grid: a tune config has no grid") for p in found)


def test_overrides_of_the_tune_section_are_located_on_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, STUDY)
    with pytest.raises(ConfigError) as info:
        load_tune(path, ["tune.budget=-1"])
    assert info.value.problems == ["command line: tune.budget: must be >= 1, got -1"]


def test_a_study_records_the_files_values_beside_the_overrides_that_replaced_them(tmp_path: Path) -> None:
    study = load_tune(write(tmp_path, STUDY), ["tune.budget=3", "train.steps=50"])
    assert study.overridden == (("tune.budget", 6, 3), ("train.steps", 300, 50))


def test_a_bad_base_run_of_a_function_study_is_one_problem_not_a_metric_error_too(tmp_path: Path) -> None:
    with_metric = STUDY.replace("  sampler: random\n", "  sampler: random\n  metric: loss\n")
    assert problems(tmp_path, with_metric, "train.batch_size=8") == [
        "command line: train.batch_size: only dataset tasks draw minibatches "
        "(rosenbrock is a function task); remove this setting"
    ]


# -- trials ------------------------------------------------------------------------------------------


def test_trial_0_is_every_optimizers_defaults_and_there_are_budget_trials_each(tmp_path: Path) -> None:
    study = load_tune(write(tmp_path, STUDY))
    trials = planned_trials(study)
    for name in ("sgd", "adam"):
        mine = [t for t in trials if t.optimizer == name]
        assert [t.number for t in mine] == list(range(6))
        defaults = {p.name: p.default for p in hyperparameters(OPTIMIZERS[name])}
        (run,) = mine[0].runs
        assert dict(run.optimizer.hyper) == defaults
    adam = [t for t in trials if t.optimizer == "adam"]
    assert all(t.runs[0].optimizer.hyper["betas"][1] == 0.999 for t in adam)  # only β1 is searched
    assert len({t.runs[0].optimizer.hyper["betas"][0] for t in adam}) == 6


def test_sampled_values_lie_in_their_ranges_and_the_same_seed_draws_the_same_trials(tmp_path: Path) -> None:
    study = load_tune(write(tmp_path, STUDY))
    first = [(t.optimizer, t.number, dict(t.params)) for t in planned_trials(study)]
    assert first == [(t.optimizer, t.number, dict(t.params)) for t in planned_trials(study)]
    for optimizer, number, params in first:
        if number and optimizer == "sgd":
            assert 1e-5 <= params["lr"] <= 1e-2
        if number and optimizer == "adam":
            assert 1e-3 <= params["lr"] <= 1.0 and 0.5 <= params["betas.0"] <= 0.99
    other = load_tune(write(tmp_path, STUDY.replace("seed: 3", "seed: 4"), "other.yaml"))
    assert first != [(t.optimizer, t.number, dict(t.params)) for t in planned_trials(other)]


def test_the_dry_run_prints_the_trials_that_then_run(tmp_path: Path) -> None:
    config = write(tmp_path, STUDY)
    code, out, _ = invoke("tune", str(config), "--dry-run", "--out", str(tmp_path / "r"))
    assert code == 0 and out.splitlines()[-1] == "12 trials, 12 runs"
    assert not (tmp_path / "r").exists()
    printed = {
        (line.split()[0], int(line.split()[1]), float(line.split()[3])) for line in out.splitlines()[1:-1]
    }
    assert invoke("tune", str(config), "--out", str(tmp_path / "r"), "-q")[0] == 0
    ran = {
        (row["optimizer"], int(row["trial"]), float(row["lr"]))
        for row in csv.DictReader((tmp_path / "r" / "study" / "summary.csv").open())
    }
    assert {(o, n, round(lr, 6)) for o, n, lr in printed} == {(o, n, round(lr, 6)) for o, n, lr in ran}


@pytest.mark.parametrize("sampler", ["qmc", "tpe"])
def test_the_dry_run_and_the_progress_count_the_final_reruns_from_the_start(
    tmp_path: Path, mnist: object, sampler: str
) -> None:
    config = write(tmp_path, MNIST_STUDY.replace("sampler: qmc", f"sampler: {sampler}\n  batch: 2"))
    code, out, _ = invoke("tune", str(config), "--dry-run")
    assert code == 0 and out.splitlines()[-1] == (
        "then each optimizer's best trial, chosen on validation, at seeds 1 2: 4 runs; 12 runs in all"
    )
    assert "8 trials, 8 runs" in out.splitlines()
    code, _, err = invoke("tune", str(config), "--out", str(tmp_path / "r"), "-j", "2")
    assert code == 0, err
    folder = tmp_path / "r" / "mnist-study"
    assert len(list((folder / "runs").iterdir())) == 12
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == [f"[{n}/12" for n in range(1, 13)]
    roles = {row["run_id"]: row["role"] for row in csv.DictReader((folder / "summary.csv").open())}
    for line in lines:
        run_id = line.split("] ")[1].split(":")[0]
        assert "val_acc" in line
        # Trials are chosen on validation: only the final reruns show a test accuracy.
        assert ("test_acc" in line) == (roles[run_id] == "final"), line


@pytest.mark.parametrize("sampler", ["random", "qmc", "tpe"])
def test_the_same_config_gives_the_same_trials_and_choice_for_any_number_of_workers(
    tmp_path: Path, sampler: str
) -> None:
    config = write(tmp_path, STUDY.replace("sampler: random", f"sampler: {sampler}\n  batch: 2"))
    for jobs in ("1", "2"):
        code, _, err = invoke("tune", str(config), "--out", str(tmp_path / jobs), "-j", jobs, "-q")
        assert code == 0, err
    one, two = read_tune(tmp_path / "1" / "study"), read_tune(tmp_path / "2" / "study")
    assert trial_table(tmp_path / "1" / "study") == trial_table(tmp_path / "2" / "study")
    for name in ("sgd", "adam"):
        a, b = one.chosen(name), two.chosen(name)
        assert a is not None and b is not None and (a.number, a.score) == (b.number, b.score)
        assert len(one.trials_of(name)) == 6


def test_the_choice_is_the_best_validation_score_in_the_trials_own_files(
    tmp_path: Path, mnist: object
) -> None:
    config = write(tmp_path, MNIST_STUDY)
    code, _, err = invoke("tune", str(config), "--out", str(tmp_path / "r"), "-j", "2", "-q")
    assert code == 0, err
    folder = tmp_path / "r" / "mnist-study"
    info = yaml.safe_load((folder / "experiment.yaml").read_text())["tune"]
    best: dict[str, tuple[float, int]] = {}
    for entry in info["trials"]:
        if entry["role"] != "trial":
            continue
        (run_id,) = entry["runs"]
        rows = list(csv.DictReader((folder / "runs" / run_id / "metrics.csv").open()))
        score = float(rows[-1]["val_acc"])  # metric val_acc, mode final: the last evaluation
        if math.isfinite(score) and score > best.get(entry["optimizer"], (-1.0, 0))[0]:
            best[entry["optimizer"]] = (score, entry["trial"])
    finals = [e for e in info["trials"] if e["role"] == "final"]
    assert {e["optimizer"]: e["trial"] for e in finals} == {o: t for o, (_, t) in best.items()}
    for entry in finals:
        assert entry["seeds"] == [1, 2]  # the trial used seed 0: the final seeds are new ones
        assert all(read_run(folder / "runs" / r).state == "completed" for r in entry["runs"])


# -- resuming ----------------------------------------------------------------------------------------

SLOW_STUDY = STUDY.replace("steps: 300", "steps: 12000").replace("budget: 6", "budget: 10")


def tune_process(config: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "optbench", "tune", str(config), "--out", str(out), "-j", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finished_runs(folder: Path) -> int:
    count = 0
    for status in folder.glob("runs/*/status.json"):
        with contextlib.suppress(OSError, ValueError):  # a status being replaced right now
            count += json.loads(status.read_text())["status"] == "completed"
    return count


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_killed_tune_started_again_ends_with_the_budget_and_the_uninterrupted_result(
    tmp_path: Path, sampler: str
) -> None:
    config = write(tmp_path, SLOW_STUDY.replace("sampler: random", f"sampler: {sampler}\n  batch: 3"))
    process = tune_process(config, tmp_path / "killed")
    deadline = time.monotonic() + 120
    while finished_runs(tmp_path / "killed" / "study") < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert finished_runs(tmp_path / "killed" / "study") < 20, "the study ended before it was killed"
    for out in ("killed", "whole"):
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "optbench",
                "tune",
                str(config),
                "--out",
                str(tmp_path / out),
                "-j",
                "2",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert code.returncode == 0, code.stderr
    killed, whole = tmp_path / "killed" / "study", tmp_path / "whole" / "study"
    assert trial_table(killed) == trial_table(whole)
    result: Any = read_tune(killed)
    for name in ("sgd", "adam"):
        assert [t.number for t in result.trials_of(name)] == list(range(10))
        a, b = result.chosen(name), read_tune(whole).chosen(name)
        assert (a.number, a.score) == (b.number, b.score)
    assert sorted(p.name for p in (killed / "runs").iterdir()) == sorted(
        p.name for p in (whole / "runs").iterdir()
    )


# -- searching config keys beside the optimizer's hyperparameters -----------------------------------

BOOK_STUDY = """experiment: book-search
task: {dataset: mnist, validation: 100, train_size: 400}
model: {hidden: [16, 16], l2: 1.0e-6}
train: {steps: null, epochs: 2, eval_every: epoch, batch_size: 100}
tune:
  budget: 4
  sampler: random
  final_seeds: 1
  optimizers:
    - name: sgd
      search:
        lr: {log_uniform: [1.0e-6, 1.0e-2]}
        model.l2: {log_uniform: [1.0e-8, 1.0e-4]}
"""


def test_a_study_searches_a_model_key_alongside_the_learning_rate(tmp_path: Path, mnist: object) -> None:
    study = load_tune(write(tmp_path, BOOK_STUDY))
    (space,) = study.spec.spaces
    assert [d.dotted for d in space.dimensions] == ["optimizer.lr", "model.l2"]
    trials = planned_trials(study)
    assert trials[0].params == {"lr": 0.001, "model.l2": 1e-6}  # trial 0: sgd's default lr, the base's λ
    for trial in trials[1:]:
        (run,) = trial.runs
        assert run.model is not None and run.model.l2 == trial.params["model.l2"]
        assert 1e-8 <= run.model.l2 <= 1e-4 and run.optimizer.lr == trial.params["lr"]
        assert (run.train.steps, run.task.train_size) == (8, 400)
    assert len({t.params["model.l2"] for t in trials}) == 4


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            "model.l3: {log_uniform: [1.0e-8, 1.0e-4]}",
            "'model.l3' is not a number a study can search; did you mean 'model.l2'?",
        ),
        ("model.activation: {choice: [relu, tanh]}", "'model.activation' is not a number a study can search"),
        ("model.dropout: {uniform: [0.0, 1.5]}", "model.dropout.uniform[1]: must be >= 0 and < 1, got 1.5"),
        (
            "model.l2: {log_uniform: [0, 1.0e-4]}",
            "model.l2.log_uniform[0]: a log-uniform range starts above 0",
        ),
        ("train.epochs: {uniform: [1, 5]}", "epochs is not a real number: use choice"),
    ],
)
def test_a_searched_config_key_is_checked_against_its_declaration(
    tmp_path: Path, edit: str, expected: str, mnist: object
) -> None:
    found = problems(tmp_path, BOOK_STUDY.replace("model.l2: {log_uniform: [1.0e-8, 1.0e-4]}", edit))
    assert any(expected in line for line in found), found


@pytest.mark.slow
def test_a_study_of_the_weight_penalty_runs_and_reports(tmp_path: Path, mnist: object) -> None:
    config = write(tmp_path, BOOK_STUDY)
    code, _, err = invoke("tune", str(config), "--out", str(tmp_path / "out"), "-q")
    assert code == 0, err
    folder = tmp_path / "out" / "book-search"
    params = [json.loads(p) for _, _, _, p in trial_table(folder)]
    assert all(set(p) == {"lr", "model.l2"} for p in params)
    assert "model.l2" in (folder / "report.md").read_text()
