"""The optimizer base class and its registry: what every update rule shares.

`Optimizer` runs the steps common to all rules (clipping, the scheduled rate, the update count, state
created on first use, saving and loading state); a subclass declares its hyperparameters and writes
`update`. `OPTIMIZERS` holds the registered classes by name (filled in `optbench.optim`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from optbench.optim.schedules import Constant, Schedule
from optbench.registry import Registry

Array = NDArray[np.floating[Any]]
"""A flat buffer of parameters, gradients or optimizer state."""

CLIP_EPS = 1e-6
"""Added to the gradient norm before dividing, as torch.nn.utils.clip_grad_norm_ does."""


def clip_by_global_norm(grads: Array, max_norm: float) -> float:
    """Scale `grads` in place so that its 2-norm is at most `max_norm`; return the norm before.

    As torch.nn.utils.clip_grad_norm_: the factor is max_norm / (norm + 1e-6), capped at 1.
    """
    norm = float(np.sqrt(np.dot(grads, grads)))
    coef = max_norm / (norm + CLIP_EPS)
    if coef < 1.0:
        grads *= coef
    return norm


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
