"""The rows a run writes: their types and columns (metrics.csv of function and dataset runs).

A dataset run writes one `MetricRow` per update; the rows of evaluation steps carry an `Evaluation`.
The columns of metrics.csv are the fields of these types, in order, so a new column is one new field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Row = Sequence[Any]
"""A row of a CSV file as plain values, in its columns' order."""
Writer = Callable[[Row], None]

FUNCTION_COLUMNS = ("step", "x", "y", "loss", "lr")
"""metrics.csv of a function run: the iterate after each update (step 0: the start) and its value."""


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation measured on the held-out sets and on the training images; None where a set
    was not measured (no validation split, or the run has not been evaluated yet).

    `train_set_loss` and `train_acc` measure the network in evaluation mode on the images it trains on
    (all of them up to `TRAIN_MEASURE_SIZE`, else a fixed sample of that many): unlike the per-update
    `train_loss` of a minibatch, measured in the training pass, they compare with the test figures."""

    val_loss: float | None = None
    val_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None
    train_set_loss: float | None = None
    train_acc: float | None = None

    def values(self) -> tuple[float | None, ...]:
        return (
            self.val_loss,
            self.val_acc,
            self.test_loss,
            self.test_acc,
            self.train_set_loss,
            self.train_acc,
        )


NO_EVALUATION = Evaluation()


@dataclass(slots=True)
class MetricRow:
    """One update of a dataset run: its minibatch loss (measured before the update), the rate it
    applied, and the wall time since training started when it was done; at evaluation steps, the
    evaluation of the network after it. (Not frozen: a frozen dataclass takes five times as long to
    make, and a run makes one per update.)"""

    step: int
    epoch: float
    train_loss: float
    lr: float | None
    elapsed_s: float
    evaluation: Evaluation = NO_EVALUATION

    def evaluated(self, evaluation: Evaluation) -> MetricRow:
        return dataclasses.replace(self, evaluation=evaluation)

    def values(self) -> Row:
        """The row in the order of DATASET_COLUMNS."""
        return (self.step, self.epoch, self.train_loss, *self.evaluation.values(), self.lr, self.elapsed_s)


DATASET_COLUMNS = (
    "step",
    "epoch",
    "train_loss",
    *(field.name for field in dataclasses.fields(Evaluation)),
    "lr",
    "elapsed_s",
)
"""metrics.csv of a dataset run, the order of `MetricRow.values`. Evaluation columns are filled at
evaluation steps and the last step; validation columns stay empty when no images are held out.
`epoch` is the training examples drawn so far over the training set's size, or, in a run that counts
epochs (train.epochs, train.eval_every: epoch), step / updates per epoch as the book counts them."""
