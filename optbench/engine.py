"""The engine of a dataset run: how its work is laid out on the cores, never what is computed.

The training loop (`optbench.train`) drives a run through a `Session`: `batch()`, `loss_and_grad()`,
then `record()` or `evaluate()` for the update's row, `then()` for what must wait until every row
so far is written (a checkpoint's hand-over) and `finish()`. The runner chooses the engine:

- `Engine.INLINE` does each thing at once, in the training thread: the plain model, sampler and
  evaluations, called in order. Workers of a pool run so: their cores are busy.
- `Engine.OVERLAPPED` is for a run with a spare core (`optbench train`, `--jobs 1`). Each
  evaluation runs in a second thread on a replica of the network, while the next updates train; the
  rows after it wait for it, so they are written in order. Between evaluations, a helper thread
  fills the next few batches ahead (`AheadBatches`) and computes each layer's parameter gradients
  while the training thread passes the signal to the layer below. The last evaluation, which the run
  waits for, is shared: the training thread measures the test set while the other measures the rest.

Both give the same numbers bit for bit: every matrix product is the same single-threaded BLAS call
(one BLAS thread per process, see optbench/__init__.py) in whichever thread makes it, and the
replica computes exactly what the training network would. Only the timing differs; the tests
compare the two engines' files.

Threads started here block the stop signals (`optbench.signals`): a stop raises in the training
thread alone, at a point of its Python code, and a helper finishes the job it is on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import queue
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data import BatchSampler
from optbench.evaluation import Evaluations
from optbench.metrics import NO_EVALUATION, Evaluation, MetricRow, Row, Writer
from optbench.nn import Network
from optbench.signals import start_helper

AHEAD_BATCHES = 4
"""How many batches the helper thread is asked to fill at a time: each request costs the training
thread a few microseconds of waking the helper and sharing the interpreter with it, so it is made
once every few steps rather than at every one."""

Batch = tuple[NDArray[np.floating[Any]], NDArray[np.intp]]


class Helper:
    """A helper thread that runs the jobs it is given, in order, until it is closed.

    `wait()` returns once every job given so far has run, with the first error any of them raised
    (returned, for the caller to raise). A stop signal raises in the waiting thread and leaves the
    jobs counted: the next `wait()` waits for them again.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Exception | None] = queue.SimpleQueue()
        self._pending = 0
        self._thread = start_helper(self._serve, name)

    def submit(self, job: Callable[[], None]) -> None:
        self._pending += 1
        self._jobs.put(job)

    @property
    def idle(self) -> bool:
        """Whether every job given so far has run (`wait()` would not wait)."""
        return self._done.qsize() >= self._pending

    def wait(self) -> Exception | None:
        error = None
        while self._pending:
            outcome = self._done.get()
            self._pending -= 1
            error = error or outcome
        return error

    def close(self) -> None:
        """End the thread once the jobs given so far have run."""
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
                self._done.put(None)
            except Exception as exc:  # returned to the caller by wait()
                self._done.put(exc)


