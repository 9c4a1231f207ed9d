"""The published update rules, written out as formulas, independent of optbench.optim.

One function per rule, `rule(θ, g, state, t, lr, **hyperparameters) -> θ`: one update of θ (a float
or an array, element by element) from the raw gradient g, where `state` is the rule's own dict (empty
before the first update), t the 1-based update count and lr the learning rate of this update. Nothing
is updated in place but `state`. The keyword defaults are torch.optim's (Lion's, its paper's).

`RULES` gives each registered optimizer's rule with that optimizer's defaults; tests/test_optim.py
and tests/test_optimised_step.py check the optimizers against it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

State = dict[str, Any]
"""A rule's running values (momentum buffer, moments, ...), filled on the first update."""
Rule = Callable[..., Any]


def sgd(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> Any:
    g = g + weight_decay * theta
    if momentum:
        s["b"] = g if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return theta - lr * g


def adagrad(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> Any:
    g = g + weight_decay * theta
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return theta - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


def rmsprop(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> Any:
    g = g + weight_decay * theta
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    if centered:
        s["g_avg"] = alpha * s.get("g_avg", 0.0) + (1 - alpha) * g
        d = np.sqrt(s["v"] - s["g_avg"] * s["g_avg"]) + eps
    else:
        d = np.sqrt(s["v"]) + eps
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0.0) + g / d
        return theta - lr * s["b"]
    return theta - lr * g / d


def _decay(theta: Any, g: Any, lr: float, weight_decay: float, decoupled: bool) -> tuple[Any, Any]:
    """θ and g after weight decay λ: θ·(1 − ηλ) if decoupled, else g + λθ."""
    if decoupled:
        return theta * (1 - lr * weight_decay), g
    return theta, g + weight_decay * theta


def adam(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled_weight_decay: bool = False,
    bias_correction: bool = True,
) -> Any:
    beta1, beta2 = betas
    theta, g = _decay(theta, g, lr, weight_decay, decoupled_weight_decay)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    s["v_max"] = np.maximum(s.get("v_max", 0.0), s["v"])
    second = s["v_max"] if amsgrad else s["v"]
    if not bias_correction:
        return theta - lr * s["m"] / (np.sqrt(second) + eps)
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = second / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def nadam(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
) -> Any:
    beta1, beta2 = betas
    theta, g = _decay(theta, g, lr, weight_decay, decoupled_weight_decay)
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    d = np.sqrt(s["v"] / (1 - beta2**t)) + eps
    return (
        theta
        - lr * (1 - mu) / (1 - s["mu_product"]) * g / d
        - lr * mu_next / (1 - s["mu_product"] * mu_next) * s["m"] / d
    )


def radam(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
) -> Any:
    beta1, beta2 = betas
    theta, g = _decay(theta, g, lr, weight_decay, decoupled_weight_decay)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho <= 5:
        return theta - lr * m_hat
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return theta - lr * m_hat * r * math.sqrt(1 - beta2**t) / (np.sqrt(s["v"]) + eps)


def adadelta(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
) -> Any:
    g = g + weight_decay * theta
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta * delta
    return theta - lr * delta


def adamax(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> Any:
    beta1, beta2 = betas
    g = g + weight_decay * theta
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0.0), np.abs(g) + eps)
    return theta - lr / (1 - beta1**t) * s["m"] / s["u"]


def lion(
    theta: Any,
    g: Any,
    s: State,
    t: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.99),
    weight_decay: float = 0.0,
) -> Any:
    beta1, beta2 = betas
    m = s.get("m", 0.0)
    c = beta1 * m + (1 - beta1) * g
    s["m"] = beta2 * m + (1 - beta2) * g
    return theta - lr * (np.sign(c) + weight_decay * theta)


RULES: dict[str, Rule] = {
    "sgd": sgd,
    "momentum": functools.partial(sgd, momentum=0.9),
    "nesterov": functools.partial(sgd, momentum=0.9, nesterov=True),
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": functools.partial(adam, weight_decay=1e-2, decoupled_weight_decay=True),
    "nadam": nadam,
    "radam": radam,
    "adadelta": adadelta,
    "adamax": adamax,
    "lion": lion,
}
"""Each registered optimizer's rule, with the defaults of the optimizer of that name."""
