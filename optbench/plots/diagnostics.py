"""Figures of the per-layer diagnostics: one run's, and variants compared (a grid, or an overview)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.plots.axes import (
    PANEL,
    ZERO_NOTE,
    add_legend,
    draw_lines,
    figure_legend,
    legend_label,
    new_figure,
    point_markers,
    run_title,
    step_axis,
    wants_log,
)
from optbench.plots.style import Style
from optbench.results import ExperimentResult, RunResult, Variant, layer_widths
from optbench.stats import FloatArray, aggregate

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _distinct_differs(run: RunResult, layers: Sequence[int]) -> bool:
    widths = layer_widths(run.config, len(layers))
    for layer in layers:
        _, distinct = run.layer_curve(layer, "distinct_units")
        if layer in widths and np.any(distinct != widths[layer]):
            return True
    return False


@dataclass(frozen=True)
class Panel:
    """One per-layer diagnostics panel: the column it draws, its title and its value scale.

    scale "log": logarithmic whenever some value is positive (norms: a vanishing gradient spans
    decades); "auto": logarithmic when the positive values span LOG_SCALE_RATIO or more; "fraction":
    linear from 0 to 1.
    """

    column: str
    title: str
    scale: str


DIAGNOSTIC_PANELS = (
    Panel("grad_norm", "gradient norm ‖∂L/∂W‖", "log"),
    Panel("weight_norm", "weight norm ‖W‖", "log"),
    Panel("act_std", "activation std", "auto"),
    Panel("inactive_frac", "inactive fraction\n(dead ReLU units / saturated)", "fraction"),
)
DISTINCT_PANEL = Panel("distinct_units", "distinct units\n(of the layer's width)", "auto")
"""Added to the diagnostics figures when some layer has fewer distinct units than its width."""

ROW_LABEL_WIDTH = 22
"""Characters per line of a variant's name beside its row of diagnostics panels."""
MAX_DIAGNOSTIC_ROWS = 8
"""Up to this many variants, diagnostics.png has one row per variant with every layer over training;
beyond it, one compact figure with the first and last hidden layer of every variant."""


def _layer_name(layer: int, layers: Sequence[int]) -> str:
    return f"layer {layer}" + (" (output)" if layer == layers[-1] else "")


