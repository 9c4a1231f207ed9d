"""A tuning study's folder, read back: its trials, each scored from its runs' own files.

experiment.yaml of a tune records the spec and the trial table (optimizer, trial number, role,
params, run ids); everything else comes from the run folders. A run's score is its validation
accuracy or loss (a function's value for a function task), at the last step (`final`) or the best
evaluation (`best`), read from status.json and metrics.csv. A setting's score is the mean over its
seeds, and it has none (NaN) unless every seed completed with a finite score: a setting that
diverged or failed on some seed is not one to choose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench.errors import OptbenchError
from optbench.layout import EXPERIMENT_FILE, RUNS_DIR
from optbench.results.experiments import ExperimentResult, read_experiment
from optbench.results.files import _read_yaml
from optbench.results.runs import RunResult, read_run
from optbench.stats import FloatArray, expected_max

COLUMNS = {"val_acc": "val_acc", "val_loss": "val_loss", "loss": "loss"}
"""The metrics.csv column of each tune metric."""
FINAL = {"val_acc": "final_val_acc", "val_loss": "final_val_loss", "loss": "final_loss"}
"""The status.json field of each tune metric at the last step."""


def run_score(run: RunResult, metric: str, mode: str) -> float:
    """A completed run's score (NaN for a run that diverged, failed or has not finished)."""
    if run.state != "completed":
        return math.nan
    if mode == "final":
        value = run.status.get(FINAL[metric])
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    _, values = run.curve(COLUMNS[metric])
    if values.size == 0:
        return math.nan
    return float(values.max() if metric == "val_acc" else values.min())


@dataclass(frozen=True)
class TrialResult:
    """One setting of one optimizer: its number, role (trial or final), params and runs on disk."""

    optimizer: str
    number: int
    role: str
    params: Mapping[str, Any]
    runs: tuple[RunResult, ...]
    score: float
    """Mean score over the seeds; NaN unless every seed completed with a finite score."""

    def __repr__(self) -> str:
        return f"TrialResult({self.optimizer} #{self.number} {self.role}, score {self.score:.4g})"

    @property
    def finite(self) -> bool:
        return math.isfinite(self.score)


@dataclass(frozen=True)
class TuneResult:
    """A tune folder: its spec (plain data as recorded), trials and final reruns, per optimizer."""

    folder: Path
    experiment: ExperimentResult
    spec: Mapping[str, Any]
    trials: tuple[TrialResult, ...]
    finals: tuple[TrialResult, ...]

    def __repr__(self) -> str:
        return f"TuneResult({self.experiment.name!r}, {len(self.trials)} trials)"

    @property
    def optimizers(self) -> list[str]:
        return [str(o["name"]) for o in self.spec.get("optimizers", [])]

    @property
    def metric(self) -> str:
        return str(self.spec.get("metric", "val_acc"))

    @property
    def maximise(self) -> bool:
        return self.metric == "val_acc"

    @property
    def searched(self) -> dict[str, list[str]]:
        """The searched keys of each optimizer, as written (`lr`, `betas.0`)."""
        return {str(o["name"]): list(o.get("search", {})) for o in self.spec.get("optimizers", [])}

    def trials_of(self, optimizer: str) -> list[TrialResult]:
        return sorted((t for t in self.trials if t.optimizer == optimizer), key=lambda t: t.number)

    def chosen(self, optimizer: str) -> TrialResult | None:
        """The trial with the best finite score (the lowest number among equals), chosen on validation."""
        finite = [t for t in self.trials_of(optimizer) if t.finite]
        if not finite:
            return None
        sign = 1.0 if self.maximise else -1.0
        return max(finite, key=lambda t: (sign * t.score, -t.number))

    def default(self, optimizer: str) -> TrialResult | None:
        return next((t for t in self.trials_of(optimizer) if t.number == 0), None)

    def final(self, optimizer: str) -> TrialResult | None:
        return next((t for t in self.finals if t.optimizer == optimizer), None)

    def random_scores(self, optimizer: str) -> tuple[list[float], int]:
        """The finite scores of trials 1..budget-1 (trial 0 is no random draw), and how many were left out."""
        drawn = [t for t in self.trials_of(optimizer) if t.number > 0]
        finite = [t.score for t in drawn if t.finite]
        return finite, len(drawn) - len(finite)

    def expected_max(self, optimizer: str) -> tuple[FloatArray, FloatArray]:
        """E[best score of n random trials] and its std for n = 1..N (Dodge et al. 2019)."""
        scores, _ = self.random_scores(optimizer)
        return expected_max(scores, self.maximise)


def _mean_score(runs: Sequence[RunResult], metric: str, mode: str) -> float:
    scores = [run_score(r, metric, mode) for r in runs]
    if not scores or not all(math.isfinite(s) for s in scores):
        return math.nan
    return float(np.mean(scores))


def is_tune_folder(folder: Path) -> bool:
    """A tune's folder: its experiment.yaml records a `tune` section."""
    info = _read_yaml(folder / EXPERIMENT_FILE)
    return isinstance(info, dict) and isinstance(info.get("tune"), dict)


def read_tune(folder: Path) -> TuneResult:
    """A tune folder, every trial scored from its runs' files; OptbenchError if it is not one."""
    info = _read_yaml(folder / EXPERIMENT_FILE)
    tune = info.get("tune") if isinstance(info, dict) else None
    if not isinstance(tune, dict):
        raise OptbenchError(f"{folder}: its {EXPERIMENT_FILE} records no tuning study")
    found = tune.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    metric, mode = str(spec.get("metric", "val_acc")), str(spec.get("mode", "final"))
    trials: list[TrialResult] = []
    finals: list[TrialResult] = []
    for entry in tune.get("trials") or []:
        runs = tuple(read_run(folder / RUNS_DIR / str(r)) for r in entry.get("runs") or [])
        result = TrialResult(
            optimizer=str(entry.get("optimizer")),
            number=int(entry.get("trial", 0)),
            role=str(entry.get("role", "trial")),
            params=dict(entry.get("params") or {}),
            runs=runs,
            score=_mean_score(runs, metric, mode),
        )
        (finals if result.role == "final" else trials).append(result)
    return TuneResult(folder, read_experiment(folder), spec, tuple(trials), tuple(finals))
