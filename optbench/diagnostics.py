"""Per-layer statistics of a network: what vanishing gradients, dying units and symmetry look like.

Read after a forward and backward pass (`Network.loss_and_grad`) on some batch: the hidden layers'
outputs and the gradients then describe the network on that batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.measures import DISTINCT_TOLERANCE, SATURATION_MARGIN
from optbench.nn import Activation, Network

DIAGNOSTIC_COLUMNS = (
    "step",
    "layer",
    "weight_norm",
    "grad_norm",
    "act_mean",
    "act_std",
    "inactive_frac",
    "distinct_units",
)
"""inactive_frac: for ReLU-like activations the fraction of units that output zero on every example of
the batch (dead units); for sigmoid and tanh the fraction of outputs that are saturated."""


def inactive_fraction(outputs: NDArray[Any], activation: Activation | type[Activation]) -> float:
    """Dead units (ReLU: zero on every example) or saturated outputs (sigmoid, tanh), as a fraction."""
    if activation.bounds is not None:
        low, high = activation.bounds
        saturated = (outputs <= low + SATURATION_MARGIN) | (outputs >= high - SATURATION_MARGIN)
        return float(np.count_nonzero(saturated) / saturated.size)
    if activation.name in ("relu", "leaky_relu"):
        dead = np.all(outputs <= 0, axis=0)
        return float(np.count_nonzero(dead) / dead.size)
    return 0.0


def distinct_units(weights: NDArray[Any], tolerance: float = DISTINCT_TOLERANCE) -> int:
    """How many different incoming weight vectors (columns of W) a layer has, up to `tolerance`.

    All-zero initialisation starts every layer at 1 distinct unit; whether training ever raises the
    count is what the zero-init study measures. Each column joins the first representative within
    `tolerance` (max-abs difference) of it, or becomes a new representative.

    Columns are visited in the order of a projection p = r·w with r ≥ 0, Σr = 1, so that
    |p_a − p_b| ≤ max|a − b|: only representatives whose projection lies within the tolerance need an
    exact comparison, which makes the usual cases (all distinct, all equal) linear in the columns.
    """
    w = np.asarray(weights, dtype=np.float64)
    scale = float(np.abs(w).max()) if w.size else 0.0
    tol = tolerance * scale if scale > 0 else tolerance
    r = np.random.default_rng(0).random(size=(1, w.shape[0]))
    proj = ((r / r.sum()) @ w)[0]
    reps: list[int] = []
    for col in np.argsort(proj, kind="stable"):
        k = len(reps) - 1
        while k >= 0 and proj[reps[k]] >= proj[col] - tol:
            if np.max(np.abs(w[:, col] - w[:, reps[k]])) <= tol:
                break
            k -= 1
        else:
            reps.append(int(col))
    return len(reps)


def layer_diagnostics(net: Network, step: int) -> list[tuple[Any, ...]]:
    """One row per affine layer (DIAGNOSTIC_COLUMNS), with the statistics of the activation after it;
    the last layer has none."""
    rows: list[tuple[Any, ...]] = []
    activations = net.activations
    for i, (w, gw) in enumerate(zip(net.weights, net.weight_grads)):
        act: tuple[float | None, ...] = (None, None, None)
        if i < len(activations):
            h = activations[i].y
            assert h is not None, "diagnostics before a forward pass"
            act = (float(h.mean()), float(h.std()), inactive_fraction(h, activations[i]))
        rows.append(
            (
                step,
                i + 1,
                float(np.linalg.norm(w)),
                float(np.linalg.norm(gw)),
                *act,
                distinct_units(w),
            )
        )
    return rows
