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


def status_line(run_id: str, status: Mapping[str, Any], test: bool = True) -> str:
    """A finished run as one line: `id: completed, final_loss 0.0213, val_acc 0.9712, 12.3 s`;
    without its test accuracy when not `test` (a tuning trial: chosen on validation alone)."""
    state = str(status.get("status"))
    if state == "diverged" and status.get("diverged_step") is not None:
        state = f"diverged at step {status['diverged_step']}"
    parts = [f"{run_id}: {state}"]
    if isinstance(status.get("final_loss"), (int, float)):
        parts.append(f"final_loss {status['final_loss']:.6g}")
    for key in ("val_acc", "test_acc") if test else ("val_acc",):
        if isinstance(status.get(f"final_{key}"), (int, float)):
            parts.append(f"{key} {status[f'final_{key}']:.4f}")
    if isinstance(status.get("wall_s"), (int, float)):
        parts.append(f"{status['wall_s']:.1f} s")
    return ", ".join(parts)


def summary_sentence(text: str) -> str:
    """The first sentence of a description, up to its first colon: what a one-line listing shows.

    Only breaks outside parentheses count, so "(trial 0: its defaults)" stays whole, and a full stop
    followed by a lower-case word ("e.g. this") is no sentence end.
    """
    text = " ".join(text.split())
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        following = text[i + 1 : i + 3]
        if depth or following[:1] not in ("", " "):
            continue
        if char == ":" or (char == "." and not following[1:2].islower()):
            return text[:i]
    return text


def shorten(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut; empty when even that does not fit."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width >= 4 else ""


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with the digits a small one needs: 64%, 0.9%, 0.001%, 0%."""
    if fraction == 0 or abs(fraction) >= 0.1:
        return f"{fraction:.0%}"
    return f"{fraction * 100:.1g}%"
