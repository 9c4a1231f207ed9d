"""Which figures a folder gets (figure jobs), and drawing them, in this process or in forked ones."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optbench.errors import EXIT_INTERRUPTED, OptbenchError
from optbench.functions import FUNCTIONS
from optbench.layout import (
    ACCURACY_PNG,
    CURVES_PNG,
    DIAGNOSTICS_PNG,
    EVAL_LOSS_PNG,
    EXPECTED_MAX_PNG,
    EXPERIMENT_FIGURES,
    FINAL_CURVES_PNG,
    GRADIENTS_PNG,
    HISTOGRAMS_PNG,
    LOSS_PNG,
    LR_SENSITIVITY_PNG,
    PATH_PNG,
    PATHS_PANELS_PNG,
    PATHS_PNG,
    TUNE_FIGURES,
    TUNE_SCORES_PNG,
)
from optbench.plain import value_at
from optbench.plots.activations import _gradients_figure, _histograms_figure
from optbench.plots.axes import _style, save_png
from optbench.plots.diagnostics import _diagnostics_comparison_figure, _run_diagnostics_figure
from optbench.plots.functions import (
    _function_loss_figure,
    _function_title,
    _objective_of,
    _path_figure,
    _paths_figure,
    _paths_panels_figure,
)
from optbench.plots.style import Style, activation_case_styles, optimizer_color, variant_styles
from optbench.plots.training import (
    _curves_figure,
    _heldout_figure,
    _lr_groups,
    _lr_sensitivity_figure,
    _training_loss_figure,
)
from optbench.plots.tuning import expected_max_figure, final_curves_figure, tune_scores_figure
from optbench.results import (
    Variant,
    is_activations_folder,
    is_tune_folder,
    read_activations,
    read_experiment,
    read_run,
    read_tune,
    variant_label,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


MAX_PANELS = 24
"""paths_panels.png is drawn for at most this many variants; beyond, panels are too small to read."""

FigureJob = tuple[Path, Callable[[], "Figure"]]
"""Where a figure goes and how to draw it."""


def run_figures(run_folder: Path) -> list[Path]:
    """The figures of one run folder (what `optbench train` shows); returns the PNGs written.

    Function task: path.png and loss.png. Dataset task: curves.png, and diagnostics.png when the run
    logged diagnostics. A run without metrics gets no figures.
    """
    run = read_run(run_folder)
    if not run.has_metrics or not run.config:
        return []
    written = []
    with _style():
        if run.kind == "function":
            objective = FUNCTIONS.get(str(value_at(run.config, "task.function")))
            if objective is None:
                return []
            written.append(save_png(_path_figure(run, objective), run_folder / PATH_PNG))
            variant = Variant(variant_label(run.config, (), show_lr=True), (run,))
            fig = _function_loss_figure(
                f"{_function_title(objective)}", [variant], [Style(optimizer_color(run.optimizer))]
            )
            written.append(save_png(fig, run_folder / LOSS_PNG))
        else:
            written.append(save_png(_curves_figure(run), run_folder / CURVES_PNG))
            if run.layers:
                written.append(save_png(_run_diagnostics_figure(run), run_folder / DIAGNOSTICS_PNG))
    return written


def experiment_figures(exp_folder: Path, processes: int = 1) -> list[Path]:
    """The combined figures of an experiment folder, from its files; returns the PNGs written.

    Only finished runs (completed or diverged) are drawn; an experiment with none gets no figures.
    Function tasks: paths.png, paths_panels.png (up to MAX_PANELS variants), loss.png. Dataset
    tasks: loss.png, accuracy.png, eval_loss.png, lr_sensitivity.png when some optimizer was run
    at two or more learning rates (everything else equal), and diagnostics.png when the runs logged
    diagnostics.
    An `optbench activations` folder gets its own figures (`activation_figures`), and a tune folder
    its own (`_tune_jobs`).
    With `processes` > 1 the figures are drawn by that many processes at once.
    """
    written = render(figure_jobs(exp_folder), processes)
    order = [exp_folder / name for name in (*EXPERIMENT_FIGURES, *TUNE_FIGURES)]
    return sorted(written, key=lambda path: order.index(path) if path in order else len(order))


def figure_jobs(exp_folder: Path) -> list[FigureJob]:
    """The figures `experiment_figures` draws for a folder, not yet drawn, heaviest first."""
    if is_activations_folder(exp_folder):
        return _activation_jobs(exp_folder)
    if is_tune_folder(exp_folder):
        return _tune_jobs(exp_folder)
    exp = read_experiment(exp_folder)
    variants = exp.finished_variants
    if not variants:
        return []
    styles = variant_styles(variants)
    jobs: list[FigureJob] = []
    if exp.kind == "function":
        objectives = {o.name: o for o in (_objective_of(v) for v in variants) if o is not None}
        if len(objectives) == 1:
            (objective,) = objectives.values()
            jobs.append((exp_folder / PATHS_PNG, lambda: _paths_figure(exp, variants, styles, objective)))
        if len(variants) <= MAX_PANELS:
            jobs.append((exp_folder / PATHS_PANELS_PNG, lambda: _paths_panels_figure(exp, variants, styles)))
        title = (
            f"{exp.name}: "
            + ("f(x_t) − f*" if all(o.min_value is not None for o in objectives.values()) else "f(x_t)")
            + " per step"
        )
        jobs.append((exp_folder / LOSS_PNG, lambda: _function_loss_figure(title, variants, styles)))
        return jobs
    if any(v.diagnosed for v in variants):
        jobs.append(
            (exp_folder / DIAGNOSTICS_PNG, lambda: _diagnostics_comparison_figure(exp, variants, styles))
        )
    jobs.append((exp_folder / LOSS_PNG, lambda: _training_loss_figure(exp, variants, styles)))
    jobs.append((exp_folder / ACCURACY_PNG, lambda: _heldout_figure(exp, variants, styles, "acc")))
    jobs.append((exp_folder / EVAL_LOSS_PNG, lambda: _heldout_figure(exp, variants, styles, "loss")))
    if "optimizer.lr" in exp.varied and any(len(m) > 1 for _, m in _lr_groups(exp, variants)):
        jobs.append((exp_folder / LR_SENSITIVITY_PNG, lambda: _lr_sensitivity_figure(exp, variants)))
    return jobs


def activation_figures(folder: Path) -> list[Path]:
    """histograms.png and gradients.png of an `optbench activations` folder; returns the PNGs written."""
    return render(_activation_jobs(folder))


def _activation_jobs(folder: Path) -> list[FigureJob]:
    result = read_activations(folder)
    if not result.cases:
        return []
    styles = activation_case_styles(result.cases)
    return [
        (folder / HISTOGRAMS_PNG, lambda: _histograms_figure(result, styles)),
        (folder / GRADIENTS_PNG, lambda: _gradients_figure(result, styles)),
    ]


def _tune_jobs(folder: Path) -> list[FigureJob]:
    """A tune folder's figures: tune_scores.png when it records a trial, expected_max.png when some
    optimizer has a random trial with a score, final_curves.png when some optimizer has a choice.

    The compare figures (a line per trial) are not drawn: a study's hundreds of trials are read
    through these three.
    """
    tune = read_tune(folder)
    jobs: list[FigureJob] = []
    if tune.trials:
        jobs.append((folder / TUNE_SCORES_PNG, lambda: tune_scores_figure(tune)))
    if any(tune.random_scores(o)[0] for o in tune.optimizers):
        jobs.append((folder / EXPECTED_MAX_PNG, lambda: expected_max_figure(tune)))
    if any(tune.chosen(o) is not None for o in tune.optimizers):
        jobs.append((folder / FINAL_CURVES_PNG, lambda: final_curves_figure(tune)))
    return jobs


def _draw(jobs: Sequence[FigureJob]) -> list[Path]:
    with _style():
        return [save_png(build(), path) for path, build in jobs]


def _draw_in_child(jobs: Sequence[FigureJob], errors: Any) -> None:
    """A forked drawing process: its figures, then an exit without traceback.

    What went wrong goes back to the parent through `errors`, which reports it once; an interrupt is
    the parent's to report.
    """
    try:
        _draw(jobs)
    except KeyboardInterrupt:
        os._exit(EXIT_INTERRUPTED)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
        os._exit(1)


def render(jobs: Sequence[FigureJob], processes: int = 1) -> list[Path]:
    """Draw and save every figure; with processes > 1, forked processes share the work.

    The jobs come first-listed-heaviest; they are dealt round-robin, this process drawing its share
    while the others draw theirs. Forking gives each process the data already read and matplotlib
    already imported, so a process costs only its drawing.
    """
    import multiprocessing as mp

    processes = min(processes, len(jobs))
    if processes <= 1 or "fork" not in mp.get_all_start_methods():
        return _draw(jobs)
    import matplotlib.figure  # noqa: F401  (imported once here, before the fork, not in every child)

    context = mp.get_context("fork")
    errors = context.SimpleQueue()
    children = [
        context.Process(target=_draw_in_child, args=(jobs[i::processes], errors), daemon=True)
        for i in range(1, processes)
    ]
    for child in children:
        child.start()
    try:
        _draw(jobs[0::processes])
    finally:
        for child in children:
            child.join()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if EXIT_INTERRUPTED in failed:
        raise KeyboardInterrupt
    if failed:
        reason = errors.get() if not errors.empty() else f"exit code {failed[0]}"
        raise OptbenchError(f"drawing figures failed: {reason}")
    return [path for path, _ in jobs]
