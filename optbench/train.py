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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optbench import checkpoints
from optbench.checkpoints import Checkpoint
from optbench.config import RunConfig
from optbench.data import (
    DATASETS,
    BatchSampler,
    Dataset,
    Split,
    default_data_dir,
    load_idx_folder,
    split,
    training_rows,
    updates_per_epoch,
)
from optbench.diagnostics import DIAGNOSTIC_COLUMNS
from optbench.engine import Engine, Session
from optbench.errors import OptbenchError
from optbench.evaluation import Evaluations
from optbench.functions import FUNCTIONS
from optbench.measures import FINAL_LOSS_WINDOW
from optbench.metrics import DATASET_COLUMNS, FUNCTION_COLUMNS, Evaluation, MetricRow, Writer
from optbench.nn import ACTIVATIONS, MLP, BatchNorm, Dropout, LayerKind, Network
from optbench.optim import Optimizer


@dataclass(frozen=True)
class Outcome:
    """How a run ended, and the figures that go into the summary.

    A diverged run has no final evaluation: its accuracies are None, not the last ones measured
    before it diverged.
    """

    status: str
    steps_done: int
    final_loss: float | None
    final_val_loss: float | None = None
    final_val_acc: float | None = None
    final_test_acc: float | None = None
    diverged_step: int | None = None


def columns_for(run: RunConfig) -> tuple[str, ...]:
    return FUNCTION_COLUMNS if run.task.kind == "function" else DATASET_COLUMNS


def seeded_generators(init_seed: int, data_seed: int | None = None) -> tuple[np.random.Generator, ...]:
    """Independent streams for the initial weights and for the minibatch order.

    Each seed spawns two child sequences; the weights take the first child of `init_seed`, the
    minibatches the second child of `data_seed` (default: the same seed). Separate streams mean that
    two runs with the same data seed and different initialisers or optimizers see the same
    minibatches in the same order, and a study can vary one seed while holding the other.
    """
    data_seed = init_seed if data_seed is None else data_seed
    init_seq = np.random.SeedSequence(init_seed).spawn(2)[0]
    data_seq = np.random.SeedSequence(data_seed).spawn(2)[1]
    return np.random.default_rng(init_seq), np.random.default_rng(data_seq)


def run_function(run: RunConfig, write: Writer) -> Outcome:
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
        if not (math.isfinite(loss) and np.all(np.isfinite(p))):
            return Outcome("diverged", step, None, diverged_step=step)
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


@functools.lru_cache(maxsize=4)
def _cached_split(data: Dataset, validation: int, seed: int) -> Split:
    return split(data, validation, seed)


def dropout_generator(data_seed: int) -> np.random.Generator:
    """The stream of a run's dropout masks: the third child of the data seed (the weights and the
    minibatch order take the first two, `seeded_generators`), so masks, like minibatches, are the
    training's randomness and follow train.data_seed. Every dropout layer of the network draws from it,
    in layer order; its state is part of a checkpoint."""
    return np.random.default_rng(np.random.SeedSequence(data_seed).spawn(3)[2])


def build_model(run: RunConfig, n_inputs: int, n_classes: int, rng: np.random.Generator) -> MLP:
    """The run's MLP. A layer kind that a `model:` key turns on joins every hidden layer here: in
    `before_activation` (between the affine layer and its activation: batch normalisation) or
    `after_activation` (dropout). A key that is off adds no layer, so the step is the plain one."""
    model = run.model
    assert model is not None
    before_activation: list[LayerKind] = []
    after_activation: list[LayerKind] = []
    if model.batch_norm is not None:
        bn = model.batch_norm
        before_activation.append(
            functools.partial(BatchNorm, momentum=bn.momentum, eps=bn.eps, unbiased=bn.unbiased)
        )
    if model.dropout:
        p, masks, inverted = model.dropout, dropout_generator(run.train.seeds[1]), model.inverted_dropout
        after_activation.append(lambda _: Dropout(p, masks, inverted=inverted))
    return MLP(
        (n_inputs, *model.hidden, n_classes),
        ACTIVATIONS[model.activation],
        model.init,
        rng,
        dtype=np.dtype(model.dtype),
        output_init=model.output_init,
        before_activation=before_activation,
        after_activation=after_activation,
        l2=model.l2,
    )


