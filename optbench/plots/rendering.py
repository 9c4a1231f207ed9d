"""Which figures a folder gets (figure jobs), and drawing them, in this process or in forked ones.

A folder's figures are drawn only when what they are drawn from has changed (`fingerprints`): the
jobs of a folder whose figures are current are none, found without reading the folder's results.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from optbench.errors import EXIT_INTERRUPTED, OptbenchError
from optbench.layout import (
    ACCURACY_PNG,
    BATCH_NORM_PNG,
    BATCH_NORM_SUMMARY_PNG,
    BEST_TRIALS_PNG,
    CURVES_PNG,
    DIAGNOSTICS_PNG,
    EVAL_LOSS_PNG,
    EXPECTED_MAX_PNG,
    FINAL_CURVES_PNG,
    GRADIENTS_PNG,
    LOSS_PNG,
    LR_SENSITIVITY_PNG,
    PATH_PNG,
    PATHS_PANELS_PNG,
    PATHS_PNG,
    SEARCH_REGION_PNG,
    TRAIN_TEST_PNG,
    TUNE_SCORES_PNG,
    histograms_png,
    report_order,
)
from optbench.plots.activations import gradients_figure, histograms_figure
from optbench.plots.axes import import_drawing, rc_style, save_png
from optbench.plots.diagnostics import diagnostics_comparison_figure, run_diagnostics_figure
from optbench.plots.epochs import batch_norm_figure, batch_norm_summary_figure, train_test_figure
from optbench.plots.fingerprints import inputs_digest, read_fingerprints
from optbench.plots.functions import (
    function_loss_figure,
    function_title,
    path_figure,
    paths_figure,
    paths_panels_figure,
)
from optbench.plots.search import best_trials_figure, search_region_figure
from optbench.plots.style import Style, activation_case_styles, optimizer_color, variant_styles
from optbench.plots.training import (
    curves_figure,
    heldout_figure,
    lr_groups,
    lr_sensitivity_figure,
    training_loss_figure,
)
from optbench.plots.tuning import expected_max_figure, final_curves_figure, tune_scores_figure
from optbench.results import (
    ActivationsResult,
    ExperimentResult,
    TuneResult,
    Variant,
    batch_norm_pairs,
    is_activations_folder,
    is_tune_folder,
    measured_per_epoch,
    read_activations,
    read_experiment,
    read_run,
    read_tune,
    records_train_acc,
    region_keys,
    search_region,
    variant_label,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


MAX_PANELS = 24
"""paths_panels.png is drawn for at most this many variants; beyond, panels are too small to read."""
MAX_LINES = 12
"""A batch-normalisation sweep of more variants than this gets its grid and summary only, not the
figures of a line per variant (loss, accuracy, eval_loss, diagnostics)."""
MAX_TRAIN_TEST = 6
"""train_test.png (a panel per variant) is drawn for at most this many variants."""


class FigureJob(NamedTuple):
    """Where a figure goes, how to draw it, and the digest of what it is drawn from (`fingerprints`;
    empty: not recorded)."""

    path: Path
    build: Callable[[], Figure]
    inputs: str = ""


def run_figures(run_folder: Path, processes: int = 1) -> list[Path]:
    """The figures of one run folder (what `optbench train` shows), drawn by up to `processes`
    processes at once; returns the PNGs written.

    Function task: path.png and loss.png. Dataset task: curves.png, and diagnostics.png when the run
    logged diagnostics. A run without metrics gets no figures. They are always drawn: a run folder
    is written anew by every `optbench train`.
    """
    run = read_run(run_folder)
    if not run.has_metrics or not run.config:
        return []
    jobs: list[FigureJob] = []
    if run.kind == "function":
        objective = run.objective
        if objective is None:
            return []
        variant = Variant(variant_label(run.config, (), show_lr=True), (run,))
        style = Style(optimizer_color(run.optimizer))
        jobs.append(FigureJob(run_folder / PATH_PNG, lambda: path_figure(run, objective)))
        jobs.append(
            FigureJob(
                run_folder / LOSS_PNG,
                lambda: function_loss_figure(function_title(objective), [variant], [style]),
            )
        )
    else:
        jobs.append(FigureJob(run_folder / CURVES_PNG, lambda: curves_figure(run)))
        if run.layers:
            jobs.append(FigureJob(run_folder / DIAGNOSTICS_PNG, lambda: run_diagnostics_figure(run)))
    return render(jobs, processes)


def experiment_figures(exp_folder: Path, processes: int = 1, force: bool = False) -> list[Path]:
    """The combined figures of an experiment folder, from its files; returns every figure it has,
    drawn now or already current, in the report's order.

    Only finished runs (completed or diverged) are drawn; an experiment with none gets no figures.
    Runs that measured their training accuracy get batch_norm.png and batch_norm_summary.png (runs
    with and without batch normalisation; over MAX_LINES variants, only those two) or train_test.png.
    Function tasks: paths.png, paths_panels.png (up to MAX_PANELS variants), loss.png. Dataset
    tasks: loss.png, accuracy.png, eval_loss.png, lr_sensitivity.png when some optimizer was run
    at two or more learning rates (everything else equal), and diagnostics.png when the runs logged
    diagnostics.
    An `optbench activations` folder gets its own figures (`activation_figures`), and a tune folder
    its own (`_tune_jobs`).
    A figure whose inputs and PNG have not changed since it was drawn is not drawn again, unless
    `force`. With `processes` > 1 the figures are drawn by that many processes at once.
    """
    render(figure_jobs(exp_folder, force), processes)
    return current_figures(exp_folder)


def current_figures(folder: Path) -> list[Path]:
    """The figures figures.json records for a folder, in the report's order."""
    return [folder / name for name in report_order(read_fingerprints(folder).figures)]


