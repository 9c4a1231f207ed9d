"""Every figure of optbench, drawn only from what is on disk, so `optbench report` can redraw them.

matplotlib is imported inside the functions that draw (the CLI must start without it), and only its
object-oriented API is used: no pyplot, no global figure state, the Agg renderer through `savefig`.
Each PNG is written to a temporary name in its folder and renamed over the old one, so an interrupt
never leaves half a file.

Colours (the same in every figure):
- each optimizer name has one fixed colour, `OPTIMIZER_COLORS` (Okabe–Ito and Tol palettes, safe for
  colour-blind readers; the lecture's five get the five most distinct); unknown names get a colour
  from `FALLBACK_COLORS` chosen by a hash of the name, the same in every process;
- when all variants share one optimizer and differ in their initialiser, colour is by init name,
  `INIT_COLORS`, instead, and a line style per activation (`ACTIVATION_LINE_STYLES`) if that differs
  too; when they differ in optimizer and init, colour stays with the optimizer and each init name
  gets a line style (in the order of the init registry);
- variants left with the same colour and line style (a learning-rate sweep) get shades of it,
  lightest for the smallest learning rate, then the smallest init std, then by label;
- the cases of the activation-distribution experiment are coloured by init name (INIT_COLORS), with
  a line style and marker per activation and shades for cases that share both (std=1 and std=0.01).

Norms are drawn on log axes, where exact zeros (all-zero weights, a gradient that is exactly 0) are
marked ▼ on the bottom edge instead of disappearing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optbench.errors import EXIT_INTERRUPTED, OptbenchError
from optbench.functions import FUNCTIONS, Objective
from optbench.init import INITIALIZERS
from optbench.layout import (
    ACTIVATION_FIGURES,
    CURVES_PNG,
    DIAGNOSTICS_PNG,
    EXPERIMENT_FIGURES,
    GRADIENTS_PNG,
    HISTOGRAMS_PNG,
    LOSS_PNG,
    LR_SENSITIVITY_PNG,
    PATH_PNG,
    PATHS_PANELS_PNG,
    PATHS_PNG,
    TEST_ACCURACY_PNG,
    TEST_LOSS_PNG,
)
from optbench.plain import value_at
from optbench.results import (
    SMOOTHING,
    TARGET_ACCURACY,
    ActivationCaseResult,
    ActivationsResult,
    ExperimentResult,
    FloatArray,
    RunResult,
    Variant,
    aggregate,
    format_percent,
    format_value,
    is_activations_folder,
    last_finite,
    layer_widths,
    mean_std,
    read_activations,
    read_experiment,
    read_run,
    smooth,
    variant_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# --------------------------------------------------------------------------------------------------
# Colours and styles
# --------------------------------------------------------------------------------------------------

OPTIMIZER_COLORS: dict[str, str] = {
    # the lecture's five: black for the SGD baseline, then Okabe–Ito blue, bluish green, reddish purple
    # and vermillion (Okabe–Ito orange is left out: next to vermillion it is the palette's weakest pair)
    "sgd": "#000000",
    "momentum": "#0072B2",
    "adagrad": "#009E73",
    "rmsprop": "#CC79A7",
    "adam": "#D55E00",
    # the others: Okabe–Ito sky blue (Nesterov, beside Momentum's blue) and orange, Paul Tol's muted scheme
    "nesterov": "#56B4E9",
    "lion": "#E69F00",
    "adamw": "#882255",
    "nadam": "#CC6677",
    "radam": "#999933",
    "adadelta": "#44AA99",
    "adamax": "#332288",
}
"""One colour per optimizer name, used by every figure. The lecture's five are at least 50 apart in
CIELAB ΔE (over 25 for a simulated deuteranope)."""

INIT_COLORS: dict[str, str] = {
    # the lecture's three (std=0.01, Xavier, He): Tol vibrant orange, blue, teal
    "normal": "#EE7733",
    "xavier": "#0077BB",
    "he": "#009988",
    "zeros": "#555555",
    "uniform": "#CCBB44",
    "xavier_uniform": "#33BBEE",
    "glorot": "#AA3377",
    "glorot_uniform": "#EE3377",
    "he_uniform": "#117733",
}
"""One colour per initialiser name, for figures whose variants differ only in their init."""

FALLBACK_COLORS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB", "#117733")
"""Paul Tol's bright scheme (and one green), for names registered after this table was written."""

LINE_STYLES = ("-", "--", ":", "-.")

ACTIVATION_LINE_STYLES = {"sigmoid": "-", "relu": "--", "tanh": ":"}
"""Line style of each activation where figures colour by init and the activation varies too
(gradients.png, a zero-init study with sigmoid and ReLU); others are dash-dotted."""

SHADE_LIGHTEST = 0.45
"""The lightest shade mixes this fraction of white into the colour."""
SHADE_DARKEST = 0.35
"""The darkest shade mixes this fraction of black into the colour."""


