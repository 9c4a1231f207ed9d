"""Tables and report.md: what the runs of an experiment show, in numbers and in plain sentences.

Every sentence is generated from the files on disk (through `optbench.results`) and states only what
those numbers say. Statistics are over the seeds of a variant: final loss and final test accuracy
over its completed runs (a diverged run has no final value to average), wall time over its finished
runs.

Two studies get sentences of their own, each by rules with named thresholds: an experiment in which
some run starts with a hidden layer of identical units (the zero-init study: symmetry, weights that
never move, loss against the same setting with a random init), and an `optbench activations` folder
(saturation, collapse, spread across layers, where the gradient vanishes).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from optbench.config import Experiment, to_dict
from optbench.data import DATASETS
from optbench.diagnostics import DISTINCT_TOLERANCE, SATURATION_MARGIN
from optbench.errors import OptbenchError
from optbench.files import atomic_write_text
from optbench.functions import FUNCTIONS, Objective
from optbench.layout import ACTIVATION_FIGURES, EXPERIMENT_FIGURES, INDEX_FILE, REPORT_FILE, SUMMARY_FILE
from optbench.nn import ACTIVATIONS
from optbench.plain import comparison_key, value_at
from optbench.results import (
    TARGET_ACCURACY,
    VARIANT_IGNORES,
    ActivationCaseResult,
    ActivationsResult,
    ExperimentResult,
    FloatArray,
    RunResult,
    SeedStats,
    Variant,
    aggregate,
    classes_of,
    format_percent,
    format_value,
    is_activations_folder,
    last_finite,
    layer_widths,
    mean_std,
    read_activations,
    read_experiment,
    read_rows,
    smooth,
    time_to_target,
    variant_label,
)
from optbench.text import plural, text_table

CHANCE_TOLERANCE = 0.05
"""A final training loss within this of ln(classes), the loss of a uniform guess, is chance level."""

NEAR_MINIMUM = 1e-3
"""A function run ends "at" a minimum when its last iterate is within this distance of it."""

STATUS_ORDER = ("completed", "diverged", "failed", "interrupted", "running", "pending")


# --------------------------------------------------------------------------------------------------
# Plain text tables (the terminal)
# --------------------------------------------------------------------------------------------------


def runs_table(exp: Experiment) -> str:
    """The resolved runs of a config (what --dry-run prints): run id and each varied value, then a count."""
    header = ["run_id", *exp.varied]
    rows = [[run.run_id, *(format_value(value_at(to_dict(run), k)) for k in exp.varied)] for run in exp.runs]
    return text_table(header, rows) + plural(len(exp.runs), "run") + "\n"


def _cell(text: str, fmt: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    return format(value, fmt) if math.isfinite(value) else text


def summary_table(exp_folder: Path) -> str:
    """A compact table of summary.csv: run id, status, final loss, final test accuracy, wall time.

    For an `optbench activations` folder: each case's std and gradient norm in its first and last layer.
    """
    if is_activations_folder(exp_folder):
        return activation_summary_table(read_activations(exp_folder))
    try:
        rows = read_rows(exp_folder / SUMMARY_FILE)
    except OSError:
        raise OptbenchError(
            f"{exp_folder}: no readable {SUMMARY_FILE}; not an optbench experiment folder"
        ) from None
    with_acc = bool(rows) and "final_test_acc" in rows[0]
    header = ["run_id", "status", "final_loss", *(["final_test_acc"] if with_acc else []), "wall_s"]
    body = []
    for row in rows:
        status = row.get("status", "")
        if status == "diverged" and row.get("diverged_step"):
            status = f"diverged at {row['diverged_step']}"
        cells = [row.get("run_id", ""), status, _cell(row.get("final_loss", ""), ".6g")]
        if with_acc:
            cells.append(_cell(row.get("final_test_acc", ""), ".4f"))
        cells.append(_cell(row.get("wall_s", ""), ".3g"))
        body.append(cells)
    return text_table(header, body)


# --------------------------------------------------------------------------------------------------
# Numbers per variant
# --------------------------------------------------------------------------------------------------


def _fmt(value: float, fmt: str = ".4g") -> str:
    return format(value, fmt) if math.isfinite(value) else "—"


def _pm(stats: tuple[float, float], n: int, fmt: str = ".4g") -> str:
    """'mean ± std' over several seeds, the value alone for one."""
    mean, std = stats
    if not math.isfinite(mean):
        return "—"
    return f"{mean:{fmt}} ± {std:{fmt}}" if n > 1 else f"{mean:{fmt}}"


@dataclass(frozen=True)
class VariantStats:
    """A variant's numbers over its seeds."""

    variant: Variant
    completed: tuple[RunResult, ...]
    final_loss: tuple[float, float]
    final_test_acc: tuple[float, float]
    wall_s: tuple[float, float]
    statuses: Counter[str]

    @property
    def label(self) -> str:
        return self.variant.label


def variant_stats(variant: Variant) -> VariantStats:
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
        final_test_acc=mean_std([r.final_test_acc for r in completed]),
        wall_s=mean_std(walls),
        statuses=Counter(r.state for r in variant.runs),
    )