def train_step(session: Session, opt: Optimizer) -> float:
    """One update: draw a batch, forward, loss, backward, then the optimizer's step.

    Returns the batch's loss, measured in the forward pass, before the update. A loss that is not
    finite is returned without updating: the run ends there, as diverged.
    """
    x, y = session.batch()
    loss = session.loss_and_grad(x, y)
    if math.isfinite(loss):
        opt.step(session.net.params, session.net.grads)
    return loss


Save = Callable[[int, Checkpoint], None]
"""Called with the step and a checkpoint every train.checkpoint_every steps (after that step's row)."""


def _checkpoint(
    step: int, net: Network, opt: Optimizer, sampler: BatchSampler, recent: deque[float], elapsed: float
) -> Checkpoint:
    """The run's state after `step`, all but its last evaluation (`_hand_over` adds that)."""
    state = opt.state_dict()
    sampled = sampler.state()
    arrays: Checkpoint = {
        "step": np.array(step),
        "params": net.params.copy(),
        "optimizer": np.array(state["name"]),
        "optimizer_t": np.array(state["t"]),
        "sampler_order": sampled["order"],
        "sampler": checkpoints.text({k: v for k, v in sampled.items() if k != "order"}),
        "recent": np.array(recent, dtype=np.float64),
        "elapsed": np.array(elapsed),
    }
    if net.state.size:
        arrays["model_state"] = net.state.copy()
    if net.generators:
        arrays["model_random"] = checkpoints.text(net.random_state())
    arrays.update({f"state.{name}": buffer for name, buffer in state["state"].items()})
    return arrays


def _hand_over(save: Save, step: int, checkpoint: Checkpoint, session: Session) -> None:
    """Give `save` the checkpoint taken after `step`, completed by that step's evaluation."""
    values = session.last.values()
    checkpoint["last_eval"] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    save(step, checkpoint)


def _restore(
    saved: Checkpoint, net: Network, opt: Optimizer, session: Session
) -> tuple[int, deque[float], Evaluation, float]:
    """Put a checkpoint's state back; returns its step, recent losses, last evaluation and elapsed time."""
    if saved["params"].shape != net.params.shape or saved["params"].dtype != net.params.dtype:
        raise OptbenchError("the checkpoint is of another model: delete it to start the run again")
    model_state = saved.get("model_state", np.zeros(0, net.dtype))
    if model_state.shape != net.state.shape:
        raise OptbenchError("the checkpoint is of another model: delete it to start the run again")
    np.copyto(net.params, saved["params"])
    np.copyto(net.state, model_state)
    if "model_random" in saved:
        net.set_random_state(checkpoints.from_text(saved["model_random"]))
    buffers = {k.removeprefix("state."): v for k, v in saved.items() if k.startswith("state.")}
    opt.load_state_dict({"name": str(saved["optimizer"]), "t": int(saved["optimizer_t"]), "state": buffers})
    session.restore({"order": saved["sampler_order"], **checkpoints.from_text(saved["sampler"])})
    recent: deque[float] = deque((float(v) for v in saved["recent"]), maxlen=FINAL_LOSS_WINDOW)
    last = Evaluation(*(None if math.isnan(v) else float(v) for v in saved["last_eval"]))
    return int(saved["step"]), recent, last, float(saved["elapsed"])


