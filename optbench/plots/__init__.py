"""Every figure of optbench, drawn only from what is on disk, so `optbench report` can redraw them.

matplotlib is imported inside the functions that draw (the CLI must start without it), and only its
object-oriented API is used: no pyplot, no global figure state, the Agg canvas drawing each figure
once after `placement` has placed its panels. Each PNG is written through
`optbench.files.atomic_file`, so an interrupt never leaves half a file. A folder's figures are drawn
again only when what they are drawn from has changed (`fingerprints`, figures.json beside them).

Public face:
- drawing: `run_figures` (one run folder), `experiment_figures` (an experiment or activations folder),
  `activation_figures`, and `figure_jobs` + `render` to draw the figures of many folders at once,
  shared among forked processes (`current_figures`: the figures figures.json records); a `FigureJob`
  is where a figure goes, how to draw it and what it is drawn from; `force=True` draws figures that
  are current too; a tune folder's figures come through the same calls, and
  `draw_performance_profile` draws the profile of several tuning studies (beside a suite's
  index.md); `import_drawing` imports what drawing needs ahead of time, and a `Drawer` (`drawer`) is
  a process forked as a command starts that imports it while the runs train, then draws what the
  command hands it;
- the colour policy every figure follows (see `style`): `OPTIMIZER_COLORS`, `INIT_COLORS`,
  `FALLBACK_COLORS`, `optimizer_color`, `init_color`, `shade`, `Style`, `variant_styles`,
  `activation_case_styles`;
- `activation_figures_of`, the figure names of an activations folder (from `optbench.layout`).

Inside: `style` (colours and line styles), `axes` (what every figure shares), `placement` (margins and
gaps measured once per figure), `png` (the PNG writer), `functions` (2-D function tasks),
`training` (training curves and comparisons), `diagnostics` (per-layer diagnostics), `activations`
(the activation-distribution experiment), `tuning` (tuning studies and their performance profile),
`epochs` (curves per epoch: batch normalisation across weight scales, training against held-out
accuracy), `search` (a search of one optimizer's two values: its best trials, its good region),
`fingerprints` (what each figure was drawn from), `rendering` (which figures a folder gets, and
drawing them), `drawer` (the drawing process a command starts ahead of its runs).
"""

from optbench.layout import activation_figures_of
from optbench.plots.axes import import_drawing
from optbench.plots.drawer import Drawer
from optbench.plots.rendering import (
    FigureJob,
    activation_figures,
    current_figures,
    experiment_figures,
    figure_jobs,
    render,
    run_figures,
)
from optbench.plots.style import (
    FALLBACK_COLORS,
    INIT_COLORS,
    OPTIMIZER_COLORS,
    Style,
    activation_case_styles,
    init_color,
    optimizer_color,
    shade,
    variant_styles,
)
from optbench.plots.tuning import draw_performance_profile

__all__ = [
    "FALLBACK_COLORS",
    "INIT_COLORS",
    "OPTIMIZER_COLORS",
    "Drawer",
    "FigureJob",
    "Style",
    "activation_case_styles",
    "activation_figures",
    "activation_figures_of",
    "current_figures",
    "draw_performance_profile",
    "experiment_figures",
    "figure_jobs",
    "import_drawing",
    "init_color",
    "optimizer_color",
    "render",
    "run_figures",
    "shade",
    "variant_styles",
]
