"""Figures and reports drawn again from the files alone (`optbench report`), without training.

A results folder is one experiment's folder (of compare, train, tune or activations), or a results
root holding several: then the figures of all of them are shared among the processes at once, each
gets its report again, and the root's index.md is rewritten. Every folder is locked meanwhile, so a
folder that a running command is writing into is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optbench import plots, report
from optbench.errors import OptbenchError
from optbench.files import FolderLock
from optbench.progress import DRAWING
from optbench.results import is_result_folder

LOCKED_ADVICE = "run optbench report again once it has finished"
"""What a refusal to redraw a folder in use advises."""


@dataclass(frozen=True)
class Redrawn:
    """What was drawn again: each folder's report, and either the figures of a single experiment
    folder or the index of a results root (None for a single folder)."""

    reports: list[Path]
    figures: list[Path]
    index: Path | None


def redraw(
    results_dir: Path, processes: int = 1, say: Callable[[str], None] = lambda message: None
) -> Redrawn:
    """Draw the figures and write the reports of `results_dir` again, its figures shared among
    `processes`; `say` is given the line a command shows before the figures are drawn, when some
    are: figures that are current (`plots.figure_jobs`) are not drawn again, and then it says nothing."""
    single = is_result_folder(results_dir)
    folders = (
        [results_dir]
        if single
        else sorted(f for f in results_dir.iterdir() if f.is_dir() and is_result_folder(f))
    )
    if not folders:
        raise OptbenchError(f"{results_dir}: holds no optbench experiment folder")
    with contextlib.ExitStack() as held:
        for folder in folders:
            held.enter_context(FolderLock(folder, advice=LOCKED_ADVICE))
        jobs = [job for folder in folders for job in plots.figure_jobs(folder)]
        if jobs:
            say(DRAWING)
        plots.render(jobs, processes)
        if single:
            figures = plots.current_figures(results_dir)
            return Redrawn([report.write_report(results_dir)], figures, None)
        reports = [report.write_report(folder) for folder in folders]
        return Redrawn(reports, [], report.write_index(results_dir, folders))
