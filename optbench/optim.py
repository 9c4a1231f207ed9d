"""Optimizers and learning-rate schedules: pure NumPy, in place, no I/O.

Every optimizer updates one flat parameter buffer from one flat gradient buffer of the same shape,
with a few whole-array operations. Hyperparameters carry the names, defaults and meanings of the
`torch.optim` class of the same name, edge cases included, so a config written by a PyTorch user
means what they expect. Each class documents its update rule; in the equations g is the gradient,
θ the parameters, t the 1-based update count and η the learning rate the schedule gives for update t.

The module is longer than most (twelve optimizers, four schedules) because each class keeps its
equations, reference and defaults beside its code, and all of them share the in-place building
blocks whose rounding follows torch's; each class still reads on its own.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, UNIT_INTERVAL_OPEN_TOP, Bounds, hyper
from optbench.registry import Registry

Array = NDArray[np.floating[Any]]

# --------------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule(ABC):
    """Maps the 0-based update index k and the base learning rate to the learning rate of update k.

    With `warmup_steps` W > 0 the first W updates use lr·(k+1)/W, rising linearly to the base rate;
    the schedule proper then starts at update W as if it were its update 0.
    """

    name: ClassVar[str]
    summary: ClassVar[str]

    warmup_steps: int = hyper(0, "updates over which the rate rises linearly to lr", NON_NEGATIVE)

    def __call__(self, k: int, lr: float) -> float:
        if k < self.warmup_steps:
            return lr * (k + 1) / self.warmup_steps
        return self.decay(k - self.warmup_steps, lr)

    @abstractmethod
    def decay(self, k: int, lr: float) -> float:
        """The rate of update k counted from the end of warmup."""


SCHEDULES: Registry[type[Schedule]] = Registry("schedule")


@SCHEDULES.register
@dataclass(frozen=True)
class Constant(Schedule):
    """η_k = lr."""

    name = "constant"
    summary = "the same rate at every update"

    def decay(self, k: int, lr: float) -> float:
        return lr


@SCHEDULES.register
@dataclass(frozen=True)
class StepDecay(Schedule):
    """η_k = lr · gamma^⌊k / step_size⌋, as torch.optim.lr_scheduler.StepLR stepped once per update."""

    name = "step"
    summary = "multiply the rate by gamma every step_size updates"

    step_size: int = hyper(1000, "updates between two decays", Bounds(low=1))
    gamma: float = hyper(0.1, "factor applied at each decay", POSITIVE)

    def decay(self, k: int, lr: float) -> float:
        return lr * self.gamma ** (k // self.step_size)


@SCHEDULES.register
@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """η_k = lr · gamma^k, as torch.optim.lr_scheduler.ExponentialLR stepped once per update."""

    name = "exponential"
    summary = "multiply the rate by gamma at every update"

    gamma: float = hyper(0.999, "factor applied at each update", POSITIVE)

    def decay(self, k: int, lr: float) -> float:
        return lr * self.gamma**k


@SCHEDULES.register
@dataclass(frozen=True)
class Cosine(Schedule):
    """η_k = eta_min + (lr − eta_min)·(1 + cos(π·k / t_max)) / 2 for k ≤ t_max, then eta_min.

    The closed form of torch.optim.lr_scheduler.CosineAnnealingLR (Loshchilov & Hutter 2017,
    "SGDR", without restarts). `t_max: null` in a config means the run's updates after warmup.
    """

    name = "cosine"
    summary = "half a cosine from lr down to eta_min over t_max updates"

    t_max: int | None = hyper(
        None, "updates from lr to eta_min (null: the run's updates after warmup)", Bounds(low=1)
    )
    eta_min: float = hyper(0.0, "the rate reached at t_max", NON_NEGATIVE)

    def decay(self, k: int, lr: float) -> float:
        if self.t_max is None:
            raise ValueError("cosine schedule needs t_max; the config fills it from train.steps")
        k = min(k, self.t_max)
        return self.eta_min + (lr - self.eta_min) * (1 + math.cos(math.pi * k / self.t_max)) / 2


# --------------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------------


def clip_by_global_norm(grads: Array, max_norm: float) -> float:
    """Scale `grads` in place so that its 2-norm is at most `max_norm`; return the norm before.

    As torch.nn.utils.clip_grad_norm_: the factor is max_norm / (norm + 1e-6), capped at 1.
    """
    norm = float(np.sqrt(np.dot(grads, grads)))
    coef = max_norm / (norm + CLIP_EPS)
    if coef < 1.0:
        grads *= coef
    return norm


CLIP_EPS = 1e-6
"""Added to the gradient norm before dividing, as torch.nn.utils.clip_grad_norm_ does."""


@dataclass
class Optimizer(ABC):
    """One update rule over a flat parameter buffer.

    A subclass declares its hyperparameters as `hyper(...)` fields, the names of its state buffers in
    `state_names`, and implements `update`. The base class runs what every optimizer shares, in this
    order for each call of `step`: clip the gradient, look up the learning rate of this update in the
    schedule, count the update, create the state on first use, apply the rule.

    `grads` is scratch space: an update may overwrite it (with g + λθ, say). The train loop computes a
    fresh gradient for every step, so nothing is lost, and no copy of the buffer is made.

    Cross-field constraints (nesterov needs momentum, say) raise ValueError from `__post_init__`;
    config validation reports the message as a user error.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    state_names: ClassVar[tuple[str, ...]] = ()

    lr: float

    schedule: Schedule = field(default_factory=Constant, kw_only=True, repr=False)
    clip_norm: float | None = field(default=None, kw_only=True, repr=False)

    t: int = field(default=0, init=False, repr=False)
    """Updates applied so far; update t (1-based) is the one being applied inside `update`."""
    state: dict[str, Array] = field(default_factory=dict, init=False, repr=False)
    last_lr: float = field(default=math.nan, init=False, repr=False)
    """The step size the last update applied (the scheduled rate, or Adagrad's decayed rate)."""

    def step(self, params: Array, grads: Array) -> None:
        """Apply one update to `params` in place."""
        if self.clip_norm is not None:
            clip_by_global_norm(grads, self.clip_norm)
        lr = self.schedule(self.t, self.lr)
        self.t += 1
        if not self.state:
            self.state = self.init_state(params)
        self.last_lr = self.update(params, grads, lr)

    def init_state(self, params: Array) -> dict[str, Array]:
        """Fresh state buffers, zeros shaped like `params`; override for other starting values."""
        return {name: np.zeros_like(params) for name in self.state_names}

    @abstractmethod
    def update(self, params: Array, grads: Array, lr: float) -> float:
        """Apply update `self.t` with learning rate `lr`; return the step size actually used."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically: the update count and copies of the buffers."""
        return {
            "name": self.name,
            "t": self.t,
            "state": {key: value.copy() for key, value in self.state.items()},
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from `saved`, as written by `state_dict` of an optimizer of the same kind."""
        if saved["name"] != self.name:
            raise ValueError(f"state of optimizer {saved['name']!r} cannot be loaded into {self.name!r}")
        self.t = int(saved["t"])
        self.state = {key: np.array(value, copy=True) for key, value in saved["state"].items()}

    def scratch(self, like: Array, slot: int = 0) -> Array:
        """Work buffer number `slot`, shaped like the parameters, kept between updates; not state."""
        buffers: dict[int, Array] = self.__dict__.setdefault("_scratch", {})
        buf = buffers.get(slot)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = buffers[slot] = np.empty_like(like)
        return buf


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")


def build_optimizer(
    name: str, hyper_values: dict[str, Any], schedule: Schedule | None = None, clip_norm: float | None = None
) -> Optimizer:
    """The optimizer `name` with the given hyperparameters (the rest at their defaults)."""
    cls = OPTIMIZERS[name]
    return cls(**hyper_values, schedule=schedule or Constant(), clip_norm=clip_norm)


def hyper_values(opt: Optimizer) -> dict[str, Any]:
    """The hyperparameters an optimizer was built with, by name."""
    return {f.name: getattr(opt, f.name) for f in dataclasses.fields(opt) if "doc" in f.metadata}


# In-place building blocks, each rounded the way the torch.optim primitive of the same name rounds
# with torch's scalar kernels, so that the updates below follow torch's single-tensor code operation
# by operation. (torch's vectorised kernels fuse the multiply-adds, and its float64 sqrt is not always
# correctly rounded, so against those the results agree to a few ulps rather than bit for bit.)
# `tmp` is a work buffer shaped like the others.


def _add_(x: Array, y: Array, alpha: float, tmp: Array) -> None:
    """x ← x + alpha·y (torch's x.add_(y, alpha=alpha))."""
    if alpha == 1:
        x += y
        return
    np.multiply(y, alpha, out=tmp)
    x += tmp


def _lerp_(x: Array, end: Array, weight: float, tmp: Array) -> None:
    """x ← x + weight·(end − x) (torch's x.lerp_(end, weight)).

    Like torch, a weight of 0.5 or more is applied from the other end, end − (end − x)·(1 − weight),
    where it loses less precision.
    """
    np.subtract(end, x, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        x += tmp
    else:
        tmp *= 1 - weight
        np.subtract(end, tmp, out=x)


def _addcmul_(x: Array, a: Array, b: Array, value: float, tmp: Array) -> None:
    """x ← x + (value·a)·b (torch's x.addcmul_(a, b, value=value))."""
    np.multiply(a, value, out=tmp)
    tmp *= b
    x += tmp


def _addcdiv_(x: Array, a: Array, b: Array, value: float, tmp: Array) -> None:
    """x ← x + (value·a)/b (torch's x.addcdiv_(a, b, value=value)); `tmp` may be `a` itself."""
    np.multiply(a, value, out=tmp)
    tmp /= b
    x += tmp


def _weight_decay(
    params: Array, grads: Array, lr: float, weight_decay: float, decoupled: bool, tmp: Array
) -> None:
    """Weight decay λ: decoupled, θ ← θ·(1 − ηλ); else the L2 term in the gradient, g ← g + λθ."""
    if weight_decay == 0:
        return
    if decoupled:
        params *= 1 - lr * weight_decay
    else:
        _add_(grads, params, weight_decay, tmp)


BETAS = UNIT_INTERVAL_OPEN_TOP
"""Each of a pair (β1, β2) of moment decay rates lies in [0, 1)."""


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, False, tmp)
        if self.momentum != 0:
            buf = self.state["momentum_buffer"]
            if self.t == 1:
                np.copyto(buf, g)
            else:
                buf *= self.momentum
                _add_(buf, g, 1 - self.dampening, tmp)
            if self.nesterov:
                _add_(g, buf, self.momentum, tmp)
            else:
                g = buf
        _add_(params, g, -lr, grads)  # the gradient is spent: its buffer is the scratch, in cache
        return lr


@OPTIMIZERS.register
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


@OPTIMIZERS.register
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


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, False, tmp)
        clr = lr / (1 + (self.t - 1) * self.lr_decay)
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        _addcdiv_(params, g, tmp, -clr, g)
        return clr


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, False, tmp)
        v *= self.alpha
        _addcmul_(v, g, g, 1 - self.alpha, tmp)
        if self.centered:
            g_avg = self.state["grad_avg"]
            _lerp_(g_avg, g, 1 - self.alpha, tmp)
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
            _add_(params, buf, -lr, tmp)
        else:
            _addcdiv_(params, g, tmp, -lr, g)
        return lr


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        _lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        _addcmul_(v, g, g, 1 - beta2, tmp)
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
        _addcdiv_(params, m, tmp, -step_size, g)
        return lr