def figure_jobs(exp_folder: Path, force: bool = False) -> list[FigureJob]:
    """The figures of a folder that need drawing (all of them with `force`), heaviest first.

    None when every figure is current: drawn from the folder's present inputs by the present code,
    its PNG unchanged since (`fingerprints`); that is found without reading the folder's results.
    """
    inputs = inputs_digest(exp_folder)
    record = read_fingerprints(exp_folder)
    if not force and record.all_fresh(inputs):
        return []
    return [
        FigureJob(path, build, inputs)
        for path, build, _ in _all_jobs(exp_folder)
        if force or not record.fresh(path.name, inputs)
    ]


def figures_are_current(folder: Path) -> bool:
    """Whether every figure of a folder is current (`figure_jobs` would find none to draw)."""
    record = read_fingerprints(folder)
    return bool(record.figures) and record.all_fresh(inputs_digest(folder))


def _all_jobs(exp_folder: Path) -> list[FigureJob]:
    """Every figure an experiment, activations or tune folder gets, heaviest first."""
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
        objectives = {o.name: o for o in (v.objective for v in variants) if o is not None}
        if len(objectives) == 1:
            (objective,) = objectives.values()
            jobs.append(
                FigureJob(exp_folder / PATHS_PNG, lambda: paths_figure(exp, variants, styles, objective))
            )
        if len(variants) <= MAX_PANELS:
            jobs.append(
                FigureJob(exp_folder / PATHS_PANELS_PNG, lambda: paths_panels_figure(exp, variants, styles))
            )
        title = (
            f"{exp.name}: "
            + ("f(x_t) − f*" if all(o.min_value is not None for o in objectives.values()) else "f(x_t)")
            + " per step"
        )
        jobs.append(FigureJob(exp_folder / LOSS_PNG, lambda: function_loss_figure(title, variants, styles)))
        return jobs
    epoch_jobs = _epoch_jobs(exp_folder, exp, variants)
    if len(variants) > MAX_LINES and any(job.path.name == BATCH_NORM_PNG for job in epoch_jobs):
        # the grid shows every setting with and without batch norm; a line per variant would not read
        return epoch_jobs
    if any(v.diagnosed for v in variants):
        jobs.append(
            FigureJob(
                exp_folder / DIAGNOSTICS_PNG, lambda: diagnostics_comparison_figure(exp, variants, styles)
            )
        )
    jobs += epoch_jobs
    jobs.append(FigureJob(exp_folder / LOSS_PNG, lambda: training_loss_figure(exp, variants, styles)))
    jobs.append(FigureJob(exp_folder / ACCURACY_PNG, lambda: heldout_figure(exp, variants, styles, "acc")))
    jobs.append(FigureJob(exp_folder / EVAL_LOSS_PNG, lambda: heldout_figure(exp, variants, styles, "loss")))
    if "optimizer.lr" in exp.varied and any(len(m) > 1 for _, m in lr_groups(exp, variants)):
        jobs.append(FigureJob(exp_folder / LR_SENSITIVITY_PNG, lambda: lr_sensitivity_figure(exp, variants)))
    return jobs


