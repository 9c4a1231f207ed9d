"""The relative work of a run, so that a sweep starts its longest runs first.

A sweep that starts the longest runs first ends with short ones only: its workers finish together
instead of one of them training a long run alone at the end.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from optbench.config import RunConfig
from optbench.data import DATASETS, cached_npz

UPDATE_COST = 100
"""Work of one optimizer pass over one parameter, in multiply-adds: an Adam update (three passes'
worth of state) costs about 0.4 of the step's matrix products for the lecture's MLP at batch 128."""


def estimated_cost(run: RunConfig) -> float:
    """Relative work of a run (a function task's: its steps).

    A dataset step costs its matrix products (6 multiply-adds per weight and example: forward, and
    backward for both inputs and weights) plus the update, one pass per state buffer and one more.
    """
    if run.model is None:
        return float(run.train.steps)
    name = str(run.task.dataset)
    dataset = cached_npz(Path(name)) if run.task.sha256 is not None else DATASETS[name]
    sizes = (dataset.n_features, *run.model.hidden, dataset.classes)
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    buffers = len(run.optimizer.build().init_state(np.zeros(1)))
    update = UPDATE_COST * (weights + sum(sizes[1:])) * (1 + buffers)
    return float(run.train.steps) * (6 * run.train.batch_size * weights + update)
