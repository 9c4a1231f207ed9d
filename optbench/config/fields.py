"""Checking raw values against declared fields: one converter for every declared field.

Problems are collected, not raised, as (`key.path`, message) pairs, so that a config reports every
problem at once; unknown names get a "did you mean" hint. Runs, activations configs, tuning studies
and suites are all checked with these helpers.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from optbench.config.yaml_text import join_key
from optbench.hparams import Bounds, HyperParam, hyperparameters


class Problems:
    """Collects (`key.path`, message) problems while a raw dict is checked, in the order found."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours turning a into b (optimal alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """ "; did you mean 'x'?" for the closest choice: by typing mistakes first, then by similarity."""
    if not choices:
        return ""
    lowered = word.lower()
    distance, best = min((edit_distance(lowered, c.lower()), c) for c in choices)
    if distance <= max(1, len(word) // 3):
        return f"; did you mean {best!r}?"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown_name(word: str, choices: Sequence[str], what: str) -> str:
    """ "unknown {what} 'word'" with a did-you-mean, or else the sorted choices."""
    if word.endswith(".py"):  # a plugin file named without the class in it
        return f"unknown {what} {word!r}: name the class or object in the file, as {word}:Name"
    hint = did_you_mean(word, choices)
    return f"unknown {what} {word!r}{hint or '; choose from ' + ', '.join(sorted(choices))}"


def describe_value(value: Any) -> str:
    """A raw value as a problem message quotes it: YAML's spelling of scalars, the kind of the rest."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def convert_value(value: Any, hint: Any, path: str, bounds: Bounds | None, problems: Problems) -> Any:
    """`value` checked against a type hint and bounds; returns the converted value or None on a problem."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return convert_value(value, inner, path, bounds, problems)
    if hint is bool:
        if not isinstance(value, bool):
            problems.add(path, f"must be true or false, got {describe_value(value)}")
            return None
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.add(path, f"must be a number, got {describe_value(value)}")
            return None
        if hint is int:
            if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
                problems.add(path, f"must be a whole number, got {describe_value(value)}")
                return None
            value = int(value)
        else:
            value = float(value)
        problem = bounds.problem(value) if bounds is not None else None
        if problem is None and not math.isfinite(value):
            problem = f"must be a finite number, got {value}"
        if problem:
            problems.add(path, problem)
            return None
        return value
    if hint is str:
        if not isinstance(value, str):
            problems.add(path, f"must be a string, got {describe_value(value)}")
            return None
        return value
    if origin is tuple:
        if not isinstance(value, list):
            problems.add(path, f"must be a list, got {describe_value(value)}")
            return None
        variadic = len(args) == 2 and args[1] is Ellipsis
        if variadic and not value:
            problems.add(path, "must not be empty")
            return None
        if not variadic and len(value) != len(args):
            problems.add(path, f"must be a list of {len(args)} numbers, got {len(value)} values")
            return None
        hints = [args[0]] * len(value) if variadic else list(args)
        before = len(problems.items)
        items = [
            convert_value(v, h, f"{path}[{i}]", bounds, problems)
            for i, (v, h) in enumerate(zip(value, hints))
        ]
        return tuple(items) if len(problems.items) == before else None
    raise TypeError(f"no converter for {hint!r} at {path}")


def check_keys(raw: dict[str, Any], allowed: Sequence[str], path: str, problems: Problems) -> None:
    """A problem, with a did-you-mean, for each key of `raw` (the mapping at `path`) not in `allowed`."""
    for key in raw:
        if key not in allowed:
            problems.add(join_key(path, str(key)), unknown_name(str(key), allowed, "key"))


def convert_fields(
    raw: dict[str, Any], path: str, problems: Problems, params: Sequence[HyperParam]
) -> dict[str, Any]:
    """Converted values for the declared `params` present in raw (the caller handles the rest)."""
    values = {}
    for p in params:
        if p.name in raw:
            values[p.name] = convert_value(raw[p.name], p.type, join_key(path, p.name), p.bounds, problems)
    return values


def build_named(
    raw: Any,
    path: str,
    registry: Mapping[str, type],
    what: str,
    problems: Problems,
    extra: Sequence[str] = (),
) -> tuple[Any, dict[str, Any]]:
    """Build a registry entry from {name: ..., <hyperparameters>}; `extra` keys are returned unbuilt."""
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, dict):
        problems.add(path, f"must be a name or a mapping with 'name', got {describe_value(raw)}")
        return None, {}
    name = raw.get("name")
    if not isinstance(name, str):
        problems.add(
            join_key(path, "name"),
            f"must name a {what}" + ("" if name is None else f", got {describe_value(name)}"),
        )
        return None, {}
    cls = registry.get(name)
    if cls is None:
        problems.add(join_key(path, "name"), unknown_name(name, list(registry), what))
        return None, {}
    params = hyperparameters(cls)
    names = [p.name for p in params]
    for key in raw:
        if key != "name" and key not in names and key not in extra:
            hint = did_you_mean(str(key), [*names, *extra])
            has = ", ".join(names) if names else "none"
            problems.add(
                join_key(path, str(key)),
                f"{what} {name!r} has no hyperparameter {key!r}{hint or f' (it has: {has})'}",
            )
    before = len(problems.items)
    values = convert_fields(raw, path, problems, params)
    if len(problems.items) != before:
        return None, {}
    try:
        built = cls(**values)
    except (ValueError, TypeError) as exc:
        problems.add(path, str(exc))
        return None, {}
    return built, {k: raw[k] for k in extra if k in raw}


def section_values(
    cls: type, raw: dict[str, Any], path: str, problems: Problems, skip: Sequence[str] = ()
) -> dict[str, Any]:
    """The converted values of the section at `path`, whose keys are the fields `cls` declares.

    Unknown keys are problems; the fields named in `skip` are left to the caller, unconverted.
    """
    params = [p for p in hyperparameters(cls) if p.name not in skip]
    check_keys(raw, [p.name for p in hyperparameters(cls)], path, problems)
    return convert_fields(raw, path, problems, params)
