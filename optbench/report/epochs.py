"""The sentences of experiments that measured their training accuracy per epoch: at how many weight
scales batch normalisation learns faster (the book's `batch_norm_test.py`), and how far training and
held-out accuracy part at the end, the gap a weight penalty or dropout narrows (`overfit_*.py`).

`epoch_findings(exp)` gives them; each states what the numbers on disk show, with its definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from optbench.report.sentences import Finding, and_list
from optbench.results import (
    TRAIN_ACC,
    BatchNormPair,
    ExperimentResult,
    Variant,
    all_diverged,
    batch_norm_pairs,
    held_out_column,
    last_value,
    mean_over_epochs,
    measured_per_epoch,
    seed_means,
)
from optbench.text import plural

FASTER_MARGIN = 0.01
"""Batch normalisation learns faster at a scale when its mean training accuracy over the evaluations
(the area under the curve per evaluation) is higher by more than this (one percentage point), slower
when lower by more; level otherwise."""


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _compare(pair: BatchNormPair) -> float:
    """With minus without batch norm: the mean training accuracy over the evaluations (NaN if one lacks)."""
    if pair.with_bn is None or pair.without is None:
        return math.nan
    return mean_over_epochs(pair.with_bn, TRAIN_ACC) - mean_over_epochs(pair.without, TRAIN_ACC)


def _evaluations(pairs: Sequence[BatchNormPair]) -> int:
    counts = [
        seed_means(v, TRAIN_ACC)[0].size for p in pairs for v in (p.with_bn, p.without) if v is not None
    ]
    return min(counts) if counts else 0


def batch_norm_findings(exp: ExperimentResult) -> list[Finding]:
    """At how many settings batch normalisation learned faster, slower or alike, and the final
    training accuracy with and without it. A side whose every run diverged learned nothing: the
    other side, if it did not diverge, counts as faster."""
    pairs = batch_norm_pairs(exp)
    compared = [p for p in pairs if math.isfinite(_compare(p))]
    overflowed = [p for p in pairs if all_diverged(p.without) and not all_diverged(p.with_bn)]
    broke = [p for p in pairs if all_diverged(p.with_bn) and not all_diverged(p.without)]
    if not compared:
        return []
    what = "weight scales" if all(p.scale is not None for p in pairs) else "settings"
    differences = [_compare(p) for p in compared]
    faster = [p.label for p, d in zip(compared, differences) if d > FASTER_MARGIN]
    slower = [p.label for p, d in zip(compared, differences) if d < -FASTER_MARGIN]
    level = [p.label for p, d in zip(compared, differences) if abs(d) <= FASTER_MARGIN]
    total = len(compared) + len(overflowed) + len(broke)
    text = f"Batch normalisation learned faster at {len(faster) + len(overflowed)} of {total} {what}"
    others = [
        f"slower at {and_list(slower + [p.label for p in broke])}" if slower or broke else "",
        f"level at {and_list(level)}" if level else "",
        f"without it the runs at {and_list([p.label for p in overflowed])} diverged" if overflowed else "",
        f"with it the runs at {and_list([p.label for p in broke])} diverged" if broke else "",
    ]
    others = [o for o in others if o]
    if others:
        text += " (" + "; ".join(others) + ")"
    best = max(range(len(compared)), key=lambda i: differences[i])
    text += (
        f". Faster: a higher mean training accuracy over the {plural(_evaluations(compared), 'evaluation')} "
        f"(the area under the training-accuracy curve) by more than {_points(FASTER_MARGIN)} "
        f"percentage points{', or training where the other diverged' if overflowed or broke else ''}; "
        f"the largest lead is {_points(differences[best])} points at {compared[best].label}."
    )
    out = [Finding(text, headline=True)]
    finals = [
        (p, last_value(p.with_bn, TRAIN_ACC), last_value(p.without, TRAIN_ACC))
        for p in compared
        if p.with_bn is not None and p.without is not None
    ]
    higher = sum(w > wo for _, w, wo in finals)
    with_values = [w for _, w, _ in finals]
    without_values = [wo for _, _, wo in finals]
    out.append(
        Finding(
            f"At the last epoch, training accuracy was higher with batch normalisation at {higher} of "
            f"{len(finals)} {what}: {_points(min(with_values))}–{_points(max(with_values))} % with it, "
            f"{_points(min(without_values))}–{_points(max(without_values))} % without."
        )
    )
    return out


def _gap(variant: Variant, column: str) -> tuple[float, float, float]:
    """(training, held-out, training − held-out) accuracy at the variant's last evaluation."""
    train, held = last_value(variant, TRAIN_ACC), last_value(variant, column)
    return train, held, train - held


def mean_gap(variant: Variant, column: str) -> float:
    """Training minus held-out accuracy averaged over the evaluations both measured (the area between
    the two curves per evaluation), mean over the seeds; NaN without values."""
    _, train = seed_means(variant, TRAIN_ACC)
    _, held = seed_means(variant, column)
    n = min(train.size, held.size)
    return float((train[:n] - held[:n]).mean()) if n else math.nan


def gap_findings(exp: ExperimentResult) -> list[Finding]:
    """Each variant's training and held-out accuracy at the end and the gap between them, and which
    variant's gap is narrowest."""
    variants = [v for v in exp.finished_variants if measured_per_epoch(v.finished)]
    held = held_out_column([r for v in variants for r in v.finished])
    if not variants or held is None:
        return []
    column, name = held
    gaps = [(v, *_gap(v, column)) for v in variants]
    gaps = [g for g in gaps if math.isfinite(g[3])]
    if not gaps:
        return []
    parts = [
        f"{v.label}: training {_points(train)} %, {name} {_points(test)} %, a gap of {_points(gap)} points"
        for v, train, test, gap in gaps
    ]
    out = [Finding(f"At the last epoch, {'; '.join(parts)}.", headline=len(gaps) == 1)]
    if len(gaps) > 1:
        narrowest = min(gaps, key=lambda g: g[3])
        widest = max(gaps, key=lambda g: g[3])
        means = sorted((mean_gap(v, column), v.label) for v, *_ in gaps)
        over = ", ".join(f"{label} {_points(gap)}" for gap, label in means)
        out.append(
            Finding(
                f"The gap between training and {name} accuracy at the last epoch is narrowest for "
                f"{narrowest[0].label} ({_points(narrowest[3])} points) and widest for {widest[0].label} "
                f"({_points(widest[3])} points); {name} accuracy "
                + ("is higher" if narrowest[2] > widest[2] else "is not higher")
                + f" with the narrower gap ({_points(narrowest[2])} against {_points(widest[2])} %). "
                f"Averaged over the evaluations, the gap is (in points, narrowest first): {over}.",
                headline=True,
            )
        )
    return out


def epoch_findings(exp: ExperimentResult) -> list[Finding]:
    """The sentences of runs counted in epochs that measured their training accuracy
    (`measured_per_epoch`): batch normalisation's when the runs pair settings with and without it,
    else the train–held-out gap."""
    if not measured_per_epoch([r for v in exp.finished_variants for r in v.finished]):
        return []
    return batch_norm_findings(exp) if batch_norm_pairs(exp) else gap_findings(exp)
