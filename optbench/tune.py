"""Tuning studies (`optbench tune`): trials drawn by Optuna's samplers, run as ordinary runs.

Every trial is a setting of one optimizer's searched hyperparameters, run at `tune.trial_seeds`
seeds through the same runner (and executor) as `compare`: its runs have their own folders, and the
results folder is the study's only record. The sampler is asked, never put in charge of the loop
(ask-and-tell):

- random and qmc draw each optimizer's trials 1..budget-1 independently of the results, so they are
  drawn up front and run as one sweep. The same config and sampler seed give the same trials.
- tpe is adaptive: it is asked `tune.batch` trials at a time per optimizer and told their scores
  (read from disk) before the next batch, whatever --jobs is, so the same config gives the same
  trials for any number of workers.

Trial 0 of every optimizer is its defaults. Every optimizer draws from the same sampler seed, so
optimizers searching the same range get the same learning rates (common random numbers). Once the
budget is spent, each optimizer's best trial, chosen on its validation score, is rerun with
`tune.final_seeds` new seeds; those runs are the ones reported on the test set.

A study that is stopped or killed and started again rebuilds itself from the run folders: random and
qmc draw the same trials again and the runner skips the finished runs; tpe is asked again and told
the same scores, so it proposes the same trials (if it ever did not, the study stops with an error
rather than add a trial). No trial is repeated or added, and the result is the uninterrupted one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbench.config import Dimension, Experiment, RunConfig, SearchSpace, Study
from optbench.errors import ConfigError, OptbenchError, UsageError
from optbench.layout import EXPERIMENT_FILE
from optbench.results import TuneResult, read_tune, read_yaml
from optbench.runner import Shown, SweepResult, run_experiment
from optbench.text import format_value, plural, text_table

if TYPE_CHECKING:
    import optuna

OPTUNA_MISSING = "optbench tune needs Optuna: pip install 'optbench[tune]' (make setup installs it)"


@dataclass(frozen=True)
class Trial:
    """One setting of one optimizer, run at some seeds: a trial of the search, or a final rerun."""

    optimizer: str
    number: int
    params: Mapping[str, Any]
    runs: tuple[RunConfig, ...]
    role: str = "trial"

    def plain(self) -> dict[str, Any]:
        """As experiment.yaml records it."""
        return {
            "optimizer": self.optimizer,
            "trial": self.number,
            "role": self.role,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "seeds": [run.train.seed for run in self.runs],
            "runs": [run.run_id for run in self.runs],
        }


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, float) else value


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UsageError(OPTUNA_MISSING) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distribution(optuna: Any, dim: Dimension) -> Any:
    dists = optuna.distributions
    if dim.kind == "choice":
        return dists.CategoricalDistribution(list(dim.choices))
    assert dim.low is not None and dim.high is not None
    if dim.kind == "int":
        return dists.IntDistribution(int(dim.low), int(dim.high))
    return dists.FloatDistribution(dim.low, dim.high, log=dim.kind == "log_uniform")


def _sampler(optuna: Any, study: Study) -> Any:
    seed, samplers = study.spec.seed, optuna.samplers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QMCSampler announces itself as experimental
        if study.spec.sampler == "qmc":
            return samplers.QMCSampler(seed=seed, scramble=True)
        if study.spec.sampler == "tpe":
            return samplers.TPESampler(seed=seed)
        return samplers.RandomSampler(seed=seed)


class Search:
    """One optimizer's search: an Optuna study asked for settings and told their scores."""

    def __init__(self, study: Study, space: SearchSpace) -> None:
        self.optuna = _optuna()
        self.space = space
        direction = "maximize" if study.spec.maximise else "minimize"
        self.study: optuna.Study = self.optuna.create_study(
            direction=direction, sampler=_sampler(self.optuna, study)
        )
        self.distributions = {d.key: _distribution(self.optuna, d) for d in space.dimensions}
        self.asked: list[Any] = []

    def ask(self, n: int) -> list[dict[str, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trials = [self.study.ask(self.distributions) for _ in range(n)]
        self.asked += trials
        return [dict(t.params) for t in trials]

    def tell(self, index: int, score: float) -> None:
        """Tell the sampler the score of the index-th trial it was asked for (NaN: the trial failed)."""
        state = self.optuna.trial.TrialState
        if math.isfinite(score):
            self.study.tell(self.asked[index], score)
        else:
            self.study.tell(self.asked[index], state=state.FAIL)


def _trial(
    study: Study, space: SearchSpace, number: int, params: Mapping[str, Any], role: str = "trial"
) -> Trial:
    seeds = study.trial_seed_values if role == "trial" else study.final_seed_values
    try:
        runs = tuple(study.run(space, params, seed) for seed in seeds)
    except ValueError as exc:
        raise ConfigError([f"{study.source}: tune: {space.optimizer} trial {number}: {exc}"]) from None
    return Trial(space.optimizer, number, dict(params), runs, role)


def planned_trials(study: Study) -> list[Trial]:
    """Every trial of a random or qmc study, drawn up front; for tpe, trial 0 of each optimizer only."""
    trials = []
    for space in study.spec.spaces:
        trials.append(_trial(study, space, 0, study.defaults(space)))
        if study.spec.sampler != "tpe" and study.spec.budget > 1:
            search = Search(study, space)
            for number, params in enumerate(search.ask(study.spec.budget - 1), start=1):
                trials.append(_trial(study, space, number, params))
    return trials


def _experiment_of(study: Study, trials: Sequence[Trial]) -> Experiment:
    """The trials so far as an experiment: its runs, varied keys and the study recorded beside them."""
    runs: dict[str, RunConfig] = {}
    labels: dict[str, dict[str, Any]] = {}
    for trial in trials:
        for run in trial.runs:
            runs.setdefault(run.run_id, run)
            labels.setdefault(run.run_id, {"trial": trial.number, "role": trial.role})
    searched = [d.dotted for s in study.spec.spaces for d in s.dimensions]
    varied = tuple(dict.fromkeys(["optimizer.name", *searched, "train.seed"]))
    return Experiment(
        name=study.name,
        source=study.source,
        description=study.description,
        runs=tuple(runs.values()),
        varied=varied,
        overridden=study.overridden,
        command=study.command,
        labels=labels,
        study={"spec": study.spec.to_plain(), "trials": [t.plain() for t in trials]},
    )


@dataclass(frozen=True)
class TuneOutcome:
    """How a tune ended: its folder, the sweeps it ran, and whether it was interrupted."""

    folder: Path
    sweeps: tuple[SweepResult, ...]
    interrupted: bool

    @property
    def any_failed(self) -> bool:
        return any(s.any_failed for s in self.sweeps)


def run_tune(
    study: Study, out: Path, jobs: int = 1, force: bool = False, progress: bool = True, **runner: Any
) -> TuneOutcome:
    """Run the study's trials, then each optimizer's chosen setting at its final seeds.

    The progress counts the final reruns from the start: the trials' sweeps are told the runs of the
    whole study, and show each trial's validation accuracy alone (only the final reruns are
    measured on test).
    """
    trials = planned_trials(study) if study.spec.sampler != "tpe" else []
    planned = sum(_planned_runs(study, trials))
    sweeps: list[SweepResult] = []

    def sweep(current: Sequence[Trial], last: bool = False) -> SweepResult:
        trial_runs = frozenset(r.run_id for t in current if t.role == "trial" for r in t.runs)
        shown = Shown(None if last else planned, trial_runs)
        result = run_experiment(
            _experiment_of(study, current), out, jobs, force, progress, shown=shown, **runner
        )
        sweeps.append(result)
        return result

    if study.spec.sampler == "tpe":
        trials = _run_tpe(study, out, sweep)
    else:
        sweep(trials)
    if sweeps and sweeps[-1].interrupted:
        return TuneOutcome(sweeps[-1].folder, tuple(sweeps), True)
    folder = sweeps[-1].folder
    tune = read_tune(folder)
    finals = [_final(study, space, tune) for space in study.spec.spaces]
    if any(f is not None for f in finals):
        sweep([*trials, *(f for f in finals if f is not None)], last=True)
    return TuneOutcome(folder, tuple(sweeps), bool(sweeps[-1].interrupted))


def _final(study: Study, space: SearchSpace, tune: TuneResult) -> Trial | None:
    chosen = tune.chosen(space.optimizer)
    if chosen is None or not study.final_seed_values:
        return None
    return _trial(study, space, chosen.number, chosen.params, role="final")


def _run_tpe(study: Study, out: Path, sweep: Any) -> list[Trial]:
    """Ask each optimizer's sampler a batch at a time; tell it the batch's scores, read from disk.

    The first sweep also runs every optimizer's trial 0 (the defaults), which the sampler is not
    told: it is no draw of the search.
    """
    recorded = _recorded_params(out / study.name)
    searches = {space.optimizer: Search(study, space) for space in study.spec.spaces}
    trials = [_trial(study, space, 0, study.defaults(space)) for space in study.spec.spaces]
    count = {space.optimizer: 0 for space in study.spec.spaces}
    first = True
    while True:
        batch = []
        for space in study.spec.spaces:
            n = min(study.spec.batch, study.spec.budget - 1 - count[space.optimizer])
            for params in searches[space.optimizer].ask(n) if n > 0 else []:
                count[space.optimizer] += 1
                number = count[space.optimizer]
                known = recorded.get((space.optimizer, number))
                if known is not None and not _same(known, params):
                    raise OptbenchError(
                        f"{out / study.name}: the tpe sampler no longer proposes the recorded trial "
                        f"{number} of {space.optimizer} (another Optuna version?); run the study under "
                        "another name (experiment=NAME) or remove the folder"
                    )
                batch.append(_trial(study, space, number, params))
        if not batch and not first:
            return trials
        first = False
        trials += batch
        result = sweep(trials)
        if result.interrupted:
            return trials
        scores = {(t.optimizer, t.number): t.score for t in read_tune(result.folder).trials}
        for trial in batch:
            score = scores.get((trial.optimizer, trial.number), math.nan)
            searches[trial.optimizer].tell(trial.number - 1, score)


def _recorded_params(folder: Path) -> dict[tuple[str, int], Mapping[str, Any]]:
    """The params of the trials a previous run of the study recorded, by (optimizer, number)."""
    info = read_yaml(folder / EXPERIMENT_FILE)
    tune = info.get("tune") if isinstance(info, dict) else None
    entries = tune.get("trials") if isinstance(tune, dict) else None
    return {
        (str(e["optimizer"]), int(e["trial"])): e.get("params") or {}
        for e in entries or []
        if isinstance(e, dict) and e.get("role") == "trial"
    }


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return a.keys() == b.keys() and all(_plain(a[k]) == _plain(b[k]) for k in a)


def _planned_runs(study: Study, trials: Sequence[Trial]) -> tuple[int, int]:
    """The runs a study makes: (its trials', its final reruns'), from the trials drawn up front.

    tpe proposes its trials as results come in: it is counted at its budget. Every optimizer has
    its best trial rerun (unless all its trials failed, which no plan can foresee).
    """
    if study.spec.sampler == "tpe":
        trial_runs = len(study.spec.spaces) * study.spec.budget * len(study.trial_seed_values)
    else:
        trial_runs = len({r.run_id for t in trials for r in t.runs})
    return trial_runs, len(study.spec.spaces) * len(study.final_seed_values)


def trials_table(study: Study) -> str:
    """The trials a study would run, as `tune --dry-run` prints them: optimizer, trial number, seeds
    and the searched values; then the count of trials and runs (for tpe, which trials it proposes as
    results come in), and the final reruns of each optimizer's best trial with the total."""
    trials = planned_trials(study)
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    rows = [
        [t.optimizer, str(t.number), " ".join(str(r.train.seed) for r in t.runs)]
        + [format_value(t.params[k]) if k in t.params else "" for k in keys]
        for t in trials
    ]
    trial_runs, final_runs = _planned_runs(study, trials)
    text = text_table(["optimizer", "trial", "seeds", *keys], rows)
    text += f"{plural(len(study.spec.spaces) * study.spec.budget, 'trial')}, {plural(trial_runs, 'run')}\n"
    if study.spec.sampler == "tpe":
        later = f"trials 1 to {study.spec.budget - 1}"
        text += f"{later} of each optimizer are proposed by tpe as the results come in\n"
    if final_runs:
        seeds = " ".join(map(str, study.final_seed_values))
        text += (
            f"then each optimizer's best trial, chosen on validation, at seeds {seeds}: "
            f"{plural(final_runs, 'run')}; {plural(trial_runs + final_runs, 'run')} in all\n"
        )
    return text
