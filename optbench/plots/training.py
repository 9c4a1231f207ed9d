"""Figures of the dataset tasks' training: one run's curves, and variants compared (training loss,
validation and test curves, learning-rate sensitivity with the rate chosen on validation)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.measures import FINAL_LOSS_WINDOW
from optbench.plain import value_at
from optbench.plots.axes import (
    BAND_ALPHA,
    DIVERGED_MARKER,
    RAW_ALPHA,
    SINGLE,
    WIDE,
    add_legend,
    auto_log,
    legend_label,
    log_y,
    mark_divergence,
    new_figure,
    point_markers,
    run_title,
    step_axis,
    titled,
)
from optbench.plots.style import Style, optimizer_color, variant_styles
from optbench.results import ExperimentResult, RunResult, Variant, variant_label
from optbench.stats import SMOOTHING, TARGET_ACCURACY, FloatArray, aggregate, mean_std, smooth

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


HELDOUT = (("val", "validation", "-", "o"), ("test", "test", "--", "s"))
"""The held-out sets: (column prefix, name, line style, marker) of their curves."""


def _heldout_sets(runs: Sequence[RunResult]) -> list[tuple[str, str, str, str]]:
    """The held-out sets some run has numbers for: validation only where a split was held out."""
    return [h for h in HELDOUT if any(r.curve(f"{h[0]}_acc")[0].size for r in runs)]


def curves_figure(run: RunResult) -> Figure:
    """Training loss raw and smoothed with validation and test loss; the two accuracies beside."""
    fig, (ax_loss, ax_acc) = new_figure(WIDE, 1, 2)
    color = optimizer_color(run.optimizer)
    steps, loss = run.curve("train_loss")
    smoothed = smooth(loss)
    ax_loss.plot(steps, loss, color=color, alpha=RAW_ALPHA, linewidth=0.8, label="training loss (raw)")
    ax_loss.plot(steps, smoothed, color=color, label=f"training loss (EMA β = {SMOOTHING:g})")
    drawn = [loss]
    for prefix, name, linestyle, marker in _heldout_sets([run]):
        for ax, column, what in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
            held_steps, held = run.curve(f"{prefix}_{column}")
            ax.plot(
                held_steps,
                held,
                color=color,
                linestyle=linestyle,
                label=f"{name} {what}",
                marker=marker,
                markersize=5,
            )
            if ax is ax_loss:
                drawn.append(held)
    if run.state == "diverged":
        mark_divergence(ax_loss, steps, smoothed, color)
    auto_log(ax_loss, drawn)
    step_axis(ax_loss)
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("loss" + (" (diverged)" if run.state == "diverged" else ""))
    ax_loss.legend(loc="best")
    _draw_accuracy_axis(ax_acc, "accuracy")
    ax_acc.set_title("held-out accuracy")
    ax_acc.legend(loc="best")
    fig.suptitle(f"{value_at(run.config, 'experiment') or ''}: {run_title(run)}")
    return fig


def _draw_accuracy_axis(ax: Axes, label: str, target: float = TARGET_ACCURACY) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.axhline(target, color="0.3", linestyle=":", linewidth=1.2, label=f"target {target:.0%}")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    step_axis(ax)
    ax.set_ylabel(label)


def draw_seed_curves(
    ax: Axes, variant: Variant, style: Style, column: str, smoothed: bool, error: bool = False
) -> list[FloatArray]:
    """One variant's curve: a single seed raw (faint) and smoothed, or the mean ± 1 std over seeds;
    with `error`, an accuracy column is drawn as the error rate in per cent, 100 (1 − accuracy).

    Each seed is smoothed first and then averaged. Returns the arrays drawn (for the axis scale).
    """
    runs = variant.finished
    curves = [r.curve(column) for r in runs]
    if error:
        curves = [(s, 100.0 * (1.0 - v)) for s, v in curves]
    if smoothed:
        curves = [(s, smooth(v)) for s, v in curves]
    label = legend_label(variant)
    kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
    drawn: list[FloatArray] = []
    if len(runs) == 1:
        steps, values = curves[0]
        if smoothed:
            raw = runs[0].curve(column)[1]
            ax.plot(steps, raw, alpha=RAW_ALPHA, linewidth=0.8, color=style.color)
            drawn.append(raw)
        ax.plot(steps, values, label=label, **kwargs, **point_markers(steps.size))
        drawn.append(values)
        if runs[0].state == "diverged":
            mark_divergence(ax, steps, values, style.color)
        return drawn
    stats = aggregate(curves)
    ax.plot(stats.steps, stats.mean, label=label, **kwargs, **point_markers(stats.steps.size))
    ax.fill_between(
        stats.steps,
        stats.mean - stats.std,
        stats.mean + stats.std,
        color=style.color,
        alpha=BAND_ALPHA,
        linewidth=0,
    )
    for run, (steps, _) in zip(runs, curves):
        if run.state == "diverged" and steps.size:
            at = np.searchsorted(stats.steps, steps[-1])
            ax.plot([stats.steps[at]], [stats.mean[at]], color=style.color, **DIVERGED_MARKER)
    drawn += [stats.mean - stats.std, stats.mean + stats.std]
    return drawn


def _seeds_note(variants: Sequence[Variant]) -> str:
    if any(len(v.finished) > 1 for v in variants):
        return "line: mean over seeds, band: ±1 std"
    return ""


def training_loss_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """The smoothed training loss of every variant (mean ± 1 std over seeds, or one seed raw under it)."""
    fig, (ax,) = new_figure(SINGLE)
    drawn: list[FloatArray] = []
    for variant, style in zip(variants, styles):
        drawn += draw_seed_curves(ax, variant, style, "train_loss", smoothed=True)
    auto_log(ax, drawn)
    step_axis(ax)
    ax.set_ylabel("training loss (cross-entropy)")
    notes = [f"smoothed: EMA β = {SMOOTHING:g}"]
    if any(len(v.finished) == 1 for v in variants):
        notes.append("faint: raw minibatch loss")
    notes += [n for n in [_seeds_note(variants)] if n]
    ax.set_title(titled(f"{exp.name}: training loss", notes))
    add_legend(fig, ax, outside=True)
    return fig


def heldout_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style], metric: str
) -> Figure:
    """Accuracy (metric "acc") or loss ("loss") on the validation split and on the test set, side by
    side on a shared value axis: choices are made on the left panel, the right one is held out.

    Accuracy is drawn as its error rate, 1 − accuracy in per cent, on a log axis (`_error_axis`).
    """
    runs = [r for v in variants for r in v.finished]
    sets = _heldout_sets(runs) or [HELDOUT[1]]
    error = metric == "acc" and _errors_positive(runs, sets)
    fig, axes = new_figure(SINGLE if len(sets) == 1 else WIDE, 1, len(sets))
    drawn: list[FloatArray] = []
    for ax, (prefix, name, _, _) in zip(axes, sets):
        for variant, style in zip(variants, styles):
            drawn += draw_seed_curves(ax, variant, style, f"{prefix}_{metric}", smoothed=False, error=error)
        if error:
            _error_axis(ax, f"{name} error (%), log scale", exp.target_accuracy)
        elif metric == "acc":
            _draw_accuracy_axis(ax, f"{name} accuracy", exp.target_accuracy)
        else:
            step_axis(ax)
            ax.set_ylabel(f"{name} loss (cross-entropy)")
        role = " (choices are made here)" if prefix == "val" else (" (held out)" if len(sets) > 1 else "")
        ax.set_title(f"{name}{role}")
    if metric == "loss":
        for ax in axes:
            auto_log(ax, drawn)
    if len(sets) > 1:
        axes[1].sharey(axes[0])
    what = "error, 1 − accuracy" if error else ("accuracy" if metric == "acc" else "loss")
    note = _seeds_note(variants)
    fig.suptitle(titled(f"{exp.name}: held-out {what}", [note] if note else []))
    add_legend(fig, axes[-1], outside=True)
    return fig


def _errors_positive(runs: Sequence[RunResult], sets: Sequence[tuple[str, str, str, str]]) -> bool:
    """Whether every accuracy drawn is below 1, so that every error rate has a place on a log axis."""
    values = [r.curve(f"{prefix}_acc")[1] for r in runs for prefix, *_ in sets]
    finite = [v[np.isfinite(v)] for v in values]
    return any(v.size for v in finite) and all(bool(np.all(v < 1.0)) for v in finite)


def _error_axis(ax: Axes, label: str, target: float = TARGET_ACCURACY) -> None:
    """A log axis of error rates in per cent, with the target accuracy as the error it allows.

    A log axis of the error gives each halving of the error the same height: curves at 97 and
    97.5 % accuracy (3 and 2.5 % error) stand apart, while one at 50 % stays on the same axis.
    """
    ax.axhline(
        100.0 * (1.0 - target),
        color="0.3",
        linestyle=":",
        linewidth=1.2,
        label=f"target {target:.0%} accuracy",
    )
    log_y(ax)
    step_axis(ax)
    ax.set_ylabel(label)


def lr_groups(exp: ExperimentResult, variants: Sequence[Variant]) -> list[tuple[str, list[Variant]]]:
    """Variants grouped by everything but the learning rate, each group sorted by lr."""
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        groups.setdefault(variant_label(v.config, exp.varied, exclude=("optimizer.lr",)), []).append(v)
    return [(label, sorted(members, key=lambda v: v.lr)) for label, members in groups.items()]


CHOSEN_MARKER: dict[str, Any] = {
    "marker": "*",
    "markersize": 16,
    "markeredgecolor": "black",
    "linestyle": "none",
}
"""The learning rate each group's selection picks, in the lr-sensitivity figure."""
PARTLY_DIVERGED_MARKER: dict[str, Any] = {
    "marker": "o",
    "markersize": 12,
    "markerfacecolor": "white",
    "markeredgewidth": 2.2,
    "linestyle": "none",
    "zorder": 4,
}
"""A learning rate at which some seeds diverged: its point, the mean of the others, drawn hollow."""