def _fallback(name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return FALLBACK_COLORS[digest[0] % len(FALLBACK_COLORS)]


def optimizer_color(name: str) -> str:
    """The colour of an optimizer in every figure: OPTIMIZER_COLORS, or a stable fallback."""
    return OPTIMIZER_COLORS.get(name) or _fallback(name)


def init_color(name: str) -> str:
    """The colour of an initialiser when figures colour by init: INIT_COLORS, or a stable fallback."""
    return INIT_COLORS.get(name) or _fallback(name)


def _rgb(color: str) -> tuple[float, float, float]:
    h = color.lstrip("#")
    return int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(min(1.0, max(0.0, c)) * 255):02X}" for c in rgb)


def shade(color: str, index: int, count: int) -> str:
    """Shade `index` of `count` shades of a colour, from light (0) to dark (count − 1); 1 shade is the colour.

    The shades run from SHADE_LIGHTEST white mixed in to SHADE_DARKEST black, the black scaled by the
    colour's brightness (its largest channel): black has no darker shade, so its shades are greys.
    """
    if count <= 1:
        return color
    rgb = _rgb(color)
    darkest = SHADE_DARKEST * max(rgb)
    amount = SHADE_LIGHTEST - (SHADE_LIGHTEST + darkest) * index / (count - 1)
    if amount >= 0:
        return _hex([c + (1.0 - c) * amount for c in rgb])
    return _hex([c * (1.0 + amount) for c in rgb])


@dataclass(frozen=True)
class Style:
    color: str
    linestyle: str = "-"


def _init_json(variant: Variant) -> str:
    return json.dumps(variant.init, sort_keys=True)


def _init_order(name: str) -> int:
    names = list(INITIALIZERS)
    return names.index(name) if name in names else len(names)


def _shade_key(variant: Variant) -> tuple[float, float, str]:
    std = value_at(variant.config, "model.init.std")
    return variant.lr, float(std) if isinstance(std, (int, float)) else 0.0, variant.label


def variant_styles(variants: Sequence[Variant]) -> list[Style]:
    """The colour and line style of each variant, by the rule in this module's docstring."""
    optimizers = {v.optimizer for v in variants}
    inits_differ = len({_init_json(v) for v in variants}) > 1
    by_init = inits_differ and len(optimizers) == 1
    init_styles: dict[str, str] = {}
    if inits_differ and not by_init:
        names = sorted({v.runs[0].init_name or "" for v in variants}, key=lambda n: (_init_order(n), n))
        init_styles = {n: LINE_STYLES[i % len(LINE_STYLES)] for i, n in enumerate(names)}
    by_activation = by_init and len({_activation(v) for v in variants}) > 1
    base = []
    for v in variants:
        color = init_color(v.runs[0].init_name or "") if by_init else optimizer_color(v.optimizer)
        if by_activation:
            linestyle = ACTIVATION_LINE_STYLES.get(_activation(v), "-.")
        else:
            linestyle = init_styles.get(v.runs[0].init_name or "", "-")
        base.append(Style(color, linestyle))
    return _shaded(base, [_shade_key(v) for v in variants])


def _activation(variant: Variant) -> str:
    return str(value_at(variant.config, "model.activation") or "")


def _shaded(base: Sequence[Style], keys: Sequence[Any]) -> list[Style]:
    """Styles shared by several items become shades of their colour, lightest for the smallest key."""
    styles = list(base)
    for style in set(base):
        members = sorted((i for i, s in enumerate(base) if s == style), key=lambda i: keys[i])
        for rank, i in enumerate(members):
            styles[i] = Style(shade(style.color, rank, len(members)), style.linestyle)
    return styles


# --------------------------------------------------------------------------------------------------
# Figure set-up and saving
# --------------------------------------------------------------------------------------------------

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
NOTE_WIDTH = 60
"""Characters per line of the notes under a one-panel figure's title."""
MINOR_LABEL_RATIO = 20.0
"""Log axes spanning less than this ratio label their minor ticks as well."""
MANY_POINTS = 40
"""Curves with more points than this are drawn without point markers."""
DIVERGED_HEADROOM = 100.0
"""A log axis shared by diverged and other runs stops this factor above the others' highest value."""
EDGE_INSET = 0.025
"""A diverged path's × is kept this fraction of the view box inside its edges."""
DIVERGED_MARKER: dict[str, Any] = {
    "marker": "x",
    "markersize": 11,
    "markeredgewidth": 2.5,
    "linestyle": "none",
}

CONTOUR_GRID = 300
"""Points per axis at which a 2-D function is evaluated for its contour plot."""
CONTOUR_LEVELS = 25
LOG_LEVEL_RANGE = 1e-7
"""Log-spaced contour levels span at most this ratio below the largest gap f − f* in the view box."""
CONTOUR_DARKEST = 0.4
"""The highest contour band is this far along matplotlib's Greys (0 white, 1 black): paths stay visible."""


MAX_PANELS = 24
"""paths_panels.png is drawn for at most this many variants; beyond, panels are too small to read."""

FigureJob = tuple[Path, Callable[[], "Figure"]]
"""Where a figure goes and how to draw it."""


