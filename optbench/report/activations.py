"""The activation-distribution experiment (an `optbench activations` folder): its sentences, by rules
with named thresholds (saturation, collapse, spread across layers, where the gradient vanishes), the
line saying what was run, and the per-case tables.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from optbench.data import DATASETS
from optbench.measures import SATURATION_MARGIN
from optbench.nn import ACTIVATIONS
from optbench.report.sentences import Finding, layer_list
from optbench.report.tables import md_table, number_cells, percent_cells
from optbench.results import ActivationCaseResult, ActivationsResult
from optbench.stats import FloatArray
from optbench.text import format_percent

SATURATED_SHARE = 0.25
"""A layer of a sigmoid or tanh case saturates when more than this share of its outputs lies within
measures.SATURATION_MARGIN of a bound."""

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
    return "in " + layer_list([int(v) for v in case.layers[picked]])


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


def input_line(result: ActivationsResult) -> str:
    """What was run, in one line under the report's title: the input, the layers, the gradients."""
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


def case_table(case: ActivationCaseResult) -> str:
    """report.md's table of one case: per layer, its outputs' mean, std, saturated and zero shares,
    and its gradients."""
    header = ["layer", "mean", "std", "saturated", "zero", "‖∂L/∂W‖", "std of ∂L/∂a"]
    columns = [
        [str(layer) for layer in case.layers],
        number_cells([float(v) for v in case["mean"]]),
        number_cells([float(v) for v in case["std"]]),
        percent_cells([float(v) for v in case["saturated_frac"]]),
        percent_cells([float(v) for v in case["zero_frac"]]),
        number_cells([float(v) for v in case["grad_norm"]]),
        number_cells([float(v) for v in case["delta_std"]]),
    ]
    return md_table(header, [list(row) for row in zip(*columns)], [True] * len(header))