def _final(variant: Variant, metric: str) -> tuple[float, float]:
    return mean_std([getattr(r, metric) for r in variant.finished if r.state == "completed"])


PartlyDiverged = tuple["Axes", float, float, int, int, str]
"""A rate at which some seeds diverged: (its panel, lr, the others' mean, seeds diverged, seeds, colour)."""


def _mark_partly_diverged(legend_ax: Axes, points: Sequence[PartlyDiverged]) -> None:
    """Draw hollow the points of rates where some seeds diverged, with a legend entry that says how
    many (`k of n seeds diverged`); where the counts differ, each point says its own (`k/n`)."""
    counts = sorted({(k, n) for _, _, _, k, n, _ in points})
    for ax, lr, mean, k, n, color in points:
        ax.plot([lr], [mean], markeredgecolor=color, **PARTLY_DIVERGED_MARKER)
        if len(counts) > 1:
            ax.annotate(f"{k}/{n}", (lr, mean), xytext=(8, 6), textcoords="offset points", color=color)
    if counts:
        (k, n), *others = counts
        what = "k/n seeds" if others else f"{k} of {n} seeds"
        label = f"{what} diverged (○: the rest)"
        legend_ax.plot([], [], markeredgecolor="0.3", label=label, **PARTLY_DIVERGED_MARKER)