def _epoch_jobs(exp_folder: Path, exp: ExperimentResult, variants: Sequence[Variant]) -> list[FigureJob]:
    """The figures of runs counted in epochs that measured their training accuracy (the chapter's
    second half, `measured_per_epoch`): with and without batch norm
    (batch_norm.png, and batch_norm_summary.png when the settings differ in the weights' std), or
    else training against held-out accuracy (train_test.png, up to MAX_TRAIN_TEST variants)."""
    if not measured_per_epoch([r for v in variants for r in v.finished]):
        return []
    pairs = batch_norm_pairs(exp)
    if pairs:
        jobs = [FigureJob(exp_folder / BATCH_NORM_PNG, lambda: batch_norm_figure(exp, pairs))]
        if sum(p.scale is not None for p in pairs) >= 2:
            jobs.append(
                FigureJob(exp_folder / BATCH_NORM_SUMMARY_PNG, lambda: batch_norm_summary_figure(exp, pairs))
            )
        return jobs
    if len(variants) > MAX_TRAIN_TEST:
        return []
    return [FigureJob(exp_folder / TRAIN_TEST_PNG, lambda: train_test_figure(exp, variants))]


def activation_figures(folder: Path, force: bool = False) -> list[Path]:
    """The figures of an `optbench activations` folder: histograms_<activation>.png per activation and
    gradients.png; returns every one, drawn now or already current (`experiment_figures`)."""
    return experiment_figures(folder, force=force)


def _activation_jobs(folder: Path) -> list[FigureJob]:
    """One figure of histograms per activation (its cases' rows, in config order), then gradients.png."""
    result = read_activations(folder)
    if not result.cases:
        return []
    styles = activation_case_styles(result.cases)
    activations = dict.fromkeys(c.activation for c in result.cases)
    jobs = [_histograms_job(folder, result, styles, activation) for activation in activations]
    jobs.append(FigureJob(folder / GRADIENTS_PNG, lambda: gradients_figure(result, styles)))
    return jobs


def _histograms_job(
    folder: Path, result: ActivationsResult, styles: Sequence[Style], activation: str
) -> FigureJob:
    picked = [i for i, case in enumerate(result.cases) if case.activation == activation]
    cases, case_styles = [result.cases[i] for i in picked], [styles[i] for i in picked]
    return FigureJob(
        folder / histograms_png(activation), lambda: histograms_figure(result, cases, case_styles)
    )


def _tune_jobs(folder: Path) -> list[FigureJob]:
    """A tune folder's figures: a search of one optimizer's settings gets `_search_jobs`' first;
    tune_scores.png when it records a trial, expected_max.png when some
    optimizer has a random trial with a score, final_curves.png when some optimizer has a choice.

    The compare figures (a line per trial) are not drawn: a study's hundreds of trials are read
    through these three.
    """
    tune = read_tune(folder)
    jobs: list[FigureJob] = []
    if len(tune.optimizers) == 1:
        jobs += _search_jobs(folder, tune)
    if tune.trials:
        jobs.append(FigureJob(folder / TUNE_SCORES_PNG, lambda: tune_scores_figure(tune)))
    if any(tune.random_scores(o)[0] for o in tune.optimizers):
        jobs.append(FigureJob(folder / EXPECTED_MAX_PNG, lambda: expected_max_figure(tune)))
    if any(tune.chosen(o) is not None for o in tune.optimizers):
        jobs.append(FigureJob(folder / FINAL_CURVES_PNG, lambda: final_curves_figure(tune)))
    return jobs