def _status_counts(counts: Counter[str]) -> str:
    order = [s for s in STATUS_ORDER if counts[s]] + sorted(s for s in counts if s not in STATUS_ORDER)
    return ", ".join(f"{counts[s]} {s}" for s in order)


def _objective(run: RunResult) -> Objective | None:
    return FUNCTIONS.get(str(value_at(run.config, "task.function")))


def final_point(run: RunResult) -> tuple[float, float] | None:
    """The last finite iterate (x, y) of a function run."""
    if run.metrics is None or "x" not in run.metrics:
        return None
    x, y = run.metrics["x"], run.metrics["y"]
    i = last_finite(run.metrics["step"], np.where(np.isfinite(y), x, np.nan))
    return None if i is None else (float(x[i]), float(y[i]))


def nearest_minimum(run: RunResult) -> tuple[float, tuple[float, float]] | None:
    """(distance, minimum) from a function run's last iterate to the nearest known global minimum."""
    objective, point = _objective(run), final_point(run)
    if objective is None or point is None or not objective.minima:
        return None
    return min((math.dist(point, m), m) for m in objective.minima)


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One sentence of the report; headlines also go into the index."""

    text: str
    headline: bool = False


def _seeds_note(n: int) -> str:
    return f", mean over {n} seeds" if n > 1 else ""


def _winner_findings(stats: Sequence[VariantStats], dataset: bool) -> list[Finding]:
    out = []
    losses = [s for s in stats if math.isfinite(s.final_loss[0])]
    what = "final training loss" if dataset else "final f"
    if len(losses) > 1:
        best = min(losses, key=lambda s: s.final_loss[0])
        out.append(
            Finding(
                f"Lowest {what}: {best.label} ({best.final_loss[0]:.4g}{_seeds_note(len(best.completed))}).",
                headline=True,
            )
        )
    elif len(losses) == 1:
        (only,) = losses
        out.append(
            Finding(
                f"{only.label} reached a {what} of {only.final_loss[0]:.4g}"
                f"{_seeds_note(len(only.completed))}.",
                headline=True,
            )
        )
    accs = [s for s in stats if math.isfinite(s.final_test_acc[0])]
    if dataset and len(accs) > 1:
        best = max(accs, key=lambda s: s.final_test_acc[0])
        out.append(
            Finding(
                f"Highest final test accuracy: {best.label} ({best.final_test_acc[0]:.2%}"
                f"{_seeds_note(len(best.completed))}).",
                headline=True,
            )
        )
    elif dataset and len(accs) == 1:
        (only,) = accs
        out.append(
            Finding(
                f"{only.label} reached a final test accuracy of {only.final_test_acc[0]:.2%}"
                f"{_seeds_note(len(only.completed))}.",
                headline=True,
            )
        )
    return out


def _time_to_target(stats: Sequence[VariantStats], target: float = TARGET_ACCURACY) -> Finding | None:
    """Steps each variant needed to reach the target test accuracy (first evaluation at or above it).

    Variants that never reached it are listed together, per step budget.
    """
    parts = []
    missed: dict[int, list[str]] = {}
    for s in stats:
        runs = s.variant.finished
        if not runs:
            continue
        hits = [time_to_target(*r.curve("test_acc"), target) for r in runs]
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
    goal = f"{target:.0%} test accuracy"
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
    out = []
    for s in stats:
        stuck = [r for r in s.completed if abs(r.final_loss - chance) <= tolerance]
        if not stuck:
            continue
        where = f"within {tolerance:g} of ln {classes} = {chance:.4f}, the loss of a uniform guess"
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
    out = []
    for label, members in groups.items():
        if len(members) < 2:
            continue
        if dataset:
            scored = [(s.final_test_acc[0], s) for s in members if math.isfinite(s.final_test_acc[0])]
            measure = "final test accuracy"
        else:
            scored = [(-s.final_loss[0], s) for s in members if math.isfinite(s.final_loss[0])]
            measure = "final f"
        if not scored:
            continue
        _, best = max(scored, key=lambda item: item[0])
        value = f"{best.final_test_acc[0]:.2%}" if dataset else f"{best.final_loss[0]:.4g}"
        tried = ", ".join(
            f"{s.variant.lr:g}" + (" (diverged)" if not s.completed and s.variant.diverged else "")
            for s in sorted(members, key=lambda s: s.variant.lr)
        )
        out.append(
            Finding(
                f"Best learning rate for {label}: {best.variant.lr:g} ({measure} {value}; tried {tried}).",
                headline=True,
            )
        )
    return out


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


def _unfinished_finding(exp: ExperimentResult) -> Finding | None:
    unfinished = [r for r in exp.runs if not r.finished]
    if not unfinished:
        return None
    counts = Counter(r.state for r in unfinished)
    errors = [f"{r.run_id}: {r.status['error']}" for r in unfinished if r.status.get("error")]
    text = f"{plural(len(unfinished), 'run')} did not finish ({_status_counts(counts)})"
    return Finding(text + (": " + "; ".join(errors) if errors else "") + ".", headline=True)


def _function_findings(stats: Sequence[VariantStats]) -> list[Finding]:
    out = []
    near = []
    objectives = {o.name: o for s in stats for r in s.completed if (o := _objective(r)) is not None}
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
        if not o.minima:
            out.append(Finding(f"{o.name} has no minimum (it is unbounded below), so no distance is given."))
    return out


# --------------------------------------------------------------------------------------------------
# The zero-init study: symmetry, weights that never move, and how much slower the loss falls
# --------------------------------------------------------------------------------------------------

REFERENCE_STEP = 100
"""A zero-init variant is timed by the steps it needs to reach its reference variant's smoothed
training loss at this step (the reference's last step if it is shorter)."""

REFERENCE_INIT = "he"
"""Among the variants a zero-init variant can be compared with, one with this init is preferred."""


def _diag_rows(run: RunResult, layer: int, column: str) -> tuple[FloatArray, FloatArray]:
    """(steps, values) of one diagnostics column of one layer, in step order."""
    if run.diagnostics is None or column not in run.diagnostics:
        return np.empty(0), np.empty(0)
    diag = run.diagnostics
    keep = (diag["layer"] == layer) & np.isfinite(diag[column]) & np.isfinite(diag["step"])
    order = np.argsort(diag["step"][keep], kind="stable")
    return diag["step"][keep][order], diag[column][keep][order]


def _diag_layers(run: RunResult) -> list[int]:
    if run.diagnostics is None or "layer" not in run.diagnostics:
        return []
    layers = run.diagnostics["layer"]
    return sorted(int(v) for v in np.unique(layers[np.isfinite(layers)]))


def is_zero_init_run(run: RunResult) -> bool:
    """Some hidden layer of more than one unit has a single distinct unit at step 0 (all-zero weights)."""
    layers = _diag_layers(run)
    widths = layer_widths(run.config, len(layers))
    for layer in layers[:-1]:
        _, distinct = _diag_rows(run, layer, "distinct_units")
        if distinct.size and distinct[0] == 1 and widths.get(layer, 2) > 1:
            return True
    return False


def _diagnosed(variant: Variant) -> list[RunResult]:
    return [r for r in variant.finished if _diag_layers(r)]


INIT_KEYS = ("model.init", "model.output_init")


def reference_variant(variant: Variant, variants: Sequence[Variant]) -> Variant | None:
    """The variant a zero-init variant is compared with: equal but for its initialisers and seeds,
    not itself zero-initialised, an init named REFERENCE_INIT first."""
    key = comparison_key(variant.config, (*VARIANT_IGNORES, *INIT_KEYS))
    candidates = [
        v
        for v in variants
        if v is not variant
        and comparison_key(v.config, (*VARIANT_IGNORES, *INIT_KEYS)) == key
        and not any(map(is_zero_init_run, _diagnosed(v)))
    ]
    candidates.sort(key=lambda v: v.runs[0].init_name != REFERENCE_INIT)
    return candidates[0] if candidates else None


def smoothed_loss(variant: Variant) -> SeedStats:
    """The training loss of a variant smoothed per seed (results.SMOOTHING), then averaged over seeds."""
    curves = [r.curve("train_loss") for r in variant.finished]
    return aggregate([(steps, smooth(values)) for steps, values in curves if steps.size])


def _layer_list(layers: Sequence[int]) -> str:
    """'layer 4', 'layers 1–3', 'layers 1, 2 and 4'."""
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}–{layers[-1]}"
    return "layers " + ", ".join(map(str, layers[:-1])) + f" and {layers[-1]}"