@contextlib.contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    rc: Any = STYLE  # matplotlib types the keys as a Literal of every rcParam name
    with matplotlib.rc_context(rc):
        yield


def _figure(size: tuple[float, float], nrows: int = 1, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, list(axes.ravel())


def save_png(fig: Figure, path: Path) -> Path:
    """Render `fig` to `path` atomically: a temporary file in the same folder, then a rename."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, format="png", dpi=DPI)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


MINOR_TICKS_MAX_RATIO = 1e4
"""A log axis spanning more than this ratio (four decades) shows major ticks only."""


def _log_y(ax: Axes) -> None:
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


def _auto_log(ax: Axes, values: Sequence[FloatArray]) -> None:
    """Log scale on the value axis when the values drawn are positive and span LOG_SCALE_RATIO or more."""
    data = (
        np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values]) if values else np.empty(0)
    )
    data = data[np.isfinite(data)]
    if data.size and data.min() > 0 and data.max() >= LOG_SCALE_RATIO * data.min():
        _log_y(ax)


def _markers(n: int) -> dict[str, Any]:
    return {"marker": "o", "markersize": 4} if n <= MANY_POINTS else {}


def _legend_label(variant: Variant) -> str:
    n, d = len(variant.finished), len(variant.diverged)
    if d and d == n:
        return f"{variant.label} (diverged)"
    notes = [f"{n} seeds"] if n > 1 else []
    if d:
        notes.append(f"{d} diverged")
    return f"{variant.label} ({', '.join(notes)})" if notes else variant.label


def _legend(fig: Figure, ax: Axes, outside: bool) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if outside:  # long labels wrapped, so that the legend leaves the plot its width
        labels = ["\n".join(textwrap.wrap(label, LEGEND_WIDTH)) or label for label in labels]
        fig.legend(handles, labels, loc="outside right upper")
    else:
        ax.legend(handles, labels, loc="best")


def _mark_divergence(ax: Axes, steps: FloatArray, values: FloatArray, color: str) -> None:
    """An × at the last finite point of a curve that stopped because its run diverged."""
    i = last_finite(steps, values)
    if i is not None:
        ax.plot([steps[i]], [values[i]], color=color, **DIVERGED_MARKER)


# --------------------------------------------------------------------------------------------------
# 2-D functions
# --------------------------------------------------------------------------------------------------


def _draw_contour(fig: Figure, ax: Axes, objective: Objective, colorbar: bool = True) -> None:
    """Filled and line contours of f over its view box.

    Log-spaced levels of f − f* for functions with steep walls around a flat floor (`log_levels`);
    otherwise levels evenly spaced in √(f − min f), which gives evenly spaced rings for a quadratic bowl.
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm, PowerNorm
    from matplotlib.ticker import LogLocator, MaxNLocator

    xs = np.linspace(*objective.xlim, CONTOUR_GRID)
    ys = np.linspace(*objective.ylim, CONTOUR_GRID)
    X, Y = np.meshgrid(xs, ys)
    Z = objective.value(X, Y)
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
        fig.colorbar(filled, ax=ax, label=label, shrink=0.9, ticks=ticks)
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


def _draw_path(ax: Axes, run: RunResult, style: Style, label: str | None) -> None:
    """The iterates of a function run with markers, an end ■, and an × where it diverged."""
    assert run.metrics is not None
    x, y, loss = run.metrics["x"], run.metrics["y"], run.metrics["loss"]
    keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(loss)
    x, y = x[keep], y[keep]
    if x.size == 0:
        return
    ax.plot(x, y, color=style.color, linestyle=style.linestyle, label=label, zorder=3, **_markers(x.size))
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
    objective = FUNCTIONS.get(str(value_at(run.config, "task.function")))
    if objective is not None and objective.min_value is not None:
        return steps, loss - objective.min_value, True
    return steps, loss, False


def _function_loss_figure(title: str, variants: Sequence[Variant], styles: Sequence[Style]) -> Figure:
    """f(x_t) − f* against step, log axis (f itself, linear, when f* is unknown).

    When some runs diverge and others do not, the axis stops DIVERGED_HEADROOM times above the
    highest value of the others, and a diverged run's × sits on the top edge if its point is higher.
    """
    fig, (ax,) = _figure(SINGLE)
    curves = []
    for variant, style in zip(variants, styles):
        for i, run in enumerate(variant.finished):
            steps, values, is_gap = _gap(run)
            if is_gap:  # f = f* exactly has no place on a log axis
                steps, values = steps[values > 0], values[values > 0]
            curves.append((run, steps, values, is_gap, style, _legend_label(variant) if i == 0 else None))
    log = bool(curves) and all(is_gap for _, _, _, is_gap, _, _ in curves)
    calm = [v for run, _, v, _, _, _ in curves if run.state != "diverged" and v.size]
    top = None
    if log and calm and len(calm) < len(curves):
        top = max(float(v.max()) for v in calm) * DIVERGED_HEADROOM
    for run, steps, values, _, style, label in curves:
        kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
        ax.plot(steps, values, label=label, **kwargs, **_markers(steps.size))
        if run.state == "diverged" and steps.size:
            y = float(values[-1]) if top is None else min(float(values[-1]), top)
            ax.plot([steps[-1]], [y], color=style.color, clip_on=False, **DIVERGED_MARKER)
    if log:
        ax.set_yscale("log")
        if top is not None:
            bottom = min(float(v.min()) for _, _, v, _, _, _ in curves if v.size)
            ax.set_ylim(bottom / 2, top)
        _log_y(ax)
        ax.set_ylabel("f(x_t) − f*")
    else:
        ax.set_ylabel("f(x_t)")
    ax.set_xlabel("step")
    ax.set_title(title)
    _legend(fig, ax, outside=True)
    return fig


def _objective_of(variant: Variant) -> Objective | None:
    return FUNCTIONS.get(str(value_at(variant.config, "task.function")))


def _start_of(run: RunResult) -> tuple[float, float]:
    start = value_at(run.config, "task.start") or (math.nan, math.nan)
    return float(start[0]), float(start[1])


def _function_title(objective: Objective) -> str:
    return f"{objective.name}: f(x, y) = {objective.formula}"


def _path_figure(run: RunResult, objective: Objective) -> Figure:
    fig, (ax,) = _figure(SINGLE)
    _draw_contour(fig, ax, objective)
    variant = Variant(variant_label(run.config, (), show_lr=True), (run,))
    _draw_path(ax, run, Style(optimizer_color(run.optimizer)), _legend_label(variant))
    _draw_landmarks(ax, objective, [_start_of(run)])
    _end_legend_handle(ax)
    ax.set_title(f"{run.optimizer}, lr = {run.lr:g}, on {_function_title(objective)}")
    _legend(fig, ax, outside=True)
    return fig


def _paths_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style], objective: Objective
) -> Figure:
    fig, (ax,) = _figure(SINGLE)
    _draw_contour(fig, ax, objective)
    for variant, style in zip(variants, styles):
        for i, run in enumerate(variant.finished):
            _draw_path(ax, run, style, _legend_label(variant) if i == 0 else None)
    _draw_landmarks(ax, objective, [_start_of(r) for v in variants for r in v.finished])
    _end_legend_handle(ax)
    ax.set_title(f"{exp.name}: paths on {_function_title(objective)}")
    _legend(fig, ax, outside=True)
    return fig


