"""The Settings section of report.md: what the runs share, the command that ran them, what its
overrides changed, and where the report's choices are made, so that the report stands alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optbench.plain import leaves
from optbench.report.tables import md_table
from optbench.results import PLUGINS_KEY, SEED_KEYS, ExperimentResult
from optbench.text import format_value


def _shared(configs: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The dotted keys every run has with one value, and the keys whose values differ; the plugins'
    code has a section of its own."""
    flat = [leaves(c) for c in configs]
    keys = dict.fromkeys(k for f in flat for k in f if k not in ("experiment", PLUGINS_KEY))
    fixed = {k: flat[0].get(k) for k in keys if all(k in f and f[k] == flat[0].get(k) for f in flat)}
    return fixed, [k for k in keys if k not in fixed]


def _overrides_text(exp: ExperimentResult) -> str:
    if not exp.overrides:
        return ""
    changes = []
    for o in exp.overrides:
        used, in_file = format_value(o.get("used")), o.get("file")
        was = "not set in the file" if in_file is None else f"the file has {format_value(in_file)}"
        changes.append(f"`{o.get('key')}` = {used} ({was})")
    return "The command line overrides " + "; ".join(changes) + ".\n"


def _split_text(fixed: Mapping[str, Any], kind: str) -> str:
    if kind != "dataset":
        return ""
    validation, seed = fixed.get("task.validation"), fixed.get("task.split_seed")
    if validation is None:
        return "The runs hold out validation splits of different sizes; see `task.validation` per run.\n"
    if validation == 0:
        return (
            "No validation split is held out (`task.validation: 0`): the choices this report makes "
            "(best learning rate, winners, time to target) are made on the test set.\n"
        )
    return (
        f"Every choice this report makes (best learning rate, winners, time to target) is made on the "
        f"{validation} validation images held out of the training set (split seed {seed}); test "
        "numbers are the held-out result of what was chosen.\n"
    )


def settings_section(exp: ExperimentResult) -> str:
    """`## Settings`: the command, its overrides, the split, the shared values, what differs."""
    configs = [r.config for r in exp.runs if r.config]
    if not configs:
        return ""
    fixed, differ = _shared(configs)
    parts = ["## Settings\n"]
    if exp.command:
        parts.append(f"Run with `{exp.command}`.\n")
    parts += [t for t in (_overrides_text(exp), _split_text(fixed, exp.kind)) if t]
    rows = [[f"`{k}`", format_value(v)] for k, v in fixed.items()]
    parts.append("Settings every run shares:\n\n" + md_table(["key", "value"], rows, [False, False]))
    seeds = [k for k in differ if k in SEED_KEYS]
    others = [k for k in differ if k not in SEED_KEYS and not k.startswith("optimizer.")]
    optimizer = [k for k in differ if k.startswith("optimizer.")]
    if others:
        parts.append("Settings that differ between runs: " + ", ".join(f"`{k}`" for k in others) + ".\n")
    if optimizer:
        lines = []
        for variant in exp.variants:
            section = {
                k: v
                for k, v in leaves(variant.config.get("optimizer", {}), "optimizer").items()
                if k not in fixed and k != "optimizer.name"
            }
            shown = ", ".join(f"{k.removeprefix('optimizer.')}={format_value(v)}" for k, v in section.items())
            lines.append(f"- {variant.label}: `{variant.optimizer}({shown})`\n")
        parts.append("The optimizer of each variant (hyperparameters not in the table):\n\n" + "".join(lines))
    if seeds:
        values = sorted({str(c.get("train", {}).get("seed")) for c in configs}, key=_number)
        parts.append(f"Seeds (`train.seed`): {', '.join(values)}.\n")
    return "\n".join(parts)


def _number(text: str) -> tuple[int, str]:
    return (int(text), text) if text.isdigit() else (1 << 62, text)
