"""Numbers per variant: the statistics over its seeds, where a function run ended, and status counts.

Final losses and accuracies are over a variant's completed runs (a diverged run has no final value
to average), wall time over its finished runs. `Basis` says which numbers a report chooses by: the
validation split when the runs hold one out, else (said so) the test set.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optbench.results import RunResult, Variant, last_finite
from optbench.stats import mean_std

CHANCE_TOLERANCE = 0.05
"""A final training loss within this of ln(classes), the loss of a uniform guess, is chance level."""

STATUS_ORDER = ("completed", "diverged", "failed", "interrupted", "running", "pending")


@dataclass(frozen=True)
class VariantStats:
    """A variant's numbers over its seeds."""

    variant: Variant
    completed: tuple[RunResult, ...]
    final_loss: tuple[float, float]
    final_val_loss: tuple[float, float]
    final_val_acc: tuple[float, float]
    final_test_acc: tuple[float, float]
    wall_s: tuple[float, float]
    statuses: Counter[str]

    @property
    def label(self) -> str:
        return self.variant.label


def variant_stats(variant: Variant) -> VariantStats:
    """A variant's numbers: final values over its completed runs, wall time over its finished ones."""
    completed = tuple(r for r in variant.finished if r.state == "completed")
    walls = [
        float(r.status["wall_s"])
        for r in variant.finished
        if isinstance(r.status.get("wall_s"), (int, float))
    ]
    return VariantStats(
        variant=variant,
        completed=completed,
        final_loss=mean_std([r.final_loss for r in completed]),
        final_val_loss=mean_std([r.final_val_loss for r in completed]),
        final_val_acc=mean_std([r.final_val_acc for r in completed]),
        final_test_acc=mean_std([r.final_test_acc for r in completed]),
        wall_s=mean_std(walls),
        statuses=Counter(r.state for r in variant.runs),
    )


@dataclass(frozen=True)
class Basis:
    """The held-out numbers a report chooses by: validation, or the test set when none was held out."""

    name: str
    """validation or test: as in "final validation accuracy"."""
    column: str
    """The metrics column of its accuracy: val_acc or test_acc."""
    chosen: str
    """How a sentence says where a choice was made."""

    @property
    def validation(self) -> bool:
        return self.name == "validation"

    def accuracy(self, s: VariantStats) -> tuple[float, float]:
        return s.final_val_acc if self.validation else s.final_test_acc

    def values(self, s: VariantStats) -> list[float]:
        """The accuracy of each completed run of the variant, one per seed."""
        return [r.final_val_acc if self.validation else r.final_test_acc for r in s.completed]


VALIDATION = Basis("validation", "val_acc", "chosen on validation")
TEST = Basis("test", "test_acc", "chosen on the test set: these runs hold out no validation split")


def selection_basis(stats: Sequence[VariantStats]) -> Basis:
    """Validation when some completed run has a validation accuracy, else the test set."""
    held_out = any(math.isfinite(r.final_val_acc) for s in stats for r in s.completed)
    return VALIDATION if held_out else TEST


def status_counts(counts: Counter[str]) -> str:
    """Runs by status, in STATUS_ORDER (others after, by name): `3 completed, 1 diverged`."""
    order = [s for s in STATUS_ORDER if counts[s]] + sorted(s for s in counts if s not in STATUS_ORDER)
    return ", ".join(f"{counts[s]} {s}" for s in order)


def final_point(run: RunResult) -> tuple[float, float] | None:
    """The last finite iterate (x, y) of a function run."""
    if run.metrics is None or "x" not in run.metrics:
        return None
    x, y = run.metrics["x"], run.metrics["y"]
    i = last_finite(run.metrics["step"], np.where(np.isfinite(y), x, np.nan))
    return None if i is None else (float(x[i]), float(y[i]))


def nearest_minimum(run: RunResult) -> tuple[float, tuple[float, float]] | None:
    """(distance, minimum) from a function run's last iterate to the nearest known global minimum."""
    objective, point = run.objective, final_point(run)
    if objective is None or point is None or not objective.minima:
        return None
    return min((math.dist(point, m), m) for m in objective.minima)
