"""The validation split: training images held out once, the same for every run of an experiment.

A dataset task holds out `task.validation` images of the training set (DeepOBS holds out 10,000 of
MNIST's 60,000), drawn from `task.split_seed` alone, so every run of an experiment, whatever its own
seeds, trains on the same images and validates on the same others. Every choice a report makes is
made on the validation images; the test set only measures what was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.data.datasets import Dataset


@dataclass(frozen=True, eq=False)
class Split:
    """The training set divided: the rows that train (in their original order) and the held-out images."""

    train_rows: NDArray[np.intp]
    val_images: NDArray[Any]
    val_labels: NDArray[np.integer[Any]]

    def __repr__(self) -> str:
        return f"Split({len(self.train_rows)} train, {len(self.val_labels)} validation)"


TRAIN_MEASURE_SIZE = 2000
"""Training images an evaluation measures (train_set_loss, train_acc): all of a smaller training set."""


def training_rows(train_rows: NDArray[np.intp], train_size: int | None) -> NDArray[np.intp]:
    """The rows a run trains on: the first `train_size` of the training part (in the dataset's order,
    the validation rows skipped), or all of it. With nothing held out they are rows 0..N−1, the book's
    `x_train[:N]`."""
    if train_size is None:
        return train_rows
    if not 1 <= train_size <= len(train_rows):
        raise ValueError(f"cannot train on {train_size} of {len(train_rows)} training examples")
    return train_rows[:train_size]


def measured_rows(rows: NDArray[np.intp], seed: int, size: int = TRAIN_MEASURE_SIZE) -> NDArray[np.intp]:
    """The training rows an evaluation measures: all of `rows` when there are at most `size`, else `size`
    of them drawn once without replacement from `seed` (the split's: the same sample for every run of
    an experiment, at every evaluation), in increasing order."""
    if len(rows) <= size:
        return rows
    stream = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return np.sort(stream.choice(rows, size, replace=False))


def split_rows(n: int, validation: int, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(training rows, validation rows) of a set of n, each in increasing order.

    The validation rows are the first `validation` of a permutation drawn from `seed`; with none held
    out the training rows are 0..n−1, so the minibatches are those of a run on the whole set.
    """
    if not 0 <= validation < n:
        raise ValueError(f"cannot hold out {validation} of {n} training examples")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[validation:]).astype(np.intp), np.sort(order[:validation]).astype(np.intp)


def split(data: Dataset, validation: int, seed: int) -> Split:
    """Hold out `validation` training images of `data`; the held-out ones are copied once (in their dtype)."""
    train_rows, val_rows = split_rows(len(data.train_labels), validation, seed)
    val_images: NDArray[Any] = data.train_images[val_rows]
    return Split(train_rows, val_images, data.train_labels[val_rows])
