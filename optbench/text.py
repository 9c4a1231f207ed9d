"""Plain-text tables for the terminal: what `compare`, `report`, `--dry-run` and `make bench` print."""

from __future__ import annotations

from collections.abc import Sequence


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
