"""Softmax cross-entropy: the loss of a classifier's logits, its per-example values and its gradient.

For logits z (one row per example) and labels y, over a batch of B examples:

    ℓᵢ = −log softmax(zᵢ)_yᵢ = log Σⱼ exp(zᵢⱼ) − zᵢ,yᵢ          L = (1/B) Σᵢ ℓᵢ
    ∂L/∂zᵢⱼ = (softmax(zᵢ)ⱼ − [j = yᵢ]) / B

Stable for any logits: the row maximum is subtracted before exponentiating.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


def softmax_cross_entropy(logits: Array, labels: NDArray[np.intp]) -> tuple[Array, Array]:
    """Per-example losses and the gradient of their mean with respect to the logits.

    This allocating form, written as the equations read, is the reference `SoftmaxCrossEntropy` is
    tested against.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    rows = np.arange(len(labels))
    losses = log_norm - shifted[rows, labels]
    grad = np.exp(shifted - log_norm[:, None])
    grad[rows, labels] -= 1
    grad /= len(labels)
    return losses, grad


class _Batch:
    """The work arrays of one batch size."""

    def __init__(self, classes: int, batch: int, dtype: np.dtype[Any]) -> None:
        self.logits_t = np.empty((classes, batch), dtype)
        """The logits class-major, for logits that do not come as the view of such an array."""
        self.rows = np.arange(batch)
        self.row_max = np.empty(batch, dtype)
        self.row_sum = np.empty(batch, dtype)
        self.label_pos = np.empty(batch, np.intp)
        """Where each example's label logit sits in the class-major logits, flattened."""
        self.picked = np.empty(batch, dtype)
        self.losses = np.empty(batch, np.float64)


class SoftmaxCrossEntropy:
    """The loss of the equations above, computed in place over class-major logits.

    The logits are worked on as a (classes × batch) array: every reduction over the classes (max,
    sum) then runs along contiguous rows of the batch, which NumPy vectorises, instead of along rows
    ten values long, where its per-row overhead makes them several times slower. Logits given as the
    (batch × classes) view of such an array (what an `Affine(class_major=True)` returns) are used
    where they are, and overwritten: by the softmax in `forward`, by the gradient in `backward`.
    """

    def __init__(self) -> None:
        self._batches: dict[int, _Batch] = {}
        self._last: tuple[_Batch, Array] | None = None

    def forward(self, logits: Array, labels: NDArray[np.intp]) -> Array:
        """The per-example losses ℓᵢ in float64, in an array reused by the next call of this size.

        Each label's logit is read at its flat position, label·batch + row, with one `take` into a
        buffer instead of a fancy index that allocates; a label ≥ the number of classes lands past
        the end and raises IndexError.
        """
        classes, batch = logits.shape[1], logits.shape[0]
        work = self._batches.get(batch)
        if work is None:
            work = self._batches[batch] = _Batch(classes, batch, logits.dtype)
        z = logits.T
        if not z.flags.c_contiguous:
            np.copyto(work.logits_t, z)
            z = work.logits_t
        z.max(axis=0, out=work.row_max)  # the methods: np.max and np.sum add a Python layer per call
        z -= work.row_max
        np.multiply(labels, batch, out=work.label_pos, dtype=np.intp)
        work.label_pos += work.rows
        np.take(z.reshape(-1), work.label_pos, out=work.picked)
        np.exp(z, out=z)
        z.sum(axis=0, out=work.row_sum)
        np.log(work.row_sum, out=work.losses, dtype=np.float64)
        work.losses -= work.picked
        z /= work.row_sum
        self._last = (work, z)
        return work.losses

    def backward(self) -> Array:
        """∂L/∂z of the mean loss of the last `forward`, as a (batch × classes) view."""
        assert self._last is not None, "backward before forward"
        work, z = self._last
        # The softmax probabilities, already in z, become the gradient.
        z.reshape(-1)[work.label_pos] -= 1
        z /= z.shape[1]
        grad: Array = z.T
        return grad