def _values(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def _symmetry_findings(variant: Variant) -> list[Finding]:
    runs = _diagnosed(variant)
    layers = _diag_layers(runs[0])
    widths = layer_widths(runs[0].config, len(layers))
    parts: list[str] = []
    broken: list[int] = []
    kept: list[int] = []
    last_steps: set[int] = set()
    for layer in layers:
        starts, ends = [], []
        for run in runs:
            steps, distinct = _diag_rows(run, layer, "distinct_units")
            if distinct.size:
                starts.append(int(distinct[0]))
                ends.append(int(distinct[-1]))
                last_steps.add(int(steps[-1]))
        if not starts:
            continue
        width = f" of {widths[layer]}" if layer in widths else ""
        name = f"layer {layer}" + (" (output)" if layer == layers[-1] else "")
        parts.append(f"{name}: {_values(starts)} → {_values(ends)}{width}")
        if max(starts) == 1 and widths.get(layer, 2) > 1:
            (kept if max(ends) == 1 else broken).append(layer)
    end = f"step {_values(sorted(last_steps))}" if last_steps else "the end"
    seeds = f" ({len(runs)} seeds)" if len(runs) > 1 else ""
    out = [
        Finding(f"{variant.label}: distinct units per layer at step 0 → {end}{seeds}: {'; '.join(parts)}.")
    ]
    if broken and kept:
        text = (
            f"{variant.label}: training broke the symmetry of {_layer_list(broken)} only; "
            f"{_layer_list(kept)} still {'has' if len(kept) == 1 else 'have'} a single distinct unit "
            f"(every unit identical)."
        )
    elif broken:
        text = (
            f"{variant.label}: training broke the symmetry of every layer that started with identical units."
        )
    elif kept:
        text = (
            f"{variant.label}: training did not break the symmetry: {_layer_list(kept)} "
            f"still {'has' if len(kept) == 1 else 'have'} a single distinct unit (every unit identical)."
        )
    else:
        return out
    out.append(Finding(text, headline=True))
    return out


def _frozen_findings(variant: Variant) -> list[Finding]:
    """Layers whose weights stayed exactly zero, or whose gradient was exactly zero, at every logged step."""
    runs = _diagnosed(variant)
    layers = _diag_layers(runs[0])
    zero, no_gradient = [], []
    steps: set[int] = set()
    for layer in layers:
        norms = [_diag_rows(r, layer, "weight_norm") for r in runs]
        grads = [_diag_rows(r, layer, "grad_norm") for r in runs]
        steps.update(int(s) for st, _ in norms for s in st)
        if all(v.size and np.all(v == 0) for _, v in norms):
            zero.append(layer)
        elif all(v.size and np.all(v == 0) for _, v in grads):
            no_gradient.append(layer)
    if not steps:
        return []
    at = f"at every diagnostics step, {min(steps)} to {max(steps)}"
    if zero == layers:
        return [
            Finding(
                f"{variant.label}: every weight stayed exactly zero (‖W‖ = 0 in every layer {at}); with a "
                "zero output layer no gradient reaches the hidden layers, so only the output bias learned.",
                headline=True,
            )
        ]
    out = []
    if zero:
        out.append(
            Finding(
                f"{variant.label}: the weights of {_layer_list(zero)} stayed exactly zero (‖W‖ = 0 {at}).",
                headline=True,
            )
        )
    if no_gradient:
        out.append(
            Finding(
                f"{variant.label}: {_layer_list(no_gradient)} never received a weight gradient "
                f"(‖∂L/∂W‖ = 0 {at}), so {'its' if len(no_gradient) == 1 else 'their'} weights kept "
                "their initial values."
            )
        )
    return out


def _loss_at(stats: SeedStats, step: float) -> tuple[float, float] | None:
    """(step, value) of the last grid point at or before `step` (the first point if none is)."""
    if not stats.steps.size:
        return None
    i = max(int(np.searchsorted(stats.steps, step, side="right")) - 1, 0)
    return float(stats.steps[i]), float(stats.mean[i])


def _loss_findings(
    variant: Variant, reference: Variant, chance: float | None, step: int = REFERENCE_STEP
) -> list[Finding]:
    """Final losses, and the steps the variant needs to reach the reference's smoothed training loss at
    `step` and at its last step (a reference still at chance level at `step` is said to be)."""
    ours, theirs = variant_stats(variant), variant_stats(reference)
    text = (
        f"{variant.label}: final training loss {_fmt(ours.final_loss[0])} against "
        f"{_fmt(theirs.final_loss[0])} for {reference.label}"
    )
    reference_curve, curve = smoothed_loss(reference), smoothed_loss(variant)
    if not curve.steps.size or not reference_curve.steps.size:
        return [Finding(text + ".", headline=True)]
    levels: list[str] = []
    reached_at: list[int | None] = []
    for when in dict.fromkeys([step, float(reference_curve.steps[-1])]):
        target = _loss_at(reference_curve, when)
        assert target is not None
        at, value = target
        chance_level = chance is not None and value >= chance - CHANCE_TOLERANCE
        levels.append(f"{value:.4g} at step {int(at)}" + (" (still at chance level)" if chance_level else ""))
        reached = np.flatnonzero(curve.mean <= value)
        reached_at.append(int(curve.steps[reached[0]]) if reached.size else None)
    budget = f"in {int(curve.steps[-1])} steps"
    if all(r is None for r in reached_at):
        which = "neither" if len(levels) > 1 else "it not"
        parts = [" and ".join(levels) + f"; {variant.label} reaches {which} {budget}"]
    else:
        parts = [
            f"{level}, which {variant.label} "
            + (f"reaches at step {r}" if r is not None else f"never reaches {budget}")
            for level, r in zip(levels, reached_at)
        ]
    return [
        Finding(
            f"{text}. The smoothed training loss of {reference.label} is " + ", and ".join(parts) + ".",
            headline=True,
        )
    ]


def zero_init_findings(variants: Sequence[Variant]) -> list[Finding]:
    """For each zero-initialised variant: its distinct units at the start and the end, layers that never
    moved, and its loss against the same setting with a random init (REFERENCE_INIT preferred)."""
    out = []
    for variant in variants:
        if not any(map(is_zero_init_run, _diagnosed(variant))):
            continue
        out += _symmetry_findings(variant)
        out += _frozen_findings(variant)
        reference = reference_variant(variant, variants)
        if reference is not None and reference.finished:
            classes = classes_of(variant.config)
            out += _loss_findings(variant, reference, math.log(classes) if classes else None)
    return out


def _zero_init_table(variants: Sequence[Variant]) -> str:
    """Per zero-init variant and layer: width, distinct units and ‖W‖ at step 0 and at the end (first seed
    that started with identical units)."""
    rows = []
    for variant in variants:
        runs = [r for r in _diagnosed(variant) if is_zero_init_run(r)]
        if not runs:
            continue
        run = runs[0]
        layers = _diag_layers(run)
        widths = layer_widths(run.config, len(layers))
        for layer in layers:
            _, distinct = _diag_rows(run, layer, "distinct_units")
            _, norm = _diag_rows(run, layer, "weight_norm")
            if not distinct.size or not norm.size:
                continue
            rows.append(
                [
                    variant.label,
                    f"{layer}" + (" (output)" if layer == layers[-1] else ""),
                    str(widths.get(layer, "")),
                    f"{distinct[0]:g}",
                    f"{distinct[-1]:g}",
                    f"{norm[0]:.3g}",
                    f"{norm[-1]:.3g}",
                ]
            )
    header = [
        "variant",
        "layer",
        "units",
        "distinct at step 0",
        "distinct at the end",
        "‖W‖ at step 0",
        "‖W‖ at the end",
    ]
    return _md_table(header, rows, [False, True, True, True, True, True, True])


def findings(exp: ExperimentResult) -> list[Finding]:
    """The report's sentences, each a plain statement of what the numbers on disk show."""
    stats = [variant_stats(v) for v in exp.finished_variants]
    dataset = exp.kind == "dataset"
    out = _winner_findings(stats, dataset)
    if dataset:
        target = _time_to_target(stats)
        out += [target] if target else []
        classes = {classes_of(s.variant.config) for s in stats}
        out += _chance_findings(stats, classes.pop() if len(classes) == 1 else None)
    else:
        out += _function_findings(stats)
    out += _best_lr_findings(exp, stats, dataset)
    if dataset:
        out += zero_init_findings(exp.finished_variants)
    out += _divergence_findings(stats)
    unfinished = _unfinished_finding(exp)
    out += [unfinished] if unfinished else []
    return out


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------

SATURATED_SHARE = 0.25
"""A layer of a sigmoid or tanh case saturates when more than this share of its outputs lies within
diagnostics.SATURATION_MARGIN of a bound."""

COLLAPSE_STD = 0.05
"""A layer of a sigmoid or tanh case has collapsed to one value when its outputs' std is below this."""

SHRINK_RATIO = 0.5
"""A case without bounds (ReLU, ...) shrinks when its last layer's std is below this times its first
layer's, and grows when above the inverse; in between it keeps its std."""

GRADIENT_RATIO = 10.0
"""The gradient vanishes towards the input when the first layer's value is below 1/GRADIENT_RATIO of
the last layer's, and grows towards it when above GRADIENT_RATIO times."""


def _g(value: float) -> str:
    return f"{value:.2g}"


def _distance_from_one(ratio: float) -> float:
    """|log ratio|: how far a ratio is from 1, whichever way (0 and inf are infinitely far)."""
    return abs(math.log(ratio)) if 0 < ratio < math.inf else math.inf


def _ratio(first: float, last: float) -> float:
    """first / last, with 0/0 = 1 and x/0 = inf."""
    if last == 0:
        return 1.0 if first == 0 else math.inf
    return first / last


def _spread(values: FloatArray, fmt: str = ".2g") -> str:
    low, high = float(np.min(values)), float(np.max(values))
    a, b = format(low, fmt), format(high, fmt)
    return a if a == b else f"{a}–{b}"


def _share(values: FloatArray) -> str:
    low, high = float(np.min(values)), float(np.max(values))
    a, b = format_percent(low), format_percent(high)
    return a if a == b else f"{a.rstrip('%')}–{b}"


def _bounds_text(case: ActivationCaseResult) -> str:
    activation = ACTIVATIONS.get(case.activation)
    if activation is None or activation.bounds is None:
        return "a bound"
    low, high = activation.bounds
    return f"{low:g} or {high:g}".replace("-", "−")


def _where(case: ActivationCaseResult, picked: NDArray[np.bool_]) -> str:
    """'in every layer' or 'in layers 2–5' for a boolean mask over the case's layers."""
    if np.all(picked):
        return "in every layer"
    return "in " + _layer_list([int(v) for v in case.layers[picked]])


def _bounded_findings(case: ActivationCaseResult) -> list[Finding]:
    """Saturation, collapse to one value, or neither, for a sigmoid or tanh case."""
    saturated, std = case["saturated_frac"], case["std"]
    out: list[Finding] = []
    hot = saturated > SATURATED_SHARE
    if np.any(hot):
        out.append(
            Finding(
                f"{case.label} saturates: {_share(saturated[hot])} of its outputs lie within "
                f"{SATURATION_MARGIN:g} of {_bounds_text(case)} {_where(case, hot)} "
                f"(more than {SATURATED_SHARE:.0%}).",
                headline=True,
            )
        )
    flat = std < COLLAPSE_STD
    if np.any(flat):
        centre = float(np.mean(case["mean"][flat]))
        out.append(
            Finding(
                f"{case.label} collapses to {centre:.2f}: the std of its outputs is {_spread(std[flat])} "
                f"{_where(case, flat)} (below {COLLAPSE_STD:g}), so the units of a layer output nearly "
                "the same value.",
                headline=True,
            )
        )
    if not out:
        out.append(
            Finding(
                f"{case.label} stays spread: std {_spread(std)} and at most "
                f"{format_percent(float(saturated.max()))} saturated in every layer (neither above "
                f"{SATURATED_SHARE:.0%} saturated nor a std below {COLLAPSE_STD:g}).",
                headline=True,
            )
        )
    return out


def _unbounded_findings(cases: Sequence[ActivationCaseResult]) -> list[Finding]:
    """Whether each case without bounds keeps its std from the first to the last layer; per activation,
    the case whose ratio is closest to 1."""
    ratios = {c.index: _ratio(float(c["std"][-1]), float(c["std"][0])) for c in cases if len(c.layers) > 1}
    best: dict[str, int] = {}
    for activation in {c.activation for c in cases}:
        group = [c for c in cases if c.activation == activation and c.index in ratios]
        if len(group) > 1:
            best[activation] = min(group, key=lambda c: _distance_from_one(ratios[c.index])).index
    out: list[Finding] = []
    for c in cases:
        if c.index not in ratios:
            continue
        ratio, first, last = ratios[c.index], int(c.layers[0]), int(c.layers[-1])
        std = c["std"]
        change = (
            f"the std of its outputs goes from {_g(std[0])} in layer {first} to {_g(std[-1])} "
            f"in layer {last} (layer {last} / layer {first} = {ratio:.2g}"
        )
        per_layer = f"×{ratio ** (1 / (last - first)):.2g} per layer" if 0 < ratio < math.inf else ""
        if ratio < SHRINK_RATIO:
            text = f"{c.label} shrinks layer after layer: {change}, {per_layer}; below {SHRINK_RATIO:g})"
        elif ratio > 1 / SHRINK_RATIO:
            text = f"{c.label} grows layer after layer: {change}, {per_layer}; above {1 / SHRINK_RATIO:g})"
        else:
            bounds = f"between {SHRINK_RATIO:g} and {1 / SHRINK_RATIO:g}"
            text = f"{c.label} keeps its std across layers: {change}, {bounds})"
        if best.get(c.activation) == c.index:
            text += f", the closest to 1 of the {c.activation} cases"
        out.append(Finding(text + ".", headline=True))
    return out


def _gradient_findings(cases: Sequence[ActivationCaseResult]) -> list[Finding]:
    """Cases grouped by how ‖∂L/∂W‖ and the std of ∂L/∂a change from the last layer to the first."""
    out: list[Finding] = []
    deep = [c for c in cases if len(c.layers) > 1]
    if not deep:
        return out
    first, last = int(deep[0].layers[0]), int(deep[0].layers[-1])
    for column, what in (
        ("grad_norm", "‖∂L/∂W‖"),
        ("delta_std", "The std of ∂L/∂a (the gradient reaching the pre-activations)"),
    ):
        groups: dict[str, list[str]] = {"vanishes": [], "grows": [], "keeps": []}
        for c in deep:
            ratio = _ratio(float(c[column][0]), float(c[column][-1]))
            kind = (
                "vanishes" if ratio < 1 / GRADIENT_RATIO else "grows" if ratio > GRADIENT_RATIO else "keeps"
            )
            groups[kind].append(f"{c.label} (×{ratio:.2g})")
        what_text = what if what.startswith("The") else f"The weight gradient {what}"
        compare = f"layer {first} / layer {last}"
        phrases = {
            "vanishes": f"vanishes towards the input ({compare} below {1 / GRADIENT_RATIO:g})",
            "grows": f"grows towards the input ({compare} above {GRADIENT_RATIO:g})",
            "keeps": f"stays within a factor {GRADIENT_RATIO:g} from layer {last} to layer {first}",
        }
        for kind, labels in groups.items():
            if labels:
                headline = column == "grad_norm" and kind != "keeps"
                out.append(Finding(f"{what_text} {phrases[kind]}: {', '.join(labels)}.", headline=headline))
    firsts = [(float(c["grad_norm"][0]), c.label) for c in cases if math.isfinite(float(c["grad_norm"][0]))]
    if len(firsts) > 1:
        (low, low_label), (high, high_label) = min(firsts), max(firsts)
        out.append(
            Finding(
                f"‖∂L/∂W‖ of layer {first} ranges from {_g(low)} ({low_label}) to {_g(high)} ({high_label})."
            )
        )
    return out


def activation_findings(result: ActivationsResult) -> list[Finding]:
    """The sentences of an activations report, by the rules and thresholds named above."""
    out = []
    for case in result.cases:
        if case.bounded:
            out += _bounded_findings(case)
    out += _unbounded_findings([c for c in result.cases if not c.bounded])
    out += _gradient_findings(result.cases)
    return out


def _input_line(result: ActivationsResult) -> str:
    cfg = result.config
    samples, layers, nodes = cfg.get("samples"), cfg.get("layers"), cfg.get("nodes")
    readout = f"{result.readout_classes}-class " if result.readout_classes else ""
    if cfg.get("input") == "mnist":
        pixels = DATASETS["mnist"].n_features
        source, labels = f"{samples} MNIST training images ({pixels} pixels scaled to [0, 1])", "their labels"
    else:
        source, labels = f"{samples} × {cfg.get('features')} standard normal values", "random labels"
    return (
        f"Input: {source}, seed {cfg.get('seed')}; {layers} hidden layers of {nodes} units without bias; "
        f"gradients from one backward pass of the cross-entropy of a linear {readout}read-out "
        f"with {labels}; histograms of {cfg.get('bins')} bins."
    )


def _table_percent(fraction: float) -> str:
    """64.3%, 0.001%, 0%; a dash where there is no value (saturation of an unbounded activation)."""
    return f"{fraction * 100:.3g}%" if math.isfinite(fraction) else "—"


def _case_table(case: ActivationCaseResult) -> str:
    header = ["layer", "mean", "std", "saturated", "zero", "‖∂L/∂W‖", "std of ∂L/∂a"]
    rows = []
    for k, layer in enumerate(case.layers):
        saturated = float(case["saturated_frac"][k])
        rows.append(
            [
                str(layer),
                f"{case['mean'][k]:.4g}",
                f"{case['std'][k]:.4g}",
                _table_percent(saturated),
                _table_percent(float(case["zero_frac"][k])),
                f"{case['grad_norm'][k]:.4g}",
                f"{case['delta_std'][k]:.4g}",
            ]
        )
    return _md_table(header, rows, [True] * len(header))


def _heading(name: str, description: str, setup: str, sentences: Sequence[Finding]) -> list[str]:
    """The top of a report: title, description, what was run, and the findings."""
    parts = [f"# {name}\n"]
    if description:
        parts.append(description.strip() + "\n")
    parts.append(setup + "\n")
    if sentences:
        parts.append("## Findings\n")
        parts.append("".join(f"- {f.text}\n" for f in sentences))
    return parts


def activation_report_text(result: ActivationsResult) -> str:
    parts = _heading(result.name, result.description, _input_line(result), activation_findings(result))
    figures = figures_present(result.folder)
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append(
        "## Cases\n\nPer layer: mean and std of the outputs; saturated: outputs within "
        f"{SATURATION_MARGIN:g} of a bound (sigmoid, tanh only); zero: outputs exactly 0; ‖∂L/∂W‖: "
        "Frobenius norm of the layer's weight gradient; std of ∂L/∂a: spread of the gradient at the "
        "layer's pre-activations.\n"
    )
    for case in result.cases:
        parts.append(f"### {case.label}\n")
        parts.append(_case_table(case))
    return "\n".join(parts)


def activation_summary_table(result: ActivationsResult) -> str:
    """One line per case: std and ‖∂L/∂W‖ in the first and the last layer (what `optbench report` prints)."""
    header = ["case", "std first", "std last", "grad_norm first", "grad_norm last"]
    rows = [
        [
            c.label,
            f"{c['std'][0]:.4g}",
            f"{c['std'][-1]:.4g}",
            f"{c['grad_norm'][0]:.4g}",
            f"{c['grad_norm'][-1]:.4g}",
        ]
        for c in result.cases
    ]
    return text_table(header, rows)


# --------------------------------------------------------------------------------------------------
# report.md and index.md
# --------------------------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---:" if r else "---" for r in right) + " |",
    ]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _variants_table(exp: ExperimentResult, stats: Sequence[VariantStats]) -> str:
    if exp.kind == "dataset":
        header = ["variant", "seeds", "final training loss", "final test accuracy", "wall time (s)", "runs"]
        rows = [
            [
                s.label,
                str(len(s.variant.finished)),
                _pm(s.final_loss, len(s.completed)),
                _pm(s.final_test_acc, len(s.completed), ".4f"),
                _pm(s.wall_s, len(s.variant.finished), ".2f"),
                _status_counts(s.statuses),
            ]
            for s in stats
        ]
        return _md_table(header, rows, [False, True, True, True, True, False])
    header = ["variant", "seeds", "final f", "distance to nearest minimum", "wall time (s)", "runs"]
    rows = []
    for s in stats:
        distances = [m[0] for r in s.completed if (m := nearest_minimum(r)) is not None]
        rows.append(
            [
                s.label,
                str(len(s.variant.finished)),
                _pm(s.final_loss, len(s.completed)),
                _pm(mean_std(distances), len(distances), ".3g"),
                _pm(s.wall_s, len(s.variant.finished), ".3f"),
                _status_counts(s.statuses),
            ]
        )
    return _md_table(header, rows, [False, True, True, True, True, False])


