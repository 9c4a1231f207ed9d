"""The published update rules, written out as formulas, independent of optbench.optim.

One function per rule, `rule(θ, g, state, t, lr, h) -> θ`: one update of θ (a float or an array,
element by element) from the raw gradient g, where `state` is the rule's own dict (empty before the
first update), t the 1-based update count, lr the learning rate of this update and h every other
hyperparameter. Nothing is updated in place but `state`.

`RULES` gives each registered optimizer's rule with that optimizer's defaults, torch.optim's (Lion's,
its paper's); tests/test_optim.py and tests/test_optimised_step.py check the optimizers against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

State = dict[str, Any]
"""A rule's running values (momentum buffer, moments, ...), filled on the first update."""
Hyper = dict[str, Any]
"""The hyperparameters of a rule but the learning rate, by their torch.optim names."""


def sgd(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    g = g + h["weight_decay"] * theta
    if h["momentum"]:
        s["b"] = g if t == 1 else h["momentum"] * s["b"] + (1 - h["dampening"]) * g
        g = g + h["momentum"] * s["b"] if h["nesterov"] else s["b"]
    return theta - lr * g


def adagrad(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    g = g + h["weight_decay"] * theta
    s["sum"] = s.get("sum", h["initial_accumulator_value"]) + g * g
    return theta - lr / (1 + (t - 1) * h["lr_decay"]) * g / (np.sqrt(s["sum"]) + h["eps"])


def rmsprop(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    alpha = h["alpha"]
    g = g + h["weight_decay"] * theta
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    if h["centered"]:
        s["g_avg"] = alpha * s.get("g_avg", 0.0) + (1 - alpha) * g
        d = np.sqrt(s["v"] - s["g_avg"] * s["g_avg"]) + h["eps"]
    else:
        d = np.sqrt(s["v"]) + h["eps"]
    if h["momentum"] > 0:
        s["b"] = h["momentum"] * s.get("b", 0.0) + g / d
        return theta - lr * s["b"]
    return theta - lr * g / d


def _decayed(theta: Any, g: Any, lr: float, h: Hyper) -> tuple[Any, Any]:
    """θ and g after weight decay λ: θ·(1 − ηλ) if decoupled, else g + λθ."""
    if h["decoupled_weight_decay"]:
        return theta * (1 - lr * h["weight_decay"]), g
    return theta, g + h["weight_decay"] * theta


def adam(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    beta1, beta2 = h["betas"]
    theta, g = _decayed(theta, g, lr, h)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    s["v_max"] = np.maximum(s.get("v_max", 0.0), s["v"])
    second = s["v_max"] if h["amsgrad"] else s["v"]
    if not h["bias_correction"]:
        return theta - lr * s["m"] / (np.sqrt(second) + h["eps"])
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = second / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + h["eps"])


def nadam(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    beta1, beta2 = h["betas"]
    theta, g = _decayed(theta, g, lr, h)
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * h["momentum_decay"]))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * h["momentum_decay"]))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    d = np.sqrt(s["v"] / (1 - beta2**t)) + h["eps"]
    return (
        theta
        - lr * (1 - mu) / (1 - s["mu_product"]) * g / d
        - lr * mu_next / (1 - s["mu_product"] * mu_next) * s["m"] / d
    )


def radam(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    beta1, beta2 = h["betas"]
    theta, g = _decayed(theta, g, lr, h)
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho <= 5:
        return theta - lr * m_hat
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return theta - lr * m_hat * r * math.sqrt(1 - beta2**t) / (np.sqrt(s["v"]) + h["eps"])


def adadelta(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    rho, eps = h["rho"], h["eps"]
    g = g + h["weight_decay"] * theta
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta * delta
    return theta - lr * delta


def adamax(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    beta1, beta2 = h["betas"]
    g = g + h["weight_decay"] * theta
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0.0), np.abs(g) + h["eps"])
    return theta - lr / (1 - beta1**t) * s["m"] / s["u"]


def lion(theta: Any, g: Any, s: State, t: int, lr: float, h: Hyper) -> Any:
    beta1, beta2 = h["betas"]
    m = s.get("m", 0.0)
    c = beta1 * m + (1 - beta1) * g
    s["m"] = beta2 * m + (1 - beta2) * g
    return theta - lr * (np.sign(c) + h["weight_decay"] * theta)


@dataclass(frozen=True)
class Reference:
    """A rule and the defaults of the optimizer it stands for; called as `rule(θ, g, state, t, lr,
    **hyperparameters)`, the hyperparameters not given at those defaults."""

    rule: Callable[[Any, Any, State, int, float, Hyper], Any]
    defaults: Hyper

    def __call__(self, theta: Any, g: Any, s: State, t: int, lr: float, **hyper: Any) -> Any:
        unknown = hyper.keys() - self.defaults.keys()
        assert not unknown, f"{self.rule.__name__} has no hyperparameter {unknown}"
        return self.rule(theta, g, s, t, lr, {**self.defaults, **hyper})


SGD = {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0}
ADAM = {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "decoupled_weight_decay": False}

RULES: dict[str, Reference] = {
    "sgd": Reference(sgd, SGD),
    "momentum": Reference(sgd, {**SGD, "momentum": 0.9}),
    "nesterov": Reference(sgd, {**SGD, "momentum": 0.9, "nesterov": True}),
    "adagrad": Reference(
        adagrad, {"lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10}
    ),
    "rmsprop": Reference(
        rmsprop, {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False}
    ),
    "adam": Reference(adam, {**ADAM, "amsgrad": False, "bias_correction": True}),
    "adamw": Reference(
        adam,
        {
            **ADAM,
            "weight_decay": 1e-2,
            "decoupled_weight_decay": True,
            "amsgrad": False,
            "bias_correction": True,
        },
    ),
    "nadam": Reference(nadam, {**ADAM, "momentum_decay": 4e-3}),
    "radam": Reference(radam, ADAM),
    "adadelta": Reference(adadelta, {"rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}),
    "adamax": Reference(adamax, {"betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
    "lion": Reference(lion, {"betas": (0.9, 0.99), "weight_decay": 0.0}),
}
"""Each registered optimizer's rule, with the defaults of the optimizer of that name."""
