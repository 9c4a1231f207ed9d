"""What a dataset run measures besides its training loss: validation and test figures, diagnostics.

An `Evaluations` object receives the training loop's rows in order and writes them in order. A row
of an evaluation step waits for its evaluation; so do the rows after it, until the evaluation is done,
and so does an action that must come after them (`then`: a checkpoint's hand-over).

In line (the default), an evaluation runs at once on the training network. Beside the training
(`beside=True`, for a run that has a core to itself, as `--jobs 1` gives it), it runs in a second
thread on a replica holding a copy of the parameters, while the next updates train: a lone `optbench
train` no longer waits for its evaluations. The numbers are the same bit for bit: each thread runs
single-threaded matrix products (one BLAS thread per process, see optbench/__init__.py), and the
replica computes exactly what the training network would. Only the timing differs. The last
evaluation, which the training waits for, is shared: the training thread measures the test set on
the training network while the evaluation thread measures the rest.

The evaluation thread is a `Helper` (`optbench.signals`): the stop signals reach the training
thread alone.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data import EVAL_CHUNK, ChunkReader, Dataset, Split, iter_chunks
from optbench.diagnostics import layer_diagnostics
from optbench.nn import MLP
from optbench.signals import Helper

Row = Sequence[Any]
Writer = Callable[[Row], None]

PROBE_SIZE = 1000
"""Training images (the first ones of the training split) on which the diagnostics measure
activations and gradients."""

EVAL_CELLS = slice(3, 7)
"""Where val_loss, val_acc, test_loss, test_acc sit in a row of DATASET_COLUMNS."""

NO_EVALUATION: tuple[float | None, ...] = (None, None, None, None)

Measured = tuple[tuple[float | None, ...], list[Row]]


def evaluate(net: MLP, examples: ChunkReader) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole (validation or test) set, a chunk at a time."""
    total_loss, correct = 0.0, 0
    for x, y in examples:
        loss_sum, right = net.evaluate(x, y)
        total_loss += loss_sum
        correct += right
    return total_loss / len(examples), correct / len(examples)


def _probe_batch(
    data: Dataset, rows: NDArray[np.intp], dtype: np.dtype[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """A fixed batch, the same at every evaluation, so diagnostics over training are comparable."""
    first = rows[:PROBE_SIZE]
    return next(iter_chunks(data.train_images[first], data.train_labels[first], len(first), dtype))


class Evaluations:
    """The evaluations of one run, and the in-order writing of its rows.

    `row(values)` takes each training row; `evaluation(values)` takes the row of an evaluation step
    (its evaluation cells empty) and fills them; `finish()` waits for the evaluation in flight and
    writes everything held back, as a checkpoint or the run's end needs. `last` holds the figures
    of the last finished evaluation (val loss, val acc, test loss, test acc).
    """

    def __init__(
        self,
        net: MLP,
        data: Dataset,
        held_out: Split,
        write: Writer,
        write_diagnostics: Writer | None,
        beside: bool,
    ) -> None:
        self._net = net
        self._write = write
        self._write_diagnostics = write_diagnostics
        self._val = None
        if len(held_out.val_labels):
            self._val = ChunkReader(held_out.val_images, held_out.val_labels, EVAL_CHUNK, net.dtype)
        self._test = ChunkReader(data.test_images, data.test_labels, EVAL_CHUNK, net.dtype)
        self._probe = None
        if write_diagnostics is not None:
            self._probe = _probe_batch(data, held_out.train_rows, net.dtype)
        self._replica = net.replica() if beside else None
        self._helper = Helper("optbench-eval") if beside else None
        self._measured: Measured | None = None
        """What the evaluation in flight measured, once it is done."""
        self._in_flight = False
        self._held: deque[list[Any] | Callable[[], None]] = deque()
        """Rows and actions waiting for the evaluation in flight; the first is its own row."""
        self.last: tuple[float | None, ...] = NO_EVALUATION

    @property
    def busy(self) -> bool:
        """Whether an evaluation is running beside the training, on the spare core."""
        return self._helper is not None and not self._helper.idle

    def diagnose(self, step: int) -> None:
        """Write the diagnostics of the network as it is now (before the first update: step 0)."""
        if self._probe is not None and self._write_diagnostics is not None:
            for diagnostics_row in self._diagnostics(self._net, step):
                self._write_diagnostics(diagnostics_row)

    def row(self, values: list[Any]) -> None:
        if self._in_flight and not self.busy:
            self.finish()
        if not self._in_flight:
            self._write(values)
        else:
            self._held.append(values)

    def then(self, action: Callable[[], None]) -> None:
        """Call `action` once every row so far is written: now, or when the evaluation in flight is done."""
        if self._in_flight:
            self._held.append(action)
        else:
            action()

    def evaluation(self, values: list[Any], last: bool = False) -> None:
        """Evaluate the network as it is after the update of this row, then write the row.

        `last`: the training is over, and waits for this evaluation: the training thread measures the
        test set itself, on the training network, while the evaluation thread measures the rest on
        the replica; everything held back is written before it returns.
        """
        step = values[0]
        if self._helper is None:
            figures, diagnostics = self._measure(self._net, step)
            self._finished(values, figures, diagnostics)
            return
        self.finish()
        assert self._replica is not None
        np.copyto(self._replica.params, self._net.params)
        self._held.append(values)
        self._in_flight = True
        self._helper.submit(functools.partial(self._measure_beside, step, not last))
        if last:
            self._finish(test=evaluate(self._net, self._test))

    def finish(self) -> None:
        """Wait for the evaluation in flight, if any, and write every row (and do every action) held back."""
        self._finish()

    def _finish(self, test: tuple[float, float] | None = None) -> None:
        """`finish`, the evaluation in flight taking its test figures from `test` when given."""
        if self._in_flight:
            assert self._helper is not None
            error = self._helper.wait()
            self._in_flight = False
            if error is not None:
                raise error
            own = self._held.popleft()
            assert isinstance(own, list) and self._measured is not None
            figures, diagnostics = self._measured
            if test is not None:
                figures = (*figures[:2], *test)
            self._finished(own, figures, diagnostics)
        while self._held:
            held = self._held.popleft()
            if isinstance(held, list):
                self._write(held)
            else:
                held()

    def close(self) -> None:
        """End the evaluation thread, once the evaluation in flight (if any) is done: tens of milliseconds."""
        if self._helper is not None:
            self._helper.close()

    def _measure_beside(self, step: int, test: bool) -> None:
        """The evaluation thread's job: measure the replica after `step` (the test set only if `test`)."""
        assert self._replica is not None
        # NumPy's error state belongs to the thread: the training thread's does not reach this one.
        with np.errstate(over="ignore", invalid="ignore"):
            self._measured = self._measure(self._replica, step, test)

    def _finished(self, values: list[Any], figures: tuple[float | None, ...], diagnostics: list[Row]) -> None:
        self.last = figures
        values[EVAL_CELLS] = figures
        self._write(values)
        if self._write_diagnostics is not None:
            for diagnostics_row in diagnostics:
                self._write_diagnostics(diagnostics_row)

    def _measure(self, net: MLP, step: int, test: bool = True) -> Measured:
        val = evaluate(net, self._val) if self._val is not None else (None, None)
        figures = (*val, *(evaluate(net, self._test) if test else (None, None)))
        return figures, self._diagnostics(net, step)

    def _diagnostics(self, net: MLP, step: int) -> list[Row]:
        if self._probe is None:
            return []
        net.loss_and_grad(*self._probe)
        return list(layer_diagnostics(net, step))