def _runs_md(exp: ExperimentResult) -> str:
    dataset = exp.kind == "dataset"
    header = [
        "run",
        "seed",
        "status",
        "final loss",
        *(["final test accuracy"] if dataset else []),
        "wall time (s)",
    ]
    rows = []
    for r in exp.runs:
        status = r.state + (f" at step {r.diverged_step}" if r.diverged_step is not None else "")
        wall = r.status.get("wall_s")
        row = [f"`{r.run_id}`", str(r.seed) if r.config else "", status, _fmt(r.final_loss, ".6g")]
        if dataset:
            row.append(_fmt(r.final_test_acc, ".4f"))
        row.append(f"{wall:.3g}" if isinstance(wall, (int, float)) else "")
        rows.append(row)
    return _md_table(header, rows, [False, True, False, True, *([True] if dataset else []), True])


def _task_line(exp: ExperimentResult) -> str:
    first = next((r for r in exp.runs if r.config), None)
    counts = Counter(r.state for r in exp.runs)
    runs = f"{plural(len(exp.runs), 'run')} ({_status_counts(counts)})" if exp.runs else "no runs"
    if first is None:
        return f"{runs}."
    if exp.kind == "function":
        objective = _objective(first)
        task = f"function `{objective.name}`, f(x, y) = {objective.formula}" if objective else "a function"
    else:
        task = f"dataset `{value_at(first.config, 'task.dataset')}`"
        hidden = value_at(first.config, "model.hidden")
        if hidden:
            task += f", MLP with hidden layers {format_value(hidden)}"
    varied = ", ".join(f"`{k}`" for k in exp.varied) or "nothing"
    source = f"Config `{exp.source}`; " if exp.source else ""
    return f"{source}task: {task}; varied: {varied}; {runs}."


