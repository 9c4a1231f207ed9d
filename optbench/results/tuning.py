"""A tuning study's folder, read back: its trials, each scored from its runs' own files.

experiment.yaml of a tune records the spec and the trial table (optimizer, trial number, role,
params, run ids); everything else comes from the run folders. A run's score is its validation
accuracy or loss (a function's value for a function task), at the last step (`final`) or the best
evaluation (`best`), read from status.json and metrics.csv. A setting's score is the mean over its
seeds, and it has none (NaN) unless every seed completed with a finite score: a setting that
diverged or failed on some seed is not one to choose.

Beside the folder's own reading: the performance profile of several tune folders (AlgoPerf, Dahl et
al. 2023), each optimizer's chosen setting on each task as a ratio to the task's best, the chosen
setting scored by its final reruns on validation where the study has them, by its trial where not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench.errors import OptbenchError
from optbench.layout import EXPERIMENT_FILE, RUNS_DIR
from optbench.results.experiments import ExperimentResult, read_experiment
from optbench.results.files import read_yaml
from optbench.results.runs import RunResult, read_run
from optbench.stats import FloatArray, expected_max

UNSCORED = ("diverged", "failed", "interrupted", "running", "pending")
"""Why a setting has no score, in the order a trial's runs are searched for the reason."""
COLUMNS = {"val_acc": "val_acc", "val_loss": "val_loss", "loss": "loss"}
"""The metrics.csv column of each tune metric."""
FINAL = {"val_acc": "final_val_acc", "val_loss": "final_val_loss", "loss": "final_loss"}
"""The status.json field of each tune metric at the last step."""
SCORE_NAMES = {"val_acc": "validation accuracy", "val_loss": "validation loss", "loss": "f"}
"""What each tune metric is called in figures and sentences."""


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
    """0 for the optimizer's defaults, then in the order drawn; a final rerun has its trial's number."""
    role: str
    params: Mapping[str, Any]
    """The searched hyperparameters' values, by key as the spec writes it (`lr`, `betas.0`)."""
    runs: tuple[RunResult, ...]
    score: float
    """Mean score over the seeds; NaN unless every seed completed with a finite score."""
    run_scores: tuple[float, ...] = ()
    """The score of each run, in the order of `runs` (NaN for a run without one)."""

    def __repr__(self) -> str:
        return f"TrialResult({self.optimizer} #{self.number} {self.role}, score {self.score:.4g})"

    @property
    def finite(self) -> bool:
        return math.isfinite(self.score)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)

    @property
    def outcome(self) -> str:
        """`scored`, or why the setting has no score: the first of diverged, failed, interrupted,
        running, pending that some run is in, else `no score` (completed without the metric)."""
        if self.finite:
            return "scored"
        states = {r.state for r in self.runs}
        return next((s for s in UNSCORED if s in states), "no score")


@dataclass(frozen=True)
class TuneResult:
    """A tune folder: its spec (plain data as recorded), trials and final reruns, per optimizer."""

    folder: Path
    experiment: ExperimentResult
    spec: Mapping[str, Any]
    """The study's `tune` section as experiment.yaml records it: optimizers, metric, budget, sampler..."""
    trials: tuple[TrialResult, ...]
    finals: tuple[TrialResult, ...]
    """The chosen settings rerun on new seeds, one per optimizer that has them."""

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
    def score_name(self) -> str:
        """The score as words: `final validation accuracy`, `lowest validation loss`, `final f`."""
        name = SCORE_NAMES.get(self.metric, self.metric)
        if self.mode == "final":
            return f"final {name}"
        return f"{'best' if self.maximise else 'lowest'} {name}"

    @property
    def mode(self) -> str:
        return str(self.spec.get("mode", "final"))

    @property
    def sampler(self) -> str:
        return str(self.spec.get("sampler", "random"))

    @property
    def budget(self) -> int:
        return int(self.spec.get("budget", 0))

    @property
    def kind(self) -> str:
        """dataset or function: the task every trial trained on."""
        return self.experiment.kind

    @property
    def min_value(self) -> float | None:
        """f* of a function task whose minimum is known (scores are then f, and f − f* ≥ 0)."""
        first = next((r for t in self.trials for r in t.runs if r.config), None)
        if self.kind != "function" or first is None:
            return None
        objective = first.objective
        return None if objective is None else objective.min_value

    @property
    def keys(self) -> list[str]:
        """Every searched key of the study, each once, in the order the optimizers list them."""
        return list(dict.fromkeys(k for keys in self.searched.values() for k in keys))

    def entry(self, optimizer: str) -> Mapping[str, Any]:
        """The optimizer's entry of the spec: name, fixed hyperparameters, search (empty if not tuned)."""
        found = next((o for o in self.spec.get("optimizers", []) if o.get("name") == optimizer), None)
        return found if isinstance(found, Mapping) else {}

    def distribution(self, optimizer: str, key: str) -> str | None:
        """How an optimizer's key is searched: log_uniform, uniform, int or choice (None: not searched)."""
        found = (self.entry(optimizer).get("search") or {}).get(key)
        return next(iter(found)) if isinstance(found, dict) and found else None

    def search_range(self, optimizer: str, key: str) -> tuple[float, float] | None:
        """[low, high] of a key searched by a continuous or int distribution (None for choice)."""
        found = (self.entry(optimizer).get("search") or {}).get(key)
        bounds = next(iter(found.values())) if isinstance(found, dict) and found else None
        if self.distribution(optimizer, key) == "choice" or not isinstance(bounds, list) or len(bounds) != 2:
            return None
        return float(bounds[0]), float(bounds[1])

    def better(self, a: float, b: float) -> bool:
        """Whether score a is strictly better than b (NaN is never better, anything beats NaN)."""
        if not math.isfinite(a):
            return False
        if not math.isfinite(b):
            return True
        return a > b if self.maximise else a < b

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
    info = read_yaml(folder / EXPERIMENT_FILE)
    return isinstance(info, dict) and isinstance(info.get("tune"), dict)


