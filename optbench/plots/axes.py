"""What every figure shares: sizes and rc style, creating and saving a figure, log axes, legends, marks.

Norms are drawn on log axes, where exact zeros (all-zero weights, a gradient that is exactly 0) are
marked ▼ on the bottom edge instead of disappearing (`draw_lines`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.files import atomic_file
from optbench.plain import value_at
from optbench.results import RunResult, Variant, last_finite
from optbench.stats import FloatArray
from optbench.text import format_value

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


DPI = 150
WIDE = (12.0, 5.0)
"""Size in inches of two panels side by side; 1800 × 750 pixels at DPI."""
SINGLE = (9.0, 5.5)
"""Size in inches of one panel with a legend beside it; 1350 × 825 pixels at DPI."""
PANEL = 4.0
"""Width and height in inches of one panel of a grid of panels."""

STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "figure.titlesize": 14,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

RAW_ALPHA = 0.25
"""Opacity of a raw (unsmoothed) minibatch-loss curve drawn under its smoothed version."""
BAND_ALPHA = 0.2
"""Opacity of the ±1 std band over seeds."""
LOG_SCALE_RATIO = 30.0
"""A value axis turns logarithmic when its largest positive value is at least this times its smallest."""
MINOR_LABEL_RATIO = 20.0
"""Log axes spanning less than this ratio label their minor ticks as well."""
MANY_POINTS = 40
"""Curves with more points than this are drawn without point markers."""
DIVERGED_MARKER: dict[str, Any] = {
    "marker": "x",
    "markersize": 11,
    "markeredgewidth": 2.5,
    "linestyle": "none",
}
LEGEND_WIDTH = 34
"""Characters per line of a label in a legend beside the plot; longer ones are wrapped."""


@contextlib.contextmanager
def rc_style() -> Iterator[None]:
    """matplotlib's rc settings as STYLE for the figures drawn inside the block."""
    import matplotlib

    rc: Any = STYLE  # matplotlib types the keys as a Literal of every rcParam name
    with matplotlib.rc_context(rc):
        yield


_frozen = False
"""Whether `import_drawing` froze this process's objects already (a forked process inherits it)."""


def import_drawing() -> None:
    """Import what drawing a figure needs (matplotlib's figure and Agg canvas, the PNG writer); the
    first time in a process, move every object that exists to the garbage collector's permanent
    generation (`gc.freeze`).

    `render` calls it before it forks, so that drawing processes share one import, and the drawing
    process as it starts. Drawing makes many short-lived objects, whose collections would otherwise
    scan the hundred thousand objects of the imported modules each time (a sixth of the time of
    drawing a 16-panel figure), and write to their pages, which a forked process then copies. Only
    the first call freezes: a later one could freeze the garbage of the figures drawn since.
    """
    import gc

    import matplotlib.figure  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401

    from optbench.plots import placement, png  # noqa: F401

    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


def new_figure(
    size: tuple[float, float], nrows: int = 1, ncols: int = 1, legend_below: bool = False, **shared: Any
) -> tuple[Figure, list[Axes]]:
    """A figure of a grid of panels, placed by `placement.MeasuredLayout` when it is saved, its legend
    (if it gets one) beside the panels or, `legend_below`, under them; `shared` goes to
    `Figure.subplots` (sharex, sharey)."""
    from matplotlib.figure import Figure

    from optbench.plots.placement import MeasuredLayout

    fig = Figure(figsize=size, dpi=DPI, layout=MeasuredLayout(legend_below))
    axes = fig.subplots(nrows, ncols, squeeze=False, **shared)
    return fig, list(axes.ravel())


STEP_TICKS = (1.0, 2.0, 2.5, 5.0, 10.0)
"""The multiples a step axis may tick at (matplotlib's default), 2.5 only where it makes whole steps."""


def label_panels(axes: Sequence[Axes], count: int, xlabel: str, ylabel: str) -> None:
    """Axis labels on the outer panels of a grid that shows `count` panels: the value axis on the
    first of each row, the x axis (and its tick labels) under the last panel of each column; the
    grid's panels past `count` hidden."""
    for ax in axes[count:]:
        ax.set_visible(False)
    ncols = axes[0].get_subplotspec().get_gridspec().get_geometry()[1]  # type: ignore[union-attr]
    for i, ax in enumerate(axes[:count]):
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        if i + ncols >= count:
            ax.set_xlabel(xlabel)
            ax.xaxis.set_tick_params(labelbottom=True)


