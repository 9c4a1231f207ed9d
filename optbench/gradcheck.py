"""The gradient check of a model: its backward pass against central differences, group by group.

As the book's `batch_norm_gradient_check.py`, the gradient of the training loss that backpropagation
gives is compared with the numerical one, (L(θ + h) − L(θ − h)) / 2h, entry by entry, and each
parameter group (W1, b1, gamma1, beta1, W2, ...) reports the mean absolute difference. The network
is in float64, its dropout layers hold one mask for every pass (so that the loss is one function of
the parameters), and the loss is the one a training step minimises: its weight penalty included,
batch normalisation with the batch's statistics.

A group passes when its mean absolute difference is at most `atol`, or its relative difference
‖backprop − numerical‖ / (‖backprop‖ + ‖numerical‖) at most `rtol`: the first for groups whose
gradients are tiny, the second for the others.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench import train
from optbench.config import RunConfig
from optbench.data import iter_chunks, split, training_rows
from optbench.nn import Dropout, Network

GRADCHECK_STEP = 1e-5
"""h of the central differences: in float64 their truncation error (∝ h²) and rounding error
(∝ ε/h) are both near 1e-10 here."""

GRADCHECK_ATOL = 1e-8
"""Largest mean absolute difference of a group that passes whatever its size."""

GRADCHECK_RTOL = 1e-5
"""Largest relative difference of a group that passes."""

GRADCHECK_ENTRIES = 200
"""Entries checked per group: all of a smaller group, else a fixed sample (two losses per entry)."""

GRADCHECK_BATCH = 8
"""Training images in the batch the gradients are taken on."""


@dataclass(frozen=True)
class GroupCheck:
    """One parameter group's comparison: over `checked` of its `size` entries."""

    name: str
    size: int
    checked: int
    mean_abs_diff: float
    relative_diff: float
    atol: float = GRADCHECK_ATOL
    rtol: float = GRADCHECK_RTOL

    @property
    def ok(self) -> bool:
        return self.mean_abs_diff <= self.atol or self.relative_diff <= self.rtol

    def line(self, width: int = 8) -> str:
        """`W1       3.1e-11  relative 2.0e-09   200 of 78400 entries  ok`, the book's figure first."""
        entries = f"all {self.size}" if self.checked == self.size else f"{self.checked} of {self.size}"
        verdict = "ok" if self.ok else "FAILED"
        return (
            f"{self.name:<{width}} {self.mean_abs_diff:.2e}  relative {self.relative_diff:.2e}  "
            f"{entries} entries  {verdict}"
        )


def parameter_groups(net: Network) -> list[tuple[str, NDArray[Any], NDArray[Any]]]:
    """(name, parameter, gradient) of every parameter array, in buffer order, named as the book names
    them: each layer parameter's name numbered by its occurrence (W1, b1, gamma1, beta1, W2, ...)."""
    seen: Counter[str] = Counter()
    groups = []
    for layer in net.layers:
        for name, param in layer.params.items():
            seen[name] += 1
            groups.append((f"{name}{seen[name]}", param, layer.grads[name]))
    return groups


def check_gradients(
    net: Network,
    x: NDArray[Any],
    labels: NDArray[np.intp],
    entries: int | None = GRADCHECK_ENTRIES,
    step: float = GRADCHECK_STEP,
    atol: float = GRADCHECK_ATOL,
    rtol: float = GRADCHECK_RTOL,
    seed: int = 0,
) -> list[GroupCheck]:
    """Compare `net`'s backward pass on (x, labels) with central differences, group by group.

    `entries`: how many entries of each group to check (None: all), drawn from `seed`. The network's
    dropout layers are set to hold their masks; its parameters are left as they were.
    """
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.hold_mask = True
    net.loss_and_grad(x, labels)
    rng = np.random.default_rng(seed)
    results = []
    for name, param, grad in parameter_groups(net):
        flat, analytic = param.reshape(-1), grad.reshape(-1).copy()
        size = flat.size
        picked = (
            np.arange(size)
            if entries is None or size <= entries
            else np.sort(rng.choice(size, entries, False))
        )
        numeric = np.empty(len(picked))
        for k, i in enumerate(picked):
            kept = flat[i]
            flat[i] = kept + step
            above = net.forward_loss(x, labels)
            flat[i] = kept - step
            below = net.forward_loss(x, labels)
            flat[i] = kept
            numeric[k] = (above - below) / (2 * step)
        backprop = analytic[picked]
        gap = float(np.mean(np.abs(backprop - numeric)))
        scale = float(np.linalg.norm(backprop) + np.linalg.norm(numeric))
        relative = float(np.linalg.norm(backprop - numeric)) / scale if scale > 0 else 0.0
        results.append(GroupCheck(name, size, len(picked), gap, relative, atol, rtol))
    return results


def run_network(
    run: RunConfig, batch: int = GRADCHECK_BATCH
) -> tuple[Network, NDArray[Any], NDArray[np.intp]]:
    """The network of a dataset run in float64, as it starts (its init seed), and the first `batch`
    of the images it trains on."""
    assert run.task.dataset is not None and run.model is not None
    data = train.cached_dataset(run.task.dataset, run.task.data_dir)
    rows = training_rows(
        split(data, run.task.validation, run.task.split_seed).train_rows, run.task.train_size
    )
    float64 = dataclasses.replace(run, model=dataclasses.replace(run.model, dtype="float64"))
    rng_init, _ = train.seeded_generators(*run.train.seeds)
    net = train.build_model(float64, data.n_features, data.n_classes, rng_init)
    (x, labels), *_ = iter_chunks(
        data.train_images[rows[:batch]], data.train_labels[rows[:batch]], batch, np.float64
    )
    return net, x, labels


__all__ = [
    "GRADCHECK_ATOL",
    "GRADCHECK_BATCH",
    "GRADCHECK_ENTRIES",
    "GRADCHECK_RTOL",
    "GRADCHECK_STEP",
    "GroupCheck",
    "check_gradients",
    "parameter_groups",
    "run_network",
]
