"""Placing a figure's panels: measured once, from what surrounds each panel, before its one drawing.

matplotlib's constrained layout measures every panel twice and `savefig` then draws the figure twice
(once to lay it out, once to render), which made up most of the time of drawing a figure. Here each
panel's surroundings (tick labels, axis labels, title, colour bar, markers beyond its edges) are
measured once, in inches; margins and gaps are set so that the widest of them fit; a figure legend
goes to the right of the panels and the figure title above them. The tick objects made while
measuring are the ones the drawing then uses, so measuring costs little more than the drawing saves.

It serves figures of one grid of panels (`Figure.subplots`), a figure legend at the right at most,
and colour bars drawn in an inset beside their panel; a grid's columns share one width and its rows
one height, as `subplots` makes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matplotlib.layout_engine import LayoutEngine

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Text

EDGE = 0.08
"""Inches left free between the figure's edge and what is drawn next to it."""
PAD = 0.12
"""Inches between a panel's surroundings and the next panel's, the legend or the figure title."""
MIN_PANEL = 0.5
"""A panel is never made narrower or lower than this many inches, whatever its surroundings ask."""


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


class MeasuredLayout(LayoutEngine):
    """Margins and gaps from one measurement of each panel (see the module's docstring)."""

    _adjust_compatible = True
    _colorbar_gridspec = False

    def set(self) -> None:
        """It has nothing to set: its only inputs are the figure's own artists."""

    def execute(self, fig: Figure) -> None:
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # an Agg canvas
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
        if not panels:
            return
        nrows, ncols = panels[0].get_subplotspec().get_gridspec().get_geometry()  # type: ignore[union-attr]
        left = [0.0] * ncols
        right = [0.0] * ncols
        top = [0.0] * nrows
        bottom = [0.0] * nrows
        for ax in panels:
            spec = ax.get_subplotspec()
            assert spec is not None
            out = overhang(ax, renderer, fig.dpi)
            rows, cols = spec.rowspan, spec.colspan
            left[cols.start] = max(left[cols.start], out.left)
            right[cols.stop - 1] = max(right[cols.stop - 1], out.right)
            top[rows.start] = max(top[rows.start], out.top)
            bottom[rows.stop - 1] = max(bottom[rows.stop - 1], out.bottom)
        width, height = fig.get_size_inches()
        dpi = fig.dpi
        legend_width = max((lg.get_window_extent(renderer).width / dpi for lg in fig.legends), default=0.0)
        title = _suptitle(fig)
        title_height = title.get_window_extent(renderer).height / dpi + PAD if title is not None else 0.0
        margin_left = EDGE + left[0]
        margin_right = EDGE + right[-1] + (legend_width + PAD if fig.legends else 0.0)
        margin_top = EDGE + title_height + top[0]
        margin_bottom = EDGE + bottom[-1]
        wgap = _gap([right[c] + left[c + 1] for c in range(ncols - 1)], ncols)
        hgap = _gap([bottom[r] + top[r + 1] for r in range(nrows - 1)], nrows)
        panel_w = max((width - margin_left - margin_right - wgap * (ncols - 1)) / ncols, MIN_PANEL)
        panel_h = max((height - margin_top - margin_bottom - hgap * (nrows - 1)) / nrows, MIN_PANEL)
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
        for legend in fig.legends:
            x = (width - EDGE - legend_width) / width
            legend.set_bbox_to_anchor((x, 1.0 - (EDGE + title_height) / height), transform=fig.transFigure)
