"""The training loops: one resolved run in, metric rows out, handed to the caller as they happen.

Nothing here knows about files: the runner passes `write` callbacks that append rows to CSV logs.
A loss that turns NaN or infinite ends the run at once with status `diverged`; the rows up to that
step are a legitimate result.
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench.config import RunConfig
from optbench.data import (
    DATASETS,
    EVAL_CHUNK,
    BatchSampler,
    ChunkReader,
    Dataset,
    default_data_dir,
    iter_chunks,
    load_idx_folder,
)
from optbench.diagnostics import DIAGNOSTIC_COLUMNS, layer_diagnostics
from optbench.functions import FUNCTIONS
from optbench.nn import ACTIVATIONS, MLP
from optbench.optim import Optimizer

FUNCTION_COLUMNS = ("step", "x", "y", "loss", "lr")
DATASET_COLUMNS = ("step", "epoch", "train_loss", "test_loss", "test_acc", "lr", "elapsed_s")

FINAL_LOSS_WINDOW = 100
"""final_loss of a dataset run: the mean training loss over this many last steps (fewer if shorter)."""

Row = Sequence[Any]
Writer = Callable[[Row], None]


@dataclass(frozen=True)
class Outcome:
    """How a run ended, and the figures that go into the summary."""

    status: str
    steps_done: int
    final_loss: float | None
    final_test_acc: float | None = None
    diverged_step: int | None = None


def columns_for(run: RunConfig) -> tuple[str, ...]:
    return FUNCTION_COLUMNS if run.task.kind == "function" else DATASET_COLUMNS


def seeded_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for the initial weights and for the minibatch order.

    Separate streams mean that two runs with the same seed and different initialisers or optimizers
    see the same minibatches in the same order.
    """
    init_seq, data_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init_seq), np.random.default_rng(data_seq)


def run_function(run: RunConfig, write: Writer, on_step: Callable[[int], None] | None = None) -> Outcome:
    """Minimise a 2-D function from its start; one row per step, step 0 being the start itself."""
    assert run.task.function is not None and run.task.start is not None
    objective = FUNCTIONS[run.task.function]
    p = np.array(run.task.start, dtype=np.float64)
    opt = run.optimizer.build()
    loss = float(objective.value(p[0], p[1]))
    write((0, float(p[0]), float(p[1]), loss, None))
    for step in range(1, run.train.steps + 1):
        opt.step(p, objective.grad(p))
        loss = float(objective.value(p[0], p[1]))
        write((step, float(p[0]), float(p[1]), loss, opt.last_lr))
        if on_step is not None:
            on_step(step)
        if not (math.isfinite(loss) and np.all(np.isfinite(p))):
            return Outcome("diverged", step, loss, diverged_step=step)
    return Outcome("completed", run.train.steps, loss)


def cached_dataset(name: str, data_dir: str | None) -> Dataset:
    """Each process loads (and verifies) a dataset once, however many runs it executes.

    With a data_dir, any folder in MNIST layout is read as it is; without, the registered dataset is
    loaded from the data cache ($OPTBENCH_DATA or the per-user folder), checksums verified.
    """
    if data_dir is not None:
        return _load_dataset(name, Path(data_dir).expanduser().resolve(), verified=False)
    return _load_dataset(name, default_data_dir().resolve(), verified=True)


@functools.lru_cache(maxsize=2)
def _load_dataset(name: str, folder: Path, verified: bool) -> Dataset:
    return DATASETS[name].load(folder) if verified else load_idx_folder(folder, folder.name)


def build_model(run: RunConfig, n_inputs: int, n_classes: int, rng: np.random.Generator) -> MLP:
    model = run.model
    assert model is not None
    return MLP(
        (n_inputs, *model.hidden, n_classes),
        ACTIVATIONS[model.activation],
        model.init,
        rng,
        dtype=np.dtype(model.dtype),
        output_init=model.output_init,
    )


