"""Figures of the activation-distribution experiment: each layer's output histograms, and its gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from optbench.nn import ACTIVATIONS
from optbench.plots.axes import ZERO_NOTE, add_legend, draw_lines, new_figure, wants_log
from optbench.plots.style import Style, shade
from optbench.results import ActivationCaseResult, ActivationsResult
from optbench.stats import FloatArray
from optbench.text import format_percent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


ACTIVATION_MARKERS = {"sigmoid": "o", "relu": "s", "tanh": "^"}
"""Point marker of each activation in gradients.png; others get a diamond."""

HIST_PANEL = (2.3, 1.55)
"""Width and height in inches of one histogram panel: 3 cases × 5 layers fit in about 13 × 6 inches."""
HIST_ALPHA = 0.85
HIST_HEADROOM = 1.08
"""A row's value axis ends this factor above its highest bar."""


def _case_note(case: ActivationCaseResult, k: int) -> str:
    """std and, where they mean something, the saturated (sigmoid, tanh) or zero (ReLU) share of a layer."""
    parts = [f"std {case['std'][k]:.2g}"]
    if case.bounded:
        parts.append(f"sat {format_percent(float(case['saturated_frac'][k]))}")
    elif case.activation == "relu":
        parts.append(f"zero {format_percent(float(case['zero_frac'][k]))}")
    return " · ".join(parts)


def _range_note(activation: str) -> str:
    """What the horizontal axis of an activation's histograms spans, and what the notes mean."""
    from optbench.measures import HISTOGRAM_QUANTILE, SATURATION_MARGIN

    found = ACTIVATIONS.get(activation)
    bounds = found.bounds if found is not None else None
    if bounds is not None:
        low, high = (f"{b:g}".replace("-", "−") for b in bounds)
        return f"range ({low}, {high}); sat: outputs within {SATURATION_MARGIN:g} of a bound"
    quantile = f"the case's {HISTOGRAM_QUANTILE:.1%} quantile of |output|"
    if activation == "relu":
        return f"range [0, {quantile} > 0]; hatched: outputs exactly 0, in the first bin as in the book"
    return f"range ± {quantile}"


def histograms_figure(
    result: ActivationsResult, cases: Sequence[ActivationCaseResult], styles: Sequence[Style]
) -> Figure:
    """Rows = the cases of one activation, columns = layers: the histogram of each layer's outputs,
    as in the lecture.

    Bars are the share of the layer's N × H outputs in each bin, on a value axis shared along a row.
    A ReLU's exact zeros (half its outputs) are in the first bin, as in the book, hatched: the row's
    axis is fitted to the other outputs, as the book fits its axis, and a first bar that reaches
    beyond it is cut at the top, its height written beside it (`_draw_zeros`).
    """
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    ncols = max(len(c.layers) for c in cases)
    width, height = HIST_PANEL
    size = (width * ncols + 1.4, height * len(cases) + 1.3)
    fig, axes = new_figure(size, len(cases), ncols, sharex="row", sharey="row")
    total = result.outputs_per_layer
    for r, (case, style) in enumerate(zip(cases, styles)):
        edges = np.linspace(case.hist_low, case.hist_high, case.counts.shape[1] + 1)
        shares = case.counts / total if total else case.counts.astype(np.float64)
        zeros = _zero_shares(case, total)
        rest = shares.copy()
        rest[:, 0] -= np.minimum(zeros, rest[:, 0])
        top = float(rest.max()) or float(shares.max())
        limit = top * HIST_HEADROOM if top > 0 else 1.0
        row = axes[r * ncols : (r + 1) * ncols]
        for k, ax in enumerate(row):
            if k >= len(case.layers):
                ax.set_visible(False)
                continue
            ax.stairs(shares[k], edges, fill=True, color=style.color, alpha=HIST_ALPHA)
            if zeros[k] > 0:
                _draw_zeros(ax, edges, float(zeros[k]), float(shares[k][0]), limit, style.color)
            ax.set_xlim(case.hist_low, case.hist_high)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=8)
            note = _case_note(case, k)
            ax.set_title(f"layer {case.layers[k]}\n{note}" if r == 0 else note, fontsize=9)
            ax.grid(axis="x", visible=False)
            if r == len(cases) - 1:
                ax.set_xlabel("output", fontsize=9)
        row[0].set_ylim(0, limit)
        if total:
            row[0].yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        row[0].set_ylabel(
            _row_label(case.label), color=shade(style.color, 1, 2), fontweight="bold", fontsize=10
        )
    activation = cases[0].activation
    share = f"share of the layer's {total:,} outputs" if total else "outputs"
    fig.suptitle(
        f"{result.name}: {activation}, each layer's outputs at initialisation (rows: cases)\n"
        f"bars: {share} per bin; {_range_note(activation)}",
        fontsize=11,
    )
    return fig


