"""Curves per epoch and the pairings the chapter's second half reads them through: the same setting
with and without batch normalisation, and a run's training accuracy beside its held-out accuracy.

Shared by the figures (`optbench.plots`) and the report's sentences (`optbench.report`), so that both
draw and state the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optbench.plain import value_at
from optbench.results.experiments import ExperimentResult
from optbench.results.runs import RunResult
from optbench.results.variants import Variant, variant_label
from optbench.stats import FloatArray

BATCH_NORM_KEY = "model.batch_norm"
INIT_STD_KEY = "model.init.std"
TRAIN_ACC = "train_acc"
"""The metrics column of the accuracy on the training set (`train_set_loss` is its loss)."""
HELD_OUT_ACC = (("test_acc", "test"), ("val_acc", "validation"))
"""The held-out accuracy a training curve is set against, in order of preference, and its name."""


def epoch_curve(run: RunResult, column: str) -> tuple[FloatArray, FloatArray]:
    """(epochs, values) of one metrics column at the rows where it has a value: the x of each point is
    the number of passes over the training subset made when it was measured."""
    if run.metrics is None or column not in run.metrics or "epoch" not in run.metrics:
        return np.empty(0), np.empty(0)
    epochs, values = run.metrics["epoch"], run.metrics[column]
    keep = np.isfinite(values) & np.isfinite(epochs)
    return epochs[keep], values[keep]


def records_train_acc(runs: Sequence[RunResult]) -> bool:
    """Whether some run measured its accuracy on the training set."""
    return any(epoch_curve(r, TRAIN_ACC)[0].size for r in runs)


def counts_epochs(config: Mapping[str, Any]) -> bool:
    """Whether a run was set up in epochs (`train.epochs`, or `train.eval_every: epoch`), as the
    chapter's second half runs its experiments."""
    return value_at(config, "train.epochs") is not None or value_at(config, "train.eval_every") == "epoch"


def measured_per_epoch(runs: Sequence[RunResult]) -> bool:
    """Whether the runs are an experiment of the chapter's second half: some counted epochs and
    measured its training accuracy. (Every run measures it; those counted in steps are read as
    before, their figures and sentences about the held-out sets.)"""
    return any(counts_epochs(r.config) for r in runs) and records_train_acc(runs)


def held_out_column(runs: Sequence[RunResult]) -> tuple[str, str] | None:
    """(column, name) of the held-out accuracy the runs measured: test, else validation."""
    return next((h for h in HELD_OUT_ACC if any(epoch_curve(r, h[0])[0].size for r in runs)), None)


def batch_norm_on(config: Mapping[str, Any]) -> bool:
    """Whether a run normalised its hidden layers: `model.batch_norm` true or a mapping of settings."""
    value = value_at(config, BATCH_NORM_KEY)
    return bool(value) if not isinstance(value, Mapping) else True


def init_std(config: Mapping[str, Any]) -> float | None:
    """The fixed std of a run's initial weights (`model.init: {name: normal, std: ...}`), else None."""
    std = value_at(config, INIT_STD_KEY)
    return float(std) if isinstance(std, (int, float)) and not isinstance(std, bool) else None


@dataclass(frozen=True)
class BatchNormPair:
    """One setting run with batch normalisation and without: the runs of each (either may be missing)."""

    label: str
    """What the setting is, but batch normalisation: `std = 0.01`, or the variant label without it."""
    scale: float | None
    """The initial weights' std, when the pairs differ in it."""
    with_bn: Variant | None
    without: Variant | None


def batch_norm_pairs(exp: ExperimentResult) -> list[BatchNormPair]:
    """The experiment's finished variants paired by everything but batch normalisation, in config
    order; none unless some variants normalise and some do not."""
    variants = exp.finished_variants
    if len({batch_norm_on(v.config) for v in variants}) < 2:
        return []
    groups: dict[str, list[Variant]] = {}
    for v in variants:
        key = variant_label(v.config, exp.varied, exclude=(BATCH_NORM_KEY,))
        groups.setdefault(key, []).append(v)
    scales = {init_std(members[0].config) for members in groups.values()}
    by_scale = len(scales) == len(groups) and None not in scales
    pairs = []
    for label, members in groups.items():
        scale = init_std(members[0].config) if by_scale else None
        pairs.append(
            BatchNormPair(
                label=f"std = {scale:.3g}" if scale is not None else label,
                scale=scale,
                with_bn=next((v for v in members if batch_norm_on(v.config)), None),
                without=next((v for v in members if not batch_norm_on(v.config)), None),
            )
        )
    return pairs


def all_diverged(variant: Variant | None) -> bool:
    """Whether every finished run of a variant diverged (its loss overflowed: it learned nothing)."""
    return variant is not None and bool(variant.finished) and len(variant.diverged) == len(variant.finished)


def seed_means(variant: Variant, column: str) -> tuple[FloatArray, FloatArray]:
    """(epochs, mean over the seeds) of a column at the evaluations every finished seed made."""
    curves = [epoch_curve(r, column) for r in variant.finished]
    curves = [c for c in curves if c[0].size]
    if not curves:
        return np.empty(0), np.empty(0)
    n = min(c[0].size for c in curves)
    return curves[0][0][:n], np.mean([c[1][:n] for c in curves], axis=0)


def mean_over_epochs(variant: Variant, column: str) -> float:
    """The mean of a column over a variant's evaluations (the area under its curve per evaluation),
    averaged over its seeds; NaN without values."""
    _, values = seed_means(variant, column)
    return float(values.mean()) if values.size else math.nan


def last_value(variant: Variant, column: str) -> float:
    """A column's value at the variant's last evaluation, mean over its seeds; NaN without values."""
    _, values = seed_means(variant, column)
    return float(values[-1]) if values.size else math.nan
