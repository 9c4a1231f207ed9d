"""Gradient descent with momentum: SGD, and the lecture's Momentum and Nesterov as named defaults."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, hyper
from optbench.optim.base import Array, Optimizer
from optbench.optim.inplace import add_, apply_weight_decay


@dataclass
class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, dampening, Nesterov and L2 weight decay.

    Robbins & Monro 1951, "A Stochastic Approximation Method"; momentum after Polyak 1964, "Some
    methods of speeding up the convergence of iteration methods", in the form of Sutskever et al.
    2013, "On the importance of initialization and momentum in deep learning". As torch.optim.SGD:

        g ← g + λθ                               (weight_decay λ > 0)
        b ← g                                    (t = 1, no dampening on the first update)
        b ← μb + (1 − τ)g                        (t > 1; momentum μ, dampening τ)
        g ← g + μb  if nesterov, else g ← b      (μ > 0)
        θ ← θ − ηg

    Defaults: lr 1e-3, momentum 0, dampening 0, nesterov false, weight_decay 0 (the book: lr 0.01).
    With μ = 0 this is the lecture's and the book's SGD, θ ← θ − η·∂L/∂θ.
    """

    name = "sgd"
    summary = "gradient descent, optionally with momentum / Nesterov (torch.optim.SGD)"
    state_names = ("momentum_buffer",)  # only with momentum

    lr: float = hyper(1e-3, "learning rate η", POSITIVE)
    momentum: float = hyper(0.0, "momentum factor μ", UNIT_INTERVAL)
    dampening: float = hyper(0.0, "dampening τ of the gradient added to the buffer", UNIT_INTERVAL)
    nesterov: bool = hyper(False, "use the Nesterov form g + μb")
    weight_decay: float = hyper(0.0, "L2 penalty λ added to the gradient", NON_NEGATIVE)

    def __post_init__(self) -> None:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def init_state(self, params: Array) -> dict[str, Array]:
        return {"momentum_buffer": np.zeros_like(params)} if self.momentum != 0 else {}

    def update(self, params: Array, grads: Array, lr: float) -> float:
        g = grads
        tmp = self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, False, tmp)
        if self.momentum != 0:
            buf = self.state["momentum_buffer"]
            if self.t == 1:
                np.copyto(buf, g)
            else:
                buf *= self.momentum
                add_(buf, g, 1 - self.dampening, tmp)
            if self.nesterov:
                add_(g, buf, self.momentum, tmp)
            else:
                g = buf
        add_(params, g, -lr, grads)  # the gradient is spent: its buffer is the scratch, in cache
        return lr


@dataclass
class Momentum(SGD):
    """The lecture's Momentum: SGD with momentum μ = 0.9 by default.

    The lecture (and the book's code) write it with a velocity v:

        v ← μv − ηg,    θ ← θ + v

    torch.optim.SGD, used here, keeps the buffer b of accumulated gradients instead:

        b ← μb + g,     θ ← θ − ηb

    For a constant η the two give the same sequence of θ: by induction v_t = −η·b_t, since
    v_t = μv_{t−1} − ηg_t = −η(μb_{t−1} + g_t) = −ηb_t, with v_0 = b_0 = 0 (so b_1 = g_1, as here).
    They differ only in rounding, and when η changes between updates (a schedule): the buffer form
    applies the new η to the whole accumulated buffer, the velocity form only to the new gradient.
    Defaults: lr 1e-3, momentum 0.9 (the book: lr 0.01, momentum 0.9).
    """

    name = "momentum"
    summary = "the lecture's Momentum: sgd with momentum 0.9"

    momentum: float = hyper(0.9, "momentum factor μ", UNIT_INTERVAL)


@dataclass
class Nesterov(SGD):
    """Nesterov's accelerated gradient: SGD with nesterov = true and momentum μ = 0.9 by default.

    Nesterov 1983, "A method for solving the convex programming problem with convergence rate
    O(1/k²)", in the form of Sutskever et al. 2013 that torch.optim.SGD implements:

        b ← μb + g,     θ ← θ − η(g + μb)

    With the velocity v = −ηb this is Bengio et al. 2013 ("Advances in optimizing recurrent
    networks"), θ ← θ + μ²v_{t−1} − (1 + μ)ηg, v_t = μv_{t−1} − ηg. The book's Nesterov code differs:
    it updates v first and then uses the new v_t in the μ² term, which is a different rule.
    Defaults: lr 1e-3, momentum 0.9, dampening 0 (required), weight_decay 0.
    """

    name = "nesterov"
    summary = "Nesterov momentum: sgd with nesterov and momentum 0.9"

    momentum: float = hyper(0.9, "momentum factor μ", UNIT_INTERVAL)
    nesterov: bool = hyper(True, "use the Nesterov form g + μb")
