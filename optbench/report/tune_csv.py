"""A tuning study's derived CSV files, written into its folder by its report so that `optbench
report` regenerates them from the run folders. Choices are the study's: each optimizer's best trial
by its validation score (a function's value for a function task); test numbers are those of the
chosen settings' final seeds only. A score is the study's `tune.metric` in its `tune.mode`, a
trial's the mean over its seeds; standard deviations are over seeds with ddof 0
(`stats.STD_DDOF`). Empty cells: no such number.

    tune.csv          one row per optimizer: optimizer, trials (recorded), finite_trials (with a
                      score), default_score (trial 0), best_score, best_trial (the chosen trial),
                      improvement (best − default, signed so that + is better), chosen (`lr=0.01,
                      betas.0=0.9`), one column per key any optimizer searches (its chosen value),
                      final_seeds, final_val_mean, final_val_std (the score over the completed final
                      reruns), final_test_mean, final_test_std (their final test accuracy); the last
                      five are empty for a function task, which has no final reruns and no test set
    trials.csv        one row per trial, then the optimizer's final reruns: optimizer, trial, role
                      (trial | final), seeds, score, finite (true | false), status (each run's), the
                      searched keys, run_ids; seeds, status and run_ids list the runs space-separated
    expected_max.csv  optimizer, n, mean, std: the expected best score of n random trials and its
                      std (Dodge et al. 2019), n = 1..N over trials 1..budget−1 with a finite score
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from optbench.files import atomic_write_text, csv_text
from optbench.layout import EXPECTED_MAX_FILE, TRIALS_FILE, TUNE_FILE
from optbench.report.tune_numbers import final_numbers, improvement
from optbench.results import TrialResult, TuneResult
from optbench.text import format_value

TUNE_HEAD = (
    "optimizer",
    "trials",
    "finite_trials",
    "default_score",
    "best_score",
    "best_trial",
    "improvement",
)
TUNE_TAIL = ("final_seeds", "final_val_mean", "final_val_std", "final_test_mean", "final_test_std")
TRIALS_HEAD = ("optimizer", "trial", "role", "seeds", "score", "finite", "status")
EXPECTED_MAX_COLUMNS = ("optimizer", "n", "mean", "std")


def _searched_cells(tune: TuneResult, trial: TrialResult | None) -> list[Any]:
    params = trial.params if trial is not None else {}
    return [params.get(key) for key in tune.keys]


def _cell(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _chosen_plain(trial: TrialResult | None) -> str:
    if trial is None:
        return ""
    return ", ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())


def tune_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """tune.csv: one row per optimizer (the columns are in this module's docstring)."""
    header = [*TUNE_HEAD, "chosen", *tune.keys, *TUNE_TAIL]
    rows = []
    for optimizer in tune.optimizers:
        trials = tune.trials_of(optimizer)
        chosen, default = tune.chosen(optimizer), tune.default(optimizer)
        row: list[Any] = [
            optimizer,
            len(trials),
            sum(t.finite for t in trials),
            _cell(default.score) if default is not None else None,
            _cell(chosen.score) if chosen is not None else None,
            chosen.number if chosen is not None else None,
            _cell(improvement(tune, optimizer)),
            _chosen_plain(chosen),
            *_searched_cells(tune, chosen),
        ]
        if tune.kind == "function":
            row += [None] * len(TUNE_TAIL)
        else:
            seeds, val, test = final_numbers(tune, optimizer)
            row += [seeds, _cell(val[0]), _cell(val[1]), _cell(test[0]), _cell(test[1])]
        rows.append(row)
    return header, rows


def trial_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """trials.csv: one row per trial and per final rerun, in the optimizers' order."""
    header = [*TRIALS_HEAD, *tune.keys, "run_ids"]
    rows = []
    for optimizer in tune.optimizers:
        final = tune.final(optimizer)
        for trial in [*tune.trials_of(optimizer), *([final] if final is not None else [])]:
            rows.append(
                [
                    optimizer,
                    trial.number,
                    trial.role,
                    " ".join(str(s) for s in trial.seeds),
                    _cell(trial.score),
                    trial.finite,
                    " ".join(r.state for r in trial.runs),
                    *_searched_cells(tune, trial),
                    " ".join(r.run_id for r in trial.runs),
                ]
            )
    return header, rows


def expected_max_rows(tune: TuneResult) -> tuple[list[str], list[list[Any]]]:
    """expected_max.csv: per optimizer and n = 1..N, Dodge et al.'s expected best score and its std."""
    rows: list[list[Any]] = []
    for optimizer in tune.optimizers:
        means, stds = tune.expected_max(optimizer)
        rows += [[optimizer, n, float(m), float(s)] for n, (m, s) in enumerate(zip(means, stds), start=1)]
    return list(EXPECTED_MAX_COLUMNS), rows


def write_tune_tables(tune: TuneResult) -> list[Path]:
    """Write tune.csv, trials.csv and expected_max.csv into the study's folder (atomically)."""
    written = []
    for name, (header, rows) in (
        (TUNE_FILE, tune_rows(tune)),
        (TRIALS_FILE, trial_rows(tune)),
        (EXPECTED_MAX_FILE, expected_max_rows(tune)),
    ):
        path = tune.folder / name
        atomic_write_text(path, csv_text(header, rows))
        written.append(path)
    return written
