"""The sentences of an experiment's report: which variant won, how fast it reached the target, which
stayed at chance level, the best learning rate, divergence, unfinished runs, where function runs ended.

`findings(exp)` gathers them, with the zero-init study's sentences for a dataset experiment.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from optbench.report.epochs import epoch_findings
from optbench.report.noise import Contender, Lead, lead_text, number_scale, percent_scale, rank
from optbench.report.sentences import Finding, and_list
from optbench.report.variants import (
    CHANCE_TOLERANCE,
    VariantStats,
    final_point,
    nearest_minimum,
    selection_basis,
    status_counts,
    variant_stats,
)
from optbench.report.zero_init import zero_init_findings
from optbench.results import ExperimentResult, classes_of, variant_label
from optbench.stats import TARGET_ACCURACY, time_to_target
from optbench.text import plural

MANY_STUCK = 3
"""Beyond this many variants stuck at chance level, one sentence lists them all."""
NEAR_MINIMUM = 1e-3
"""A function run ends "at" a minimum when its last iterate is within this distance of it."""


def _seeds_note(n: int) -> str:
    return f", mean over {n} seeds" if n > 1 else ""


def ranked(
    stats: Sequence[VariantStats], values: Callable[[VariantStats], Sequence[float]], larger: bool
) -> list[Contender]:
    """The variants with a value as a ranking, best mean first (config order among equals)."""
    return rank([Contender(s.label, tuple(values(s))) for s in stats], larger)


def _lowest(
    stats: Sequence[VariantStats], what: str, values: Callable[[VariantStats], Sequence[float]], exact: bool
) -> Finding | None:
    order = ranked(stats, values, larger=False)
    if len(order) > 1:
        text = f"Lowest {what}: {lead_text(order, number_scale(), exact).text}."
    elif len(order) == 1:
        (best,) = order
        n = sum(math.isfinite(v) for v in best.values)
        text = f"{best.label} reached a {what} of {best.mean:.4g}{_seeds_note(n)}."
    else:
        return None
    return Finding(text, headline=True)


def _winner_findings(stats: Sequence[VariantStats], dataset: bool) -> list[Finding]:
    """The lowest final loss and, for a dataset, the highest held-out accuracy, each saying whether
    the seeds resolve the gap to the next (`noise.lead_text`).

    Winners are chosen on validation when the runs hold a split out; the test accuracy of the chosen
    variant is then reported beside it as its held-out result.
    """
    if not dataset:
        lowest = _lowest(stats, "final f", _final_losses, exact=True)
        return [lowest] if lowest else []
    basis = selection_basis(stats)
    out = []
    order = ranked(stats, basis.values, larger=True)
    if order:
        best = order[0]
        if len(order) > 1:
            lead = lead_text(order, percent_scale())
            text = f"Highest final {basis.name} accuracy ({basis.chosen}): {lead.text}"
        else:
            n = sum(math.isfinite(v) for v in best.values)
            text = f"{best.label} reached a final {basis.name} accuracy of {best.mean:.2%}{_seeds_note(n)}"
            text += f" ({basis.chosen})"
            lead = Lead(text, (best.label,))
        if basis.validation:
            by_label = {s.label: s for s in stats}
            tests = {o: by_label[o].final_test_acc[0] for o in lead.leaders}
            if len(tests) == 1 and all(map(math.isfinite, tests.values())):
                text += f"; its held-out test accuracy is {tests[best.label]:.2%}"
            elif any(map(math.isfinite, tests.values())):
                shown = ", ".join(f"{o} {number_percent(v)}" for o, v in tests.items())
                text += f"; their held-out test accuracies: {shown}"
        out.append(Finding(text + ".", headline=True))
    if basis.validation:
        lowest = _lowest(
            stats,
            "final validation loss (chosen on validation)",
            lambda s: [r.final_val_loss for r in s.completed],
            exact=False,
        )
        out += [lowest] if lowest else []
    training = _lowest(stats, "final training loss", _final_losses, exact=False)
    if training is not None:
        out.append(Finding(training.text, headline=not basis.validation))
    return out


def _final_losses(s: VariantStats) -> list[float]:
    return [r.final_loss for r in s.completed]


def number_percent(value: float) -> str:
    return f"{value:.2%}" if math.isfinite(value) else "—"


def _time_to_target(stats: Sequence[VariantStats], target: float = TARGET_ACCURACY) -> Finding | None:
    """Steps each variant needed to reach the target held-out accuracy (first evaluation at or above it).

    Measured on validation when the runs hold a split out, else on the test set. Variants that never
    reached it are listed together, per step budget.
    """
    basis = selection_basis(stats)
    parts = []
    missed: dict[int, list[str]] = {}
    for s in stats:
        runs = s.variant.finished
        if not runs:
            continue
        hits = [time_to_target(*r.curve(basis.column), target) for r in runs]
        reached = [h for h in hits if h is not None]
        budget = max(r.steps for r in runs)
        if not reached:
            missed.setdefault(budget, []).append(s.label)
        elif len(reached) == len(runs):
            parts.append(f"{s.label} {float(np.mean(reached)):.0f}{_seeds_note(len(runs))}")
        else:
            parts.append(
                f"{s.label} {float(np.mean(reached)):.0f} (mean of the {len(reached)} of {len(runs)} "
                f"seeds that reached it; the others not in {budget} steps)"
            )
    goal = f"{target:.0%} {basis.name} accuracy"
    if not parts and not missed:
        return None
    if not parts:
        budgets = " or ".join(str(b) for b in sorted(missed))
        return Finding(f"No variant reached {goal} within {budgets} steps.")
    text = f"Steps to reach {goal} (the first evaluation at or above it): " + "; ".join(parts)
    for budget, labels in sorted(missed.items()):
        text += f"; not reached in {budget} steps: {', '.join(labels)}"
    return Finding(text + ".")


def _chance_findings(
    stats: Sequence[VariantStats], classes: int | None, tolerance: float = CHANCE_TOLERANCE
) -> list[Finding]:
    if classes is None:
        return []
    chance = math.log(classes)
    where = f"within {tolerance:g} of ln {classes} = {chance:.4f}, the loss of a uniform guess"
    out = []
    whole = [
        s.label
        for s in stats
        if s.completed and all(abs(r.final_loss - chance) <= tolerance for r in s.completed)
    ]
    if len(whole) > MANY_STUCK:
        # a sweep in which most settings fail reads as one sentence, not one per setting
        out.append(
            Finding(
                f"{len(whole)} of {len(stats)} variants did not learn, their final training loss {where}: "
                f"{and_list(whole)}.",
                headline=True,
            )
        )
    for s in stats:
        stuck = [r for r in s.completed if abs(r.final_loss - chance) <= tolerance]
        if not stuck or (len(whole) > MANY_STUCK and s.label in whole):
            continue
        if len(stuck) == len(s.completed):
            loss = float(np.mean([r.final_loss for r in stuck]))
            out.append(
                Finding(
                    f"{s.label} did not learn: its final training loss ({loss:.4f}"
                    f"{_seeds_note(len(stuck))}) is {where}; it is stuck at chance level.",
                    headline=True,
                )
            )
        else:
            out.append(
                Finding(
                    f"{len(stuck)} of {len(s.completed)} seeds of {s.label} ended with a final "
                    f"training loss {where}: stuck at chance level.",
                    headline=True,
                )
            )
    return out


def _best_lr_findings(exp: ExperimentResult, stats: Sequence[VariantStats], dataset: bool) -> list[Finding]:
    if "optimizer.lr" not in exp.varied:
        return []
    groups: dict[str, list[VariantStats]] = {}
    for s in stats:
        key = variant_label(s.variant.config, exp.varied, exclude=("optimizer.lr",))
        groups.setdefault(key, []).append(s)
    basis = selection_basis(stats)
    out = []
    for label, members in groups.items():
        if len(members) < 2:
            continue
        lrs = {s.label: s for s in members}
        order = [
            Contender(f"{lrs[c.label].variant.lr:g}", c.values)
            for c in ranked(members, basis.values if dataset else _final_losses, larger=dataset)
        ]
        if not order:
            continue
        best = next(s for s in members if f"{s.variant.lr:g}" == order[0].label)
        if dataset:
            what, chosen = f"final {basis.name} accuracy", f", {basis.chosen}"
            scale = percent_scale()
        else:
            what, chosen, scale = "final f", "", number_scale()
        if len(order) > 1:
            lead = lead_text(order, scale, exact=not dataset)
            choice = lead.text
        else:
            lead = Lead("", (order[0].label,))
            choice = f"{order[0].label} ({scale.value(order[0].mean)}; the only one with a value)"
        if dataset and basis.validation and len(lead.leaders) == 1 and math.isfinite(best.final_test_acc[0]):
            choice += f"; held-out test accuracy {best.final_test_acc[0]:.2%}"
        tried = ", ".join(
            f"{s.variant.lr:g}{_diverged_note(s)}" for s in sorted(members, key=lambda s: s.variant.lr)
        )
        out.append(
            Finding(
                f"Best learning rate for {label} (by {what}{chosen}): {choice}; tried {tried}.", headline=True
            )
        )
    return out


def _diverged_note(s: VariantStats) -> str:
    """ " (diverged)" when every seed diverged, " (k of n seeds diverged)" when some did."""
    diverged, finished = len(s.variant.diverged), len(s.variant.finished)
    if not diverged:
        return ""
    return " (diverged)" if diverged == finished else f" ({diverged} of {finished} seeds diverged)"


def _divergence_findings(stats: Sequence[VariantStats]) -> list[Finding]:
    out = []
    for s in stats:
        diverged = s.variant.diverged
        if not diverged:
            continue
        steps = [r.diverged_step for r in diverged if r.diverged_step is not None]
        at = ", ".join(str(step) for step in steps)
        n = len(s.variant.finished)
        seeds = "" if n == 1 else f" in {len(diverged)} of {n} seeds"
        out.append(Finding(f"{s.label} diverged{seeds} (loss not finite at step {at}).", headline=True))
    return out


def unfinished_finding(exp: ExperimentResult) -> Finding | None:
    """How many runs did not finish, by status, with the errors they recorded (None if all did)."""
    unfinished = [r for r in exp.runs if not r.finished]
    if not unfinished:
        return None
    counts = Counter(r.state for r in unfinished)
    errors = [f"{r.run_id}: {r.status['error']}" for r in unfinished if r.status.get("error")]
    text = f"{plural(len(unfinished), 'run')} did not finish ({status_counts(counts)})"
    return Finding(text + (": " + "; ".join(errors) if errors else "") + ".", headline=True)


def _function_findings(stats: Sequence[VariantStats]) -> list[Finding]:
    out = []
    near = []
    objectives = {o.name: o for s in stats for r in s.completed if (o := r.objective) is not None}
    for s in stats:
        if not s.completed:
            continue
        points = [p for r in s.completed if (p := final_point(r)) is not None]
        nearest = [m for r in s.completed if (m := nearest_minimum(r)) is not None]
        where = ""
        if points:
            x, y = np.mean([p[0] for p in points]), np.mean([p[1] for p in points])
            where = f" at ({x:.4g}, {y:.4g})"
        distance = ""
        if nearest:
            d = float(np.mean([m[0] for m in nearest]))
            mx, my = nearest[0][1]
            distance = f", {d:.3g} from the nearest minimum ({mx:.4g}, {my:.4g})"
            if all(m[0] <= NEAR_MINIMUM for m in nearest):
                near.append(s.label)
        out.append(
            Finding(
                f"{s.label}: final f = {s.final_loss[0]:.4g}{where}{distance}{_seeds_note(len(s.completed))}."
            )
        )
    if any(o.minima for o in objectives.values()):
        if near:
            out.append(
                Finding(f"Within {NEAR_MINIMUM:g} of a minimum at the end: {', '.join(near)}.", headline=True)
            )
        else:
            out.append(
                Finding(f"No variant ended within {NEAR_MINIMUM:g} of a known minimum.", headline=True)
            )
    for o in objectives.values():
        if not o.minima and o.minima_known:
            out.append(Finding(f"{o.name} has no minimum (it is unbounded below), so no distance is given."))
        elif not o.minima:
            out.append(
                Finding(f"{o.name}: no minimum was given (task.function.minimum), so no distance is given.")
            )
    return out


def findings(exp: ExperimentResult) -> list[Finding]:
    """The report's sentences, each a plain statement of what the numbers on disk show."""
    stats = [variant_stats(v) for v in exp.finished_variants]
    dataset = exp.kind == "dataset"
    out = epoch_findings(exp) if dataset else []
    out += _winner_findings(stats, dataset)
    if dataset:
        target = _time_to_target(stats, exp.target_accuracy)
        out += [target] if target else []
        classes = {classes_of(s.variant.config) for s in stats}
        out += _chance_findings(stats, classes.pop() if len(classes) == 1 else None)
    else:
        out += _function_findings(stats)
    out += _best_lr_findings(exp, stats, dataset)
    if dataset:
        out += zero_init_findings(exp.finished_variants)
    out += _divergence_findings(stats)
    unfinished = unfinished_finding(exp)
    out += [unfinished] if unfinished else []
    return out
