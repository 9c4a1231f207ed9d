"""Optimizers and learning-rate schedules: pure NumPy, in place, no I/O.

Every optimizer updates one flat parameter buffer from one flat gradient buffer of the same shape,
with a few whole-array operations. Hyperparameters carry the names, defaults and meanings of the
`torch.optim` class of the same name, edge cases included, so a config written by a PyTorch user
means what they expect. Each class documents its update rule; in the equations g is the gradient,
θ the parameters, t the 1-based update count and η the learning rate the schedule gives for update t.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from optbench.hparams import NON_NEGATIVE, POSITIVE, UNIT_INTERVAL, Bounds, hyper

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


SCHEDULES: dict[str, type[Schedule]] = {}

S = TypeVar("S", bound=type[Schedule])


def _register_schedule(cls: S) -> S:
    SCHEDULES[cls.name] = cls
    return cls


@_register_schedule
@dataclass(frozen=True)
class Constant(Schedule):
    """η_k = lr."""

    name = "constant"
    summary = "the same rate at every update"

    def decay(self, k: int, lr: float) -> float:
        return lr


@_register_schedule
@dataclass(frozen=True)
class StepDecay(Schedule):
    """η_k = lr · gamma^⌊k / step_size⌋, as torch.optim.lr_scheduler.StepLR stepped once per update."""

    name = "step"
    summary = "multiply the rate by gamma every step_size updates"

    step_size: int = hyper(1000, "updates between two decays", Bounds(low=1))
    gamma: float = hyper(0.1, "factor applied at each decay", POSITIVE)

    def decay(self, k: int, lr: float) -> float:
        return lr * self.gamma ** (k // self.step_size)


@_register_schedule
@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """η_k = lr · gamma^k, as torch.optim.lr_scheduler.ExponentialLR stepped once per update."""

    name = "exponential"
    summary = "multiply the rate by gamma at every update"

    gamma: float = hyper(0.999, "factor applied at each update", POSITIVE)

    def decay(self, k: int, lr: float) -> float:
        return lr * self.gamma**k


@_register_schedule
@dataclass(frozen=True)
class Cosine(Schedule):
    """η_k = eta_min + (lr − eta_min)·(1 + cos(π·k / t_max)) / 2 for k ≤ t_max, then eta_min.

    The closed form of torch.optim.lr_scheduler.CosineAnnealingLR (Loshchilov & Hutter 2017,
    "SGDR", without restarts). `t_max: null` in a config means the run's updates after warmup.
    """

    name = "cosine"
    summary = "half a cosine from lr down to eta_min over t_max updates"

    t_max: int | None = hyper(None, "updates from lr to eta_min (null: the run's updates after warmup)",
                              Bounds(low=1))
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

    def scratch(self, like: Array) -> Array:
        """A work buffer shaped like the parameters, kept between updates; not part of the state."""
        buf = self.__dict__.get("_scratch")
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = np.empty_like(like)
            self.__dict__["_scratch"] = buf
        return buf


OPTIMIZERS: dict[str, type[Optimizer]] = {}

O = TypeVar("O", bound=type[Optimizer])


def _register(cls: O) -> O:
    OPTIMIZERS[cls.name] = cls
    return cls


def build_optimizer(
    name: str, hyper_values: dict[str, Any], schedule: Schedule | None = None, clip_norm: float | None = None
) -> Optimizer:
    """The optimizer `name` with the given hyperparameters (the rest at their defaults)."""
    cls = OPTIMIZERS[name]
    return cls(**hyper_values, schedule=schedule or Constant(), clip_norm=clip_norm)


def hyper_values(opt: Optimizer) -> dict[str, Any]:
    """The hyperparameters an optimizer was built with, by name."""
    return {f.name: getattr(opt, f.name) for f in dataclasses.fields(opt) if "doc" in f.metadata}


@_register
@dataclass
class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, dampening, Nesterov and L2 weight decay.

    As torch.optim.SGD:

        g ← g + λθ                               (weight_decay λ > 0)
        b ← g                                    (t = 1, no dampening on the first update)
        b ← μb + (1 − τ)g                        (t > 1; momentum μ, dampening τ)
        g ← g + μb  if nesterov, else g ← b      (μ > 0)
        θ ← θ − ηg

    With μ = 0 this is the lecture's and the book's SGD, θ ← θ − η·∂L/∂θ.
    """

    name = "sgd"
    summary = "gradient descent, optionally with momentum / Nesterov (torch.optim.SGD)"
    state_names = ("momentum_buffer",)

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
        if self.weight_decay != 0:
            np.multiply(params, self.weight_decay, out=tmp)
            g += tmp
        if self.momentum != 0:
            buf = self.state["momentum_buffer"]
            if self.t == 1:
                np.copyto(buf, g)
            else:
                buf *= self.momentum
                if self.dampening == 0:
                    buf += g
                else:
                    np.multiply(g, 1 - self.dampening, out=tmp)
                    buf += tmp
            if self.nesterov:
                np.multiply(buf, self.momentum, out=tmp)
                g += tmp
            else:
                g = buf
        np.multiply(g, -lr, out=tmp)
        params += tmp
        return lr


@_register
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
    """

    name = "momentum"
    summary = "the lecture's Momentum: sgd with momentum 0.9"

    momentum: float = hyper(0.9, "momentum factor μ", UNIT_INTERVAL)
