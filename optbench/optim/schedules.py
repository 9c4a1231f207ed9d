"""Learning-rate schedules: the rate of each update, from the base rate and the update's index.

Each schedule is a frozen dataclass registered in `SCHEDULES`, its hyperparameters declared with
`hyper`; each gives the closed form of the torch.optim.lr_scheduler class it names, stepped once per
update. The optimizer's base class asks its schedule for the rate before every update.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from optbench.hparams import NON_NEGATIVE, POSITIVE, Bounds, hyper
from optbench.registry import Registry


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
