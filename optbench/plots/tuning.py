"""Figures of a tuning study: the expected best score against the number of trials, every trial's
score against its learning rate, the chosen settings' learning curves; and the performance profile
of several studies.

Each optimizer keeps its colour from `plots.style`, and a panel of its own in the figures that
compare trials. A study's figures are placed by `placement`; the profile keeps fixed margins.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.plots.axes import (
    BAND_ALPHA,
    DPI,
    MINOR_LABEL_RATIO,
    PANEL,
    SINGLE,
    add_legend,
    auto_log,
    figure_legend,
    label_log_axis,
    label_panels,
    new_figure,
    point_markers,
    rc_style,
    save_png,
    step_axis,
    titled,
)
from optbench.plots.functions import function_loss_figure
from optbench.plots.style import Style, optimizer_color
from optbench.plots.training import CHOSEN_MARKER, draw_seed_curves
from optbench.results import COLUMNS, SCORE_NAMES, PerformanceProfile, TrialResult, TuneResult, Variant
from optbench.stats import FloatArray
from optbench.text import format_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Margins:
    """Space around the panels, in inches, so that it stays the same whatever the figure's size."""

    left: float = 0.9
    right: float = 0.25
    top: float = 0.75
    bottom: float = 0.65
    wspace: float = 0.25
    hspace: float = 0.7


LEGEND_SPACE = 3.3
"""Inches kept free on the right of a one-panel figure for its legend."""
LEGEND_WRAP = 30
"""Characters per line of a legend label in that space; longer lines are wrapped."""
LOG_TRIALS = 10
"""The number-of-trials axis turns logarithmic from this many trials on (as in Dodge et al. 2019)."""
PANEL_COLUMNS = 3
"""A study's figures put at most this many optimizers' panels side by side (four go in two rows of two)."""
PANEL_HEIGHT = 0.8 * PANEL
"""Height in inches of one optimizer's panel."""
DEFAULT_MARKER: dict[str, Any] = {
    "marker": "D",
    "markersize": 8,
    "markerfacecolor": "white",
    "markeredgewidth": 2,
    "linestyle": "none",
}
"""Trial 0, an optimizer's defaults."""
UNSCORED_MARKER: dict[str, Any] = {
    "marker": "x",
    "markersize": 9,
    "markeredgewidth": 2,
    "linestyle": "none",
    "clip_on": False,
}
"""A trial without a score (diverged or failed), on the bottom edge of its panel."""
TRIAL_MARKER: dict[str, Any] = {"marker": "o", "markersize": 6, "alpha": 0.75, "linestyle": "none"}
PROFILE_HEADROOM = 0.05
"""A profile's τ axis reaches beyond its largest finite ratio by this share of its log span, ..."""
PROFILE_MIN_HEADROOM = 1.05
"""... and at least by this factor, ..."""
PROFILE_MIN_TAU = 1.1
"""... and to at least this τ, so that a profile of ties still shows a range."""
PROFILE_OFFSET = 0.008
"""Each optimizer's steps are drawn this much (a share of tasks) above the one before, centred on the
true value, so that equal shares (every optimizer at 100 % at the right) do not hide each other."""
PROFILE_TICKS = (1.0, 1.01, 1.02, 1.05, 1.1, 1.2, 1.5, 2.0, 3.0, 5.0)
"""Plain τ ticks of a profile below 10; from 10 on, the powers of ten."""
PROFILE_MAX_TICKS = 7
"""At most this many labelled τ on a profile's axis, spread evenly over its log span."""
PROFILE_PANEL = (4.6, 4.6)
"""Width and height in inches of one kind of task's panel of performance_profile.png."""


def _fixed_figure(
    size: tuple[float, float],
    nrows: int = 1,
    ncols: int = 1,
    margins: Margins = Margins(),
    sharey: bool = False,
) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    width, height = size
    fig = Figure(figsize=size, dpi=DPI)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    fig.subplots_adjust(
        left=margins.left / width,
        right=1.0 - margins.right / width,
        top=1.0 - margins.top / height,
        bottom=margins.bottom / height,
        wspace=margins.wspace * ncols / max(width - margins.left - margins.right, 1.0),
        hspace=margins.hspace * nrows / max(height - margins.top - margins.bottom, 1.0),
    )
    return fig, list(axes.ravel())