ROW_LABEL_CHARS = 18
"""A case's label longer than this is written beside its row on one line per part (`std=1 +`, ...):
the row is only HIST_PANEL high."""


def _row_label(label: str) -> str:
    return label.replace(" + ", " +\n") if len(label) > ROW_LABEL_CHARS else label


ZERO_HATCH = "////"
"""The hatching of the part of a histogram's first bar that is exact zeros."""


def _zero_shares(case: ActivationCaseResult, total: int | None) -> FloatArray:
    """Per layer, the share of outputs exactly 0 that a ReLU case's first bin holds; none for other
    activations, whose zeros are where their values fall, or when the bars are counts (`total`
    unknown)."""
    if not total or case.activation != "relu" or case.hist_low != 0.0:
        return np.zeros(len(case.layers))
    return np.nan_to_num(case["zero_frac"])


def _draw_zeros(ax: Axes, edges: FloatArray, zeros: float, first: float, limit: float, color: str) -> None:
    """The exact zeros, hatched, at the bottom of the first bar (of height `first`); a first bar
    taller than the axis (`limit`) is cut at its top, its height written beside it (▲ 54%)."""
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle(
            (edges[0], 0.0),
            edges[1] - edges[0],
            min(zeros, first, limit),
            facecolor="none",
            edgecolor=shade(color, 1, 2),
            hatch=ZERO_HATCH,
            linewidth=0.0,
        )
    )
    if first > limit:
        ax.annotate(
            f"▲ {format_percent(first)}",
            (edges[1], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -2),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=shade(color, 1, 2),
        )


def gradients_figure(result: ActivationsResult, styles: Sequence[Style]) -> Figure:
    """Per layer, on one backward pass: ‖∂L/∂W‖, the std of ∂L/∂a and the std of the outputs (log axes)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure((16.0, 5.4), 1, 3)
    panels = (
        ("grad_norm", "weight gradient ‖∂L/∂W‖"),
        ("delta_std", "std of ∂L/∂a (pre-activation gradient)"),
        ("std", "std of the layer's outputs"),
    )
    zeros = False
    for ax, (column, title) in zip(axes, panels):
        lines = []
        for case, style in zip(result.cases, styles):
            kwargs = {
                "color": style.color,
                "linestyle": style.linestyle,
                "marker": ACTIVATION_MARKERS.get(case.activation, "D"),
                "markersize": 6,
                "label": case.label if ax is axes[0] else None,
            }
            lines.append((case.layers.astype(np.float64), case[column], kwargs))
        zeros |= draw_lines(ax, lines, wants_log([v for _, v, _ in lines], "log"))
        ax.set_title(title)
        ax.set_xlabel("hidden layer (input → output)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    zero_note = f"; {ZERO_NOTE}" if zeros else ""
    readout = f"{result.readout_classes}-class " if result.readout_classes else ""
    fig.suptitle(
        f"{result.name}: one backward pass at initialisation, cross-entropy of a linear "
        f"{readout}read-out{zero_note}"
    )
    add_legend(fig, axes[0], outside=True)
    return fig
