"""What a dataset run measures besides its training loss: validation and test figures, diagnostics.

`Evaluations` measures a network as it is: the mean loss and the accuracy over the validation and
the test set, and (when asked) the per-layer diagnostics on a fixed probe batch of training images.
It is plain and synchronous; when the evaluations run beside the training, on a replica of the
network, the engine (`optbench.engine`) calls the same methods from its thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data import EVAL_CHUNK, ChunkReader, Dataset, Split, iter_chunks, measured_rows
from optbench.diagnostics import layer_diagnostics
from optbench.metrics import Evaluation, Row
from optbench.nn import Network

PROBE_SIZE = 1000
"""Training images (the first ones of the training split) on which the diagnostics measure
activations and gradients."""

PROBE_SEED = 0
"""Seed of the masks a dropout network's probe pass draws: the same masks at every diagnosis, drawn
apart from the run's own, so that diagnostics over training are comparable and alike on every engine."""


def evaluate(net: Network, examples: ChunkReader) -> tuple[float, float]:
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
    """The held-out sets of one run and the training images it measures (`measured`: rows of the
    training set), read in chunks into buffers of their own, and its probe batch.

    Its chunk buffers are reused by every pass, so two threads may use it at once only on different
    sets (as the engine's shared last evaluation does: the test set in one, the rest in the other).
    """

    def __init__(
        self,
        data: Dataset,
        held_out: Split,
        dtype: np.dtype[Any],
        diagnostics: bool,
        train_rows: NDArray[np.intp] | None = None,
        split_seed: int = 0,
    ) -> None:
        """`train_rows`: the rows the run trains on (default: the split's training part), of which
        `measured_rows` draws the ones measured from `split_seed`."""
        train_rows = held_out.train_rows if train_rows is None else train_rows
        measured = measured_rows(train_rows, split_seed)
        self._val = None
        if len(held_out.val_labels):
            self._val = ChunkReader(held_out.val_images, held_out.val_labels, EVAL_CHUNK, dtype)
        self._test = ChunkReader(data.test_images, data.test_labels, EVAL_CHUNK, dtype)
        self._train = ChunkReader(data.train_images[measured], data.train_labels[measured], EVAL_CHUNK, dtype)
        self._probe = _probe_batch(data, train_rows, dtype) if diagnostics else None
        self._probe_net: Network | None = None
        """A copy of the network the probe's training pass runs on (`diagnose`)."""

    def test(self, net: Network) -> tuple[float, float]:
        """The test set's mean loss and accuracy."""
        return evaluate(net, self._test)

    def measure(self, net: Network, step: int, test: bool = True) -> tuple[Evaluation, list[Row]]:
        """The evaluation of `net` after update `step` (the test set only if `test`) and its diagnostics."""
        val_loss, val_acc = evaluate(net, self._val) if self._val is not None else (None, None)
        test_loss, test_acc = self.test(net) if test else (None, None)
        train_loss, train_acc = evaluate(net, self._train)
        evaluation = Evaluation(val_loss, val_acc, test_loss, test_acc, train_loss, train_acc)
        return evaluation, self.diagnose(net, step)

    def diagnose(self, net: Network, step: int) -> list[Row]:
        """The diagnostics rows of `net` as it is (before the first update: step 0); none if not asked.

        The probe's pass is a training pass, on a copy: what it changes (running statistics, the
        draws of dropout masks) stays out of the run.
        """
        if self._probe is None:
            return []
        if self._probe_net is None:
            self._probe_net = net.replica()
        else:
            self._probe_net.copy_from(net)
        for generator in self._probe_net.generators:
            generator.bit_generator.state = np.random.default_rng(PROBE_SEED).bit_generator.state
        self._probe_net.loss_and_grad(*self._probe)
        return list(layer_diagnostics(self._probe_net, step))