def _legend_right(fig: Figure, ax: Axes, margins: Margins) -> None:
    """The legend in the space kept free on the right of a one-panel figure."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        labels = ["\n".join(_wrap(line) for line in label.split("\n")) for label in labels]
        width, height = fig.get_size_inches()
        x = 1.0 - (margins.right - 0.15) / width
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(x, 1.0 - margins.top / height))


TITLE_WIDTH = 85
"""Characters per line of the notes under a one-panel figure's title (they may reach over the legend)."""
TITLE_LINE = 0.2
"""Inches of top margin per line of a one-panel figure's title."""


def _one_panel(title: str, notes: Sequence[str]) -> tuple[Figure, Axes, Margins]:
    """A one-panel figure with its legend's space on the right and its title (the notes wrapped under
    it, left-aligned) in a top margin as tall as the title needs."""
    lines = [title, *textwrap.wrap("; ".join(notes), TITLE_WIDTH)]
    margins = Margins(right=LEGEND_SPACE, top=0.3 + TITLE_LINE * len(lines))
    fig, (ax,) = _fixed_figure(SINGLE, margins=margins)
    ax.set_title("\n".join(lines), fontsize=10, loc="left")
    return fig, ax, margins


def _wrap(line: str) -> str:
    return "\n".join(textwrap.wrap(line, LEGEND_WRAP)) or line


def _score_axis(tune: TuneResult) -> tuple[float, str]:
    """What the value axis shows: the score, or f − f* for a function whose minimum is known (so that
    a log axis can show how close each run got); returns (f* or 0, the axis label)."""
    f_star = tune.min_value
    if f_star is not None:
        word = "final" if tune.mode == "final" else "lowest"
        return f_star, f"{word} f − f*"
    return 0.0, tune.score_name


def _value_axis(ax: Axes, tune: TuneResult, values: Sequence[FloatArray]) -> None:
    """Percent for an accuracy; for a loss, log when the values drawn span decades."""
    if tune.maximise:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    else:
        auto_log(ax, values)


def _leading(value: float) -> int:
    """The leading digit of a positive number: 2 for 20 and 0.2."""
    return round(value / 10.0 ** math.floor(math.log10(value))) if value > 0 else 0


def _trials_axis(ax: Axes, n_max: int) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    if n_max >= LOG_TRIALS:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        marked = FuncFormatter(lambda value, _: f"{value:g}" if _leading(value) in (2, 5) else "")
        ax.xaxis.set_minor_formatter(marked)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.9 if n_max >= LOG_TRIALS else 0.5, n_max * 1.1 if n_max >= LOG_TRIALS else n_max + 0.5)


def _random_text(tune: TuneResult, optimizer: str) -> str:
    """`7 random + defaults`: the trials an optimizer's curve of expected_max.png is drawn from, and
    those left out of it for want of a score."""
    scored, left_out = tune.random_scores(optimizer)
    defaults = " + defaults" if tune.default(optimizer) is not None else ""
    missing = f" ({left_out} unscored)" if left_out else ""
    return f"{len(scored)} random{defaults}{missing}"