@OPTIMIZERS.register
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


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (self.t * self.momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((self.t + 1) * self.momentum_decay))
        mu_product *= mu
        _lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        _addcmul_(v, g, g, 1 - beta2, tmp)
        np.divide(v, 1 - beta2**self.t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += self.eps
        product = float(mu_product)
        _addcdiv_(params, g, tmp, -lr * (1.0 - mu) / (1.0 - product), g)
        _addcdiv_(params, m, tmp, (-lr * mu_next) / (1.0 - product * mu_next), g)
        return lr


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, self.decoupled_weight_decay, tmp)
        _lerp_(m, g, 1 - beta1, tmp)
        v *= beta2
        _addcmul_(v, g, g, 1 - beta2, tmp)
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


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, False, tmp)
        v *= self.rho
        _addcmul_(v, g, g, 1 - self.rho, tmp)
        np.add(v, self.eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(u, self.eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g
        u *= self.rho
        _addcmul_(u, delta, delta, 1 - self.rho, tmp)
        _add_(params, delta, -lr, tmp)
        return lr


@OPTIMIZERS.register
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
        _weight_decay(params, g, lr, self.weight_decay, False, tmp)
        _lerp_(m, g, 1 - beta1, tmp)
        u *= beta2
        np.abs(g, out=tmp)
        tmp += self.eps
        np.maximum(u, tmp, out=u)
        _addcdiv_(params, m, u, -lr / (1 - beta1**self.t), tmp)
        return lr


@OPTIMIZERS.register
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
            _add_(tmp, params, self.weight_decay, g)
        _add_(params, tmp, -lr, g)
        return lr
