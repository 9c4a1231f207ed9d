"""Variants: runs that differ only in their seeds, grouped, with readable labels (`adam lr=0.001`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optbench.plain import comparison_key, value_at
from optbench.results.runs import SEED_KEYS, RunResult
from optbench.text import format_value

NAMED_SECTIONS = ("model.init", "model.output_init", "optimizer.schedule")
"""Config sections written as {name: ..., hyperparameters...}; labels show them as name(k=v, ...)."""


@dataclass(frozen=True)
class Variant:
    """Runs that differ only in their seed, with a readable label (`adam lr=0.001`)."""

    label: str
    runs: tuple[RunResult, ...]

    def __repr__(self) -> str:
        return f"Variant({self.label!r}, {len(self.runs)} runs)"

    @property
    def config(self) -> Mapping[str, Any]:
        return self.runs[0].config

    @property
    def optimizer(self) -> str:
        return self.runs[0].optimizer

    @property
    def lr(self) -> float:
        return self.runs[0].lr

    @property
    def init(self) -> Mapping[str, Any] | None:
        init = value_at(self.config, "model.init")
        return init if isinstance(init, Mapping) else None

    @property
    def finished(self) -> tuple[RunResult, ...]:
        """The runs whose numbers count: completed or diverged, with metrics on disk."""
        return tuple(r for r in self.runs if r.finished and r.has_metrics)

    @property
    def diagnosed(self) -> tuple[RunResult, ...]:
        """The finished runs that have per-layer diagnostics."""
        return tuple(r for r in self.finished if r.layers)

    @property
    def diverged(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.finished if r.state == "diverged")


VARIANT_IGNORES = ("experiment", *SEED_KEYS)
"""What runs of one variant may differ in."""


def _short_key(dotted: str) -> str:
    section = next((s for s in NAMED_SECTIONS if dotted == s or dotted.startswith(s + ".")), None)
    return (section or dotted).rsplit(".", 1)[-1]


def variant_label(
    config: Mapping[str, Any], varied: Sequence[str], show_lr: bool = False, exclude: Sequence[str] = ()
) -> str:
    """The optimizer name, then `key=value` for each varied key but the optimizer name and the seed.

    A named section (model.init, ...) is shown whole, `init=normal(std=0.01)`, whichever of its keys
    vary. `show_lr` adds `lr=` even when lr is not a varied key: an experiment comparing optimizers at
    their own default learning rates shows them. Keys in `exclude` are left out.
    """
    keys = [k for k in varied if k not in ("optimizer.name", *SEED_KEYS, *exclude)]
    if show_lr and "optimizer.lr" not in keys and "optimizer.lr" not in exclude:
        keys.insert(0, "optimizer.lr")
    parts = [str(value_at(config, "optimizer.name"))]
    shown: set[str] = set()
    for key in keys:
        section = next((s for s in NAMED_SECTIONS if key == s or key.startswith(s + ".")), key)
        if section in shown:
            continue
        shown.add(section)
        value = value_at(config, section)
        if value is not None:
            parts.append(f"{_short_key(section)}={format_value(value)}")
    return " ".join(parts)


def group_variants(runs: Sequence[RunResult], varied: Sequence[str]) -> list[Variant]:
    """Group runs whose resolved configs are equal but for train.seed, in order of first appearance.

    Runs without a config.yaml (never started) belong to no variant. Labels show `lr=` whenever the
    runs do not all share one learning rate.
    """
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        if run.config:
            groups.setdefault(comparison_key(run.config, VARIANT_IGNORES), []).append(run)
    show_lr = len({r.lr for members in groups.values() for r in members}) > 1
    return [
        Variant(
            variant_label(members[0].config, varied, show_lr), tuple(sorted(members, key=lambda r: r.seed))
        )
        for members in groups.values()
    ]