def expected_max_figure(tune: TuneResult) -> Figure:
    """E[best score of n random trials] against n (Dodge et al. 2019): a panel per optimizer on a
    shared value axis, with its line, its ±1 std band and its trial 0 (the defaults, no random draw)
    marked ◇ on the left edge at its score; the other optimizers' lines in grey behind, to compare.

    The value axis is fitted to the curves, the figure's subject (the bands do not widen it); a
    default outside it sits on the edge it lies beyond, as a triangle pointing out, with its value.
    """
    optimizers = tune.optimizers
    fig, axes = _optimizer_panels(len(optimizers), sharex=True)
    shift, label = _score_axis(tune)
    curves = {o: tune.expected_max(o) for o in optimizers}
    drawn = [mean - shift for mean, _ in curves.values() if mean.size]
    n_max = max((mean.size for mean, _ in curves.values()), default=1)
    for ax, optimizer in zip(axes, optimizers):
        mean, std = curves[optimizer]
        color = optimizer_color(optimizer)
        for other, (other_mean, _) in curves.items():
            if other != optimizer and other_mean.size:
                n = np.arange(1, other_mean.size + 1, dtype=np.float64)
                ax.plot(n, other_mean - shift, **OTHERS_LINE)
        ax.set_title(f"{optimizer}: {_random_text(tune, optimizer)}", color=color, fontsize=11)
        if not mean.size:
            ax.text(0.5, 0.5, "no random trial with a score", transform=ax.transAxes, ha="center")
            continue
        n = np.arange(1, mean.size + 1, dtype=np.float64)
        y = mean - shift
        ax.plot(n, y, color=color, zorder=3, **point_markers(n.size))
        scores = np.asarray(tune.random_scores(optimizer)[0]) - shift
        _band(ax, n, np.clip(y - std, scores.min(), None), np.clip(y + std, None, scores.max()), color)
    for ax in axes[len(optimizers) :]:
        ax.set_visible(False)
    _trials_axis(axes[0], n_max)
    _value_axis(axes[0], tune, drawn)
    if axes[0].get_yscale() == "log":
        label_log_axis(axes[0])  # the limits save_png will give it, known now so that defaults beyond show so
    elif drawn:
        _fit_to(axes[0], np.concatenate(drawn))
    beyond = [_draw_default(ax, tune, optimizer, shift) for ax, optimizer in zip(axes, optimizers)]
    label_panels(axes, len(optimizers), "number of random trials n", label)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    keys = {
        "expected best of n random trials": Line2D([], [], color="0.3", **point_markers(1)),
        "±1 std (within the scores seen)": Patch(color="0.3", alpha=BAND_ALPHA, linewidth=0),
    }
    if len(optimizers) > 1:
        keys["the other optimizers"] = Line2D([], [], **OTHERS_LINE)
    default = "trial 0, the defaults" + (" (▼▲ with its value: beyond the axis)" if any(beyond) else "")
    keys[default] = Line2D([], [], color="0.3", **DEFAULT_MARKER)
    figure_legend(fig, list(keys.values()), list(keys))
    better = "higher" if tune.maximise else "lower"
    notes = [f"{better} is better"]
    if tune.sampler == "tpe":
        notes.append("tpe: the trials are not independent draws, the curves describe the trials seen")
    fig.suptitle(f"{tune.experiment.name}: the expected best of n random trials ({'; '.join(notes)})")
    return fig


OTHERS_LINE: dict[str, Any] = {"color": "0.72", "linewidth": 1.2, "zorder": 1}
"""The other optimizers' lines, behind an optimizer's own in its panel of expected_max.png."""


