"""Momentum over a second moment: Adam and its variants (AdamW, NAdam, RAdam, Adamax), and Lion."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL_OPEN_TOP, hyper
from optbench.optim.base import Array, Optimizer
from optbench.optim.inplace import add_, addcdiv_, addcmul_, apply_weight_decay, lerp_

BETAS = UNIT_INTERVAL_OPEN_TOP
"""Each of a pair (β1, β2) of moment decay rates lies in [0, 1)."""


@dataclass
class Adam(Optimizer):
    """Adam: momentum on the gradient, divided by the root of a running mean of its square.

    Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization"; amsgrad after Reddi, Kale &
    Kumar 2018, "On the Convergence of Adam and Beyond". As torch.optim.Adam:

        g ← g + λθ                               (weight_decay λ > 0; decoupled: θ ← θ·(1 − ηλ))
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        v̂ ← max(v̂, v) if amsgrad, else v̂ ← v
        θ ← θ − η·(m / (1 − β1^t)) / (√v̂ / √(1 − β2^t) + ε)

    With bias_correction = false (not in torch) the two factors 1 − β^t are dropped, which gives
    the lecture's slide, θ ← θ − η·m / (√v + ε). The book's code folds the correction into the
    rate, η_t = η·√(1 − β2^t) / (1 − β1^t), and adds ε = 1e-7 to the uncorrected √v: that is the
    form above with ε replaced by ε/√(1 − β2^t), about 32ε at t = 1 with β2 = 0.999, falling to ε.
    Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false,
    decoupled_weight_decay false (as torch.optim.Adam), bias_correction true (the book: the same
    lr and betas).
    """

    name = "adam"
    summary = "momentum over a running RMS of the gradient (torch.optim.Adam)"
    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # the last only with amsgrad

    lr: float = hyper(1e-3, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper((0.9, 0.999), "decay rates (β1, β2) of the two moments", BETAS)
    eps: float = hyper(1e-8, "ε added to the root of the second moment", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "weight decay λ (L2 in the gradient unless decoupled)", NON_NEGATIVE)
    amsgrad: bool = hyper(False, "divide by the largest second moment seen so far (AMSGrad)")
    decoupled_weight_decay: bool = hyper(False, "decay the weights directly, θ ← θ·(1 − ηλ), as AdamW")
    bias_correction: bool = hyper(True, "divide the moments by 1 − β^t (false: the lecture's slide)")

    def init_state(self, params: Array) -> dict[str, Array]:
        names = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if self.amsgrad else [])
        return {name: np.zeros_like(params) for name in names}

    def update(self, params: Array, grads: Array, lr: float) -> float:
        beta1, beta2 = self.betas
        g, m, v, tmp = grads, self.state["exp_avg"], self.state["exp_avg_sq"], self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        addcmul_(v, g, g, 1 - beta2, tmp)
        if self.amsgrad:
            v_max = self.state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max
        np.sqrt(v, out=tmp)
        step_size = lr
        if self.bias_correction:
            step_size = lr / (1 - beta1**self.t)
            tmp /= (1 - beta2**self.t) ** 0.5
        tmp += self.eps
        addcdiv_(params, m, tmp, -step_size, g)
        return lr


@dataclass
class AdamW(Adam):
    """AdamW: Adam with the weight decay taken out of the gradient and applied to the weights.

    Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization". As torch.optim.AdamW:

        θ ← θ·(1 − ηλ)
        m, v, v̂ and the step as in Adam, from the gradient without the λθ term

    Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2, amsgrad false, and
    bias_correction true (not in torch). The decay is always decoupled: use adam for the L2 form.
    """

    name = "adamw"
    summary = "Adam with decoupled weight decay (torch.optim.AdamW)"

    weight_decay: float = hyper(1e-2, "decoupled weight decay λ: θ ← θ·(1 − ηλ)", NON_NEGATIVE)
    decoupled_weight_decay: bool = field(default=True, init=False, repr=False)


@dataclass
class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum and a warming-up momentum schedule.

    Dozat 2016, "Incorporating Nesterov Momentum into Adam". As torch.optim.NAdam, with the
    momentum schedule μ_t = β1·(1 − ½·0.96^(tψ)) and the product Π_t = μ_1···μ_t:

        g ← g + λθ                               (weight_decay λ > 0; decoupled: θ ← θ·(1 − ηλ))
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        d ← √(v / (1 − β2^t)) + ε
        θ ← θ − η(1 − μ_t)/(1 − Π_t) · g/d − η·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d

    Π_t is kept in the state as `mu_product`. Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, momentum_decay ψ = 4e-3, decoupled_weight_decay false.
    """

    name = "nadam"
    summary = "Adam with Nesterov momentum (torch.optim.NAdam)"
    state_names = ("exp_avg", "exp_avg_sq", "mu_product")

    lr: float = hyper(2e-3, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper((0.9, 0.999), "decay rates (β1, β2) of the two moments", BETAS)
    eps: float = hyper(1e-8, "ε added to the root of the second moment", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "weight decay λ (L2 in the gradient unless decoupled)", NON_NEGATIVE)
    momentum_decay: float = hyper(4e-3, "ψ in the momentum schedule β1·(1 − ½·0.96^(tψ))", NON_NEGATIVE)
    decoupled_weight_decay: bool = hyper(False, "decay the weights directly, θ ← θ·(1 − ηλ), as AdamW")

    def init_state(self, params: Array) -> dict[str, Array]:
        return {
            "exp_avg": np.zeros_like(params),
            "exp_avg_sq": np.zeros_like(params),
            "mu_product": np.array(1.0, dtype=np.float64),
        }

    def update(self, params: Array, grads: Array, lr: float) -> float:
        beta1, beta2 = self.betas
        g, m, v, tmp = grads, self.state["exp_avg"], self.state["exp_avg_sq"], self.scratch(params)
        mu_product = self.state["mu_product"]
        apply_weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (self.t * self.momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((self.t + 1) * self.momentum_decay))
        mu_product *= mu
        lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        addcmul_(v, g, g, 1 - beta2, tmp)
        np.divide(v, 1 - beta2**self.t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        product = float(mu_product)
        addcdiv_(params, g, tmp, -lr * (1.0 - mu) / (1.0 - product), g)
        addcdiv_(params, m, tmp, (-lr * mu_next) / (1.0 - product * mu_next), g)
        return lr


@dataclass
class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is switched on and scaled as the variance estimate matures.

    Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond". As torch.optim.RAdam,
    with ρ_∞ = 2/(1 − β2) − 1 and ρ_t = ρ_∞ − 2t·β2^t/(1 − β2^t):

        g ← g + λθ                               (weight_decay λ > 0; decoupled: θ ← θ·(1 − ηλ))
        m ← β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        m̂ ← m / (1 − β1^t)
        θ ← θ − η·m̂·r_t·√(1 − β2^t)/(√v + ε),   r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t))
                                                   when ρ_t > 5
        θ ← θ − η·m̂                             otherwise: the first updates (five with β2 = 0.999)

    The paper's Algorithm 2 switches the adaptive step on at ρ_t > 4 and its authors' code at
    ρ_t ≥ 5; torch, and this, at ρ_t > 5. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
    weight_decay 0, decoupled_weight_decay false.
    """

    name = "radam"
    summary = "rectified Adam: momentum SGD until the variance estimate is reliable (torch.optim.RAdam)"
    state_names = ("exp_avg", "exp_avg_sq")

    lr: float = hyper(1e-3, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper((0.9, 0.999), "decay rates (β1, β2) of the two moments", BETAS)
    eps: float = hyper(1e-8, "ε added to the root of the second moment", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "weight decay λ (L2 in the gradient unless decoupled)", NON_NEGATIVE)
    decoupled_weight_decay: bool = hyper(False, "decay the weights directly, θ ← θ·(1 − ηλ), as AdamW")

    def update(self, params: Array, grads: Array, lr: float) -> float:
        beta1, beta2 = self.betas
        g, m, v, tmp = grads, self.state["exp_avg"], self.state["exp_avg_sq"], self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        addcmul_(v, g, g, 1 - beta2, tmp)
        bias_correction2 = 1 - beta2**self.t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * self.t * (beta2**self.t) / bias_correction2
        np.divide(m, 1 - beta1**self.t, out=tmp)
        tmp *= lr
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            # torch evaluates c / x as (1/x)·c, which rounds differently from c / x.
            np.sqrt(v, out=g)
            g += self.eps
            np.reciprocal(g, out=g)
            g *= bias_correction2**0.5
            tmp *= g
            tmp *= rect
        params -= tmp
        return lr


@dataclass
class Adamax(Optimizer):
    """Adamax: Adam with the second moment replaced by a running maximum of |g| (the ∞-norm).

    Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", section 7.1. As
    torch.optim.Adamax:

        g ← g + λθ                               (weight_decay λ > 0)
        m ← β1·m + (1 − β1)·g
        u ← max(β2·u, |g| + ε)
        θ ← θ − η/(1 − β1^t) · m/u

    Defaults: lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0. The paper has no ε (it
    takes max(β2·u, |g|)); torch adds it to |g| so that u never vanishes.
    """

    name = "adamax"
    summary = "Adam with an infinity-norm second moment (torch.optim.Adamax)"
    state_names = ("exp_avg", "exp_inf")

    lr: float = hyper(2e-3, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper((0.9, 0.999), "decay rates (β1, β2) of the mean and the max", BETAS)
    eps: float = hyper(1e-8, "ε added to |g|", NON_NEGATIVE)
    weight_decay: float = hyper(0.0, "L2 penalty λ added to the gradient", NON_NEGATIVE)

    def update(self, params: Array, grads: Array, lr: float) -> float:
        beta1, beta2 = self.betas
        g, m, u, tmp = grads, self.state["exp_avg"], self.state["exp_inf"], self.scratch(params)
        apply_weight_decay(params, g, lr, self.weight_decay, False, tmp)
        lerp_(m, g, 1 - beta1, tmp)
        u *= beta2
        np.abs(g, out=tmp)
        tmp += self.eps
        np.maximum(u, tmp, out=u)
        addcdiv_(params, m, u, -lr / (1 - beta1**self.t), tmp)
        return lr


@dataclass
class Lion(Optimizer):
    """Lion: a step of the same size η for every weight, in the sign of an interpolated momentum.

    Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms" (Program 1, Algorithm 2);
    not in torch.optim. With decoupled weight decay λ:

        c ← β1·m + (1 − β1)·g
        θ ← θ − η·(sign(c) + λθ)
        m ← β2·m + (1 − β2)·g

    Defaults: lr 1e-4, betas (0.9, 0.99), weight_decay 0. The paper advises a rate 3-10× smaller
    than AdamW's and a λ 3-10× larger, since every coordinate moves by η.
    """

    name = "lion"
    summary = "sign of an interpolated momentum, the same step for every weight (Chen et al. 2023)"
    state_names = ("exp_avg",)

    lr: float = hyper(1e-4, "learning rate η", POSITIVE)
    betas: tuple[float, float] = hyper((0.9, 0.99), "interpolation β1 of the step, decay β2 of m", BETAS)
    weight_decay: float = hyper(0.0, "decoupled weight decay λ: θ ← θ − ηλθ", NON_NEGATIVE)

    def update(self, params: Array, grads: Array, lr: float) -> float:
        beta1, beta2 = self.betas
        g, m, tmp = grads, self.state["exp_avg"], self.scratch(params)
        np.subtract(g, m, out=tmp)
        np.multiply(tmp, 1 - beta1, out=g)
        g += m  # c = β1·m + (1 − β1)·g
        tmp *= 1 - beta2
        m += tmp
        np.sign(g, out=tmp)  # not in place: NumPy's in-place sign is many times slower
        if self.weight_decay != 0:
            add_(tmp, params, self.weight_decay, g)
        add_(params, tmp, -lr, g)
        return lr