class AheadBatches:
    """A sampler's batches, the next few filled beforehand by a helper thread while the run trains.

    The batches are the sampler's own, bit for bit: only batches whose rows are known without the
    generator are filled ahead (`BatchSampler.rows_ahead`: not the first of an epoch, nor any drawn
    with replacement); the sampler still counts and positions every batch as it is handed out, so
    its `state()` is exact. Each batch has arrays of its own, which the helper never writes into
    while the caller holds them.
    """

    def __init__(self, sampler: BatchSampler, helper: Helper, ahead: int = AHEAD_BATCHES) -> None:
        self.sampler = sampler
        self._helper = helper
        self._ahead_count = ahead
        self._slots = [sampler.new_buffers() for _ in range(1 + ahead)]
        self._x_u8 = np.empty_like(sampler.images[: sampler.batch_size])
        self._x_u8_helper = np.empty_like(self._x_u8)
        self._slot = 0
        """The slot of the last batch handed out: the one slot the helper never writes into."""
        self._ahead: deque[int] = deque()
        """The slots of the next batches, filled (or being filled) ahead, in order."""
        self._in_flight = False
        """Whether the helper may still be filling them."""

    def next(self, fill_ahead: bool) -> Batch:
        """The next batch; with `fill_ahead`, the helper is asked for the ones after it."""
        if self._ahead:
            self._wait()
            slot = self._ahead.popleft()
            self.sampler.next_rows()  # counted and positioned: the rows are those filled ahead
        else:
            slot = (self._slot + 1) % len(self._slots)
            x, y = self._slots[slot]
            self.sampler.fill(self.sampler.next_rows(), x, y, self._x_u8)
        self._slot = slot
        if fill_ahead and not self._ahead:
            rows = self.sampler.rows_ahead(self._ahead_count)
            if rows:
                slots = [(slot + k) % len(self._slots) for k in range(1, len(rows) + 1)]
                self._helper.submit(functools.partial(self._fill, list(zip(slots, rows))))
                self._ahead.extend(slots)
                self._in_flight = True
        return self._slots[slot]

    def _fill(self, batches: list[tuple[int, NDArray[np.intp]]]) -> None:
        for slot, rows in batches:
            x, y = self._slots[slot]
            self.sampler.fill(rows, x, y, self._x_u8_helper)

    def _wait(self) -> None:
        """Wait for the batches being filled ahead, if the helper may still be filling them.

        A stop signal raises while waiting and leaves them in flight (the next wait waits again); an
        error of the helper's drops them and is raised here.
        """
        if self._in_flight:
            error = self._helper.wait()
            self._in_flight = False
            if error is not None:
                self.drop()
                raise error

    def drop(self) -> None:
        """Forget the batches filled ahead (after an error; the sampler has not counted them)."""
        self._ahead.clear()
        self._in_flight = False

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from a sampler state: the batches filled ahead belong to the old position."""
        self._wait()
        self._ahead.clear()
        self.sampler.restore(state)


# --------------------------------------------------------------------------------------------------
# Sessions: the interface the training loop drives
# --------------------------------------------------------------------------------------------------


class Session:
    """A run's work done in line, in the training thread: the engine that does nothing extra.

    `last` is the last evaluation written (the run's final figures when it ends).
    """

    def __init__(
        self,
        net: Network,
        sampler: BatchSampler,
        evaluations: Evaluations,
        write: Writer,
        write_diagnostics: Writer | None,
    ) -> None:
        self.net = net
        self.sampler = sampler
        self.evaluations = evaluations
        self._write = write
        self._write_diagnostics = write_diagnostics
        self.last: Evaluation = NO_EVALUATION
        self._start()

    def _start(self) -> None:
        """Start what the session needs besides its parts (nothing, here)."""

    def batch(self) -> Batch:
        return self.sampler.next()

    def loss_and_grad(self, x: NDArray[Any], y: NDArray[np.intp]) -> float:
        return self.net.loss_and_grad(x, y)

    def restore(self, state: Mapping[str, Any]) -> None:
        """Put the sampler back where a checkpoint found it."""
        self.sampler.restore(state)

    def record(self, row: MetricRow) -> None:
        """Write the row of an update that is not evaluated."""
        self._write(row.values())

    def evaluate(self, row: MetricRow, last: bool = False) -> None:
        """Evaluate the network as it is after the row's update, then write the row (`last`: the run
        ends with it)."""
        self._written(row, *self.evaluations.measure(self.net, row.step))

    def diagnose(self, step: int) -> None:
        """Write the diagnostics of the network as it is (step 0: before the first update)."""
        self._diagnostics(self.evaluations.diagnose(self.net, step))

    def then(self, action: Callable[[], None]) -> None:
        """Do `action` once every row so far is written: here, at once."""
        action()

    def finish(self) -> None:
        """Write everything held back (nothing, here)."""

    def close(self) -> None:
        """End the threads the session started (none, here)."""

    def _written(self, row: MetricRow, evaluation: Evaluation, diagnostics: list[Row]) -> None:
        self.last = evaluation
        self._write(row.evaluated(evaluation).values())
        self._diagnostics(diagnostics)

    def _diagnostics(self, rows: list[Row]) -> None:
        if self._write_diagnostics is not None:
            for diagnostics_row in rows:
                self._write_diagnostics(diagnostics_row)


class OverlappedSession(Session):
    """A run's work on two cores; see the module's docstring for what runs where.

    The spare core goes to one helper at a time: while an evaluation runs beside the training, the
    training thread draws its batches and computes its gradients itself, where two threads would
    take turns on the core.
    """

    def _start(self) -> None:
        self._helper = Helper("optbench-helper")
        self._evaluator = Helper("optbench-eval")
        self._batches = AheadBatches(self.sampler, self._helper)
        self._replica = self.net.replica()
        self._spare = True
        """Whether the helper has the spare core for this step (no evaluation running)."""
        self._measured: tuple[Evaluation, list[Row]] | None = None
        """What the evaluation in flight measured, once it is done."""
        self._in_flight = False
        self._held: deque[MetricRow | Callable[[], None]] = deque()
        """Rows and actions waiting for the evaluation in flight; the first is its own row."""

    @property
    def _evaluating(self) -> bool:
        """Whether an evaluation is running beside the training, on the spare core."""
        return not self._evaluator.idle

    def batch(self) -> Batch:
        self._spare = not self._evaluating
        return self._batches.next(fill_ahead=self._spare)

    def loss_and_grad(self, x: NDArray[Any], y: NDArray[np.intp]) -> float:
        """The network's own loss_and_grad, each layer's parameter gradients made by the helper
        (the first layer's aside: nothing below it waits) while this thread passes the signal on."""
        net = self.net
        if not self._spare:
            return net.loss_and_grad(x, y)
        loss = net.forward_loss(x, y)
        dout = net.loss.backward()
        for layer in reversed(net.layers[1:]):
            if layer.params:
                self._helper.submit(functools.partial(layer.backward_params, dout))
            dout = layer.backward_input(dout)
        net.layers[0].backward_params(dout)
        if (error := self._helper.wait()) is not None:
            self._batches.drop()
            raise error
        return loss

    def restore(self, state: Mapping[str, Any]) -> None:
        self._batches.restore(state)

    def record(self, row: MetricRow) -> None:
        if self._in_flight and not self._evaluating:
            self.finish()
        if self._in_flight:
            self._held.append(row)
        else:
            self._write(row.values())

    def evaluate(self, row: MetricRow, last: bool = False) -> None:
        self.finish()
        self._replica.copy_from(self.net)
        self._held.append(row)
        self._in_flight = True
        self._evaluator.submit(functools.partial(self._measure, row.step, not last))
        if last:
            self._finish(test=self.evaluations.test(self.net))

    def then(self, action: Callable[[], None]) -> None:
        if self._in_flight:
            self._held.append(action)
        else:
            action()

    def finish(self) -> None:
        """Wait for the evaluation in flight, if any, and write every row (and do every action) held."""
        self._finish()

    def close(self) -> None:
        """End both threads, once the evaluation in flight (if any) is done: tens of milliseconds."""
        self._evaluator.close()
        self._helper.close()

    def _finish(self, test: tuple[float, float] | None = None) -> None:
        """`finish`, the evaluation in flight taking its test figures from `test` when given."""
        if self._in_flight:
            error = self._evaluator.wait()
            self._in_flight = False
            if error is not None:
                raise error
            own = self._held.popleft()
            assert isinstance(own, MetricRow) and self._measured is not None
            evaluation, diagnostics = self._measured
            if test is not None:
                evaluation = dataclasses.replace(evaluation, test_loss=test[0], test_acc=test[1])
            self._written(own, evaluation, diagnostics)
        while self._held:
            held = self._held.popleft()
            if isinstance(held, MetricRow):
                self._write(held.values())
            else:
                held()

    def _measure(self, step: int, test: bool) -> None:
        """The evaluation thread's job: measure the replica after `step` (the test set only if `test`)."""
        # NumPy's error state belongs to the thread: the training thread's does not reach this one.
        with np.errstate(over="ignore", invalid="ignore"):
            self._measured = self.evaluations.measure(self._replica, step, test)


class Engine(enum.Enum):
    """Where a dataset run's work goes: all in the training thread, or overlapped on a spare core."""

    INLINE = "inline"
    OVERLAPPED = "overlapped"

    @contextlib.contextmanager
    def session(
        self,
        net: Network,
        sampler: BatchSampler,
        evaluations: Evaluations,
        write: Writer,
        write_diagnostics: Writer | None = None,
    ) -> Iterator[Session]:
        """A session of this engine for one run, its threads ended when the block is left."""
        kind = OverlappedSession if self is Engine.OVERLAPPED else Session
        session = kind(net, sampler, evaluations, write, write_diagnostics)
        try:
            yield session
        finally:
            session.close()
