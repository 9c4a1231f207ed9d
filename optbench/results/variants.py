"""Variants: runs that differ only in their seeds, grouped, with readable labels (`adam lr=0.001`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optbench.functions import Objective
from optbench.plain import comparison_key, value_at
from optbench.results.runs import SEED_KEYS, RunResult
from optbench.text import format_value

WHOLE_SECTIONS = ("model.init", "model.output_init", "optimizer.schedule")
"""Config sections written as {name: ..., hyperparameters...}: labels and tables show each whole, as
name(k=v, ...), whichever of its keys vary."""


SWITCH_SECTIONS = ("model.batch_norm",)
"""Config sections that are false (off) or a mapping of settings (on): a label says `on` or `off`
when the section itself is varied, and shows the settings only when they are what varies."""


def shown_key(dotted: str) -> str:
    """The key a label or a table column shows for a dotted key: the whole section of WHOLE_SECTIONS
    it lies in (`model.init.std` -> `model.init`), else the key itself."""
    return next((s for s in WHOLE_SECTIONS if dotted == s or dotted.startswith(s + ".")), dotted)


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
    def objective(self) -> Objective | None:
        return self.runs[0].objective

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
        section = shown_key(key)
        if section in shown:
            continue
        shown.add(section)
        value = value_at(config, section)
        if section in SWITCH_SECTIONS and key == section:
            value = "off" if value is None or value is False else "on"
        if value is not None:
            parts.append(f"{section.rsplit('.', 1)[-1]}={format_value(value)}")
    return " ".join(parts)


def group_variants(
    runs: Sequence[RunResult], varied: Sequence[str], labels: Mapping[str, str] | None = None
) -> list[Variant]:
    """Group runs whose resolved configs are equal but for train.seed, in order of first appearance.

    Runs without a config.yaml (never started) belong to no variant. A variant is named by the
    `label:` its config gave one of its runs (`labels`, by run id), else by `variant_label`, which
    shows `lr=` whenever the runs do not all share one learning rate.
    """
    labels = labels or {}
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        if run.config:
            groups.setdefault(comparison_key(run.config, VARIANT_IGNORES), []).append(run)
    show_lr = len({r.lr for members in groups.values() for r in members}) > 1
    variants = []
    for members in groups.values():
        given = next((labels[r.run_id] for r in members if r.run_id in labels), None)
        label = given if given is not None else variant_label(members[0].config, varied, show_lr)
        variants.append(Variant(label, tuple(sorted(members, key=lambda r: r.seed))))
    return variants
