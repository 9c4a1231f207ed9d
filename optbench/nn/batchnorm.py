"""Batch normalisation: each unit's pre-activation standardised over the batch, then scaled and shifted.

Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift", placed as the book's `MultiLayerNetExtend` places it: after each hidden affine
layer, before its activation (chapter 6.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.nn.layers import Array, Layer, Shapes

BATCH_NORM_MOMENTUM = 0.1
"""The weight of the batch's statistics in the running ones, as torch's `momentum`; the book writes
the same update with 0.9 as the weight of the old value."""

BATCH_NORM_EPS = 1e-6
"""ε under the square root: the book's `10e-7` (torch's default is 1e-5)."""


@dataclass(eq=False)
class BatchNorm(Layer):
    """y = γ·x̂ + β, x̂ the input standardised per unit: over the batch in training, with the running
    statistics in evaluation.

    A training pass over a batch of B rows, for each of the n units:

        μ = (1/B) Σ x          σ² = (1/B) Σ (x − μ)²          x̂ = (x − μ) / √(σ² + ε)
        running_mean ← (1 − m)·running_mean + m·μ
        running_var  ← (1 − m)·running_var  + m·σ²     (with `unbiased`: m·σ²·B/(B − 1))

    An evaluation: x̂ = (x − running_mean) / √(running_var + ε). From δ = ∂L/∂y of a training pass:

        ∂L/∂γ = Σ δ ⊙ x̂          ∂L/∂β = Σ δ
        ∂L/∂x = γ / (B·√(σ² + ε)) ⊙ (B·δ − Σ δ − x̂ ⊙ Σ (δ ⊙ x̂))

    (sums over the batch). γ starts at 1 and β at 0, and both are trained like any parameter; the
    running statistics (starting at 0 and 1) are the layer's state, kept in checkpoints.

    The book and torch.nn.BatchNorm1d differ in the running statistics only: the book adds ε = 1e-6
    (its `10e-7`) and keeps the biased variance σ²; torch adds ε = 1e-5 and keeps the unbiased one.
    Both move the running values a tenth of the way (the book's momentum 0.9 is the weight of the old
    value, torch's 0.1 that of the new one: the same update). The defaults here are the book's;
    `eps: 1e-5` and `unbiased: true` give torch's. The training pass and its gradients are the same
    in all three.
    """

    n: int
    momentum: float = BATCH_NORM_MOMENTUM
    eps: float = BATCH_NORM_EPS
    unbiased: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._xhat: dict[int, Array] = {}
        self._input_grads: dict[int, Array] = {}
        self._std: Array | None = None
        self._x: Array | None = None
        """x̂ of the last training pass, and the batch's √(σ² + ε)."""

    def param_shapes(self) -> Shapes:
        return {"gamma": (self.n,), "beta": (self.n,)}

    def state_shapes(self) -> Shapes:
        return {"running_mean": (self.n,), "running_var": (self.n,)}

    def initialise(self) -> None:
        """γ = 1, β = 0, running mean 0 and running variance 1: the layer as it starts."""
        self.params["gamma"][...] = 1
        self.params["beta"][...] = 0
        self.state["running_mean"][...] = 0
        self.state["running_var"][...] = 1

    def forward(self, x: Array, train: bool) -> Array:
        """The output overwrites the input's array."""
        if train:
            if len(x) < 2:
                raise ValueError("batch normalisation needs at least 2 examples in a training batch")
            mean = x.mean(axis=0)
            x -= mean
            var = np.mean(x * x, axis=0)
            std = np.sqrt(var + self.eps)
            running_mean, running_var = self.state["running_mean"], self.state["running_var"]
            running_mean *= 1 - self.momentum
            running_mean += self.momentum * mean
            running_var *= 1 - self.momentum
            batch = len(x)
            running_var += self.momentum * (var * batch / (batch - 1) if self.unbiased else var)
        else:
            x -= self.state["running_mean"]
            std = np.sqrt(self.state["running_var"] + self.eps)
        x /= std
        if train:
            xhat = self._xhat.get(len(x))
            if xhat is None:
                xhat = self._xhat[len(x)] = np.empty_like(x)
            np.copyto(xhat, x)
            self._x, self._std = xhat, std
        x *= self.params["gamma"]
        x += self.params["beta"]
        return x

    def backward_params(self, dout: Array) -> None:
        assert self._x is not None, "backward needs a training forward pass"
        np.sum(dout * self._x, axis=0, out=self.grads["gamma"])
        np.sum(dout, axis=0, out=self.grads["beta"])

    def backward_input(self, dout: Array) -> Array:
        assert self._x is not None and self._std is not None, "backward needs a training forward pass"
        xhat, batch = self._x, len(dout)
        dx = self._input_grads.get(batch)
        if dx is None:
            dx = self._input_grads[batch] = np.empty_like(dout)
        np.multiply(dout, batch, out=dx)
        dx -= dout.sum(axis=0)
        dx -= xhat * np.sum(dout * xhat, axis=0)
        dx *= self.params["gamma"] / (batch * self._std)
        return dx
