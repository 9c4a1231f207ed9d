"""Figures of curves per epoch, as the chapter's second half draws them: training accuracy with and
without batch normalisation at each weight scale (the book's `batch_norm_test.py` grid, and a summary
against the scale), and training against held-out accuracy (`overfit_weight_decay.py`,
`overfit_dropout.py`), whose gap is overfitting.

Several seeds of a setting are drawn as their mean (`results.epochs.seed_means`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from optbench.plots.axes import DIVERGED_MARKER, PANEL, add_legend, label_panels, new_figure, titled
from optbench.results import (
    TRAIN_ACC,
    BatchNormPair,
    ExperimentResult,
    Variant,
    all_diverged,
    held_out_column,
    last_value,
    mean_over_epochs,
    seed_means,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WITH_BN: dict[str, Any] = {"color": "#0072B2", "linestyle": "-", "label": "with batch normalisation"}
WITHOUT_BN: dict[str, Any] = {"color": "#D55E00", "linestyle": "--", "label": "without"}
"""The two lines of a batch-normalisation panel: the book draws the normalised net solid, the plain one
dashed; Okabe–Ito blue and vermillion tell them apart without the dashes as well."""
GRID_PANEL = (3.1, 2.3)
"""Width and height in inches of one panel of the batch-normalisation grid (16 panels on a slide)."""
GAP_ALPHA = 0.25
"""Opacity of the shading between the training and the held-out curve: the gap."""


TRAIN_COLOR, HELD_OUT_COLOR, GAP_COLOR = "#0072B2", "#D55E00", "0.55"
"""train_test.png: the training curve, the held-out curve and the gap between them, in every panel."""


def _epoch_axis(ax: Axes) -> None:
    """An x axis of epochs, ticked at whole epochs."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True, min_n_ticks=1))


def _accuracy_axis(ax: Axes, label: bool = True) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    if label:
        ax.set_ylabel("accuracy")


def _seeds_note(variants: Sequence[Variant | None]) -> list[str]:
    seeds = {len(v.finished) for v in variants if v is not None}
    return ["mean over seeds"] if seeds and max(seeds) > 1 else []


def batch_norm_figure(exp: ExperimentResult, pairs: Sequence[BatchNormPair]) -> Figure:
    """One panel per setting (weight scale): training accuracy per epoch with batch normalisation
    (solid) and without (dashed), panels on shared axes, in rows of up to four as the book's 4×4."""
    ncols = min(4, math.ceil(math.sqrt(len(pairs))))
    nrows = math.ceil(len(pairs) / ncols)
    width, height = GRID_PANEL
    fig, axes = new_figure(
        (width * ncols + 2.6, height * nrows + 1.0), nrows, ncols, sharex=True, sharey=True
    )
    for ax, pair in zip(axes, pairs):
        diverged = []
        for variant, style in ((pair.with_bn, WITH_BN), (pair.without, WITHOUT_BN)):
            if variant is None:
                continue
            epochs, values = seed_means(variant, TRAIN_ACC)
            ax.plot(epochs, values, color=style["color"], linestyle=style["linestyle"])
            if all_diverged(variant):
                diverged.append((style, "with BN" if variant is pair.with_bn else "without"))
        for i, (style, which) in enumerate(diverged):
            # a run that diverged has no accuracy to draw: the panel says so, on a backing that keeps
            # it legible over the other line
            ax.text(
                0.5,
                0.06 + 0.16 * i,
                f"{which}: diverged",
                transform=ax.transAxes,
                ha="center",
                va="bottom",
                color=style["color"],
                fontsize=10,
                bbox={"facecolor": "white", "edgecolor": style["color"], "alpha": 0.9, "pad": 2},
            )
        ax.set_title(pair.label, fontsize=11)
        _accuracy_axis(ax, label=False)
        _epoch_axis(ax)
    label_panels(axes, len(pairs), "epoch", "training acc.")
    for style in (WITH_BN, WITHOUT_BN):
        axes[0].plot([], [], **style)
    by_scale = all(p.scale is not None for p in pairs)
    panel = "one panel per std of the initial weights" if by_scale else "one panel per setting"
    notes = [panel, *_seeds_note([p.with_bn for p in pairs])]
    fig.suptitle(titled(f"{exp.name}: training accuracy per epoch", notes))
    add_legend(fig, axes[0], outside=True)
    return fig