def _paths_panels_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    ncols = min(3, len(variants))
    nrows = math.ceil(len(variants) / ncols)
    fig, axes = _figure((PANEL * ncols + 0.5, PANEL * 0.8 * nrows + 0.6), nrows, ncols)
    for ax, variant, style in zip(axes, variants, styles):
        objective = _objective_of(variant)
        if objective is None:
            continue
        _draw_contour(fig, ax, objective, colorbar=False)
        for run in variant.finished:
            _draw_path(ax, run, style, None)
        _draw_landmarks(ax, objective, [_start_of(r) for r in variant.finished])
        ax.set_title(_legend_label(variant), color=style.color)
    for ax in axes[len(variants) :]:
        ax.set_visible(False)
    fig.suptitle(f"{exp.name}: one panel per variant (● start, ★ minimum, ■ end, × diverged)")
    return fig


# --------------------------------------------------------------------------------------------------
# Dataset tasks: one run
# --------------------------------------------------------------------------------------------------


def _run_title(run: RunResult) -> str:
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


def _layer_rows(diag: Mapping[str, FloatArray], layer: int, column: str) -> tuple[FloatArray, FloatArray]:
    rows = (diag["layer"] == layer) & np.isfinite(diag[column])
    return diag["step"][rows], diag[column][rows]


def _layers(diag: Mapping[str, FloatArray]) -> list[int]:
    return sorted(int(v) for v in np.unique(diag["layer"][np.isfinite(diag["layer"])]))


def _distinct_differs(run: RunResult, layers: Sequence[int]) -> bool:
    assert run.diagnostics is not None
    widths = layer_widths(run.config, len(layers))
    for layer in layers:
        _, distinct = _layer_rows(run.diagnostics, layer, "distinct_units")
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

ZERO_MARKER: dict[str, Any] = {"marker": "v", "markersize": 7, "linestyle": "none", "clip_on": False}
"""Exact zeros have no place on a log axis: they are marked ▼ on its bottom edge instead."""
ZERO_NOTE = "▼ on the bottom edge: exactly 0"


def _is_log(values: Sequence[FloatArray], scale: str) -> bool:
    """Whether a panel of this scale, showing these values, gets a log axis."""
    data = np.concatenate([np.ravel(v) for v in values]) if values else np.empty(0)
    positive = data[np.isfinite(data) & (data > 0)]
    if not positive.size or scale == "fraction":
        return False
    return scale == "log" or positive.max() >= LOG_SCALE_RATIO * positive.min()


