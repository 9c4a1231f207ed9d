"""Placing a figure's panels: measured once, from what surrounds each panel, before its one drawing.

matplotlib's constrained layout measures every panel twice and `savefig` then draws the figure twice
(once to lay it out, once to render), which made up most of the time of drawing a figure. Here each
panel's surroundings (tick labels, axis labels, title, colour bar, markers beyond its edges) are
measured once, in inches; margins and gaps are set so that the widest of them fit; a figure legend
goes to the right of the panels (or under them) and the figure title above them. The tick objects
made while measuring are the ones the drawing then uses, so measuring costs little more than the
drawing saves.

Nothing written is left outside the canvas: a figure title wider than the figure, or a panel title
wider than its panel, is wrapped at its spaces (the panels' height gives way to the extra lines); a
legend taller than the figure beside the panels gets more columns, one too wide under them fewer.

It serves figures of one grid of panels (`Figure.subplots`), one figure legend at most, and colour
bars drawn in an inset beside their panel; a grid's columns share one width and its rows one
height, as `subplots` makes them.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from matplotlib.layout_engine import LayoutEngine

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

EDGE = 0.08
"""Inches left free between the figure's edge and what is drawn next to it."""
PAD = 0.12
"""Inches between a panel's surroundings and the next panel's, the legend or the figure title."""
MIN_PANEL = 0.5
"""A panel is never made narrower or lower than this many inches, whatever its surroundings ask."""
CROWDED_LEGEND_FONT = 8.0
"""Points of the text of a legend beside the panels that is taller than the figure (before it is
given more columns)."""


@dataclass(frozen=True)
class Overhang:
    """How far, in inches, what belongs to a panel reaches beyond each of its edges."""

    left: float
    right: float
    bottom: float
    top: float


def overhang(ax: Axes, renderer: RendererBase, dpi: float) -> Overhang:
    """The extent of a panel's surroundings beyond its edges (its tight box against its box)."""
    box = ax.get_window_extent(renderer)
    tight = ax.get_tightbbox(renderer, for_layout_only=True) or box
    top = max(0.0, tight.y1 - box.y1)
    offset = ax.yaxis.offsetText  # "1e9" above the value axis
    if ax.get_title() and offset.get_visible() and offset.get_text():
        # matplotlib lifts the title over it when they overlap, which depends on the panel's final
        # width: room is kept for it whether they will or not
        top += offset.get_window_extent(renderer).height
    return Overhang(
        left=max(0.0, box.x0 - tight.x0) / dpi,
        right=max(0.0, tight.x1 - box.x1) / dpi,
        bottom=max(0.0, box.y0 - tight.y0) / dpi,
        top=top / dpi,
    )


def _suptitle(fig: Figure) -> Text | None:
    title = fig.get_suptitle()
    return next((t for t in fig.texts if title and t.get_text() == title), None)


def _gap(needs: Sequence[float], count: int) -> float:
    """The space between neighbours of a row (or column): the most any pair of them asks for."""
    return max(needs, default=0.0) + PAD if count > 1 else 0.0


MIN_WRAP = 12
"""A text is never wrapped to fewer characters a line than this (a longer word stays whole)."""


def wrap_to(text: Text, width: float, renderer: RendererBase) -> float:
    """Wrap a text's lines at spaces until it is at most `width` pixels wide; returns the pixels of
    height it gained.

    The characters a line may hold are estimated from the width measured, then lowered until the
    text fits: two or three measurements. A word wider than `width` stays whole, and sticks out.
    """
    box = text.get_window_extent(renderer)
    if box.width <= width:
        return 0.0
    lines = text.get_text().split("\n")
    chars = max(len(line) for line in lines)
    wide = box.width
    while wide > width and chars > MIN_WRAP:
        chars = max(MIN_WRAP, min(chars - 1, int(chars * width / wide)))
        text.set_text("\n".join(textwrap.fill(line, chars, break_long_words=False) for line in lines))
        wide = text.get_window_extent(renderer).width
    return max(0.0, text.get_window_extent(renderer).height - box.height)


@dataclass
class _Margins:
    """What each row and column of panels needs around it, in inches (`overhang`, by edge)."""

    left: list[float]
    right: list[float]
    top: list[float]
    bottom: list[float]