def lr_sensitivity_figure(exp: ExperimentResult, variants: Sequence[Variant]) -> Figure:
    """Final held-out accuracy and final training loss against the learning rate (DeepOBS style).

    The accuracy panel shows validation accuracy when the runs hold a split out, with each group's
    best rate marked ★ (the rate a report chooses) and the test accuracy dashed beside it as the
    held-out result; without a split it shows test accuracy, and the mark says so.

    A point is the mean over the seeds that completed: where some seeds of a rate diverged, it is
    drawn hollow and the legend says how many (`PARTLY_DIVERGED_MARKER`); where all did, the rate
    has no point and an × on the bottom edge.
    """
    from matplotlib.ticker import PercentFormatter

    fig, (ax_acc, ax_loss) = new_figure(WIDE, 1, 2)
    groups = lr_groups(exp, variants)
    styles = variant_styles([members[0] for _, members in groups])
    validation = any(math.isfinite(r.final_val_acc) for v in variants for r in v.finished)
    chooser = "final_val_acc" if validation else "final_test_acc"
    panels = [(ax_acc, chooser, "-"), (ax_loss, "final_loss", "-")]
    if validation:
        panels.append((ax_acc, "final_test_acc", "--"))
    drawn_loss: list[FloatArray] = []
    all_diverged = False
    partly: list[PartlyDiverged] = []
    for (label, members), style in zip(groups, styles):
        for ax, metric, linestyle in panels:
            lrs, means, stds, diverged_lrs = [], [], [], []
            marked: list[tuple[float, float, int, int]] = []
            for v in members:
                mean, std = _final(v, metric)
                if math.isfinite(mean):
                    lrs.append(v.lr)
                    means.append(mean)
                    stds.append(std)
                    if v.diverged:
                        marked.append((v.lr, mean, len(v.diverged), len(v.finished)))
                elif v.diverged:
                    diverged_lrs.append(v.lr)
            held_out = metric == "final_test_acc" and validation
            ax.errorbar(
                lrs,
                means,
                yerr=stds,
                color=style.color,
                linestyle=linestyle if not held_out else "--",
                alpha=0.55 if held_out else 1.0,
                marker="o",
                markersize=4 if held_out else 6,
                capsize=4,
                label=label if ax is ax_acc and metric == chooser else None,
            )
            if metric == chooser and means:
                best = int(np.argmax(means))
                ax.plot([lrs[best]], [means[best]], color=style.color, **CHOSEN_MARKER)
            if not held_out:
                partly += [(ax, lr, mean, k, n, style.color) for lr, mean, k, n in marked]
            if diverged_lrs and not held_out:
                all_diverged = True
                ax.plot(
                    diverged_lrs,
                    [0.02] * len(diverged_lrs),
                    color=style.color,
                    transform=ax.get_xaxis_transform(),
                    clip_on=False,
                    **DIVERGED_MARKER,
                )
            if ax is ax_loss:
                drawn_loss.append(np.array(means))
    chosen = "chosen on validation" if validation else "best test accuracy (no validation split)"
    ax_acc.plot([], [], color="0.3", label=chosen, **CHOSEN_MARKER)
    if validation:
        ax_acc.plot([], [], color="0.3", linestyle="--", alpha=0.55, label="test accuracy (held out)")
    _mark_partly_diverged(ax_acc, partly)
    if all_diverged:
        ax_acc.plot([], [], color="0.3", label="every seed diverged", **DIVERGED_MARKER)
    for ax in (ax_acc, ax_loss):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
    ax_acc.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    name = "validation" if validation else "test"
    ax_acc.set_ylabel(f"final {name} accuracy")
    ax_acc.set_title(f"final {name} accuracy" + (" (dashed: test)" if validation else ""))
    auto_log(ax_loss, drawn_loss)
    ax_loss.set_ylabel("final training loss")
    ax_loss.set_title(f"final training loss\n(mean over the last {FINAL_LOSS_WINDOW} minibatches)")
    seeds = " (mean ± 1 std over seeds)" if any(len(v.finished) > 1 for v in variants) else ""
    fig.suptitle(f"{exp.name}: learning-rate sensitivity{seeds}")
    add_legend(fig, ax_acc, outside=True)
    return fig
