"""Merging raw config dicts (runs entries, grid values, overrides) and parsing KEY=VALUE overrides.

Raw dicts are merged before validation, so a run is checked as a whole: a `runs:` entry, a grid
point and the command line each patch the base config. `overridden_values` records what the command
line replaced, for the experiment's record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from optbench.config.schema import NAMED_SECTIONS
from optbench.config.yaml_text import join_key, parse_yaml
from optbench.errors import ConfigError
from optbench.hparams import hyperparameters
from optbench.plain import value_at


def normalise_named(raw: Any, path: str) -> Any:
    """`model.init: he` is shorthand for `model.init: {name: he}`; the same for the other named sections."""
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        sub = join_key(path, str(key))
        if sub in NAMED_SECTIONS and isinstance(value, str):
            value = {"name": value}
        out[key] = normalise_named(value, sub)
    return out


def _hyper_names(registry: Mapping[str, type], name: Any) -> set[str]:
    cls = registry.get(name) if isinstance(name, str) else None
    return {p.name for p in hyperparameters(cls)} if cls is not None else set()


def merge(base: Any, patch: Any, path: str = "") -> Any:
    """Deep-merge `patch` into `base` (neither is modified): mappings merge, everything else replaces."""
    if not (isinstance(base, dict) and isinstance(patch, dict)):
        return patch
    merged = dict(base)
    registry = NAMED_SECTIONS.get(path)
    if registry is not None and "name" in patch and patch["name"] != base.get("name"):
        stale = _hyper_names(registry, base.get("name"))
        merged = {k: v for k, v in merged.items() if k not in stale}
    for key, value in patch.items():
        sub = join_key(path, str(key))
        merged[key] = merge(merged[key], value, sub) if key in merged else value
    return merged


def nested_patch(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """One nested patch setting every dotted key of `pairs`, to be merged in a single step.

    Setting `optimizer.name` and `optimizer.lr` together must keep the new lr even though the name
    change drops the previous optimizer's hyperparameters, so the keys are combined first.
    """
    patch: dict[str, Any] = {}
    for dotted, value in pairs:
        nested: Any = value
        for key in reversed(dotted.split(".")):
            nested = {key: nested}
        merged = merge(patch, normalise_named(nested, ""))
        assert isinstance(merged, dict)
        patch = merged
    return patch


OVERRIDE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
COMMAND_LINE = "command line"
FREE_TEXT_KEYS = ("description", "data_dir")
"""Keys whose values may hold a comma; in any other, `a,b` is Hydra's sweep syntax."""


def _hydra_habit(key: str, text: str) -> str | None:
    """What to write instead of Hydra's syntax (`+key=v`, `~key`, `key=a,b`), or None."""
    if key.startswith(("+", "~")):
        plain = key.lstrip("+~")
        if key.startswith("~"):
            return f"a key cannot be deleted from the command line: remove {plain} from the config file"
        return f"no '+' is needed to add a key: {plain}={text}"
    plain_text = text.strip()
    if "," not in plain_text or plain_text[:1] in ("[", "{", "'", '"'):
        return None
    if key.rsplit(".", 1)[-1] in FREE_TEXT_KEYS:
        return None
    grid_key = key if key.startswith("grid.") else f"grid.{key}"
    return f"to sweep, use {grid_key}=[{plain_text}]"


def parse_overrides(items: Sequence[str]) -> tuple[list[tuple[str, Any]], list[str]]:
    """KEY=VALUE strings as (dotted key, YAML value) pairs, and a problem line for each malformed one."""
    problems = []
    parsed = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        habit = _hydra_habit(key, text)
        if habit is not None:
            problems.append(f"{COMMAND_LINE}: {item!r}: {habit}")
            continue
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


def overridden_values(
    raw: dict[str, Any], overrides: Sequence[tuple[str, Any]]
) -> tuple[tuple[str, Any, Any], ...]:
    """(dotted key, the file's value or None, the value used) for every KEY=VALUE of the command line."""
    out = []
    for key, value in overrides:
        if key.startswith("grid."):
            grid = raw.get("grid")
            in_file = grid.get(key.removeprefix("grid.")) if isinstance(grid, dict) else None
        else:
            in_file = value_at(raw, key)
        out.append((key, in_file, value))
    return tuple(out)