def read_tune(folder: Path) -> TuneResult:
    """A tune folder, every trial scored from its runs' files; OptbenchError if it is not one."""
    info = read_yaml(folder / EXPERIMENT_FILE)
    tune = info.get("tune") if isinstance(info, dict) else None
    if not isinstance(tune, dict):
        raise OptbenchError(f"{folder}: its {EXPERIMENT_FILE} records no tuning study")
    found = tune.get("spec")
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    metric, mode = str(spec.get("metric", "val_acc")), str(spec.get("mode", "final"))
    experiment = read_experiment(folder)
    # Each run folder is read once: the experiment lists every run a trial does.
    known = {r.run_id: r for r in experiment.runs}
    trials: list[TrialResult] = []
    finals: list[TrialResult] = []
    for entry in tune.get("trials") or []:
        runs = tuple(
            known.get(str(r)) or read_run(folder / RUNS_DIR / str(r)) for r in entry.get("runs") or []
        )
        result = TrialResult(
            optimizer=str(entry.get("optimizer")),
            number=int(entry.get("trial", 0)),
            role=str(entry.get("role", "trial")),
            params=dict(entry.get("params") or {}),
            runs=runs,
            score=_mean_score(runs, metric, mode),
            run_scores=tuple(run_score(r, metric, mode) for r in runs),
        )
        (finals if result.role == "final" else trials).append(result)
    return TuneResult(folder, experiment, spec, tuple(trials), tuple(finals))


PROFILE_KINDS = {"function": "2-D functions", "dataset": "datasets"}
"""The kinds of task a profile keeps apart, as its headings name them: ratios of f − f* on functions
(often orders of magnitude) and of error rates on datasets (often a few per cent) share no axis."""


@dataclass(frozen=True)
class ProfileTask:
    """One study as a task of a performance profile: what it compares and what that rests on."""

    name: str
    kind: str
    """function or dataset (`PROFILE_KINDS`)."""
    quantity: str
    """The lower-is-better quantity whose ratios the profile takes: `validation error (1 − accuracy)`,
    `validation loss`, `f − f*`, `f`."""
    source: str
    """What each optimizer's value is: its chosen setting's final reruns (`final reruns, 3 seeds`) or,
    for a study without them, its chosen trial (`chosen trial, 1 seed`)."""
    values: tuple[float, ...]
    """The quantity of each optimizer of the profile (NaN: none, or not tuned on this task)."""
    tuned: tuple[str, ...] = ()
    """The optimizers the study tuned."""


