"""The activation-distribution experiment: what each layer of a deep net outputs at initialisation.

For each (initialiser, activation) case, N inputs go through L layers of H units without bias (with
batch normalisation before each activation where the case asks for it, over the N inputs); the
outputs of every layer are summarised (mean, std, saturated or zero fraction, a histogram). One
backward pass of a cross-entropy loss through a linear read-out then gives each layer's gradient
magnitude, so a vanishing gradient shows beside the activations that cause it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.config import ActivationCase, ActivationsConfig
from optbench.data import PIXEL_MAX
from optbench.measures import HISTOGRAM_QUANTILE, SATURATION_MARGIN
from optbench.nn import ACTIVATIONS, MLP, BatchNorm


@dataclass(frozen=True)
class LayerStats:
    """One layer of one case: its output distribution and its gradient on one backward pass."""

    case: int
    label: str
    init: str
    activation: str
    layer: int
    mean: float
    std: float
    saturated_frac: float | None
    """Outputs within SATURATION_MARGIN of a bound (sigmoid, tanh); None for unbounded activations."""
    zero_frac: float
    """Outputs exactly zero (dead ReLU outputs)."""
    grad_norm: float
    """‖∂L/∂W‖ of the layer's weights (Frobenius)."""
    delta_std: float
    """Standard deviation of ∂L/∂a, the gradient reaching the layer's pre-activations."""
    hist_low: float
    hist_high: float
    counts: tuple[int, ...]
    """The layer's outputs in each of the bins that split [hist_low, hist_high] evenly (exact zeros
    included: a ReLU's are in the first bin)."""

    def row(self) -> list[Any]:
        return [
            self.case,
            self.label,
            self.init,
            self.activation,
            self.layer,
            self.mean,
            self.std,
            self.saturated_frac,
            self.zero_frac,
            self.grad_norm,
            self.delta_std,
            self.hist_low,
            self.hist_high,
            *self.counts,
        ]


def columns(bins: int) -> list[str]:
    head = [
        "case",
        "label",
        "init",
        "activation",
        "layer",
        "mean",
        "std",
        "saturated_frac",
        "zero_frac",
        "grad_norm",
        "delta_std",
        "hist_low",
        "hist_high",
    ]
    return head + [f"count_{i}" for i in range(bins)]


def make_input(
    cfg: ActivationsConfig, rng: np.random.Generator, mnist: Any | None = None
) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """The N×D input and the read-out labels: standard normal with random labels, or MNIST images."""
    if cfg.input == "mnist":
        assert mnist is not None
        rows = rng.choice(len(mnist.train_labels), size=cfg.samples, replace=False)
        x = mnist.train_images[rows] / PIXEL_MAX
        return x.astype(np.float64), mnist.train_labels[rows].astype(np.intp)
    x = rng.standard_normal((cfg.samples, cfg.features))
    return x, rng.integers(0, cfg.readout_classes, size=cfg.samples).astype(np.intp)


def histogram_range(outputs: list[NDArray[Any]], activation: str) -> tuple[float, float]:
    """(0, 1) for sigmoid and (−1, 1) for tanh as in the lecture; else from the case's own outputs,
    up to a quantile of their magnitudes other than 0 (a ReLU's zeros, half of its outputs, would
    otherwise pull the range in)."""
    bounds = ACTIVATIONS[activation].bounds
    if bounds is not None:
        return bounds
    magnitudes = np.concatenate([np.abs(h[h != 0]).ravel() for h in outputs] + [np.zeros(1)])
    high = float(np.quantile(magnitudes, HISTOGRAM_QUANTILE)) or 1.0
    low = 0.0 if activation == "relu" else -high
    return low, high


def run_case(
    index: int,
    case: ActivationCase,
    cfg: ActivationsConfig,
    x: NDArray[Any],
    labels: NDArray[np.intp],
    rng: np.random.Generator,
) -> list[LayerStats]:
    """Forward and backward through one case's network; statistics for each hidden layer."""
    sizes = (x.shape[1], *([cfg.nodes] * cfg.layers), cfg.readout_classes)
    normalise = [BatchNorm] if case.batch_norm else []
    net = MLP(
        sizes,
        ACTIVATIONS[case.activation],
        case.init,
        rng,
        dtype=np.float64,
        bias=False,
        before_activation=normalise,
    )
    net.loss_and_grad(x, labels)
    outputs, deltas = net.hidden_outputs, net.hidden_deltas
    low, high = histogram_range(outputs, case.activation)
    act = ACTIVATIONS[case.activation]
    stats = []
    for layer, (h, delta) in enumerate(zip(outputs, deltas), start=1):
        # every output is counted, a ReLU's exact zeros in the first bin, as the book's histograms do
        counts, _ = np.histogram(h, bins=cfg.bins, range=(low, high))
        saturated = None
        if act.bounds is not None:
            lo, hi = act.bounds
            saturated = float(np.mean((h <= lo + SATURATION_MARGIN) | (h >= hi - SATURATION_MARGIN)))
        stats.append(
            LayerStats(
                case=index,
                label=case.label,
                init=case.init.name,
                activation=case.activation,
                layer=layer,
                mean=float(h.mean()),
                std=float(h.std()),
                saturated_frac=saturated,
                zero_frac=float(np.mean(h == 0)),
                grad_norm=float(np.linalg.norm(net.weight_grads[layer - 1])),
                delta_std=float(delta.std()),
                hist_low=low,
                hist_high=high,
                counts=tuple(int(c) for c in counts),
            )
        )
    return stats


def run(cfg: ActivationsConfig, mnist: Any | None = None) -> Iterator[LayerStats]:
    """Every case of the experiment on the same input; each case's weights from its own stream."""
    input_seq, *case_seqs = np.random.SeedSequence(cfg.seed).spawn(1 + len(cfg.cases))
    x, labels = make_input(cfg, np.random.default_rng(input_seq), mnist)
    for index, (case, seq) in enumerate(zip(cfg.cases, case_seqs)):
        yield from run_case(index, case, cfg, x, labels, np.random.default_rng(seq))