class MeasuredLayout(LayoutEngine):
    """Margins and gaps from one measurement of each panel (see the module's docstring).

    `legend_below`: the figure's legend goes under the panels, centred (a legend of a few entries in
    one row, under a wide grid), instead of to their right.
    """

    _adjust_compatible = True
    _colorbar_gridspec = False

    def __init__(self, legend_below: bool = False) -> None:
        super().__init__()
        self.legend_below = legend_below
        self._legend: tuple[list[Any], list[str], dict[str, Any]] | None = None

    def set(self) -> None:
        """It has nothing to set: its only inputs are the figure's own artists."""

    def legend(self, fig: Figure, handles: Sequence[Any], labels: Sequence[str], **kwargs: Any) -> None:
        """Give the figure its legend (`Figure.legend`'s keywords), which this layout places and
        gives its columns: beside the panels, one column, or where that is too tall for the figure,
        smaller type and as many columns as it takes; below them, one row, or as many as it takes."""
        self._legend = (list(handles), list(labels), kwargs)
        self._make_legend(fig, len(labels) if self.legend_below else 1)

    def _make_legend(self, fig: Figure, columns: int) -> Legend:
        assert self._legend is not None
        handles, labels, kwargs = self._legend
        for old in list(fig.legends):
            old.remove()
        where: dict[str, Any] = (
            {"loc": "lower center", "frameon": False} if self.legend_below else {"loc": "upper left"}
        )
        return fig.legend(handles, labels, ncols=columns, borderaxespad=0.0, **where, **kwargs)

    def _fit_legend(self, fig: Figure, renderer: RendererBase, width: float, height: float) -> Bbox | None:
        """The extent of the figure's legend, made again with other columns while it does not fit
        within `width` × `height` pixels (the columns estimated from its size, then counted one by one)."""
        if not fig.legends:
            return None
        box = fig.legends[0].get_window_extent(renderer)
        if self._legend is None:
            return box
        entries = len(self._legend[1])
        columns = entries if self.legend_below else 1
        if not self.legend_below and box.height > height:
            self._legend[2]["fontsize"] = CROWDED_LEGEND_FONT
            box = self._make_legend(fig, columns).get_window_extent(renderer)
        while self.legend_below and box.width > width and columns > 1:
            columns = max(1, min(columns - 1, int(columns * width / box.width)))
            box = self._make_legend(fig, columns).get_window_extent(renderer)
        while not self.legend_below and box.height > height and columns < entries:
            columns = min(entries, max(columns + 1, math.ceil(columns * box.height / height)))
            box = self._make_legend(fig, columns).get_window_extent(renderer)
        return box

    def execute(self, fig: Figure) -> None:
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # an Agg canvas
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
        if not panels:
            return
        nrows, ncols = panels[0].get_subplotspec().get_gridspec().get_geometry()  # type: ignore[union-attr]
        needs = _Margins([0.0] * ncols, [0.0] * ncols, [0.0] * nrows, [0.0] * nrows)
        for ax in panels:
            spec = ax.get_subplotspec()
            assert spec is not None
            out = overhang(ax, renderer, fig.dpi)
            rows, cols = spec.rowspan, spec.colspan
            needs.left[cols.start] = max(needs.left[cols.start], out.left)
            needs.right[cols.stop - 1] = max(needs.right[cols.stop - 1], out.right)
            needs.top[rows.start] = max(needs.top[rows.start], out.top)
            needs.bottom[rows.stop - 1] = max(needs.bottom[rows.stop - 1], out.bottom)
        width, height = fig.get_size_inches()
        dpi = fig.dpi
        title = _suptitle(fig)
        if title is not None:
            wrap_to(title, (width - 2 * EDGE) * dpi, renderer)
        title_height = title.get_window_extent(renderer).height / dpi + PAD if title is not None else 0.0
        room = ((width - 2 * EDGE) * dpi, (height - 2 * EDGE - title_height) * dpi)
        legend = self._fit_legend(fig, renderer, *room)
        beside = legend.width / dpi if legend is not None and not self.legend_below else 0.0
        below = legend.height / dpi if legend is not None and self.legend_below else 0.0
        outer = (
            EDGE + title_height,
            EDGE + (beside + PAD if beside else 0.0),
            EDGE + (below + PAD if below else 0.0),
        )
        panel_w, panel_h, wgap, hgap = _grid(needs, outer, width, height)
        if _wrap_titles(panels, panel_w, dpi, renderer, needs):
            panel_w, panel_h, wgap, hgap = _grid(needs, outer, width, height)
        margin_left, margin_top = EDGE + needs.left[0], outer[0] + needs.top[0]
        fig.subplots_adjust(
            left=margin_left / width,
            right=(margin_left + panel_w * ncols + wgap * (ncols - 1)) / width,
            bottom=1.0 - (margin_top + panel_h * nrows + hgap * (nrows - 1)) / height,
            top=1.0 - margin_top / height,
            wspace=wgap / panel_w,
            hspace=hgap / panel_h,
        )
        if title is not None:
            title.set_y(1.0 - EDGE / height)
            title.set_verticalalignment("top")
        for placed in fig.legends:
            if self.legend_below:
                placed.set_bbox_to_anchor((0.5, EDGE / height), transform=fig.transFigure)
            else:
                top = 1.0 - (EDGE + title_height) / height
                placed.set_bbox_to_anchor(((width - EDGE - beside) / width, top), transform=fig.transFigure)


def _wrap_titles(
    panels: Sequence[Axes], width: float, dpi: float, renderer: RendererBase, needs: _Margins
) -> bool:
    """Wrap each panel title wider than its panel (`width` inches), adding the height it gains to its
    row's top; returns whether some title was wrapped.

    The measurement of a panel leaves a title's width out (it is centred over the panel, whose
    width is not known yet), so titles are fitted once it is.
    """
    gains = [0.0] * len(needs.top)
    for ax in panels:
        spec = ax.get_subplotspec()
        assert spec is not None
        if ax.get_title():
            row = spec.rowspan.start
            gains[row] = max(gains[row], wrap_to(ax.title, width * dpi, renderer) / dpi)
    for row, gained in enumerate(gains):
        needs.top[row] += gained
    return any(gains)


def _grid(
    needs: _Margins, outer: tuple[float, float, float], width: float, height: float
) -> tuple[float, float, float, float]:
    """(panel width, panel height, gap between columns, gap between rows) in inches, for panels
    surrounded by `needs` in a figure with `outer` = (top, right, bottom) margins kept free."""
    ncols, nrows = len(needs.left), len(needs.top)
    top, right, bottom = outer
    margin_left, margin_right = EDGE + needs.left[0], right + needs.right[-1]
    margin_top, margin_bottom = top + needs.top[0], bottom + needs.bottom[-1]
    wgap = _gap([needs.right[c] + needs.left[c + 1] for c in range(ncols - 1)], ncols)
    hgap = _gap([needs.bottom[r] + needs.top[r + 1] for r in range(nrows - 1)], nrows)
    panel_w = max((width - margin_left - margin_right - wgap * (ncols - 1)) / ncols, MIN_PANEL)
    panel_h = max((height - margin_top - margin_bottom - hgap * (nrows - 1)) / nrows, MIN_PANEL)
    return panel_w, panel_h, wgap, hgap
