"""Merging raw config dicts (runs entries, grid values, overrides) and parsing KEY=VALUE overrides.

Raw dicts are merged before validation, so a run is checked as a whole: a `runs:` entry, a grid
point and the command line each patch the base config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from optbench.config.schema import NAMED_SECTIONS
from optbench.config.yaml_text import _join, parse_yaml
from optbench.errors import ConfigError
from optbench.hparams import hyperparameters


def _normalise_named(raw: Any, path: str) -> Any:
    """`model.init: he` is shorthand for `model.init: {name: he}`; the same for the other named sections."""
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        sub = _join(path, str(key))
        if sub in NAMED_SECTIONS and isinstance(value, str):
            value = {"name": value}
        out[key] = _normalise_named(value, sub)
    return out


def _hyper_names(registry: Mapping[str, type], name: Any) -> set[str]:
    cls = registry.get(name) if isinstance(name, str) else None
    return {p.name for p in hyperparameters(cls)} if cls is not None else set()


def _merge(base: Any, patch: Any, path: str = "") -> Any:
    """Deep-merge `patch` into `base` (neither is modified): mappings merge, everything else replaces."""
    if not (isinstance(base, dict) and isinstance(patch, dict)):
        return patch
    merged = dict(base)
    registry = NAMED_SECTIONS.get(path)
    if registry is not None and "name" in patch and patch["name"] != base.get("name"):
        stale = _hyper_names(registry, base.get("name"))
        merged = {k: v for k, v in merged.items() if k not in stale}
    for key, value in patch.items():
        sub = _join(path, str(key))
        merged[key] = _merge(merged[key], value, sub) if key in merged else value
    return merged


def _patch(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """One nested patch setting every dotted key of `pairs`, to be merged in a single step.

    Setting `optimizer.name` and `optimizer.lr` together must keep the new lr even though the name
    change drops the previous optimizer's hyperparameters, so the keys are combined first.
    """
    patch: dict[str, Any] = {}
    for dotted, value in pairs:
        nested: Any = value
        for key in reversed(dotted.split(".")):
            nested = {key: nested}
        merged = _merge(patch, _normalise_named(nested, ""))
        assert isinstance(merged, dict)
        patch = merged
    return patch


OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
COMMAND_LINE = "command line"


def parse_overrides(items: Sequence[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """KEY=VALUE strings as (dotted key, YAML value) pairs, and a problem line for each malformed one."""
    problems = []
    parsed = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep:
            problems.append(f"{COMMAND_LINE}: {item!r}: expected KEY=VALUE, e.g. optimizer.lr=0.1")
            continue
        grid_key = key.removeprefix("grid.") if key.startswith("grid.") else None
        if not OVERRIDE_KEY.match(grid_key if grid_key is not None else key):
            what = "missing key before '='" if not key else f"{key!r} is not a dotted key"
            problems.append(f"{COMMAND_LINE}: {item!r}: {what}, e.g. optimizer.lr=0.1")
            continue
        try:
            value = parse_yaml(text, f"{COMMAND_LINE}: {key}") if text.strip() else None
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        parsed.append((key, value))
    return parsed, problems
