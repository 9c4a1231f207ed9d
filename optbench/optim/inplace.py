"""In-place building blocks of the update rules, each rounded as the torch.optim primitive it names.

Each block is rounded the way the torch primitive of the same name rounds with torch's scalar
kernels, so that the updates follow torch's single-tensor code operation by operation. (torch's
vectorised kernels fuse the multiply-adds, and its float64 sqrt is not always correctly rounded, so
against those the results agree to a few ulps rather than bit for bit.) `tmp` is a work buffer
shaped like the others.
"""

from __future__ import annotations

import numpy as np

from optbench.optim.base import Array


def add_(x: Array, y: Array, alpha: float, tmp: Array) -> None:
    """x ← x + alpha·y (torch's x.add_(y, alpha=alpha))."""
    if alpha == 1:
        x += y
        return
    np.multiply(y, alpha, out=tmp)
    x += tmp


def lerp_(x: Array, end: Array, weight: float, tmp: Array) -> None:
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


def addcmul_(x: Array, a: Array, b: Array, value: float, tmp: Array) -> None:
    """x ← x + (value·a)·b (torch's x.addcmul_(a, b, value=value))."""
    np.multiply(a, value, out=tmp)
    tmp *= b
    x += tmp


def addcdiv_(x: Array, a: Array, b: Array, value: float, tmp: Array) -> None:
    """x ← x + (value·a)/b (torch's x.addcdiv_(a, b, value=value)); `tmp` may be `a` itself."""
    np.multiply(a, value, out=tmp)
    tmp /= b
    x += tmp


def apply_weight_decay(
    params: Array, grads: Array, lr: float, weight_decay: float, decoupled: bool, tmp: Array
) -> None:
    """Weight decay λ: decoupled, θ ← θ·(1 − ηλ); else the L2 term in the gradient, g ← g + λθ."""
    if weight_decay == 0:
        return
    if decoupled:
        params *= 1 - lr * weight_decay
    else:
        add_(grads, params, weight_decay, tmp)
