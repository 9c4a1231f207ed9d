"""Progress on stderr: the sweep's bar keeps its room on a narrow terminal."""

from __future__ import annotations

import io
import os
import re

import pytest

from optbench.progress import progress_bar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 2


@pytest.mark.parametrize("columns", [60, 100])
def test_the_progress_bar_keeps_its_width_on_a_narrow_terminal(
    monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(os, "get_terminal_size", lambda fd=None: os.terminal_size((columns, 24)))
    stream = Terminal()
    bar = progress_bar(10, 0, "a-long-experiment-name-of-a-sweep", True, stream)
    bar.update(1)
    bar.finished("adam-lr0.001-he-relu-s0-i1d2-1f3a9c0d" * 2, {"status": "completed"})
    bar.close()
    last = stream.getvalue().split("\r")[-1].strip()
    assert len(last) < columns and re.search(r"\|.{10,}\|", last), last
    assert "adam-lr0.001-he" in last if columns >= 100 else True
