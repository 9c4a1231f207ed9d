"""Declared hyperparameters: dataclass fields that carry their meaning and their valid range.

Optimizers, schedules and initialisers declare each hyperparameter with `hyper(...)`. Config
validation, `optbench list` and the docs all read these declarations, so a new optimizer is one
class: its fields are its hyperparameters, with their defaults, ranges and one-line meanings.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bounds:
    """An interval of allowed values; applied to each element of a tuple-valued hyperparameter."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def problem(self, value: float) -> str | None:
        """Why `value` lies outside the interval, or None when it lies inside."""
        if not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return f"must be {self._describe()}, got {value}"
        if self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)):
            return f"must be {self._describe()}, got {value}"
        return None

    def _describe(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high:g}")
        return " and ".join(parts)


POSITIVE = Bounds(low=0.0, low_inclusive=False)
NON_NEGATIVE = Bounds(low=0.0)
UNIT_INTERVAL_OPEN_TOP = Bounds(low=0.0, high=1.0, high_inclusive=False)
UNIT_INTERVAL = Bounds(low=0.0, high=1.0)
AT_LEAST_ONE = Bounds(low=1.0)


def hyper(default: Any, doc: str, bounds: Bounds | None = None) -> Any:
    """A dataclass field for a hyperparameter: its default, a one-line meaning and its range."""
    return dataclasses.field(default=default, metadata={"doc": doc, "bounds": bounds})


@dataclass(frozen=True)
class HyperParam:
    """What one declared hyperparameter is: read by config validation and `optbench list`."""

    name: str
    type: Any
    default: Any
    doc: str
    bounds: Bounds | None


_DECLARED: dict[type, tuple[HyperParam, ...]] = {}


def hyperparameters(cls: type) -> tuple[HyperParam, ...]:
    """The hyperparameters a dataclass declares with `hyper`, in declaration order.

    Read once per class: resolving type hints is slow, and a sweep asks for those of every run.
    """
    known = _DECLARED.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls)
        known = _DECLARED[cls] = tuple(
            HyperParam(f.name, hints[f.name], f.default, f.metadata["doc"], f.metadata["bounds"])
            for f in dataclasses.fields(cls)
            if "doc" in f.metadata
        )
    return known


def describe_default(value: Any) -> str:
    """A default as a config file would spell it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, tuple):
        return "[" + ", ".join(describe_default(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)
