"""Speed never changes results: the optimised training step against a plain reference, step by step.

Fifty float64 updates of the lecture's MLP through `train.train_step` (BatchSampler, the MLP with its
preallocated buffers, the optimizer on the flat parameter buffer), on either engine, must give the
losses and the parameters that plain code gives: a forward and backward pass over a dict of arrays
that allocates everything, and each optimizer's published update rule written out as formulas. For
every registered optimizer, with its default hyperparameters. Nothing here is timed:
`python benchmarks/bench.py` measures the speed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from optbench import train
from optbench.data import BatchSampler, Dataset, split
from optbench.engine import Engine
from optbench.evaluation import Evaluations
from optbench.init import build_initializer
from optbench.nn import ACTIVATIONS, MLP
from optbench.optim import OPTIMIZERS, Optimizer, build_optimizer, hyper_values

SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128
STEPS = 50
N_EXAMPLES = 600
"""Four batches an epoch (88 examples left over): fifty steps cross twelve epoch boundaries."""
RTOL = 1e-12

LEARNING_RATES = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.001,
    "adam": 0.001,
    "adamw": 0.001,
    "nadam": 0.002,
    "radam": 0.001,
    "adadelta": 1.0,
    "adamax": 0.002,
    "lion": 1e-4,
}
"""Rates at which fifty updates move the weights well away from their start without diverging."""

Params = dict[str, np.ndarray]


def synthetic_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped uint8 images, mostly zero like handwriting on a blank page, and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(N_EXAMPLES, SIZES[0]), dtype=np.uint8)
    images[rng.random(images.shape) < 0.8] = 0
    return images, rng.integers(0, 10, size=N_EXAMPLES).astype(np.uint8)


# --------------------------------------------------------------------------------------------------
# The plain reference: a dict of arrays, textbook forward and backward, batches drawn from scratch
# --------------------------------------------------------------------------------------------------


def reference_batches(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> Any:
    """BatchSampler's documented order: each epoch shuffles the running order, the remainder waits."""
    order = np.arange(len(images))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order) - BATCH + 1, BATCH):
            rows = order[start : start + BATCH]
            yield images[rows] / 255.0, labels[rows].astype(np.intp)


