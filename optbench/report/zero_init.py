"""The zero-init study: symmetry, weights that never move, and how much slower the loss falls.

An experiment in which some run starts with a hidden layer of identical units gets these sentences and
a table, each by rules with named thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from optbench.plain import comparison_key
from optbench.report.sentences import Finding, layer_list
from optbench.report.tables import md_table, number_cells, number_text
from optbench.report.variants import CHANCE_TOLERANCE, variant_stats
from optbench.results import VARIANT_IGNORES, RunResult, Variant, classes_of, layer_widths
from optbench.stats import SeedStats, aggregate, smooth

REFERENCE_STEP = 100
"""A zero-init variant is timed by the steps it needs to reach its reference variant's smoothed
training loss at this step (the reference's last step if it is shorter)."""

REFERENCE_INIT = "he"
"""Among the variants a zero-init variant can be compared with, one with this init is preferred."""


def is_zero_init_run(run: RunResult) -> bool:
    """Some hidden layer of more than one unit has a single distinct unit at step 0 (all-zero weights)."""
    layers = run.layers
    widths = layer_widths(run.config, len(layers))
    for layer in layers[:-1]:
        _, distinct = run.layer_curve(layer, "distinct_units")
        if distinct.size and distinct[0] == 1 and widths.get(layer, 2) > 1:
            return True
    return False


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
        and not any(map(is_zero_init_run, v.diagnosed))
    ]
    candidates.sort(key=lambda v: v.runs[0].init_name != REFERENCE_INIT)
    return candidates[0] if candidates else None


def smoothed_loss(variant: Variant) -> SeedStats:
    """The training loss of a variant smoothed per seed (results.SMOOTHING), then averaged over seeds."""
    curves = [r.curve("train_loss") for r in variant.finished]
    return aggregate([(steps, smooth(values)) for steps, values in curves if steps.size])


def _values(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def _symmetry_findings(variant: Variant) -> list[Finding]:
    runs = variant.diagnosed
    layers = runs[0].layers
    widths = layer_widths(runs[0].config, len(layers))
    parts: list[str] = []
    broken: list[int] = []
    kept: list[int] = []
    last_steps: set[int] = set()
    for layer in layers:
        starts, ends = [], []
        for run in runs:
            steps, distinct = run.layer_curve(layer, "distinct_units")
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
            f"{variant.label}: training broke the symmetry of {layer_list(broken)} only; "
            f"{layer_list(kept)} still {'has' if len(kept) == 1 else 'have'} a single distinct unit "
            f"(every unit identical)."
        )
    elif broken:
        text = (
            f"{variant.label}: training broke the symmetry of every layer that started with identical units."
        )
    elif kept:
        text = (
            f"{variant.label}: training did not break the symmetry: {layer_list(kept)} "
            f"still {'has' if len(kept) == 1 else 'have'} a single distinct unit (every unit identical)."
        )
    else:
        return out
    out.append(Finding(text, headline=True))
    return out


def _frozen_findings(variant: Variant) -> list[Finding]:
    """Layers whose weights stayed exactly zero, or whose gradient was exactly zero, at every logged step."""
    runs = variant.diagnosed
    layers = runs[0].layers
    zero, no_gradient = [], []
    steps: set[int] = set()
    for layer in layers:
        norms = [r.layer_curve(layer, "weight_norm") for r in runs]
        grads = [r.layer_curve(layer, "grad_norm") for r in runs]
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
                f"{variant.label}: the weights of {layer_list(zero)} stayed exactly zero (‖W‖ = 0 {at}).",
                headline=True,
            )
        )
    if no_gradient:
        out.append(
            Finding(
                f"{variant.label}: {layer_list(no_gradient)} never received a weight gradient "
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
        f"{variant.label}: final training loss {number_text(ours.final_loss[0])} against "
        f"{number_text(theirs.final_loss[0])} for {reference.label}"
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
        if not any(map(is_zero_init_run, variant.diagnosed)):
            continue
        out += _symmetry_findings(variant)
        out += _frozen_findings(variant)
        reference = reference_variant(variant, variants)
        if reference is not None and reference.finished:
            classes = classes_of(variant.config)
            out += _loss_findings(variant, reference, math.log(classes) if classes else None)
    return out


def zero_init_table(variants: Sequence[Variant]) -> str:
    """report.md's zero-init table: per zero-init variant and layer, its width, distinct units and ‖W‖
    at step 0 and at the end (of the first seed that started with identical units)."""
    rows: list[list[str]] = []
    norms: list[tuple[float, float]] = []
    for variant in variants:
        runs = [r for r in variant.diagnosed if is_zero_init_run(r)]
        if not runs:
            continue
        run = runs[0]
        layers = run.layers
        widths = layer_widths(run.config, len(layers))
        for layer in layers:
            _, distinct = run.layer_curve(layer, "distinct_units")
            _, norm = run.layer_curve(layer, "weight_norm")
            if not distinct.size or not norm.size:
                continue
            rows.append(
                [
                    variant.label,
                    f"{layer}" + (" (output)" if layer == layers[-1] else ""),
                    str(widths.get(layer, "")),
                    f"{distinct[0]:g}",
                    f"{distinct[-1]:g}",
                ]
            )
            norms.append((float(norm[0]), float(norm[-1])))
    first, last = number_cells([n[0] for n in norms]), number_cells([n[1] for n in norms])
    header = [
        "variant",
        "layer",
        "units",
        "distinct at step 0",
        "distinct at the end",
        "‖W‖ at step 0",
        "‖W‖ at the end",
    ]
    rows = [[*row, a, b] for row, a, b in zip(rows, first, last)]
    return md_table(header, rows, [False, True, True, True, True, True, True])
