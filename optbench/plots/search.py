"""Figures of a random search of one optimizer's settings, as the book's
`hyperparameter_optimization.py` draws it: the best trials' validation (solid) and training (dashed)
accuracy per epoch, one panel each (best_trials.png); and where the good settings lie, every trial
at its two searched values coloured by its score, the best few framed (search_region.png).

"Best" is the study's score, best first, the lower trial number among equals (`best_trials`); the
region is `search_region` (both from `optbench.results`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.plots.axes import PANEL, add_legend, label_panels, new_figure, titled
from optbench.results import (
    SCORE_NAMES,
    TRAIN_ACC,
    TuneResult,
    Variant,
    best_trials,
    region_keys,
    search_region,
    seed_means,
)
from optbench.text import format_value

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BEST_SHOWN = 20
"""best_trials.png draws this many trials, as the book's figure (Best-1 ... Best-20)."""
BEST_COLUMNS = 5
VALIDATION_COLOR, TRAINING_COLOR = "#0072B2", "#D55E00"
REGION_COLOR = "#CC0000"
UNSCORED_MARKER: dict[str, Any] = {"marker": "x", "color": "0.45", "linestyle": "none", "markersize": 7}


AXIS_PAD = 0.04
"""The search region's axes span the searched range and this share of it more on each side."""


def _padded(bounds: tuple[float, float], log: bool) -> tuple[float, float]:
    """A searched range widened by AXIS_PAD on each side (in log space on a log axis)."""
    low, high = bounds
    if log and low > 0:
        factor = (high / low) ** AXIS_PAD
        return low / factor, high * factor
    pad = (high - low) * AXIS_PAD
    return low - pad, high + pad


def _value_text(value: Any) -> str:
    return f"{value:.2g}" if isinstance(value, float) else format_value(value)


def _short_key(key: str) -> str:
    """`lr`, `l2` of `model.l2`: a searched key as a panel's title gives it."""
    return key.rsplit(".", 1)[-1]


def best_trials_figure(tune: TuneResult) -> Figure:
    """The best trials' validation accuracy (solid) and training accuracy (dashed) per epoch, a panel
    each, best first, with the values the trial drew in its title."""
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    optimizer = tune.optimizers[0]
    shown = best_trials(tune, optimizer)[:BEST_SHOWN]
    ncols = min(BEST_COLUMNS, max(len(shown), 1))
    nrows = max(math.ceil(len(shown) / ncols), 1)
    fig, axes = new_figure((2.6 * ncols + 2.6, 2.1 * nrows + 1.2), nrows, ncols, sharex=True, sharey=True)
    keys = tune.searched.get(optimizer, [])
    for rank, (ax, trial) in enumerate(zip(axes, shown), start=1):
        variant = Variant(f"trial {trial.number}", trial.runs)
        for column, color, style in (("val_acc", VALIDATION_COLOR, "-"), (TRAIN_ACC, TRAINING_COLOR, "--")):
            epochs, values = seed_means(variant, column)
            ax.plot(epochs, values, color=color, linestyle=style)
        drew = ", ".join(f"{_short_key(k)} {_value_text(trial.params.get(k))}" for k in keys[:2])
        ax.set_title(f"Best-{rank} (trial {trial.number})\n{drew}", fontsize=9)
        ax.set_ylim(0.0, 1.0)
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    label_panels(axes, len(shown), "epoch", "accuracy")
    axes[0].plot([], [], color=VALIDATION_COLOR, label="validation accuracy")
    axes[0].plot([], [], color=TRAINING_COLOR, linestyle="--", label="training accuracy")
    title = f"{tune.experiment.name}: the best {len(shown)} of {len(tune.trials_of(optimizer))} trials"
    fig.suptitle(titled(title, [f"ranked by {tune.score_name}"]))
    add_legend(fig, axes[0], outside=True)
    return fig


def search_region_figure(tune: TuneResult) -> Figure:
    """Every trial at its two searched values (log axes where they were drawn log-uniformly),
    coloured by its score; trials without one as ×; the best few ringed and framed by their range."""
    from matplotlib.patches import Rectangle

    optimizer = tune.optimizers[0]
    keys = region_keys(tune, optimizer)
    assert keys is not None, "drawn only for a study that searches two numeric values"
    x_key, y_key = keys
    fig, (ax,) = new_figure((PANEL * 1.6 + 3.4, PANEL * 1.25 + 0.8))
    trials = tune.trials_of(optimizer)
    scored = [t for t in trials if t.finite]
    unscored = [t for t in trials if not t.finite]
    name = SCORE_NAMES.get(tune.metric, tune.metric)
    if scored:
        xs = np.array([float(t.params[x_key]) for t in scored])
        ys = np.array([float(t.params[y_key]) for t in scored])
        scores = np.array([t.score for t in scored])
        points = ax.scatter(
            xs, ys, c=scores, cmap="viridis", s=46, edgecolors="0.2", linewidths=0.4, clip_on=False, zorder=3
        )
        bar = fig.colorbar(points, ax=ax)
        bar.set_label(tune.score_name)
        if tune.metric == "val_acc":
            from matplotlib.ticker import PercentFormatter

            bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    if unscored:
        ax.plot(
            [float(t.params[x_key]) for t in unscored],
            [float(t.params[y_key]) for t in unscored],
            label="no score (diverged or failed)",
            **UNSCORED_MARKER,
        )
    region = search_region(tune, optimizer)
    if region is not None:
        (x_low, x_high), (y_low, y_high) = region.ranges
        ax.plot(
            [float(t.params[x_key]) for t in region.trials],
            [float(t.params[y_key]) for t in region.trials],
            linestyle="none",
            marker="o",
            markersize=13,
            markerfacecolor="none",
            markeredgecolor=REGION_COLOR,
            markeredgewidth=1.8,
            clip_on=False,
            zorder=4,
            label=f"the best {len(region.trials)} trials",
        )
        ax.add_patch(
            Rectangle(
                (x_low, y_low),
                x_high - x_low,
                y_high - y_low,
                fill=False,
                edgecolor=REGION_COLOR,
                linestyle="--",
                linewidth=1.2,
                label="their range: the good region",
            )
        )
    log = {key: tune.distribution(optimizer, key) == "log_uniform" for key in (x_key, y_key)}
    if log[x_key]:
        ax.set_xscale("log")
    if log[y_key]:
        ax.set_yscale("log")
    for key, set_limits in ((x_key, ax.set_xlim), (y_key, ax.set_ylim)):
        bounds = tune.search_range(optimizer, key)
        if bounds is not None:
            set_limits(*_padded(bounds, log[key]))
    y_bounds = tune.search_range(optimizer, y_key)
    if y_bounds is not None:
        # a log value axis is fitted to its data when the figure is saved (`axes.label_log_axis`):
        # the searched range counts as data, so the axis spans it, not only the trials drawn
        ax.update_datalim([(ax.get_xlim()[0], y_bounds[0]), (ax.get_xlim()[0], y_bounds[1])], updatex=False)
    ax.set_xlabel(f"{x_key} (searched)")
    ax.set_ylabel(f"{y_key} (searched)")
    ax.set_title(titled(f"{tune.experiment.name}: where the good settings lie", [f"colour: {name}"]))
    add_legend(fig, ax, outside=True)
    return fig