def batch_norm_summary_figure(exp: ExperimentResult, pairs: Sequence[BatchNormPair]) -> Figure:
    """Against the initial weights' std (log axis): the final training accuracy, and its mean over the
    epochs (the area under the curve, which says how fast it rose), with and without batch norm; a
    side that diverged is an × on the bottom edge."""
    fig, axes = new_figure((PANEL * 2 + 3.2, PANEL + 0.9), 1, 2, sharey=True)
    measures = (
        (last_value, "final training accuracy"),
        (mean_over_epochs, "mean training accuracy over the epochs\n(area under the curve: how fast)"),
    )
    for ax, (measure, title) in zip(axes, measures):
        for key, style in (("with_bn", WITH_BN), ("without", WITHOUT_BN)):
            points = [
                (p.scale, measure(v, TRAIN_ACC))
                for p in pairs
                if p.scale is not None and (v := getattr(p, key)) is not None
            ]
            if points:
                xs, ys = zip(*sorted(points))
                ax.plot(xs, ys, marker="o", **style)
            diverged = [p.scale for p in pairs if p.scale is not None and all_diverged(getattr(p, key))]
            if diverged:
                # a side that diverged has no accuracy: an × on the bottom edge marks its scale
                ax.plot(
                    diverged, [0.0] * len(diverged), color=style["color"], clip_on=False, **DIVERGED_MARKER
                )
                if ax is axes[0]:
                    what = "with batch normalisation" if key == "with_bn" else "without"
                    ax.plot([], [], color=style["color"], label=f"{what}: diverged", **DIVERGED_MARKER)
        ax.set_xscale("log")
        ax.set_xlabel("std of the initial weights")
        ax.set_title(title)
        _accuracy_axis(ax, label=ax is axes[0])
    axes[0].set_ylabel("training accuracy")
    notes = _seeds_note([p.with_bn for p in pairs])
    fig.suptitle(titled(f"{exp.name}: batch normalisation across weight scales", notes))
    add_legend(fig, axes[0], outside=True)
    return fig


def train_test_figure(exp: ExperimentResult, variants: Sequence[Variant]) -> Figure:
    """One panel per variant: training accuracy (solid, ○) and held-out accuracy (dashed, □) per
    epoch, the gap between them shaded, on shared axes; the legend gives each variant's final gap."""
    held = held_out_column([r for v in variants for r in v.finished]) or ("test_acc", "test")
    column, name = held
    ncols = min(len(variants), 3)
    nrows = math.ceil(len(variants) / ncols)
    fig, axes = new_figure(
        (PANEL * 1.25 * ncols + 2.8, PANEL * 0.95 * nrows + 1.0), nrows, ncols, sharey=True
    )
    for ax, variant in zip(axes, variants):
        epochs, train = seed_means(variant, TRAIN_ACC)
        held_epochs, held_values = seed_means(variant, column)
        every = max(1, epochs.size // 12)
        ax.plot(epochs, train, color=TRAIN_COLOR, marker="o", markevery=every, markersize=5)
        ax.plot(
            held_epochs,
            held_values,
            color=HELD_OUT_COLOR,
            linestyle="--",
            marker="s",
            markevery=every,
            markersize=5,
        )
        n = min(epochs.size, held_epochs.size)
        if n:
            ax.fill_between(
                epochs[:n], held_values[:n], train[:n], color=GAP_COLOR, alpha=GAP_ALPHA, linewidth=0
            )
            gap = train[n - 1] - held_values[n - 1]
            ax.set_title(f"{variant.label}\nfinal gap {100 * gap:.1f} points")
        else:
            ax.set_title(variant.label)
        ax.set_xlabel("epoch")
        _epoch_axis(ax)
        _accuracy_axis(ax, label=ax is axes[0])
    for ax in axes[len(variants) :]:
        ax.set_visible(False)
    axes[0].plot([], [], color=TRAIN_COLOR, marker="o", label="training accuracy")
    axes[0].plot([], [], color=HELD_OUT_COLOR, linestyle="--", marker="s", label=f"{name} accuracy")
    axes[0].fill_between([], [], [], color=GAP_COLOR, alpha=GAP_ALPHA, label="the gap (overfitting)")
    notes = _seeds_note(list(variants))
    fig.suptitle(titled(f"{exp.name}: training against {name} accuracy", notes))
    add_legend(fig, axes[0], outside=True)
    return fig