def _layer_colors(layers: Sequence[int]) -> list[str]:
    """Viridis from dark (the layer next to the inputs) to light (the output layer), as hex strings
    (matplotlib converts a colour given as text once and remembers it; an array, at every use)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in colormaps["viridis"](np.linspace(0.0, 0.9, max(len(layers), 1)))]


def run_diagnostics_figure(run: RunResult) -> Figure:
    """Every diagnostic per layer over training, one line per layer, norms on log axes."""
    layers = run.layers
    panels = list(DIAGNOSTIC_PANELS)
    if _distinct_differs(run, layers):
        panels.append(DISTINCT_PANEL)
    fig, axes = new_figure((PANEL * 3 + 0.5, PANEL * 2 * 0.85 + 0.6), 2, 3)
    zeros = False
    for ax, panel in zip(axes, panels):
        lines = []
        for color, layer in zip(_layer_colors(layers), layers):
            steps, values = run.layer_curve(layer, panel.column)
            if steps.size:
                kwargs = {"color": color, "label": _layer_name(layer, layers), **point_markers(steps.size)}
                lines.append((steps, values, kwargs))
        zeros |= draw_lines(ax, lines, wants_log([v for _, v, _ in lines], panel.scale))
        if panel.scale == "fraction":
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(panel.title)
        step_axis(ax)
    legend_ax = axes[len(panels)] if len(panels) < len(axes) else None
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    title = "layer (inputs → output)" + (f"\n{ZERO_NOTE}" if zeros else "")
    if legend_ax is not None:
        legend_ax.legend(handles, labels, loc="center", title=title)
    else:
        figure_legend(fig, handles, labels, title=title)
    fig.suptitle(f"diagnostics on a fixed probe batch: {run_title(run)}")
    return fig


def _diagnostics_grid_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """Rows = variants, columns = diagnostics, one line per layer over training (mean over seeds).

    A column shares its value axis, so a gradient that vanishes in one variant and not in another is
    seen at a glance; norms are on log axes, where an exact zero is marked ▼ on the bottom edge.
    """
    rows = [(v, st, runs) for v, st in zip(variants, styles) if (runs := v.diagnosed)]
    panels = list(DIAGNOSTIC_PANELS)
    if any(_distinct_differs(r, r.layers) for _, _, runs in rows for r in runs):
        panels.append(DISTINCT_PANEL)
    size = (PANEL * 0.8 * len(panels) + 2.2, PANEL * 0.6 * len(rows) + 1.2)
    # Shared within a column only: matplotlib places each axis label against the tick labels of every
    # axes sharing it, so sharing x across the whole grid would cost panels² measurements.
    fig, axes = new_figure(size, len(rows), len(panels), sharex="col", sharey="col")
    grid = np.array(axes, dtype=object).reshape(len(rows), len(panels))
    curves: dict[tuple[int, int], list[tuple[FloatArray, FloatArray, dict[str, Any]]]] = {}
    all_layers: list[int] = []
    for r, (_, _, runs) in enumerate(rows):
        layers = runs[0].layers
        all_layers = layers if len(layers) > len(all_layers) else all_layers
        for c, panel in enumerate(panels):
            curves[r, c] = []
            for color, layer in zip(_layer_colors(layers), layers):
                stats = aggregate([run.layer_curve(layer, panel.column) for run in runs])
                if stats.steps.size:
                    kwargs = {
                        "color": color,
                        "label": _layer_name(layer, layers),
                        **point_markers(stats.steps.size),
                    }
                    curves[r, c].append((stats.steps, stats.mean, kwargs))
    zeros = False
    for c, panel in enumerate(panels):
        log = wants_log([v for r in range(len(rows)) for _, v, _ in curves[r, c]], panel.scale)
        for r in range(len(rows)):
            ax = grid[r, c]
            zeros |= draw_lines(ax, curves[r, c], log)
            if panel.scale == "fraction":
                ax.set_ylim(-0.02, 1.02)
            if r == 0:
                ax.set_title(panel.title)
            if r == len(rows) - 1:
                step_axis(ax)
    for r, (variant, style, runs) in enumerate(rows):
        seeds = f"\n(mean of {len(runs)} seeds)" if len(runs) > 1 else ""
        label = "\n".join(textwrap.wrap(variant.label, ROW_LABEL_WIDTH))
        grid[r, 0].set_ylabel(f"{label}{seeds}", color=style.color, fontweight="bold")
    longest = max(range(len(rows)), key=lambda r: len(curves[r, 0]))
    handles, labels = grid[longest, 0].get_legend_handles_labels()
    figure_legend(fig, handles, labels, title="layer (inputs → output)" + (f"\n{ZERO_NOTE}" if zeros else ""))
    fig.suptitle(f"{exp.name}: diagnostics per layer on a fixed probe batch (rows: variants)")
    return fig


def _per_layer(run: RunResult, column: str, final: bool) -> tuple[FloatArray, FloatArray]:
    """(hidden layer numbers, value) at the first (step 0) or the last diagnostics step of a run."""
    assert run.diagnostics is not None
    diag = run.diagnostics
    layers = run.layers[:-1]
    steps = diag["step"][np.isfinite(diag[column])]
    if steps.size == 0:
        return np.empty(0), np.empty(0)
    at = steps.max() if final else steps.min()
    rows = (diag["step"] == at) & np.isin(diag["layer"], layers) & np.isfinite(diag[column])
    return diag["layer"][rows], diag[column][rows]


def _diagnostics_overview_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """Gradient norms of the first and last hidden layer over training; per-layer state at start and end.

    For many variants: means over seeds only, without bands, so that four panels stay readable.
    """
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure((12.5, 8.5), 2, 2)
    ax_first, ax_last, ax_inactive, ax_std = axes
    grads: dict[Any, list[tuple[FloatArray, FloatArray, dict[str, Any]]]] = {ax_first: [], ax_last: []}
    for variant, style in zip(variants, styles):
        runs = variant.diagnosed
        if not runs:
            continue
        layers = runs[0].layers
        hidden = layers[:-1] or layers
        kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
        for ax, layer in ((ax_first, hidden[0]), (ax_last, hidden[-1])):
            stats = aggregate([r.layer_curve(layer, "grad_norm") for r in runs])
            label = legend_label(variant) if ax is ax_first else None
            grads[ax].append(
                (stats.steps, stats.mean, {**kwargs, "label": label, **point_markers(stats.steps.size)})
            )
            ax.set_title(f"gradient norm, hidden layer {layer}")
        for ax, column in ((ax_inactive, "inactive_frac"), (ax_std, "act_std")):
            for final, alpha in ((False, 0.5), (True, 1.0)):
                stats = aggregate([_per_layer(r, column, final) for r in runs])
                ax.plot(
                    stats.steps,
                    stats.mean,
                    color=style.color,
                    alpha=alpha,
                    marker="o",
                    linestyle="-" if final else "--",
                )
    log = wants_log([v for lines in grads.values() for _, v, _ in lines], "log")
    zeros = False
    for ax, lines in grads.items():
        zeros |= draw_lines(ax, lines, log)
        step_axis(ax)
        ax.set_ylabel("‖∂L/∂W‖")
    for ax, title in ((ax_inactive, "inactive fraction (dead ReLU / saturated)"), (ax_std, "activation std")):
        ax.set_xlabel("hidden layer")
        ax.set_title(f"{title}\ndashed: step 0, solid: end of training")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_inactive.set_ylim(-0.02, 1.02)
    ax_std.set_ylabel("std of the layer's outputs")
    ax_inactive.set_ylabel("fraction")
    seeds = " (mean over seeds)" if any(len(v.finished) > 1 for v in variants) else ""
    zero_note = f"; {ZERO_NOTE}" if zeros else ""
    fig.suptitle(f"{exp.name}: diagnostics on a fixed probe batch{seeds}{zero_note}")
    add_legend(fig, ax_first, outside=True)
    return fig


def diagnostics_comparison_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """One row per variant (up to MAX_DIAGNOSTIC_ROWS variants), else the compact overview."""
    if sum(1 for v in variants if v.diagnosed) <= MAX_DIAGNOSTIC_ROWS:
        return _diagnostics_grid_figure(exp, variants, styles)
    return _diagnostics_overview_figure(exp, variants, styles)