def _search_jobs(folder: Path, tune: TuneResult) -> list[FigureJob]:
    """A search of one optimizer's settings: search_region.png when it searches two numeric values
    and two trials have a score; best_trials.png when its trials measured their training accuracy."""
    optimizer = tune.optimizers[0]
    jobs: list[FigureJob] = []
    if region_keys(tune, optimizer) is not None and search_region(tune, optimizer) is not None:
        jobs.append(FigureJob(folder / SEARCH_REGION_PNG, lambda: search_region_figure(tune)))
    runs = [r for t in tune.trials_of(optimizer) for r in t.runs]
    if tune.kind == "dataset" and any(t.finite for t in tune.trials) and records_train_acc(runs):
        jobs.append(FigureJob(folder / BEST_TRIALS_PNG, lambda: best_trials_figure(tune)))
    return jobs


def _draw(jobs: Sequence[FigureJob], next_job: Callable[[], int]) -> None:
    """Draw jobs[next_job()] until next_job() runs past the end."""
    with rc_style():
        while (i := next_job()) < len(jobs):
            save_png(jobs[i].build(), jobs[i].path)


def _draw_in_child(jobs: Sequence[FigureJob], next_job: Callable[[], int], errors: Any) -> None:
    """A forked drawing process: the jobs it takes, then an exit without traceback.

    What went wrong goes back to the parent through `errors`, which reports it once; an interrupt is
    the parent's to report.
    """
    try:
        _draw(jobs, next_job)
    except KeyboardInterrupt:
        os._exit(EXIT_INTERRUPTED)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
        os._exit(1)
    os._exit(0)


def render(jobs: Sequence[tuple[Path, Callable[[], Figure]] | FigureJob], processes: int = 1) -> list[Path]:
    """Draw and save every figure; with processes > 1, forked processes share the work. Returns the
    PNGs written, and records in each folder's figures.json what they were drawn from.

    The jobs come heaviest first; each process takes the next job not yet taken whenever it is free,
    so the heaviest start first and the light ones fill in around them. Forking gives each process
    the data already read and matplotlib already imported, so a process costs only its drawing.
    """
    import multiprocessing as mp

    todo = [FigureJob(*job) for job in jobs]
    processes = min(processes, len(todo))
    if not todo:
        return []
    if processes <= 1 or "fork" not in mp.get_all_start_methods():
        taken = itertools.count()
        _draw(todo, lambda: next(taken))
        _record(todo)
        return [job.path for job in todo]
    import_drawing()  # once here, before the fork, not in every child
    context = mp.get_context("fork")
    counter = context.Value("i", 0)

    def next_job() -> int:
        with counter.get_lock():
            i = int(counter.value)
            counter.value = i + 1
        return i

    errors = context.SimpleQueue()
    children = [
        context.Process(target=_draw_in_child, args=(todo, next_job, errors), daemon=True)
        for _ in range(1, processes)
    ]
    for child in children:
        child.start()
    try:
        _draw(todo, next_job)
    finally:
        for child in children:
            child.join()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if EXIT_INTERRUPTED in failed:
        raise KeyboardInterrupt
    if failed:
        reason = errors.get() if not errors.empty() else f"exit code {failed[0]}"
        raise OptbenchError(f"drawing figures failed: {reason}")
    _record(todo)
    return [job.path for job in todo]


def _record(jobs: Sequence[FigureJob]) -> None:
    """Write into each folder's figures.json what its figures just drawn were drawn from."""
    recorded = [job for job in jobs if job.inputs]
    for folder, members in itertools.groupby(recorded, key=lambda job: job.path.parent):
        drawn = [(job.path.name, job.inputs) for job in members]
        read_fingerprints(folder).recorded(drawn).save()