@dataclass(frozen=True)
class PerformanceProfile:
    """Several tuning studies (tasks) side by side: each optimizer's value on each task as a ratio to
    the best optimizer's there, 1 for the best and larger for worse, inf without a value.

    The value is a quantity where lower is better (`ProfileTask.quantity`): an error rate, a loss, or
    f − f*. ρ(τ), the share of tasks on which an optimizer is within a factor τ of the best, is
    `share(τ)` (Dolan & Moré 2002; AlgoPerf, Dahl et al. 2023).
    """

    tasks: tuple[ProfileTask, ...]
    optimizers: tuple[str, ...]
    ratios: FloatArray
    """Shape (optimizers, tasks)."""

    def __repr__(self) -> str:
        return f"PerformanceProfile({len(self.optimizers)} optimizers, {len(self.tasks)} tasks)"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def share(self, tau: float) -> FloatArray:
        """ρ(τ) of each optimizer, in the order of `optimizers`."""
        if not self.tasks:
            return np.zeros(len(self.optimizers))
        return np.asarray((self.ratios <= tau).mean(axis=1), dtype=np.float64)

    def wins(self) -> list[int]:
        """On how many tasks each optimizer is the best (ratio 1)."""
        return [int(n) for n in (self.ratios <= 1.0).sum(axis=1)]

    def by_kind(self) -> list[tuple[str, PerformanceProfile]]:
        """One profile per kind of task, in the order the kinds first appear: its heading (`2-D
        functions`) and its tasks, with the optimizers tuned on at least one of them."""
        out = []
        for kind in dict.fromkeys(t.kind for t in self.tasks):
            columns = [j for j, t in enumerate(self.tasks) if t.kind == kind]
            rows = [
                i for i, o in enumerate(self.optimizers) if any(o in self.tasks[j].tuned for j in columns)
            ]
            tasks = tuple(
                dataclasses.replace(self.tasks[j], values=tuple(self.tasks[j].values[i] for i in rows))
                for j in columns
            )
            optimizers = tuple(self.optimizers[i] for i in rows)
            out.append(
                (
                    PROFILE_KINDS.get(kind, kind),
                    PerformanceProfile(tasks, optimizers, self.ratios[np.ix_(rows, columns)]),
                )
            )
        return out


def task_ratios(scores: Sequence[float], maximise: bool) -> FloatArray:
    """Performance ratios of the optimizers' scores on one task: best/score for a maximised score,
    score/best for a minimised one, so that 1 is the best and larger is worse.

    A ratio needs positive scores: a score equal to the best is 1 whatever its sign, and any other
    score is infinitely far (inf) when it or the best is not positive; no score (NaN) is inf too.
    """
    values = np.asarray(scores, dtype=np.float64)
    ratios = np.full(values.shape, np.inf)
    finite = np.isfinite(values)
    if not finite.any():
        return ratios
    best = float(values[finite].max() if maximise else values[finite].min())
    for i, v in enumerate(values):
        if not finite[i]:
            continue
        if v == best:
            ratios[i] = 1.0
        elif v > 0 and best > 0:
            ratios[i] = best / v if maximise else v / best
    return ratios


def profile_quantity(tune: TuneResult) -> str:
    """The lower-is-better quantity a study's optimizers are compared by in a profile."""
    if tune.metric == "val_acc":
        return "validation error (1 − accuracy)"
    if tune.kind == "function":
        return "f − f*" if tune.min_value is not None else "f"
    return SCORE_NAMES.get(tune.metric, tune.metric)


def profile_trial(tune: TuneResult, optimizer: str) -> TrialResult | None:
    """The setting whose score the profile takes: the chosen setting's final reruns in a study that
    reran its choices (none for an optimizer not rerun yet), else the chosen trial itself."""
    return tune.final(optimizer) if tune.finals else tune.chosen(optimizer)


def profile_value(tune: TuneResult, optimizer: str) -> float:
    """An optimizer's value on a study as the profile compares it, lower being better: the score of
    `profile_trial` (the mean over its seeds, NaN unless every seed has one) as an error rate 1 − score
    for an accuracy, as f − f* (0 at the optimum) for a function whose minimum is known, else as it is."""
    trial = profile_trial(tune, optimizer)
    if trial is None:
        return math.nan
    if tune.metric == "val_acc":
        return 1.0 - trial.score
    f_star = tune.min_value
    return trial.score if f_star is None else max(trial.score - f_star, 0.0)


def profile_source(tune: TuneResult) -> str:
    """What a study's values rest on, in words: `final reruns, 3 seeds` or `chosen trial, 1 seed`."""
    trials = [t for o in tune.optimizers if (t := profile_trial(tune, o)) is not None]
    seeds = sorted({len(t.runs) for t in trials})
    count = "/".join(str(n) for n in seeds) or "0"
    return f"{'final reruns' if tune.finals else 'chosen trial'}, {count} seed{'' if seeds == [1] else 's'}"


def performance_profile(tunes: Sequence[TuneResult]) -> PerformanceProfile:
    """The profile of several tune folders; an optimizer not tuned on a task counts there as inf."""
    optimizers = tuple(dict.fromkeys(o for t in tunes for o in t.optimizers))
    ratios = np.full((len(optimizers), len(tunes)), np.inf)
    tasks = []
    for j, tune in enumerate(tunes):
        values = [profile_value(tune, o) if o in tune.optimizers else math.nan for o in optimizers]
        ratios[:, j] = task_ratios(values, maximise=False)
        tasks.append(
            ProfileTask(
                tune.experiment.name,
                tune.kind,
                profile_quantity(tune),
                profile_source(tune),
                tuple(values),
                tuple(tune.optimizers),
            )
        )
    return PerformanceProfile(tuple(tasks), optimizers, ratios)