def evaluate(net: MLP, examples: ChunkReader) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole (test) set, a chunk at a time."""
    total_loss, correct = 0.0, 0
    for x, y in examples:
        loss_sum, right = net.evaluate(x, y)
        total_loss += loss_sum
        correct += right
    return total_loss / len(examples), correct / len(examples)


PROBE_SIZE = 1000
"""Training images (the first ones) on which the diagnostics measure activations and gradients."""


def _probe_batch(data: Dataset, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
    """A fixed batch, the same at every evaluation, so diagnostics over training are comparable."""
    n = min(PROBE_SIZE, len(data.train_labels))
    return next(iter_chunks(data.train_images[:n], data.train_labels[:n], n, dtype))


def train_step(net: MLP, sampler: BatchSampler, opt: Optimizer) -> float:
    """One update: draw a batch, forward, loss, backward, then the optimizer's step.

    Returns the batch's loss, measured in the forward pass, before the update. A loss that is not
    finite is returned without updating: the run ends there, as diverged.
    """
    x, y = sampler.next()
    loss = net.loss_and_grad(x, y)
    if math.isfinite(loss):
        opt.step(net.params, net.grads)
    return loss


def run_dataset(
    run: RunConfig,
    write: Writer,
    write_diagnostics: Writer | None = None,
    on_step: Callable[[int], None] | None = None,
    dataset: Dataset | None = None,
) -> Outcome:
    """Train the MLP with minibatches; one row per update.

    Row k holds the training loss of the batch of update k (measured in the forward pass that
    computes its gradient, before the update) and, at evaluation steps, the test loss and accuracy
    after the update. Diagnostics (step 0, then every evaluation) describe the network after k
    updates, measured on a fixed probe batch of training images.
    """
    assert run.task.dataset is not None and run.model is not None
    data = dataset if dataset is not None else cached_dataset(run.task.dataset, run.task.data_dir)
    train = run.train
    rng_init, rng_data = seeded_generators(train.seed)
    net = build_model(run, data.n_features, data.n_classes, rng_init)
    sampler = BatchSampler(
        data.train_images,
        data.train_labels,
        train.batch_size,
        rng_data,
        dtype=net.dtype,
        replacement=train.sampling == "replacement",
    )
    opt = run.optimizer.build()
    test_set = ChunkReader(data.test_images, data.test_labels, EVAL_CHUNK, net.dtype)
    probe = _probe_batch(data, net.dtype) if write_diagnostics is not None else None

    def diagnose(step: int) -> None:
        if probe is not None and write_diagnostics is not None:
            net.loss_and_grad(*probe)
            for row in layer_diagnostics(net, step):
                write_diagnostics(row)

    diagnose(0)
    recent: deque[float] = deque(maxlen=FINAL_LOSS_WINDOW)
    test_acc = None
    started = time.perf_counter()
    for step in range(1, train.steps + 1):
        loss = train_step(net, sampler, opt)
        if not math.isfinite(loss):
            write((step, sampler.epoch, loss, None, None, None, round(time.perf_counter() - started, 3)))
            return Outcome("diverged", step, loss, test_acc, diverged_step=step)
        recent.append(loss)
        test_loss = None
        evaluate_now = step % train.eval_every == 0 or step == train.steps
        if evaluate_now:
            test_loss, test_acc = evaluate(net, test_set)
            diagnose(step)
        write(
            (
                step,
                sampler.epoch,
                loss,
                test_loss,
                test_acc if evaluate_now else None,
                opt.last_lr,
                round(time.perf_counter() - started, 3),
            )
        )
        if on_step is not None:
            on_step(step)
    return Outcome("completed", train.steps, sum(recent) / len(recent), test_acc)


def run(
    run: RunConfig,
    write: Writer,
    write_diagnostics: Writer | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Outcome:
    """Execute one resolved run of either kind."""
    # Overflow on the way to NaN is how a diverging run ends; it is reported as status, not warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        if run.task.kind == "function":
            return run_function(run, write, on_step)
        return run_dataset(run, write, write_diagnostics, on_step)


__all__ = ["DATASET_COLUMNS", "DIAGNOSTIC_COLUMNS", "FUNCTION_COLUMNS", "Outcome", "run"]
