"""Dropout: each unit of a training pass kept at random, the others silenced (chapter 6.4.3).

Srivastava et al. (2014), "Dropout: A Simple Way to Prevent Neural Networks from Overfitting", in
its inverted form by default, as torch.nn.Dropout: the kept units are scaled up during training, so
that an evaluation is the plain network; or in the book's form, scaled down in evaluation.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np

from optbench.nn.layers import Array, Layer


@dataclass(eq=False)
class Dropout(Layer):
    """y = x ⊙ M / (1 − p) in a training pass, y = x in an evaluation; M_ij ~ Bernoulli(1 − p).

    From δ = ∂L/∂y of a training pass: ∂L/∂x = δ ⊙ M / (1 − p).

    The book's `Dropout` (`inverted=False`) keeps the units unscaled in training, y = x ⊙ M with
    ∂L/∂x = δ ⊙ M, and multiplies every output by 1 − p in evaluation instead. Both give each unit
    the same expected output in training and evaluation; the inverted form is torch's and leaves
    evaluation (the test set, a replica evaluating beside the training, a checkpoint) untouched. They
    train differently at the same learning rate: the book's passes signals and gradients (1 − p)
    times smaller through each dropout layer in training, so a deep network learns more slowly.

    The masks come from `rng`, one uniform draw per output, in float64 whatever the network's dtype,
    so a run's masks depend on its seed alone. With `hold_mask`, a training pass reuses the last mask
    (a gradient check needs one fixed network).
    """

    p: float
    rng: np.random.Generator
    hold_mask: bool = False
    inverted: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.p < 1:
            raise ValueError(f"dropout's p is the probability of dropping a unit, in [0, 1): got {self.p}")
        self._scales: dict[int, Array] = {}
        self._draws: dict[int, Array] = {}
        """The float64 uniform draws of a batch size, drawn into with `out=` rather than allocated."""
        self._outputs: dict[int, Array] = {}
        self._scale: Array | None = None
        """M / (1 − p) of the last training pass (M for the book's form)."""

    def forward(self, x: Array, train: bool) -> Array:
        if not train:
            if not self.inverted:
                x *= 1 - self.p
            return x
        scale = self._scales.get(len(x))
        if scale is None:
            scale = self._scales[len(x)] = np.empty_like(x)
        if not (self.hold_mask and scale is self._scale):  # a mask is held for the batch size it had
            draws = self._draws.get(len(x))
            if draws is None:
                draws = self._draws[len(x)] = np.empty(x.shape, np.float64)
            np.greater_equal(self.rng.random(out=draws), self.p, out=scale)
            if self.inverted:
                scale /= 1 - self.p
        self._scale = scale
        out = self._outputs.get(len(x))
        if out is None:
            out = self._outputs[len(x)] = np.empty_like(x)
        np.multiply(x, scale, out=out)
        return out

    def backward_input(self, dout: Array) -> Array:
        assert self._scale is not None, "backward needs a training forward pass"
        dout *= self._scale
        return dout

    def generators(self) -> list[np.random.Generator]:
        return [self.rng]

    def fresh(self) -> Layer:
        """A copy drawing from a copy of the generator: a replica's training passes (the diagnostics'
        probe) leave the run's own masks alone."""
        return dataclasses.replace(self, rng=copy.deepcopy(self.rng))
