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

from optbench.data import EVAL_CHUNK, ChunkReader, Dataset, Split, iter_chunks
from optbench.diagnostics import layer_diagnostics
from optbench.metrics import Evaluation, Row
from optbench.nn import Network

PROBE_SIZE = 1000
"""Training images (the first ones of the training split) on which the diagnostics measure
activations and gradients."""


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
    """The held-out sets of one run, read in chunks into buffers of their own, and its probe batch.

    Its chunk buffers are reused by every pass, so two threads may use it at once only on different
    sets (as the engine's shared last evaluation does: the test set in one, the rest in the other).
    """

    def __init__(self, data: Dataset, held_out: Split, dtype: np.dtype[Any], diagnostics: bool) -> None:
        self._val = None
        if len(held_out.val_labels):
            self._val = ChunkReader(held_out.val_images, held_out.val_labels, EVAL_CHUNK, dtype)
        self._test = ChunkReader(data.test_images, data.test_labels, EVAL_CHUNK, dtype)
        self._probe = _probe_batch(data, held_out.train_rows, dtype) if diagnostics else None
        self._probe_net: Network | None = None
        """A copy of the network the probe's training pass runs on (`diagnose`)."""

    def test(self, net: Network) -> tuple[float, float]:
        """The test set's mean loss and accuracy."""
        return evaluate(net, self._test)

    def measure(self, net: Network, step: int, test: bool = True) -> tuple[Evaluation, list[Row]]:
        """The evaluation of `net` after update `step` (the test set only if `test`) and its diagnostics."""
        val_loss, val_acc = evaluate(net, self._val) if self._val is not None else (None, None)
        test_loss, test_acc = self.test(net) if test else (None, None)
        return Evaluation(val_loss, val_acc, test_loss, test_acc), self.diagnose(net, step)

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
        self._probe_net.loss_and_grad(*self._probe)
        return list(layer_diagnostics(self._probe_net, step))