def run_dataset(
    run: RunConfig,
    write: Writer,
    write_diagnostics: Writer | None = None,
    dataset: Dataset | None = None,
    save: Save | None = None,
    resume: Checkpoint | None = None,
    engine: Engine = Engine.INLINE,
) -> Outcome:
    """Train the MLP with minibatches; one row per update.

    Row k holds the training loss of the batch of update k (measured in the forward pass that
    computes its gradient, before the update) and, at evaluation steps, the validation and test loss
    and accuracy after the update. Diagnostics (step 0, then every evaluation) describe the network
    after k updates, measured on a fixed probe batch of training images.

    With `save`, a checkpoint is handed to it every train.checkpoint_every steps; with `resume`,
    the run continues after the checkpoint's step (whose rows the caller already has) and every
    later row is the one an uninterrupted run writes, timing aside. `engine` lays the work out on
    the cores (`optbench.engine`): the same numbers either way.
    elapsed_s is the wall time since training started when the row's update was done.
    """
    assert run.task.dataset is not None and run.model is not None
    data = dataset if dataset is not None else cached_dataset(run.task.dataset, run.task.data_dir)
    held_out = _cached_split(data, run.task.validation, run.task.split_seed)
    rows = training_rows(held_out.train_rows, run.task.train_size)
    train = run.train
    rng_init, rng_data = seeded_generators(*train.seeds)
    net = build_model(run, data.n_features, data.n_classes, rng_init)
    opt = run.optimizer.build()
    sampler = BatchSampler(
        data.train_images,
        data.train_labels,
        train.batch_size,
        rng_data,
        dtype=net.dtype,
        replacement=train.sampling == "replacement",
        rows=rows if run.task.validation or run.task.train_size is not None else None,
    )
    evaluations = Evaluations(
        data, held_out, net.dtype, write_diagnostics is not None, rows, split_seed=run.task.split_seed
    )
    with engine.session(net, sampler, evaluations, write, write_diagnostics) as session:
        return _train(run, net, opt, session, save, resume)


def _train(
    run: RunConfig,
    net: Network,
    opt: Optimizer,
    session: Session,
    save: Save | None,
    resume: Checkpoint | None,
) -> Outcome:
    train = run.train
    recent: deque[float] = deque(maxlen=FINAL_LOSS_WINDOW)
    first, offset = 1, 0.0
    if resume is not None:
        done, recent, session.last, offset = _restore(resume, net, opt, session)
        first = done + 1
    else:
        session.diagnose(0)
    every = train.checkpoint_every
    per_epoch = updates_per_epoch(session.sampler.rows, train.batch_size)
    eval_every = per_epoch if train.eval_every == "epoch" else train.eval_every
    counts_epochs = train.counts_epochs
    started = time.perf_counter() - offset
    for step in range(first, train.steps + 1):
        loss = train_step(session, opt)
        elapsed = round(time.perf_counter() - started, 3)
        epoch = step / per_epoch if counts_epochs else session.sampler.epoch
        if not math.isfinite(loss):
            session.finish()
            session.record(MetricRow(step, epoch, loss, None, elapsed))
            return Outcome("diverged", step, None, diverged_step=step)
        recent.append(loss)
        row = MetricRow(step, epoch, loss, opt.last_lr, elapsed)
        if step == train.steps:
            session.evaluate(row, last=True)
        elif step % eval_every == 0:
            session.evaluate(row)
        else:
            session.record(row)
        if save is not None and every and step % every == 0 and step < train.steps:
            # Taken now; handed over after every row up to its step, its evaluation included, so
            # that training goes on while an evaluation beside it finishes.
            checkpoint = _checkpoint(step, net, opt, session.sampler, recent, elapsed)
            session.then(functools.partial(_hand_over, save, step, checkpoint, session))
    session.finish()
    last = session.last
    return Outcome(
        "completed",
        train.steps,
        sum(recent) / len(recent),
        final_val_loss=last.val_loss,
        final_val_acc=last.val_acc,
        final_test_acc=last.test_acc,
    )


def run(
    run: RunConfig,
    write: Writer,
    write_diagnostics: Writer | None = None,
    save: Save | None = None,
    resume: Checkpoint | None = None,
    engine: Engine = Engine.INLINE,
) -> Outcome:
    """Execute one resolved run of either kind (a dataset run checkpoints, resumes, and lays its work
    out as `engine` says)."""
    # Overflow on the way to NaN is how a diverging run ends; it is reported as status, not warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        if run.task.kind == "function":
            return run_function(run, write)
        return run_dataset(run, write, write_diagnostics, save=save, resume=resume, engine=engine)


__all__ = ["DATASET_COLUMNS", "DIAGNOSTIC_COLUMNS", "FUNCTION_COLUMNS", "Outcome", "run"]
