"""Text for people: terminal tables (what `compare`, `report`, `--dry-run`, `make bench` print) and values
as labels (figure legends, report cells)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, numbers right-aligned; every line ends with a newline."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] == "" for r in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(padded).rstrip() + "\n"

    return line(header) + "".join(line(r) for r in rows)


def plural(n: int, word: str) -> str:
    """`1 run`, `2 runs`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_value(value: Any) -> str:
    """A config value as label text: numbers in %g, lists in brackets, named sections as name(k=v)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if "name" in value:
            args = [f"{k}={format_value(v)}" for k, v in value.items() if k != "name" and v is not None]
            return f"{value['name']}({', '.join(args)})" if args else str(value["name"])
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with the digits a small one needs: 64%, 0.9%, 0.001%, 0%."""
    if fraction == 0 or abs(fraction) >= 0.1:
        return f"{fraction:.0%}"
    return f"{fraction * 100:.1g}%"
