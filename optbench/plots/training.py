"""Figures of the dataset tasks' training: one run's curves, and variants compared (loss, test, lr)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.plain import value_at
from optbench.plots.axes import (
    BAND_ALPHA,
    DIVERGED_MARKER,
    NOTE_WIDTH,
    RAW_ALPHA,
    SINGLE,
    WIDE,
    _auto_log,
    _figure,
    _legend,
    _legend_label,
    _mark_divergence,
    _markers,
    _run_title,
)
from optbench.plots.style import Style, optimizer_color, variant_styles
from optbench.results import (
    ExperimentResult,
    RunResult,
    Variant,
    variant_label,
)
from optbench.stats import (
    SMOOTHING,
    TARGET_ACCURACY,
    FloatArray,
    aggregate,
    mean_std,
    smooth,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _curves_figure(run: RunResult) -> Figure:
    """Training loss raw and smoothed with test loss at evaluation steps; test accuracy beside."""
    fig, (ax_loss, ax_acc) = _figure(WIDE, 1, 2)
    color = optimizer_color(run.optimizer)
    steps, loss = run.curve("train_loss")
    smoothed = smooth(loss)
    ax_loss.plot(steps, loss, color=color, alpha=RAW_ALPHA, linewidth=0.8, label="training loss (raw)")
    ax_loss.plot(steps, smoothed, color=color, label=f"training loss (EMA β = {SMOOTHING:g})")
    test_steps, test_loss = run.curve("test_loss")
    ax_loss.plot(
        test_steps, test_loss, color=color, linestyle="--", label="test loss", marker="s", markersize=5
    )
    if run.state == "diverged":
        _mark_divergence(ax_loss, steps, smoothed, color)
    _auto_log(ax_loss, [loss, test_loss])
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title("loss" + (" (diverged)" if run.state == "diverged" else ""))
    ax_loss.legend(loc="best")
    acc_steps, acc = run.curve("test_acc")
    ax_acc.plot(acc_steps, acc, color=color, **_markers(acc_steps.size))
    _draw_accuracy_axis(ax_acc)
    ax_acc.set_title("test accuracy")
    ax_acc.legend(loc="best")
    fig.suptitle(f"{value_at(run.config, 'experiment') or ''}: {_run_title(run)}")
    return fig


def _draw_accuracy_axis(ax: Axes) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.axhline(
        TARGET_ACCURACY, color="0.3", linestyle=":", linewidth=1.2, label=f"target {TARGET_ACCURACY:.0%}"
    )
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlabel("step")
    ax.set_ylabel("test accuracy")


def _draw_seed_curves(
    ax: Axes, variant: Variant, style: Style, column: str, smoothed: bool
) -> list[FloatArray]:
    """One variant's curve: a single seed raw (faint) and smoothed, or the mean ± 1 std over seeds.

    Each seed is smoothed first and then averaged. Returns the arrays drawn (for the axis scale).
    """
    runs = variant.finished
    curves = [r.curve(column) for r in runs]
    if smoothed:
        curves = [(s, smooth(v)) for s, v in curves]
    label = _legend_label(variant)
    kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
    drawn: list[FloatArray] = []
    if len(runs) == 1:
        steps, values = curves[0]
        if smoothed:
            raw = runs[0].curve(column)[1]
            ax.plot(steps, raw, alpha=RAW_ALPHA, linewidth=0.8, color=style.color)
            drawn.append(raw)
        ax.plot(steps, values, label=label, **kwargs, **_markers(steps.size))
        drawn.append(values)
        if runs[0].state == "diverged":
            _mark_divergence(ax, steps, values, style.color)
        return drawn
    stats = aggregate(curves)
    ax.plot(stats.steps, stats.mean, label=label, **kwargs, **_markers(stats.steps.size))
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


def _titled(title: str, notes: Sequence[str]) -> str:
    """A title with its notes below it, wrapped to NOTE_WIDTH characters a line."""
    return "\n".join([title, *textwrap.wrap("; ".join(notes), NOTE_WIDTH)])


def _seeds_note(variants: Sequence[Variant]) -> str:
    if any(len(v.finished) > 1 for v in variants):
        return "line: mean over seeds, band: ±1 std"
    return ""


def _training_loss_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    fig, (ax,) = _figure(SINGLE)
    drawn: list[FloatArray] = []
    for variant, style in zip(variants, styles):
        drawn += _draw_seed_curves(ax, variant, style, "train_loss", smoothed=True)
    _auto_log(ax, drawn)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (cross-entropy)")
    notes = [f"smoothed: EMA β = {SMOOTHING:g}"]
    if any(len(v.finished) == 1 for v in variants):
        notes.append("faint: raw minibatch loss")
    notes += [n for n in [_seeds_note(variants)] if n]
    ax.set_title(_titled(f"{exp.name}: training loss", notes))
    _legend(fig, ax, outside=True)
    return fig


def _test_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style], column: str
) -> Figure:
    fig, (ax,) = _figure(SINGLE)
    drawn: list[FloatArray] = []
    for variant, style in zip(variants, styles):
        drawn += _draw_seed_curves(ax, variant, style, column, smoothed=False)
    what = "test accuracy" if column == "test_acc" else "test loss"
    if column == "test_acc":
        _draw_accuracy_axis(ax)
    else:
        _auto_log(ax, drawn)
        ax.set_xlabel("step")
        ax.set_ylabel("test loss (cross-entropy)")
    note = _seeds_note(variants)
    ax.set_title(_titled(f"{exp.name}: {what}", [note] if note else []))
    _legend(fig, ax, outside=True)
    return fig


def _lr_groups(exp: ExperimentResult, variants: Sequence[Variant]) -> list[tuple[str, list[Variant]]]:
    """Variants grouped by everything but the learning rate, each group sorted by lr."""
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        groups.setdefault(variant_label(v.config, exp.varied, exclude=("optimizer.lr",)), []).append(v)
    return [(label, sorted(members, key=lambda v: v.lr)) for label, members in groups.items()]


def _lr_sensitivity_figure(exp: ExperimentResult, variants: Sequence[Variant]) -> Figure:
    """Final test accuracy and final training loss against the learning rate (DeepOBS style)."""
    from matplotlib.ticker import PercentFormatter

    fig, (ax_acc, ax_loss) = _figure(WIDE, 1, 2)
    groups = _lr_groups(exp, variants)
    styles = variant_styles([members[0] for _, members in groups])
    drawn_loss: list[FloatArray] = []
    any_diverged = False
    for (label, members), style in zip(groups, styles):
        for ax, metric in ((ax_acc, "final_test_acc"), (ax_loss, "final_loss")):
            lrs, means, stds, diverged_lrs = [], [], [], []
            for v in members:
                values = [getattr(r, metric) for r in v.finished if r.state == "completed"]
                mean, std = mean_std(values)
                if math.isfinite(mean):
                    lrs.append(v.lr)
                    means.append(mean)
                    stds.append(std)
                if v.diverged:
                    diverged_lrs.append(v.lr)
            ax.errorbar(
                lrs,
                means,
                yerr=stds,
                color=style.color,
                linestyle=style.linestyle,
                marker="o",
                markersize=6,
                capsize=4,
                label=label if ax is ax_acc else None,
            )
            if diverged_lrs:
                any_diverged = True
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
    if any_diverged:
        ax_acc.plot([], [], color="0.3", label="diverged (at least one seed)", **DIVERGED_MARKER)
    for ax in (ax_acc, ax_loss):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
    ax_acc.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax_acc.set_ylabel("final test accuracy")
    ax_acc.set_title("final test accuracy")
    _auto_log(ax_loss, drawn_loss)
    ax_loss.set_ylabel("final training loss")
    ax_loss.set_title("final training loss (mean of the last steps)")
    seeds = " (mean ± 1 std over seeds)" if any(len(v.finished) > 1 for v in variants) else ""
    fig.suptitle(f"{exp.name}: learning-rate sensitivity{seeds}")
    _legend(fig, ax_acc, outside=True)
    return fig