def loss_and_gradients(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
    """Mean softmax cross-entropy of an MLP with ReLU and its gradient, by the chain rule."""
    n_layers = len(params) // 2
    inputs, pre_activations = [], []
    h = x
    for i in range(1, n_layers + 1):
        inputs.append(h)
        a = h @ params[f"W{i}"] + params[f"b{i}"]
        pre_activations.append(a)
        h = np.maximum(a, 0) if i < n_layers else a
    shifted = h - h.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    loss = float(-log_probs[rows, y].mean())
    delta = np.exp(log_probs)
    delta[rows, y] -= 1
    delta /= len(y)
    grads = {}
    for i in range(n_layers, 0, -1):
        grads[f"W{i}"] = inputs[i - 1].T @ delta
        grads[f"b{i}"] = delta.sum(axis=0)
        if i > 1:
            delta = (delta @ params[f"W{i}"].T) * (pre_activations[i - 2] > 0)
    return loss, grads


# --------------------------------------------------------------------------------------------------
# The published update rules, one function per optimizer: (θ, g, state, t, lr, hyperparameters) -> θ
# --------------------------------------------------------------------------------------------------

Array = np.ndarray
State = dict[str, Any]
"""An optimizer's state for one parameter array, filled on the first update."""
Hyper = dict[str, Any]
Rule = Callable[[Array, Array, State, int, float, Hyper], Array]


def sgd(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    g = g + h["weight_decay"] * theta
    if h["momentum"]:
        s["b"] = g if t == 1 else h["momentum"] * s["b"] + (1 - h["dampening"]) * g
        g = g + h["momentum"] * s["b"] if h["nesterov"] else s["b"]
    return theta - lr * g


def adagrad(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    g = g + h["weight_decay"] * theta
    s["sum"] = s.get("sum", h["initial_accumulator_value"]) + g * g
    return theta - lr / (1 + (t - 1) * h["lr_decay"]) * g / (np.sqrt(s["sum"]) + h["eps"])


def rmsprop(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert not h["centered"] and h["momentum"] == 0 and h["weight_decay"] == 0  # the defaults
    s["v"] = h["alpha"] * s.get("v", 0.0) + (1 - h["alpha"]) * g * g
    return theta - lr * g / (np.sqrt(s["v"]) + h["eps"])


def adam(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert not h["amsgrad"] and h["bias_correction"]  # the defaults
    if h["decoupled_weight_decay"]:
        theta = theta * (1 - lr * h["weight_decay"])
    else:
        g = g + h["weight_decay"] * theta
    beta1, beta2 = h["betas"]
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    v_hat = s["v"] / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + h["eps"])


def adamw(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    decayed = theta * (1 - lr * h["weight_decay"])
    return adam(decayed, g, s, t, lr, {**h, "weight_decay": 0.0, "decoupled_weight_decay": False})


def nadam(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert h["weight_decay"] == 0  # the default
    beta1, beta2 = h["betas"]
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


def radam(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert h["weight_decay"] == 0  # the default
    beta1, beta2 = h["betas"]
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = s["m"] / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho <= 5:
        return theta - lr * m_hat
    r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return theta - lr * m_hat * r * math.sqrt(1 - beta2**t) / (np.sqrt(s["v"]) + h["eps"])


def adadelta(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert h["weight_decay"] == 0  # the default
    rho, eps = h["rho"], h["eps"]
    s["v"] = rho * s.get("v", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("u", 0.0) + eps) / np.sqrt(s["v"] + eps) * g
    s["u"] = rho * s.get("u", 0.0) + (1 - rho) * delta * delta
    return theta - lr * delta


def adamax(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    assert h["weight_decay"] == 0  # the default
    beta1, beta2 = h["betas"]
    s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0.0), np.abs(g) + h["eps"])
    return theta - lr / (1 - beta1**t) * s["m"] / s["u"]


def lion(
    theta: np.ndarray, g: np.ndarray, s: dict[str, Any], t: int, lr: float, h: dict[str, Any]
) -> np.ndarray:
    beta1, beta2 = h["betas"]
    m = s.get("m", 0.0)
    c = beta1 * m + (1 - beta1) * g
    s["m"] = beta2 * m + (1 - beta2) * g
    return theta - lr * (np.sign(c) + h["weight_decay"] * theta)


RULES: dict[str, Rule] = {
    "sgd": sgd,
    "momentum": sgd,
    "nesterov": sgd,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
    "nadam": nadam,
    "radam": radam,
    "adadelta": adadelta,
    "adamax": adamax,
    "lion": lion,
}


# --------------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------------


def optimised_run(opt: Optimizer, seed: int, engine: Engine) -> tuple[MLP, Params, list[float]]:
    """STEPS updates through train.train_step; the network, its starting parameters and the losses."""
    images, labels = synthetic_data()
    rng_init, rng_data = train.seeded_generators(seed)
    net = MLP(SIZES, ACTIVATIONS["relu"], build_initializer("he"), rng_init, dtype=np.float64)
    start = {}
    for i, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        assert b is not None
        start[f"W{i}"], start[f"b{i}"] = w.copy(), b.copy()
    sampler = BatchSampler(images, labels, BATCH, rng_data, dtype=np.float64)
    data = Dataset("synthetic", images, labels, images, labels)
    evaluations = Evaluations(data, split(data, 0, 0), net.dtype, diagnostics=False)
    with engine.session(net, sampler, evaluations, write=lambda row: None) as session:
        losses = [train.train_step(session, opt) for _ in range(STEPS)]
    return net, start, losses


def reference_run(name: str, hyper: dict[str, Any], start: Params, seed: int) -> tuple[Params, list[float]]:
    images, labels = synthetic_data()
    _, rng_data = train.seeded_generators(seed)
    params = {key: value.copy() for key, value in start.items()}
    states: dict[str, dict[str, Any]] = {key: {} for key in params}
    losses = []
    for t, (x, y) in enumerate(itertools.islice(reference_batches(images, labels, rng_data), STEPS), start=1):
        loss, grads = loss_and_gradients(params, x, y)
        losses.append(loss)
        for key in params:
            params[key] = RULES[name](params[key], grads[key], states[key], t, hyper["lr"], hyper)
    return params, losses


@pytest.mark.parametrize("engine", list(Engine))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fifty_optimised_steps_equal_the_plain_reference(name: str, engine: Engine) -> None:
    opt = build_optimizer(name, {"lr": LEARNING_RATES[name]})
    net, start, losses = optimised_run(opt, seed=3, engine=engine)
    expected, expected_losses = reference_run(name, hyper_values(opt), start, seed=3)
    np.testing.assert_allclose(losses, expected_losses, rtol=RTOL, atol=0)
    for i, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
        for key, ours in ((f"W{i}", w), (f"b{i}", b)):
            theirs = expected[key]
            scale = float(np.abs(theirs).max())
            assert float(np.abs(ours - theirs).max()) <= RTOL * scale, f"{name}: {key} differs"
            # The comparison means something only if training moved the parameters well beyond it.
            assert float(np.abs(theirs - start[key]).max()) > 1e-6 * scale, f"{name}: {key} did not move"


def test_every_optimizer_has_a_reference_rule_and_a_learning_rate() -> None:
    assert set(RULES) == set(OPTIMIZERS) == set(LEARNING_RATES)
