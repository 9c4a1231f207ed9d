"""Per-weight rates from the squared gradients: AdaGrad, RMSprop and Adadelta."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, hyper
from optbench.optim.base import Array, Optimizer
from optbench.optim.inplace import add_, addcdiv_, addcmul_, apply_weight_decay, lerp_


@dataclass
class Adagrad(Optimizer):
    """AdaGrad: each weight's step shrinks with the sum of its squared gradients.

    Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization". As torch.optim.Adagrad, with s_0 = initial_accumulator_value:

        g ← g + λθ                               (weight_decay λ > 0)
        η_t ← η / (1 + (t − 1)·lr_decay)
        s ← s + g²
        θ ← θ − η_t·g / (√s + ε)

    `update` returns η_t, so `last_lr` reports the decayed rate. Defaults: lr 1e-2, lr_decay 0,
    weight_decay 0, initial_accumulator_value 0, eps 1e-10. The lecture writes it without ε; the
    book's code uses ε = 1e-7 (lr 0.01).
    """

    name = "adagrad"
    summary = "per-weight rates that shrink with the sum of squared gradients (torch.optim.Adagrad)"
    state_names = ("sum",)

    lr: float = hyper(1e-2, "learning rate η", POSITIVE)
    lr_decay: float = hyper(0.0, "the rate of update t is η / (1 + (t − 1)·lr_decay)", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "L2 penalty λ added to the gradient", NON_NEGATIVE)
    initial_accumulator_value: float = hyper(0.0, "starting value of the sum of squares", NON_NEGATIVE)
    eps: float = hyper(1e-10, "ε added to √s", NON_NEGATIVE)

    def init_state(self, params: Array) -> dict[str, Array]:
        return {"sum": np.full_like(params, self.initial_accumulator_value)}

    def update(self, params: Array, grads: Array, lr: float) -> float:
        g, s, tmp = grads, self.state["sum"], self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, False, tmp)
        clr = lr / (1 + (self.t - 1) * self.lr_decay)
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        addcdiv_(params, g, tmp, -clr, g)
        return clr


@dataclass
class RMSprop(Optimizer):
    """RMSprop: divide by a running root mean square of the gradient.

    Hinton 2012, "Neural Networks for Machine Learning", lecture 6e (unpublished slides); the
    centered form after Graves 2013, "Generating Sequences With Recurrent Neural Networks". As
    torch.optim.RMSprop:

        g ← g + λθ                               (weight_decay λ > 0)
        v ← αv + (1 − α)g²
        d ← √(v − ḡ²) + ε, with ḡ ← αḡ + (1 − α)g    (centered)
        d ← √v + ε                                (otherwise)
        b ← μb + g/d,  θ ← θ − ηb                (momentum μ > 0, b_0 = 0)
        θ ← θ − ηg/d                              (otherwise)

    Defaults: lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, centered false. The
    lecture's slide has no ε; the book's code uses ε = 1e-7 (lr 0.01, decay_rate = alpha = 0.99).
    """

    name = "rmsprop"
    summary = "divide by a running RMS of the gradient (torch.optim.RMSprop)"
    state_names = ("square_avg", "momentum_buffer", "grad_avg")  # the last two only when used

    lr: float = hyper(1e-2, "learning rate η", POSITIVE)
    alpha: float = hyper(0.99, "decay rate α of the mean square", UNIT_INTERVAL)
    eps: float = hyper(1e-8, "ε added to the root mean square", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "L2 penalty λ added to the gradient", NON_NEGATIVE)
    momentum: float = hyper(0.0, "momentum factor μ of the normalised step", UNIT_INTERVAL)
    centered: bool = hyper(False, "subtract the square of the running mean gradient ḡ")

    def init_state(self, params: Array) -> dict[str, Array]:
        names = ["square_avg"]
        if self.momentum > 0:
            names.append("momentum_buffer")
        if self.centered:
            names.append("grad_avg")
        return {name: np.zeros_like(params) for name in names}

    def update(self, params: Array, grads: Array, lr: float) -> float:
        g, v, tmp = grads, self.state["square_avg"], self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, False, tmp)
        v *= self.alpha
        addcmul_(v, g, g, 1 - self.alpha, tmp)
        if self.centered:
            g_avg = self.state["grad_avg"]
            lerp_(g_avg, g, 1 - self.alpha, tmp)
            np.multiply(g_avg, g_avg, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += self.eps
        if self.momentum > 0:
            buf = self.state["momentum_buffer"]
            buf *= self.momentum
            g /= tmp
            buf += g
            add_(params, buf, -lr, tmp)
        else:
            addcdiv_(params, g, tmp, -lr, g)
        return lr


@dataclass
class Adadelta(Optimizer):
    """Adadelta: the step's scale comes from a running RMS of past steps, not from a learning rate.

    Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method". As torch.optim.Adadelta:

        g ← g + λθ                               (weight_decay λ > 0)
        v ← ρv + (1 − ρ)g²
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρu + (1 − ρ)Δ²
        θ ← θ − ηΔ

    Defaults: lr 1.0 (the paper has no η, i.e. η = 1), rho 0.9, eps 1e-6, weight_decay 0.
    """

    name = "adadelta"
    summary = "steps scaled by the RMS of past steps over the RMS of gradients (torch.optim.Adadelta)"
    state_names = ("square_avg", "acc_delta")

    lr: float = hyper(1.0, "factor η applied to the step Δ", POSITIVE)
    rho: float = hyper(0.9, "decay rate ρ of both running averages", UNIT_INTERVAL)
    eps: float = hyper(1e-6, "ε added inside both square roots", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "L2 penalty λ added to the gradient", NON_NEGATIVE)

    def update(self, params: Array, grads: Array, lr: float) -> float:
        g, v, u = grads, self.state["square_avg"], self.state["acc_delta"]
        tmp, delta = self.scratch(params), self.scratch(params, 1)
        apply_weight_decay(params, g, lr, self.weight_decay, False, tmp)
        v *= self.rho
        addcmul_(v, g, g, 1 - self.rho, tmp)
        np.add(v, self.eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(u, self.eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g
        u *= self.rho
        addcmul_(u, delta, delta, 1 - self.rho, tmp)
        add_(params, delta, -lr, tmp)
        return lr