def _draw_lines(ax: Axes, lines: Sequence[tuple[FloatArray, FloatArray, dict[str, Any]]], log: bool) -> bool:
    """Draw (x, y, plot keywords) lines; on a log axis exact zeros become ▼ on the bottom edge.

    Returns whether some zero was marked (the caller then says what ▼ means).
    """
    for x, y, kwargs in lines:
        ax.plot(x, np.where(y > 0, y, np.nan) if log else y, **kwargs)
    if not log:
        return False
    _log_y(ax)
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


def _layer_name(layer: int, layers: Sequence[int]) -> str:
    return f"layer {layer}" + (" (output)" if layer == layers[-1] else "")


def _layer_colors(layers: Sequence[int]) -> list[Any]:
    """Viridis from dark (the layer next to the inputs) to light (the output layer)."""
    from matplotlib import colormaps

    return list(colormaps["viridis"](np.linspace(0.0, 0.9, max(len(layers), 1))))


def _run_diagnostics_figure(run: RunResult) -> Figure:
    """Every diagnostic per layer over training, one line per layer, norms on log axes."""
    assert run.diagnostics is not None
    diag = run.diagnostics
    layers = _layers(diag)
    panels = list(DIAGNOSTIC_PANELS)
    if _distinct_differs(run, layers):
        panels.append(DISTINCT_PANEL)
    fig, axes = _figure((PANEL * 3 + 0.5, PANEL * 2 * 0.85 + 0.6), 2, 3)
    zeros = False
    for ax, panel in zip(axes, panels):
        lines = []
        for color, layer in zip(_layer_colors(layers), layers):
            steps, values = _layer_rows(diag, layer, panel.column)
            if steps.size:
                kwargs = {"color": color, "label": _layer_name(layer, layers), **_markers(steps.size)}
                lines.append((steps, values, kwargs))
        zeros |= _draw_lines(ax, lines, _is_log([v for _, v, _ in lines], panel.scale))
        if panel.scale == "fraction":
            ax.set_ylim(-0.02, 1.02)
        ax.set_title(panel.title)
        ax.set_xlabel("step")
    legend_ax = axes[len(panels)] if len(panels) < len(axes) else None
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    handles, labels = axes[0].get_legend_handles_labels()
    title = "layer (inputs → output)" + (f"\n{ZERO_NOTE}" if zeros else "")
    if legend_ax is not None:
        legend_ax.legend(handles, labels, loc="center", title=title)
    else:
        fig.legend(handles, labels, loc="outside right upper", title=title)
    fig.suptitle(f"diagnostics on a fixed probe batch: {_run_title(run)}")
    return fig


# --------------------------------------------------------------------------------------------------
# Dataset tasks: comparing variants
# --------------------------------------------------------------------------------------------------


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


def _diag_curve(run: RunResult, layer: int, column: str) -> tuple[FloatArray, FloatArray]:
    assert run.diagnostics is not None
    return _layer_rows(run.diagnostics, layer, column)


def _diagnosed(variant: Variant) -> list[RunResult]:
    return [r for r in variant.finished if r.diagnostics is not None and len(r.diagnostics.get("step", ()))]


LEGEND_WIDTH = 34
"""Characters per line of a label in a legend beside the plot; longer ones are wrapped."""
ROW_LABEL_WIDTH = 22
"""Characters per line of a variant's name beside its row of diagnostics panels."""
MAX_DIAGNOSTIC_ROWS = 8
"""Up to this many variants, diagnostics.png has one row per variant with every layer over training;
beyond it, one compact figure with the first and last hidden layer of every variant."""


def _diagnostics_grid_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """Rows = variants, columns = diagnostics, one line per layer over training (mean over seeds).

    A column shares its value axis, so a gradient that vanishes in one variant and not in another is
    seen at a glance; norms are on log axes, where an exact zero is marked ▼ on the bottom edge.
    """
    from matplotlib.figure import Figure

    rows = [(v, st, runs) for v, st in zip(variants, styles) if (runs := _diagnosed(v))]
    panels = list(DIAGNOSTIC_PANELS)
    if any(_distinct_differs(r, _layers(r.diagnostics or {})) for _, _, runs in rows for r in runs):
        panels.append(DISTINCT_PANEL)
    size = (PANEL * 0.8 * len(panels) + 2.2, PANEL * 0.6 * len(rows) + 1.2)
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    grid = fig.subplots(len(rows), len(panels), squeeze=False, sharex=True, sharey="col")
    curves: dict[tuple[int, int], list[tuple[FloatArray, FloatArray, dict[str, Any]]]] = {}
    all_layers: list[int] = []
    for r, (_, _, runs) in enumerate(rows):
        layers = _layers(runs[0].diagnostics or {})
        all_layers = layers if len(layers) > len(all_layers) else all_layers
        for c, panel in enumerate(panels):
            curves[r, c] = []
            for color, layer in zip(_layer_colors(layers), layers):
                stats = aggregate([_diag_curve(run, layer, panel.column) for run in runs])
                if stats.steps.size:
                    kwargs = {
                        "color": color,
                        "label": _layer_name(layer, layers),
                        **_markers(stats.steps.size),
                    }
                    curves[r, c].append((stats.steps, stats.mean, kwargs))
    zeros = False
    for c, panel in enumerate(panels):
        log = _is_log([v for r in range(len(rows)) for _, v, _ in curves[r, c]], panel.scale)
        for r in range(len(rows)):
            ax = grid[r, c]
            zeros |= _draw_lines(ax, curves[r, c], log)
            if panel.scale == "fraction":
                ax.set_ylim(-0.02, 1.02)
            if r == 0:
                ax.set_title(panel.title)
            if r == len(rows) - 1:
                ax.set_xlabel("step")
    for r, (variant, style, runs) in enumerate(rows):
        seeds = f"\n(mean of {len(runs)} seeds)" if len(runs) > 1 else ""
        label = "\n".join(textwrap.wrap(variant.label, ROW_LABEL_WIDTH))
        grid[r, 0].set_ylabel(f"{label}{seeds}", color=style.color, fontweight="bold")
    longest = max(range(len(rows)), key=lambda r: len(curves[r, 0]))
    handles, labels = grid[longest, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside right upper",
        title="layer (inputs → output)" + (f"\n{ZERO_NOTE}" if zeros else ""),
    )
    fig.suptitle(f"{exp.name}: diagnostics per layer on a fixed probe batch (rows: variants)")
    return fig


