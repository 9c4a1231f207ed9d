"""How the numbers on disk are measured: the definitions that the code measuring them and the code
describing them (figure captions, report sentences) share, so that a reader never imports the
experiment that produced the numbers.
"""

FINAL_LOSS_WINDOW = 100
"""final_loss of a dataset run: the mean training loss over this many last steps (fewer if shorter)."""

SATURATION_MARGIN = 0.01
"""An output within this distance of a bound of sigmoid (0, 1) or tanh (−1, 1) counts as saturated."""

DISTINCT_TOLERANCE = 1e-6
"""Two units are the same unit if their incoming weight columns differ by at most this (relative to the
largest weight of the layer, absolute when the layer is all zeros)."""

HISTOGRAM_QUANTILE = 0.995
"""Without natural bounds (ReLU, identity) a case's histograms span up to this quantile of |output|."""