def figures_present(exp_folder: Path) -> list[str]:
    """The experiment's figure files that exist, in the report's order."""
    names = ACTIVATION_FIGURES if is_activations_folder(exp_folder) else EXPERIMENT_FIGURES
    return [name for name in names if (exp_folder / name).is_file()]


def report_text(exp: ExperimentResult) -> str:
    stats = [variant_stats(v) for v in exp.finished_variants]
    parts = _heading(exp.name, exp.description, _task_line(exp), findings(exp))
    if stats:
        note = (
            " Mean ± std over seeds; final values over completed runs."
            if any(len(s.variant.finished) > 1 for s in stats)
            else ""
        )
        parts.append(f"## Variants\n\nRuns that differ only in their seed form one variant.{note}\n")
        parts.append(_variants_table(exp, stats))
    zero_init = [v for v in exp.finished_variants if any(map(is_zero_init_run, _diagnosed(v)))]
    if exp.kind == "dataset" and zero_init:
        parts.append(
            "## Zero-init study\n\nDistinct units: different incoming weight vectors of a layer "
            f"(up to a relative tolerance of {DISTINCT_TOLERANCE:g}); measured on the first seed.\n"
        )
        parts.append(_zero_init_table(zero_init))
    figures = figures_present(exp.folder)
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append("## Runs\n")
    parts.append(_runs_md(exp))
    return "\n".join(parts)


