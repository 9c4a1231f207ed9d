"""Figures of the 2-D function tasks: contours with paths, one panel per variant, f(x_t) − f* per step."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.functions import Objective
from optbench.plain import value_at
from optbench.plots.axes import (
    DIVERGED_MARKER,
    PANEL,
    SINGLE,
    add_legend,
    legend_label,
    log_y,
    new_figure,
    point_markers,
    step_axis,
)
from optbench.plots.style import Style, optimizer_color
from optbench.results import ExperimentResult, RunResult, Variant, variant_label
from optbench.stats import FloatArray

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


DIVERGED_HEADROOM = 100.0
"""A log axis shared by diverged and other runs stops this factor above the others' highest value."""
EDGE_INSET = 0.025
"""A diverged path's × is kept this fraction of the view box inside its edges."""

CONTOUR_GRID = 300
"""Points per axis at which a 2-D function is evaluated for its contour plot."""
CONTOUR_LEVELS = 25
LOG_LEVEL_RANGE = 1e-7
"""Log-spaced contour levels span at most this ratio below the largest gap f − f* in the view box."""
CONTOUR_DARKEST = 0.4
"""The highest contour band is this far along matplotlib's Greys (0 white, 1 black): paths stay visible."""
COLORBAR_BOX = (1.03, 0.05, 0.035, 0.9)
"""Where a contour plot's colour bar goes, as (x, y, width, height) in fractions of its panel."""


