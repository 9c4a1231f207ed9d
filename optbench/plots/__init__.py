"""Every figure of optbench, drawn only from what is on disk, so `optbench report` can redraw them.

matplotlib is imported inside the functions that draw (the CLI must start without it), and only its
object-oriented API is used: no pyplot, no global figure state, the Agg renderer through `savefig`.
Each PNG is written through `optbench.files.atomic_file`, so an interrupt never leaves half a file.

Public face:
- drawing: `run_figures` (one run folder), `experiment_figures` (an experiment or activations folder),
  `activation_figures`, and `figure_jobs` + `render` to draw the figures of many folders at once,
  shared among forked processes; a `FigureJob` is where a figure goes and how to draw it; a tune
  folder's figures come through the same calls, and `draw_performance_profile` draws the profile of
  several tuning studies (beside a suite's index.md);
- the colour policy every figure follows (see `style`): `OPTIMIZER_COLORS`, `INIT_COLORS`,
  `FALLBACK_COLORS`, `optimizer_color`, `init_color`, `shade`, `Style`, `variant_styles`,
  `activation_case_styles`;
- `ACTIVATION_FIGURES`, the figure names of an activations folder (from `optbench.layout`).

Inside: `style` (colours and line styles), `axes` (what every figure shares), `functions` (2-D function
tasks), `training` (training curves and comparisons), `diagnostics` (per-layer diagnostics),
`activations` (the activation-distribution experiment), `tuning` (tuning studies and their
performance profile), `rendering` (which figures a folder gets, and drawing them).
"""

from optbench.layout import ACTIVATION_FIGURES
from optbench.plots.rendering import (
    FigureJob,
    activation_figures,
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
    "ACTIVATION_FIGURES",
    "FALLBACK_COLORS",
    "INIT_COLORS",
    "OPTIMIZER_COLORS",
    "FigureJob",
    "Style",
    "activation_case_styles",
    "activation_figures",
    "draw_performance_profile",
    "experiment_figures",
    "figure_jobs",
    "init_color",
    "optimizer_color",
    "render",
    "run_figures",
    "shade",
    "variant_styles",
]