def _per_layer(run: RunResult, column: str, final: bool) -> tuple[FloatArray, FloatArray]:
    """(hidden layer numbers, value) at the first (step 0) or the last diagnostics step of a run."""
    assert run.diagnostics is not None
    diag = run.diagnostics
    layers = _layers(diag)[:-1]
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

    fig, axes = _figure((12.5, 8.5), 2, 2)
    ax_first, ax_last, ax_inactive, ax_std = axes
    grads: dict[Any, list[tuple[FloatArray, FloatArray, dict[str, Any]]]] = {ax_first: [], ax_last: []}
    for variant, style in zip(variants, styles):
        runs = _diagnosed(variant)
        if not runs:
            continue
        layers = _layers(runs[0].diagnostics or {})
        hidden = layers[:-1] or layers
        kwargs: dict[str, Any] = {"color": style.color, "linestyle": style.linestyle}
        for ax, layer in ((ax_first, hidden[0]), (ax_last, hidden[-1])):
            stats = aggregate([_diag_curve(r, layer, "grad_norm") for r in runs])
            label = _legend_label(variant) if ax is ax_first else None
            grads[ax].append(
                (stats.steps, stats.mean, {**kwargs, "label": label, **_markers(stats.steps.size)})
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
    log = _is_log([v for lines in grads.values() for _, v, _ in lines], "log")
    zeros = False
    for ax, lines in grads.items():
        zeros |= _draw_lines(ax, lines, log)
        ax.set_xlabel("step")
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
    _legend(fig, ax_first, outside=True)
    return fig


def _diagnostics_comparison_figure(
    exp: ExperimentResult, variants: Sequence[Variant], styles: Sequence[Style]
) -> Figure:
    """One row per variant (up to MAX_DIAGNOSTIC_ROWS variants), else the compact overview."""
    if sum(1 for v in variants if _diagnosed(v)) <= MAX_DIAGNOSTIC_ROWS:
        return _diagnostics_grid_figure(exp, variants, styles)
    return _diagnostics_overview_figure(exp, variants, styles)


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------

ACTIVATION_MARKERS = {"sigmoid": "o", "relu": "s", "tanh": "^"}
"""Point marker of each activation in gradients.png; others get a diamond."""

HIST_PANEL = (2.3, 1.55)
"""Width and height in inches of one histogram panel: 8 cases × 5 layers fit in about 13 × 14 inches."""
HIST_ALPHA = 0.85
HIST_HEADROOM = 1.08
"""A row's value axis ends this factor above its highest bar."""


def activation_case_styles(cases: Sequence[ActivationCaseResult]) -> list[Style]:
    """Colour by init name (INIT_COLORS), line style by activation; cases left alike (std=1 and
    std=0.01 of one activation) get shades of their colour, lightest for the smallest std."""
    base = [Style(init_color(c.init_name), ACTIVATION_LINE_STYLES.get(c.activation, "-.")) for c in cases]
    keys = []
    for c in cases:
        std = c.init.get("std")
        keys.append((float(std) if isinstance(std, (int, float)) else 0.0, c.label))
    return _shaded(base, keys)


def _case_note(case: ActivationCaseResult, k: int) -> str:
    """std and, where they mean something, the saturated (sigmoid, tanh) or zero (ReLU) share of a layer."""
    parts = [f"std {case['std'][k]:.2g}"]
    if case.bounded:
        parts.append(f"sat {format_percent(float(case['saturated_frac'][k]))}")
    elif case.activation == "relu":
        parts.append(f"zero {format_percent(float(case['zero_frac'][k]))}")
    return " · ".join(parts)


def _histograms_figure(result: ActivationsResult, styles: Sequence[Style]) -> Figure:
    """Rows = cases, columns = layers: the histogram of each layer's outputs, as in the lecture.

    Bars are the share of the layer's N × H outputs in each bin, on a value axis shared along a row.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    from optbench.activations import HISTOGRAM_QUANTILE
    from optbench.diagnostics import SATURATION_MARGIN

    cases = result.cases
    ncols = max(len(c.layers) for c in cases)
    width, height = HIST_PANEL
    fig = Figure(figsize=(width * ncols + 1.4, height * len(cases) + 1.3), dpi=DPI, layout="constrained")
    grid = fig.subplots(len(cases), ncols, squeeze=False, sharex="row", sharey="row")
    total = result.outputs_per_layer
    for r, (case, style) in enumerate(zip(cases, styles)):
        edges = np.linspace(case.hist_low, case.hist_high, case.counts.shape[1] + 1)
        for k in range(ncols):
            ax = grid[r, k]
            if k >= len(case.layers):
                ax.set_visible(False)
                continue
            heights = case.counts[k] / total if total else case.counts[k]
            ax.stairs(heights, edges, fill=True, color=style.color, alpha=HIST_ALPHA)
            ax.set_xlim(case.hist_low, case.hist_high)
            ax.xaxis.set_major_locator(MaxNLocator(4))
            ax.tick_params(labelsize=8)
            note = _case_note(case, k)
            ax.set_title(f"layer {case.layers[k]}\n{note}" if r == 0 else note, fontsize=9)
            ax.grid(axis="x", visible=False)
        top = float(case.counts.max()) / (total or 1)
        grid[r, 0].set_ylim(0, top * HIST_HEADROOM if top > 0 else 1)
        if total:
            grid[r, 0].yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        grid[r, 0].set_ylabel(case.label, color=shade(style.color, 1, 2), fontweight="bold", fontsize=10)
    share = f"share of the layer's {total:,} outputs" if total else "outputs"
    fig.suptitle(
        f"{result.name}: histogram of each layer's outputs at initialisation (rows: cases)\n"
        f"bars: {share} per bin; range (0, 1) for sigmoid, (−1, 1) for tanh, else [0, the case's "
        f"{HISTOGRAM_QUANTILE:.1%} quantile of |output|]\nReLU bars leave out exact zeros; "
        f"sat: outputs within {SATURATION_MARGIN:g} of a bound; zero: outputs exactly 0",
        fontsize=11,
    )
    return fig


def _gradients_figure(result: ActivationsResult, styles: Sequence[Style]) -> Figure:
    """Per layer, on one backward pass: ‖∂L/∂W‖, the std of ∂L/∂a and the std of the outputs (log axes)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = _figure((16.0, 5.4), 1, 3)
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
        zeros |= _draw_lines(ax, lines, _is_log([v for _, v, _ in lines], "log"))
        ax.set_title(title)
        ax.set_xlabel("hidden layer (input → output)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    zero_note = f"; {ZERO_NOTE}" if zeros else ""
    readout = f"{result.readout_classes}-class " if result.readout_classes else ""
    fig.suptitle(
        f"{result.name}: one backward pass at initialisation, cross-entropy of a linear "
        f"{readout}read-out{zero_note}"
    )
    _legend(fig, axes[0], outside=True)
    return fig


def activation_figures(folder: Path) -> list[Path]:
    """histograms.png and gradients.png of an `optbench activations` folder; returns the PNGs written."""
    return render(_activation_jobs(folder))


def _activation_jobs(folder: Path) -> list[FigureJob]:
    result = read_activations(folder)
    if not result.cases:
        return []
    styles = activation_case_styles(result.cases)
    return [
        (folder / HISTOGRAMS_PNG, lambda: _histograms_figure(result, styles)),
        (folder / GRADIENTS_PNG, lambda: _gradients_figure(result, styles)),
    ]


# --------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------


def run_figures(run_folder: Path) -> list[Path]:
    """The figures of one run folder (what `optbench train` shows); returns the PNGs written.

    Function task: path.png and loss.png. Dataset task: curves.png, and diagnostics.png when the run
    logged diagnostics. A run without metrics gets no figures.
    """
    run = read_run(run_folder)
    if not run.has_metrics or not run.config:
        return []
    written = []
    with _style():
        if run.kind == "function":
            objective = FUNCTIONS.get(str(value_at(run.config, "task.function")))
            if objective is None:
                return []
            written.append(save_png(_path_figure(run, objective), run_folder / PATH_PNG))
            variant = Variant(variant_label(run.config, (), show_lr=True), (run,))
            fig = _function_loss_figure(
                f"{_function_title(objective)}", [variant], [Style(optimizer_color(run.optimizer))]
            )
            written.append(save_png(fig, run_folder / LOSS_PNG))
        else:
            written.append(save_png(_curves_figure(run), run_folder / CURVES_PNG))
            if run.diagnostics is not None and len(run.diagnostics.get("step", ())):
                written.append(save_png(_run_diagnostics_figure(run), run_folder / DIAGNOSTICS_PNG))
    return written


def experiment_figures(exp_folder: Path, processes: int = 1) -> list[Path]:
    """The combined figures of an experiment folder, from its files; returns the PNGs written.

    Only finished runs (completed or diverged) are drawn; an experiment with none gets no figures.
    Function tasks: paths.png, paths_panels.png (up to MAX_PANELS variants), loss.png. Dataset
    tasks: loss.png, test_accuracy.png, test_loss.png, lr_sensitivity.png when some optimizer was run
    at two or more learning rates (everything else equal), and diagnostics.png when the runs logged
    diagnostics.
    An `optbench activations` folder gets its own figures (`activation_figures`).
    With `processes` > 1 the figures are drawn by that many processes at once.
    """
    written = render(figure_jobs(exp_folder), processes)
    order = [exp_folder / name for name in EXPERIMENT_FIGURES]
    return sorted(written, key=lambda path: order.index(path) if path in order else len(order))


def figure_jobs(exp_folder: Path) -> list[FigureJob]:
    """The figures `experiment_figures` draws for a folder, not yet drawn, heaviest first."""
    if is_activations_folder(exp_folder):
        return _activation_jobs(exp_folder)
    exp = read_experiment(exp_folder)
    variants = exp.finished_variants
    if not variants:
        return []
    styles = variant_styles(variants)
    jobs: list[FigureJob] = []
    if exp.kind == "function":
        objectives = {o.name: o for o in (_objective_of(v) for v in variants) if o is not None}
        if len(objectives) == 1:
            (objective,) = objectives.values()
            jobs.append((exp_folder / PATHS_PNG, lambda: _paths_figure(exp, variants, styles, objective)))
        if len(variants) <= MAX_PANELS:
            jobs.append((exp_folder / PATHS_PANELS_PNG, lambda: _paths_panels_figure(exp, variants, styles)))
        title = (
            f"{exp.name}: "
            + ("f(x_t) − f*" if all(o.min_value is not None for o in objectives.values()) else "f(x_t)")
            + " per step"
        )
        jobs.append((exp_folder / LOSS_PNG, lambda: _function_loss_figure(title, variants, styles)))
        return jobs
    if any(
        r.diagnostics is not None and len(r.diagnostics.get("step", ())) for v in variants for r in v.finished
    ):
        jobs.append(
            (exp_folder / DIAGNOSTICS_PNG, lambda: _diagnostics_comparison_figure(exp, variants, styles))
        )
    jobs.append((exp_folder / LOSS_PNG, lambda: _training_loss_figure(exp, variants, styles)))
    jobs.append((exp_folder / TEST_ACCURACY_PNG, lambda: _test_figure(exp, variants, styles, "test_acc")))
    jobs.append((exp_folder / TEST_LOSS_PNG, lambda: _test_figure(exp, variants, styles, "test_loss")))
    if "optimizer.lr" in exp.varied and any(len(m) > 1 for _, m in _lr_groups(exp, variants)):
        jobs.append((exp_folder / LR_SENSITIVITY_PNG, lambda: _lr_sensitivity_figure(exp, variants)))
    return jobs


def _draw(jobs: Sequence[FigureJob]) -> list[Path]:
    with _style():
        return [save_png(build(), path) for path, build in jobs]


def _draw_in_child(jobs: Sequence[FigureJob], errors: Any) -> None:
    """A forked drawing process: its figures, then an exit without traceback.

    What went wrong goes back to the parent through `errors`, which reports it once; an interrupt is
    the parent's to report.
    """
    try:
        _draw(jobs)
    except KeyboardInterrupt:
        os._exit(EXIT_INTERRUPTED)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
        os._exit(1)


def render(jobs: Sequence[FigureJob], processes: int = 1) -> list[Path]:
    """Draw and save every figure; with processes > 1, forked processes share the work.

    The jobs come first-listed-heaviest; they are dealt round-robin, this process drawing its share
    while the others draw theirs. Forking gives each process the data already read and matplotlib
    already imported, so a process costs only its drawing.
    """
    import multiprocessing as mp

    processes = min(processes, len(jobs))
    if processes <= 1 or "fork" not in mp.get_all_start_methods():
        return _draw(jobs)
    import matplotlib.figure  # noqa: F401  (imported once here, before the fork, not in every child)

    context = mp.get_context("fork")
    errors = context.SimpleQueue()
    children = [
        context.Process(target=_draw_in_child, args=(jobs[i::processes], errors), daemon=True)
        for i in range(1, processes)
    ]
    for child in children:
        child.start()
    try:
        _draw(jobs[0::processes])
    finally:
        for child in children:
            child.join()
    failed = [child.exitcode for child in children if child.exitcode != 0]
    if EXIT_INTERRUPTED in failed:
        raise KeyboardInterrupt
    if failed:
        reason = errors.get() if not errors.empty() else f"exit code {failed[0]}"
        raise OptbenchError(f"drawing figures failed: {reason}")
    return [path for path, _ in jobs]


__all__ = [
    "ACTIVATION_FIGURES",
    "INIT_COLORS",
    "OPTIMIZER_COLORS",
    "activation_case_styles",
    "activation_figures",
    "experiment_figures",
    "init_color",
    "optimizer_color",
    "run_figures",
    "shade",
    "variant_styles",
]