@functools.cache
def _surface(objective: Objective) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(X, Y, f(X, Y)) of a function over its view box, CONTOUR_GRID points a side: computed once per
    process, however many panels show it."""
    xs = np.linspace(*objective.xlim, CONTOUR_GRID)
    ys = np.linspace(*objective.ylim, CONTOUR_GRID)
    X, Y = np.meshgrid(xs, ys)
    return X, Y, objective.value(X, Y)


def _draw_contour(fig: Figure, ax: Axes, objective: Objective, colorbar: bool = True) -> None:
    """Filled and line contours of f over its view box.

    Log-spaced levels of f − f* for functions with steep walls around a flat floor (`log_levels`);
    otherwise levels evenly spaced in √(f − min f), which gives evenly spaced rings for a quadratic bowl.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm, PowerNorm
    from matplotlib.ticker import LogLocator, MaxNLocator

    X, Y, Z = _surface(objective)
    cmap = ListedColormap(colormaps["Greys"](np.linspace(0.0, CONTOUR_DARKEST, 256)))
    ticks: Any
    if objective.log_levels and objective.min_value is not None:
        gap = Z - objective.min_value
        hi = float(gap.max())
        positive = gap[gap > 0]
        lo = max(float(positive.min()) if positive.size else hi * LOG_LEVEL_RANGE, hi * LOG_LEVEL_RANGE)
        levels = np.geomspace(lo, hi, CONTOUR_LEVELS)
        norm: Any = LogNorm(lo, hi)
        Z, label, ticks = np.clip(gap, lo, hi), "f(x, y) − f*", LogLocator()
    else:
        lo, hi = float(Z.min()), float(Z.max())
        levels = lo + (hi - lo) * np.linspace(0.0, 1.0, CONTOUR_LEVELS) ** 2
        norm, label, ticks = PowerNorm(0.5, lo, hi), "f(x, y)", MaxNLocator(6)
    filled = ax.contourf(X, Y, Z, levels=levels, cmap=cmap, norm=norm)
    ax.contour(X, Y, Z, levels=levels, colors="0.5", linewidths=0.4, norm=norm)
    if colorbar:
        cax = ax.inset_axes(COLORBAR_BOX)
        fig.colorbar(filled, cax=cax, label=label, ticks=ticks)
        cax.grid(False)
    ax.set_xlim(*objective.xlim)
    ax.set_ylim(*objective.ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(False)


def _draw_landmarks(ax: Axes, objective: Objective, starts: Sequence[tuple[float, float]]) -> None:
    """Start ● and every known minimum ★ (each labelled once in the legend)."""
    for i, (x, y) in enumerate(dict.fromkeys(starts)):
        ax.plot(
            [x],
            [y],
            "o",
            color="black",
            markersize=11,
            markeredgecolor="white",
            zorder=5,
            label="start" if i == 0 else None,
        )
    if objective.minima:
        mx, my = zip(*objective.minima)
        ax.plot(
            mx,
            my,
            "*",
            color="#FFD700",
            markersize=18,
            markeredgecolor="black",
            zorder=6,
            label="minimum" if len(objective.minima) == 1 else "minima",
        )


PATH_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
"""Marker shapes of the paths drawn in one axes, in turn: paths that coincide keep both shapes."""

PATH_WIDTHS = (3.6, 1.2)
"""Line widths of the first and the last path drawn in one axes: earlier paths are wider and lie
beneath later ones, so a path that another covers still shows as a coloured rim around it."""

COINCIDE = 0.01
"""Two paths coincide when their iterates lie, on average, within this share of the view's diagonal:
the later one is then drawn dashed, so the earlier shows between its dashes."""

COINCIDING_DASHES = (0, (3.0, 2.5))


def _iterates(run: RunResult) -> tuple[FloatArray, FloatArray]:
    assert run.metrics is not None
    x, y, loss = run.metrics["x"], run.metrics["y"], run.metrics["loss"]
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(loss)
    return x[keep], y[keep]


def _coincides(a: RunResult, b: RunResult, diagonal: float) -> bool:
    (ax, ay), (bx, by) = _iterates(a), _iterates(b)
    n = min(ax.size, bx.size)
    return n > 1 and float(np.mean(np.hypot(ax[:n] - bx[:n], ay[:n] - by[:n]))) <= COINCIDE * diagonal


def _draw_path(
    ax: Axes,
    run: RunResult,
    style: Style,
    label: str | None,
    order: int = 0,
    count: int = 1,
    dashed: bool = False,
) -> None:
    """The iterates of a function run with markers, an end ■, and an × where it diverged.

    The `order`-th of `count` paths in the axes gets its own hollow marker shape, a narrower line
    and a higher layer than those before it, and a `dashed` line where it coincides with one drawn
    before: where paths coincide, every one stays visible.
    """
    x, y = _iterates(run)
    if x.size == 0:
        return
    wide, narrow = PATH_WIDTHS
    width = narrow if count == 1 else wide - (wide - narrow) * order / (count - 1)
    markers = point_markers(x.size)
    if markers:
        markers.update(
            marker=PATH_MARKERS[order % len(PATH_MARKERS)], markersize=3.5 + width, markerfacecolor="none"
        )
    ax.plot(
        x,
        y,
        color=style.color,
        linestyle=COINCIDING_DASHES if dashed else style.linestyle,
        label=label,
        zorder=3 + order / max(count, 1),
        linewidth=width,
        **markers,
    )
    if run.state == "diverged":  # just inside the view box when the last finite point is off it
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        dx, dy = EDGE_INSET * (x1 - x0), EDGE_INSET * (y1 - y0)
        end_x, end_y = float(np.clip(x[-1], x0 + dx, x1 - dx)), float(np.clip(y[-1], y0 + dy, y1 - dy))
        ax.plot([end_x], [end_y], color=style.color, zorder=7, **DIVERGED_MARKER)
    else:
        ax.plot([x[-1]], [y[-1]], "s", color=style.color, markersize=8, markeredgecolor="black", zorder=7)


def _end_legend_handle(ax: Axes) -> None:
    ax.plot([], [], "s", color="0.6", markersize=8, markeredgecolor="black", label="end")


def _gap(run: RunResult) -> tuple[FloatArray, FloatArray, bool]:
    """(steps, f − f* or f, whether it is a gap) of a function run, non-finite rows left out."""
    steps, loss = run.curve("loss")
    objective = run.objective
    if objective is not None and objective.min_value is not None:
        return steps, loss - objective.min_value, True
    return steps, loss, False


def function_loss_figure(title: str, variants: Sequence[Variant], styles: Sequence[Style]) -> Figure:
    """f(x_t) − f* against step, log axis (f itself, linear, when f* is unknown).

    When some runs diverge and others do not, the axis stops DIVERGED_HEADROOM times above the
    highest value of the others, and a diverged run's × sits on the top edge if its point is higher.
    """
    fig, (ax,) = new_figure(SINGLE)
    curves = []
    for variant, style in zip(variants, styles):
        for i, run in enumerate(variant.finished):
            steps, values, is_gap = _gap(run)
            if is_gap:  # f = f* exactly has no place on a log axis
                steps, values = steps[values > 0], values[values > 0]
            curves.append((run, steps, values, is_gap, style, legend_label(variant) if i == 0 else None))
    log = bool(curves) and all(is_gap for _, _, _, is_gap, _, _ in curves)
    calm = [v for run, _, v, _, _, _ in curves if run.state != "diverged" and v.size]
    top = None
    if log and calm and len(calm) < len(curves):
        top = max(float(v.max()) for v in calm) * DIVERGED_HEADROOM
    for run, steps, values, _, style, label in curves:
        kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
        ax.plot(steps, values, label=label, **kwargs, **point_markers(steps.size))
        if run.state == "diverged" and steps.size:
            y = float(values[-1]) if top is None else min(float(values[-1]), top)
            ax.plot([steps[-1]], [y], color=style.color, clip_on=False, **DIVERGED_MARKER)
    if log:
        ax.set_yscale("log")
        if top is not None:
            bottom = min(float(v.min()) for _, _, v, _, _, _ in curves if v.size)
            ax.set_ylim(bottom / 2, top)
        log_y(ax)
        ax.set_ylabel("f(x_t) − f*")
    else:
        ax.set_ylabel("f(x_t)")
    step_axis(ax)
    ax.set_title(title)
    add_legend(fig, ax, outside=True)
    return fig


def _start_of(run: RunResult) -> tuple[float, float]:
    start = value_at(run.config, "task.start") or (math.nan, math.nan)
    return float(start[0]), float(start[1])


def function_title(objective: Objective) -> str:
    """`book: f(x, y) = x²/20 + y²`: a function's name and formula; the formula alone where the name
    is made of it (a function given as a formula)."""
    if objective.formula in objective.name:
        return f"f(x, y) = {objective.formula}"
    return f"{objective.name}: f(x, y) = {objective.formula}"


def path_figure(run: RunResult, objective: Objective) -> Figure:
    """One run's path on the contours of its function, its start and the minima marked."""
    fig, (ax,) = new_figure(SINGLE)
    _draw_contour(fig, ax, objective)
    variant = Variant(variant_label(run.config, (), show_lr=True), (run,))
    _draw_path(ax, run, Style(optimizer_color(run.optimizer)), legend_label(variant))
    _draw_landmarks(ax, objective, [_start_of(run)])
    _end_legend_handle(ax)
    ax.set_title(f"{run.optimizer}, lr = {run.lr:g}, on {function_title(objective)}")
    add_legend(fig, ax, outside=True)
    return fig


def paths_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style], objective: Objective
) -> Figure:
    """Every run's path on the contours of the one function they share; paths that coincide stay
    visible (`_draw_path`)."""
    fig, (ax,) = new_figure(SINGLE)
    _draw_contour(fig, ax, objective)
    runs = [(v, s, r) for v, s in zip(variants, styles) for r in v.finished]
    firsts = {id(v.finished[0]) for v in variants if v.finished}
    diagonal = math.hypot(np.ptp(objective.xlim), np.ptp(objective.ylim))
    for order, (variant, style, run) in enumerate(runs):
        label = legend_label(variant) if id(run) in firsts else None
        dashed = any(_coincides(run, earlier, diagonal) for _, _, earlier in runs[:order])
        _draw_path(ax, run, style, label, order, len(runs), dashed)
    _draw_landmarks(ax, objective, [_start_of(r) for v in variants for r in v.finished])
    _end_legend_handle(ax)
    ax.set_title(f"{exp.name}: paths on {function_title(objective)}")
    add_legend(fig, ax, outside=True)
    return fig


def paths_panels_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """One panel per variant: its seeds' paths on the contours of its function."""
    ncols = min(3, len(variants))
    nrows = math.ceil(len(variants) / ncols)
    fig, axes = new_figure((PANEL * ncols + 0.5, PANEL * 0.8 * nrows + 0.6), nrows, ncols)
    for ax, variant, style in zip(axes, variants, styles):
        objective = variant.objective
        if objective is None:
            continue
        _draw_contour(fig, ax, objective, colorbar=False)
        for run in variant.finished:
            _draw_path(ax, run, style, None)
        _draw_landmarks(ax, objective, [_start_of(r) for r in variant.finished])
        ax.set_title(legend_label(variant), color=style.color)
    for ax in axes[len(variants) :]:
        ax.set_visible(False)
    fig.suptitle(f"{exp.name}: one panel per variant (● start, ★ minimum, ■ end, × diverged)")
    return fig
