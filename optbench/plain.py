"""Plain data (what YAML, JSON and CSV hold): dotted keys, leaves, and comparison keys.

Configs are nested mappings whose values a user names by dotted key (`optimizer.lr`). The config
loader, the runner's summary and the results reader all look values up, list leaves and compare
configs this way, with these three functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def value_at(data: Mapping[str, Any], dotted: str) -> Any:
    """The value of a dotted key in nested plain data, or None where the key is absent."""
    node: Any = data
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def leaves(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of nested mappings by its dotted key, in the order written."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(leaves(value, dotted))
        else:
            out[dotted] = value
    return out


def comparison_key(data: Mapping[str, Any], without: Sequence[str] = ()) -> str:
    """Canonical JSON of `data` with the dotted keys `without` removed: equal keys, equal data."""
    copy = json.loads(json.dumps(data))
    for dotted in without:
        *parents, last = dotted.split(".")
        node = copy
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return json.dumps(copy, sort_keys=True)
