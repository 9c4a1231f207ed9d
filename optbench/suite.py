"""A suite run whole (`optbench suite`): its experiments, their figures and reports, and the index.

Its compare experiments run first, as one sweep (which connects to the cluster, or checks the data,
before anything is written); then its activation experiments; then its tuning studies, one after
the other, unless the sweep was interrupted. The figures of every folder that finished are drawn
together, each gets its report, and, if nothing was interrupted, index.md links them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optbench import report
from optbench.activations_writer import run_activations
from optbench.config import LoadedSuite
from optbench.executors import Scheduler
from optbench.plots import Drawer
from optbench.progress import DRAWING
from optbench.runner import SweepResult, run_experiments
from optbench.tune import TuneOutcome, run_tune


@dataclass(frozen=True)
class SuiteOutcome:
    """How a suite ended: each compare experiment's result, the activation folders, each study run
    (a study after an interruption is not begun), and the index (None if interrupted)."""

    results: list[SweepResult]
    activations: list[Path]
    tuned: list[TuneOutcome]
    interrupted: bool
    index: Path | None

    @property
    def sweeps(self) -> list[SweepResult]:
        """Every sweep of the suite: the compare experiments', then each study's."""
        return [*self.results, *(sweep for outcome in self.tuned for sweep in outcome.sweeps)]


def run_suite(
    loaded: LoadedSuite,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: Scheduler | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> SuiteOutcome:
    """Run every experiment of the suite into `out`, draw and report them, and index them.

    `say` is given the line a command shows before the figures are drawn.
    """
    with Drawer() as drawer:
        experiments = loaded.experiments
        results = run_experiments(experiments, out, jobs, force, progress, scheduler) if experiments else []
        folders = [run_activations(cfg, out) for cfg in loaded.activations]
        interrupted = any(r.interrupted for r in results)
        tuned: list[TuneOutcome] = []
        for study in loaded.studies if not interrupted else []:
            outcome = run_tune(study, out, jobs=jobs, force=force, progress=progress, scheduler=scheduler)
            tuned.append(outcome)
            if outcome.interrupted:
                interrupted = True
                break
        finished = [r.folder for r in results if not r.interrupted] + [
            t.folder for t in tuned if not t.interrupted
        ]
        drawn = folders + finished
        say(DRAWING)
        drawer.folders_figures(drawn, jobs)
    for folder in drawn:
        report.write_report(folder)
    index = None
    if not interrupted:
        index = report.write_index(out, [*folders, *(r.folder for r in results), *(t.folder for t in tuned)])
    return SuiteOutcome(results, folders, tuned, interrupted, index)