def _optimizer_panels(count: int, sharex: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of one panel per optimizer on a shared value axis: one panel of a slide's size with
    its legend beside it, or a grid of up to PANEL_COLUMNS a row (four: two rows of two) with its
    legend under it."""
    if count <= 1:
        return new_figure(SINGLE, sharey=True)
    ncols = 2 if count == 4 else min(count, PANEL_COLUMNS)
    nrows = math.ceil(count / ncols)
    size = (ncols * PANEL + 0.8, nrows * PANEL_HEIGHT + 1.5)
    return new_figure(size, nrows, ncols, legend_below=True, sharex=sharex, sharey=True)


def _band(ax: Axes, x: FloatArray, low: FloatArray, high: FloatArray, color: str) -> None:
    """A ±1 std band that leaves the axis limits to the curves (fill_between would widen them)."""
    from matplotlib.collections import PolyCollection

    outline = np.column_stack([np.concatenate([x, x[::-1]]), np.concatenate([low, high[::-1]])])
    band = PolyCollection([outline], facecolors=color, alpha=BAND_ALPHA, linewidths=0)
    ax.add_collection(band, autolim=False)


CURVE_MARGIN = 0.08
"""Space above and below the expected-max curves on a linear axis, as a fraction of their span."""


def _fit_to(ax: Axes, values: FloatArray) -> None:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return
    low, high = float(finite.min()), float(finite.max())
    pad = (high - low) * CURVE_MARGIN or abs(high) * CURVE_MARGIN or 0.1
    ax.set_ylim(low - pad, high + pad)


def _draw_default(ax: Axes, tune: TuneResult, optimizer: str, shift: float) -> bool:
    """An optimizer's trial 0 on the left edge: ◇ at its score, or ▼/▲ on the bottom/top edge with its
    value when the score lies beyond the axis (then returns True)."""
    default = tune.default(optimizer)
    if default is None or not default.finite:
        return False
    low, high = ax.get_ylim()
    value = default.score - shift
    color = optimizer_color(optimizer)
    if low <= value <= high:
        ax.plot([0.0], [value], color=color, transform=ax.get_yaxis_transform(), clip_on=False, zorder=5,
                **DEFAULT_MARKER)  # fmt: skip
        return False
    below = value < low
    edge = 0.0 if below else 1.0
    marker = {**DEFAULT_MARKER, "marker": "v" if below else "^"}
    ax.plot([0.0], [edge], color=color, transform=ax.transAxes, clip_on=False, zorder=5, **marker)
    ax.annotate(
        _default_value(tune, default.score),
        (0.0, edge),
        xycoords="axes fraction",
        xytext=(7, 3 if below else -10),
        textcoords="offset points",
        color=color,
        fontsize=8,
    )
    return True


def _default_value(tune: TuneResult, score: float) -> str:
    return f"{score:.0%}" if tune.metric == "val_acc" else f"{score:.3g}"


def trials_axis_key(tune: TuneResult, optimizer: str) -> str | None:
    """The key a panel of tune_scores.png spreads the trials along: lr, else the first searched key
    with a range (a choice of two values would stack the trials in two columns), else the first."""
    keys = tune.searched.get(optimizer, [])
    ranged = [k for k in keys if tune.distribution(optimizer, k) != "choice"]
    return "lr" if "lr" in keys else next(iter(ranged or keys), None)


def _x_values(trials: Sequence[TrialResult], key: str, choices: list[Any]) -> FloatArray:
    """Each trial's value of the key; a choice becomes its position in `choices`."""
    values = [t.params.get(key) for t in trials]
    if choices:
        return np.array([choices.index(v) if v in choices else math.nan for v in values], dtype=np.float64)
    return np.array([float(v) if isinstance(v, (int, float)) else math.nan for v in values], dtype=np.float64)


def _draw_trials(ax: Axes, tune: TuneResult, optimizer: str, shift: float) -> FloatArray:
    """One optimizer's panel: every scored trial (one artist), trial 0 ◇, the chosen ★, the trials
    without a score × on the bottom edge. Returns the scores drawn."""
    trials = tune.trials_of(optimizer)
    key = trials_axis_key(tune, optimizer)
    color = optimizer_color(optimizer)
    if key is None or not trials:
        return np.empty(0)
    kind = tune.distribution(optimizer, key)
    listed = (tune.entry(optimizer).get("search") or {}).get(key) or {}
    choices = list(listed.get("choice") or []) if kind == "choice" else []
    x = _x_values(trials, key, choices)
    y = np.array([t.score - shift for t in trials])
    scored = np.isfinite(y)
    ax.plot(x[scored], y[scored], color=color, **TRIAL_MARKER)
    if (~scored).any():
        ax.plot(
            x[~scored],
            np.zeros(int((~scored).sum())),
            color=color,
            transform=ax.get_xaxis_transform(),
            **UNSCORED_MARKER,
        )
    default = tune.default(optimizer)
    if default is not None and default.finite:
        at = trials.index(default)
        ax.plot([x[at]], [y[at]], color=color, zorder=4, **DEFAULT_MARKER)
    chosen = tune.chosen(optimizer)
    if chosen is not None:
        at = trials.index(chosen)
        ax.plot([x[at]], [y[at]], color=color, zorder=5, clip_on=False, **CHOSEN_MARKER)
    if choices:
        ax.set_xticks(range(len(choices)), [format_value(c) for c in choices])
        ax.set_xlim(-0.5, len(choices) - 0.5)
    else:
        _search_range_axis(ax, tune.search_range(optimizer, key), x, kind == "log_uniform" or key == "lr")
    ax.set_xlabel(key)
    ax.set_title(f"{optimizer}: {sum(t.finite for t in trials)} of {len(trials)} trials scored", fontsize=11)
    if not scored.any():
        ax.text(0.5, 0.5, "no trial gave a score", transform=ax.transAxes, ha="center", va="center")
    return np.asarray(y[scored], dtype=np.float64)


RANGE_PADDING = 0.04
"""Space on either side of the searched range, as a fraction of the panel's width."""


def _search_range_axis(ax: Axes, bounds: tuple[float, float] | None, x: FloatArray, log: bool) -> None:
    """The x axis spans the searched range (and trial 0 when its default lies outside), so that a
    choice on the range's edge shows as one: the range may be too narrow."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    points = x[np.isfinite(x) & ((x > 0) if log else True)]
    ends = [*(bounds or ()), *points]
    if not ends:
        return
    low, high = min(ends), max(ends)
    if log:
        ax.set_xscale("log")
        pad = (math.log10(high) - math.log10(low)) * RANGE_PADDING or 0.1
        ax.set_xlim(low / 10**pad, high * 10**pad)
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        # marks at 2 and 5 only: nine minor ticks a decade over several decades cost more to draw
        # than the rest of the panel and say nothing more
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain if high < MINOR_LABEL_RATIO * low else NullFormatter())
    else:
        pad = (high - low) * RANGE_PADDING or 0.1
        ax.set_xlim(low - pad, high + pad)


def tune_scores_figure(tune: TuneResult) -> Figure:
    """Every trial's score against its learning rate (or first searched key), a panel per optimizer
    on a shared value axis; ★ the trial chosen on validation, ◇ trial 0, × trials without a score."""
    from matplotlib.lines import Line2D

    optimizers = tune.optimizers
    fig, axes = _optimizer_panels(len(optimizers))
    shift, label = _score_axis(tune)
    drawn = [_draw_trials(ax, tune, optimizer, shift) for ax, optimizer in zip(axes, optimizers)]
    for ax in axes[len(optimizers) :]:
        ax.set_visible(False)
    _value_axis(axes[0], tune, drawn)
    ncols = axes[0].get_subplotspec().get_gridspec().get_geometry()[1]  # type: ignore[union-attr]
    for ax in axes[::ncols]:
        ax.set_ylabel(label)
    chooser = "best on validation" if tune.kind == "dataset" else "lowest f"
    keys = {
        "a trial": Line2D([], [], color="0.3", **TRIAL_MARKER),
        "trial 0 (defaults)": Line2D([], [], color="0.3", **DEFAULT_MARKER),
        f"chosen ({chooser})": Line2D([], [], color="0.3", **CHOSEN_MARKER),
        "no score (diverged or failed), on the bottom edge": Line2D([], [], color="0.3", **UNSCORED_MARKER),
    }
    figure_legend(fig, list(keys.values()), list(keys))
    better = "higher" if tune.maximise else "lower"
    fig.suptitle(f"{tune.experiment.name}: {tune.score_name} of every trial ({better} is better)")
    return fig


def _final_runs(tune: TuneResult, optimizer: str) -> tuple[TrialResult | None, bool]:
    """The setting whose curves final_curves.png shows: the final reruns, else the chosen trial's runs
    (True when they are the final reruns)."""
    final = tune.final(optimizer)
    if final is not None and final.runs:
        return final, True
    return tune.chosen(optimizer), False


LABEL_DIGITS = 3
"""Significant digits of a hyperparameter value in a legend."""


def _chosen_text(trial: TrialResult) -> str:
    return ", ".join(
        f"{k}={v:.{LABEL_DIGITS}g}" if isinstance(v, float) else f"{k}={format_value(v)}"
        for k, v in trial.params.items()
    )


def _test_text(final: TrialResult) -> str:
    """The final reruns' test accuracy for a legend: `\ntest 94.2 ± 0.3%` (over the completed ones)."""
    tests = [r.final_test_acc for r in final.runs if r.state == "completed"]
    finite = [v for v in tests if math.isfinite(v)]
    if not finite:
        return ""
    spread = f" ± {np.std(finite) * 100:.1f}" if len(finite) > 1 else ""
    return f"\ntest {np.mean(finite) * 100:.1f}{spread}%"


def final_curves_figure(tune: TuneResult) -> Figure:
    """The chosen settings' learning curves: for a dataset, the validation score of the final seeds
    (mean ± 1 std) per optimizer, with their test accuracy in the legend (the chosen trials' runs,
    without test accuracy, when there are no final reruns); for a function, f(x_t) of each
    optimizer's chosen trial."""
    picked = [(o, *_final_runs(tune, o)) for o in tune.optimizers]
    shown = [(o, t, final) for o, t, final in picked if t is not None]
    if tune.kind == "function":
        variants = [Variant(f"{o} {_chosen_text(t)}", t.runs) for o, t, _ in shown]
        styles = [Style(optimizer_color(o)) for o, _, _ in shown]
        title = f"{tune.experiment.name}: the chosen trial of each optimizer"
        return function_loss_figure(title, variants, styles)
    finals = [final for _, _, final in shown]
    if finals and all(finals):
        seeds = "/".join(map(str, sorted({len(t.runs) for _, t, _ in shown})))
        title = f"{tune.experiment.name}: the chosen settings rerun with {seeds} new seeds"
        notes = ["line: mean over seeds, band: ±1 std", "test accuracy: mean ± std over the same seeds"]
    elif any(finals):
        title = f"{tune.experiment.name}: the chosen settings (final reruns where there are some)"
        notes = ["line: mean over seeds, band: ±1 std", "without test accuracy: the chosen trial's own runs"]
    else:
        title = f"{tune.experiment.name}: the chosen trials (no final reruns)"
        notes = ["the runs of each chosen trial"]
    fig, (ax,) = new_figure(SINGLE)
    ax.set_title(titled(title, notes))
    column = COLUMNS[tune.metric]
    drawn: list[FloatArray] = []
    for optimizer, trial, final in shown:
        variant = Variant(
            f"{optimizer} {_chosen_text(trial)}{_test_text(trial) if final else ''}", trial.runs
        )
        drawn += draw_seed_curves(ax, variant, Style(optimizer_color(optimizer)), column, smoothed=False)
    _value_axis(ax, tune, drawn)
    step_axis(ax)
    ax.set_ylabel(SCORE_NAMES[tune.metric])
    add_legend(fig, ax, outside=True)
    return fig


def profile_ticks(right: float) -> list[float]:
    """Plain τ ticks from 1 to `right` on a log axis: values of PROFILE_TICKS, then powers of ten, at
    most PROFILE_MAX_TICKS of them, each at least 1/PROFILE_MAX_TICKS of the log span from the last."""
    decades = range(1, math.floor(math.log10(right)) + 1) if right >= 10 else range(0)
    candidates = [t for t in (*PROFILE_TICKS, *(10.0**k for k in decades)) if t <= right * (1 + 1e-12)]
    gap = math.log(right) / PROFILE_MAX_TICKS
    ticks = [1.0]
    for tick in candidates[1:]:
        if math.log(tick) - math.log(ticks[-1]) >= gap * (1 - 1e-9):
            ticks.append(tick)
    return ticks


def _tau_text(tau: float) -> str:
    """A τ tick as plain text: 1.05, 2, 1000, and 10⁴ onwards as a power of ten."""
    return f"{tau:g}" if tau < 1e4 else f"$10^{{{round(math.log10(tau))}}}$"


def _profile_panel(ax: Axes, heading: str, profile: PerformanceProfile) -> None:
    """One kind of task's profile: ρ(τ) of each optimizer as steps from τ = 1, a mark at each jump."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter

    finite = profile.ratios[np.isfinite(profile.ratios)]
    largest = float(finite.max()) if finite.size else 1.0
    right = max(largest * max(largest**PROFILE_HEADROOM, PROFILE_MIN_HEADROOM), PROFILE_MIN_TAU)
    tasks = len(profile.tasks)
    middle = (len(profile.optimizers) - 1) / 2
    for i, optimizer in enumerate(profile.optimizers):
        ratios = profile.ratios[i]
        jumps = np.unique(ratios[np.isfinite(ratios)])
        taus = np.unique(np.concatenate([[1.0], jumps, [right]]))
        lift = (i - middle) * PROFILE_OFFSET
        shares = np.array([np.mean(ratios <= tau) for tau in taus]) + lift
        color = optimizer_color(optimizer)
        ax.step(taus, shares, where="post", color=color, linewidth=2, alpha=0.85)
        marks = np.array([np.mean(ratios <= tau) for tau in jumps]) + lift
        ax.plot(jumps, marks, "o", color=color, markersize=5, clip_on=False)
    ax.set_xscale("log")
    ax.set_xlim(1.0, right)
    ax.xaxis.set_major_locator(FixedLocator(profile_ticks(right)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda tau, _: _tau_text(tau)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(-0.05, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    quantities = " / ".join(dict.fromkeys(t.quantity for t in profile.tasks))
    ax.set_title(
        f"{heading} ({tasks} {'study' if tasks == 1 else 'studies'})\nratio of {quantities}",
        fontsize=10,
        loc="left",
    )
    ax.set_xlabel("τ: within this factor of the best")
    ax.grid(True, which="major", alpha=0.3)


def performance_profile_figure(profile: PerformanceProfile) -> Figure:
    """ρ(τ), the share of studies on which each optimizer is within a factor τ of the best optimizer
    there, as steps from τ = 1 on a log axis with plain ticks (as AlgoPerf draws it): one panel per
    kind of task (`PerformanceProfile.by_kind`), whose ratios differ by orders of magnitude, and one
    legend. The value compared is the chosen setting's seed-averaged validation score (final reruns
    where there are) as a lower-is-better quantity; report/profile.py says so in the index."""
    from matplotlib.lines import Line2D

    kinds = profile.by_kind()
    width, height = PROFILE_PANEL
    margins = Margins(left=0.8, right=LEGEND_SPACE, top=1.15, bottom=0.7, wspace=0.6)
    size = (margins.left + margins.right + len(kinds) * width + (len(kinds) - 1) * margins.wspace, height)
    fig, axes = _fixed_figure(size, ncols=len(kinds), margins=margins, sharey=True)
    for ax, (heading, part) in zip(axes, kinds):
        _profile_panel(ax, heading, part)
    axes[0].set_ylabel("share of studies within τ of the best")
    fig.suptitle(
        "performance profile: chosen settings, seed-averaged validation score\n"
        "(final reruns where the study has them); lower-is-better ratios to the best",
        x=margins.left / size[0],
        y=1.0 - 0.08 / height,
        ha="left",
        va="top",
        fontsize=10,
    )
    handles = [Line2D([], [], color=optimizer_color(o), linewidth=2, marker="o") for o in profile.optimizers]
    wins = profile.wins()
    labels = [_wrap(f"{o} (best on {w} of {len(profile.tasks)})") for o, w in zip(profile.optimizers, wins)]
    fig.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.0 - (margins.right - 0.15) / size[0], 1.0 - margins.top / height),
    )
    return fig


def draw_performance_profile(profile: PerformanceProfile, path: Path) -> Path:
    """Draw and save a performance profile (beside a suite's index.md); returns the path."""
    with rc_style():
        return save_png(performance_profile_figure(profile), path)


__all__ = [
    "draw_performance_profile",
    "expected_max_figure",
    "final_curves_figure",
    "performance_profile_figure",
    "profile_ticks",
    "tune_scores_figure",
]
