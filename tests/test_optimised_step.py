"""Speed never changes results: the optimised training step against a plain reference, step by step.

Fifty float64 updates of the lecture's MLP through `train.train_step` (BatchSampler, the MLP with its
preallocated buffers, the optimizer on the flat parameter buffer), on either engine, must give the
losses and the parameters that plain code gives: a forward and backward pass over a dict of arrays
that allocates everything, and each optimizer's published update rule written out as formulas (those
of reference_optimizers.py). For every registered optimizer, with its default hyperparameters.
Nothing here is timed: `python benchmarks/bench.py` measures the speed.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from reference_optimizers import RULES

from optbench import train
from optbench.data import BatchSampler, Dataset, split
from optbench.engine import Engine
from optbench.evaluation import Evaluations
from optbench.init import build_initializer
from optbench.nn import ACTIVATIONS, MLP
from optbench.optim import OPTIMIZERS, Optimizer

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


def reference_run(name: str, lr: float, start: Params, seed: int) -> tuple[Params, list[float]]:
    images, labels = synthetic_data()
    _, rng_data = train.seeded_generators(seed)
    params = {key: value.copy() for key, value in start.items()}
    states: dict[str, dict[str, Any]] = {key: {} for key in params}
    losses = []
    for t, (x, y) in enumerate(itertools.islice(reference_batches(images, labels, rng_data), STEPS), start=1):
        loss, grads = loss_and_gradients(params, x, y)
        losses.append(loss)
        for key in params:
            params[key] = RULES[name](params[key], grads[key], states[key], t, lr)
    return params, losses


@pytest.mark.parametrize("engine", list(Engine))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fifty_optimised_steps_equal_the_plain_reference(name: str, engine: Engine) -> None:
    opt = OPTIMIZERS[name](lr=LEARNING_RATES[name])
    net, start, losses = optimised_run(opt, seed=3, engine=engine)
    expected, expected_losses = reference_run(name, LEARNING_RATES[name], start, seed=3)
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