def step_axis(ax: Axes) -> None:
    """An x axis of training steps: labelled `step`, ticked at whole steps only (a 1-step run: 0 and 1;
    a lone point at step 1: 1)."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=STEP_TICKS, integer=True, min_n_ticks=1))


def save_png(fig: Figure, path: Path) -> Path:
    """Render `fig` to `path` atomically (`optbench.files.atomic_file`): an interrupt leaves the old file.

    Log value axes first get their final ticks (`label_log_axis`), once every line is drawn and
    shared axes have their final limits; then the figure's layout engine, if it has one, places the
    panels, once, and the Agg canvas draws the figure, once; `png.write_png` writes its pixels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from optbench.plots.png import write_png

    for ax in fig.axes:
        label_log_axis(ax)
    canvas = FigureCanvasAgg(fig)
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine("none")  # placed: drawing must not place it again
    canvas.draw()  # type: ignore[no-untyped-call]
    with atomic_file(path) as f:
        write_png(f, canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    return path


NICE_STEPS = (1.0, 2.0, 5.0, 10.0)
"""Log axes spanning at most MINOR_TICKS_MAX_RATIO end on these multiples of a power of ten."""


def _nice(value: float, up: bool) -> float:
    """The nearest 1, 2 or 5 times a power of ten at or beyond `value` (above it when `up`)."""
    power = 10.0 ** math.floor(math.log10(value))
    steps = [s * power for s in NICE_STEPS]
    if up:
        return next(s for s in steps if s >= value * (1 - 1e-12))
    return next(s for s in reversed(steps) if s <= value * (1 + 1e-12))


def _data_range(ax: Axes) -> tuple[float, float]:
    """The positive y values the axes (and those sharing its y axis) draw: the lowest and the highest."""
    lows, highs = [], []
    for sibling in ax.get_shared_y_axes().get_siblings(ax):
        y = sibling.dataLim.intervaly
        lows.append(float(y[0]) if y[0] > 0 else float(sibling.get_ylim()[0]))
        highs.append(float(y[1]))
    return min(lows), max(highs)


def label_log_axis(ax: Axes) -> None:
    """Give a log value axis labelled ticks where its lines are, whatever its span.

    Over at most four decades the axis is widened to the nearest 1, 2 or 5 times a power of ten and
    those values are labelled, so that lines near the top or the bottom (a weight norm near 14 on an
    axis from 0.05) have a labelled tick beside them; on a short axis, more multiples are labelled as
    long as their labels do not touch (`_label_subs`). Over more than four decades, the powers of ten
    are labelled, the multiples 2 and 5 marked, and the axis ends on powers of ten.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if ax.get_yscale() != "log":
        return
    low, high = _data_range(ax)
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high <= low:
        return
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    if high > MINOR_TICKS_MAX_RATIO * low:
        ax.set_ylim(10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high)))
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))  # unlabelled marks at 2 and 5
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    bottom, top = _nice(low, up=False), _nice(high, up=True)
    ax.set_ylim(bottom, top)
    ax.yaxis.set_minor_locator(LogLocator(subs=_label_subs(ax, math.log10(top / bottom))))
    ax.yaxis.set_minor_formatter(plain)


LABEL_SUBS: tuple[tuple[float, ...], ...] = (
    (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
    (2.0, 3.0, 5.0),
    (2.0, 5.0),
)
"""The multiples of a power of ten a short log axis may label, densest first: the last is always
labelled, so that the nice limits (1, 2 or 5 times a power of ten) carry a label."""
LABEL_GAP = 1.3
"""Labels of a log axis stand at least this many times their font size apart."""


def _label_subs(ax: Axes, decades: float) -> tuple[float, ...]:
    """The densest LABEL_SUBS whose neighbouring labels keep LABEL_GAP apart on this panel's height."""
    import matplotlib

    fig = ax.get_figure()
    assert fig is not None
    height_pt = ax.bbox.height * 72 / fig.dpi
    size = matplotlib.font_manager.FontProperties(
        size=matplotlib.rcParams["ytick.labelsize"]
    ).get_size_in_points()
    for subs in LABEL_SUBS:
        marks = (1.0, *subs, 10.0)
        closest = min(math.log10(b / a) for a, b in itertools.pairwise(marks))  # in decades
        if closest / decades * height_pt >= LABEL_GAP * size:
            return subs
    return LABEL_SUBS[-1]


MINOR_TICKS_MAX_RATIO = 1e4
"""A log axis spanning more than this ratio (four decades) shows major ticks only."""


def log_y(ax: Axes) -> None:
    """A log value axis (call it after drawing) with ticks labelled as plain numbers: 0.4, 1, 1e-05.

    Over a span shorter than MINOR_LABEL_RATIO the ticks between powers of ten are labelled too, so
    that a short log axis is not left with a single label.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

    ax.set_yscale("log")
    low, high = ax.get_ylim()
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain if high < MINOR_LABEL_RATIO * low else NullFormatter())
    if high > MINOR_TICKS_MAX_RATIO * low:
        # Over many decades the minor ticks are a blur of lines that says nothing the major ones don't.
        ax.yaxis.set_minor_locator(NullLocator())


def auto_log(ax: Axes, values: Sequence[FloatArray]) -> None:
    """Log scale on the value axis when the values drawn are positive and span LOG_SCALE_RATIO or more."""
    data = (
        np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values]) if values else np.empty(0)
    )
    data = data[np.isfinite(data)]
    if data.size and data.min() > 0 and data.max() >= LOG_SCALE_RATIO * data.min():
        log_y(ax)


def point_markers(n: int) -> dict[str, Any]:
    """Plot keywords that mark each point of a curve of n points; none beyond MANY_POINTS."""
    return {"marker": "o", "markersize": 4} if n <= MANY_POINTS else {}


def legend_label(variant: Variant) -> str:
    """A variant's label with its seeds and divergences: `adam lr=0.001 (3 seeds, 1 diverged)`."""
    n, d = len(variant.finished), len(variant.diverged)
    if d and d == n:
        return f"{variant.label} (diverged)"
    notes = [f"{n} seeds"] if n > 1 else []
    if d:
        notes.append(f"{d} diverged")
    return f"{variant.label} ({', '.join(notes)})" if notes else variant.label


def add_legend(fig: Figure, ax: Axes, outside: bool) -> None:
    """The legend of `ax`'s lines: inside it, or beside the panels (`figure_legend`)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if outside:
        figure_legend(fig, handles, labels)
    else:
        ax.legend(handles, labels, loc="best")


def _wrapped(line: str) -> str:
    return "\n".join(textwrap.wrap(line, LEGEND_WIDTH)) or line


def titled(title: str, notes: Sequence[str]) -> str:
    """A title with its notes on a line below it (`placement` wraps the lines to fit)."""
    return "\n".join([title, "; ".join(notes)]) if notes else title


def figure_legend(fig: Figure, handles: Sequence[Any], labels: Sequence[str], **kwargs: Any) -> None:
    """A legend at the top right of the figure, beside its panels, its long lines wrapped so that it
    leaves the panels their width; or under them in a figure made with `legend_below` (`placement`
    makes room for it and gives it its columns)."""
    from optbench.plots.placement import MeasuredLayout

    engine = fig.get_layout_engine()
    if not (isinstance(engine, MeasuredLayout) and engine.legend_below):
        labels = ["\n".join(_wrapped(line) for line in label.split("\n")) for label in labels]
    if isinstance(engine, MeasuredLayout):
        engine.legend(fig, handles, labels, **kwargs)
    else:
        fig.legend(handles, labels, loc="upper left", borderaxespad=0.0, **kwargs)


def mark_divergence(ax: Axes, steps: FloatArray, values: FloatArray, color: str) -> None:
    """An × at the last finite point of a curve that stopped because its run diverged."""
    i = last_finite(steps, values)
    if i is not None:
        ax.plot([steps[i]], [values[i]], color=color, **DIVERGED_MARKER)


ZERO_MARKER: dict[str, Any] = {"marker": "v", "markersize": 7, "linestyle": "none", "clip_on": False}
"""Exact zeros have no place on a log axis: they are marked ▼ on its bottom edge instead."""
ZERO_NOTE = "▼ on the bottom edge: exactly 0"


def wants_log(values: Sequence[FloatArray], scale: str) -> bool:
    """Whether a panel of this scale, showing these values, gets a log axis."""
    data = np.concatenate([np.ravel(v) for v in values]) if values else np.empty(0)
    positive = data[np.isfinite(data) & (data > 0)]
    if not positive.size or scale == "fraction":
        return False
    return scale == "log" or positive.max() >= LOG_SCALE_RATIO * positive.min()


def draw_lines(ax: Axes, lines: Sequence[tuple[FloatArray, FloatArray, dict[str, Any]]], log: bool) -> bool:
    """Draw (x, y, plot keywords) lines; on a log axis exact zeros become ▼ on the bottom edge.

    Returns whether some zero was marked (the caller then says what ▼ means).
    """
    for x, y, kwargs in lines:
        ax.plot(x, np.where(y > 0, y, np.nan) if log else y, **kwargs)
    if not log:
        return False
    log_y(ax)
    marked = False
    for x, y, kwargs in lines:
        at = x[y == 0]
        if at.size:
            ax.plot(
                at,
                np.zeros(at.size),
                color=kwargs.get("color"),
                transform=ax.get_xaxis_transform(),
                **ZERO_MARKER,
            )
            marked = True
    return marked


def run_title(run: RunResult) -> str:
    """One run's setting as a title: `adam, lr = 0.001, init he, relu, seed 0`."""
    parts = [f"{run.optimizer}, lr = {run.lr:g}"]
    init = value_at(run.config, "model.init")
    if isinstance(init, Mapping):
        parts.append(f"init {format_value(init)}")
    output_init = value_at(run.config, "model.output_init")
    if isinstance(output_init, Mapping):
        parts.append(f"output init {format_value(output_init)}")
    activation = value_at(run.config, "model.activation")
    if activation:
        parts.append(str(activation))
    parts.append(f"seed {run.seed}")
    return ", ".join(parts)