def write_report(exp_folder: Path) -> Path:
    """Write <exp_folder>/report.md (atomically) from the files of the experiment; returns its path.

    An `optbench activations` folder (activations.csv, no experiment.yaml) gets its own report.
    """
    if is_activations_folder(exp_folder):
        text = activation_report_text(read_activations(exp_folder))
    else:
        text = report_text(read_experiment(exp_folder))
    path = exp_folder / REPORT_FILE
    atomic_write_text(path, text)
    return path


def _link(target: Path, root: Path) -> str:
    return Path(os.path.relpath(target, root)).as_posix()


def write_index(out_root: Path, exp_folders: list[Path]) -> Path:
    """Write <out_root>/index.md linking each experiment's report and figures, with its headlines."""
    parts = ["# optbench results\n"]
    for folder in exp_folders:
        info: ActivationsResult | ExperimentResult
        if is_activations_folder(folder):
            info = read_activations(folder)
            sentences = activation_findings(info)
        else:
            info = read_experiment(folder)
            sentences = findings(info)
        parts.append(f"## [{info.name}]({_link(folder / REPORT_FILE, out_root)})\n")
        if info.description:
            parts.append(info.description.strip() + "\n")
        lines = [f"- {f.text}\n" for f in sentences if f.headline]
        if lines:
            parts.append("".join(lines))
        figures = figures_present(folder)
        if figures:
            links = " · ".join(f"[{Path(name).stem}]({_link(folder / name, out_root)})" for name in figures)
            parts.append(f"Figures: {links}\n")
    path = out_root / INDEX_FILE
    out_root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(parts))
    return path


__all__: list[str] = [
    "CHANCE_TOLERANCE",
    "COLLAPSE_STD",
    "GRADIENT_RATIO",
    "NEAR_MINIMUM",
    "REFERENCE_STEP",
    "SATURATED_SHARE",
    "SHRINK_RATIO",
    "Finding",
    "activation_findings",
    "findings",
    "runs_table",
    "summary_table",
    "write_index",
    "write_report",
    "zero_init_findings",
]
