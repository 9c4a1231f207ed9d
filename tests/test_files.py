"""Safe writing: atomic replacement, whole-row CSV logs, folder locks, safe names."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pytest

from optbench.errors import LockedError
from optbench.files import (
    FolderLock,
    LineLog,
    atomic_write_json,
    atomic_write_text,
    csv_cell,
    csv_line,
    csv_text,
    is_safe_name,
)


def test_floats_are_written_to_read_back_exactly() -> None:
    for value in (0.1, 1 / 3, -2.5e-308, 1e300, 6.45, 5e-324):
        assert float(csv_cell(value)) == value
    assert csv_cell(math.nan) == "nan" and csv_cell(math.inf) == "inf"
    assert csv_cell(None) == "" and csv_cell(True) == "true" and csv_cell(3) == "3"


def test_csv_cells_with_commas_and_quotes_are_quoted() -> None:
    text = csv_text(["a", "b"], [["x, y", 'say "hi"'], [1.5, None]])
    assert list(csv.reader(text.splitlines())) == [["a", "b"], ["x, y", 'say "hi"'], ["1.5", ""]]


def test_a_line_log_writes_whole_rows_that_read_back(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    with LineLog(path) as log:
        log.append(csv_line(["step", "loss"]))
        log.append(csv_line([0, 0.5]))
        assert path.read_text() == "step,loss\n0,0.5\n"  # on disk before the log is closed
        log.append(csv_line([1, None]))
    assert path.read_text() == "step,loss\n0,0.5\n1,\n"


def test_a_failed_write_is_cut_back_to_the_last_whole_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.csv"
    log = LineLog(path)
    log.append(csv_line(["a", "b"]))
    log.append(csv_line([1, 2]))
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        real_write(fd, data[:2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(OSError, match="No space"):
        log.append(csv_line([3, 4]))
    monkeypatch.undo()
    log.close()
    assert path.read_text() == "a,b\n1,2\n"


def test_atomic_write_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    atomic_write_json(path, {"status": "running"})
    atomic_write_json(path, {"status": "completed"})
    assert '"completed"' in path.read_text() and '"running"' not in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.md"
    atomic_write_text(path, "old")

    def fail(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_a_folder_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    with FolderLock(tmp_path), pytest.raises(LockedError, match=f"pid {os.getpid()}"):
        FolderLock(tmp_path).acquire()
    with FolderLock(tmp_path):  # free again
        pass


@pytest.mark.parametrize("name", ["paths-book", "mnist_optimizers", "a.b", "x1"])
def test_simple_names_are_safe(name: str) -> None:
    assert is_safe_name(name)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "a\x00b", "a..b", "a b", "x" * 200]
)
def test_names_that_could_leave_the_folder_or_need_quoting_are_not_safe(name: str) -> None:
    assert not is_safe_name(name)


def test_the_holder_of_a_folder_lock_is_seen_without_taking_it(tmp_path: Path) -> None:
    assert FolderLock.holder(tmp_path) is None and not (tmp_path / FolderLock.FILENAME).exists()
    with FolderLock(tmp_path):
        assert FolderLock.holder(tmp_path) == os.getpid()
    assert FolderLock.holder(tmp_path) is None
    with FolderLock(tmp_path):  # looking did not keep it
        pass


def test_a_lock_held_for_a_moment_is_waited_for(tmp_path: Path) -> None:
    import threading

    other = FolderLock(tmp_path)
    other.acquire()
    threading.Timer(FolderLock.PATIENCE_S / 4, other.release).start()
    with FolderLock(tmp_path):
        pass


def test_a_lock_refusal_ends_with_the_advice_given(tmp_path: Path) -> None:
    with FolderLock(tmp_path), pytest.raises(LockedError, match=r"is writing here; come back later$"):
        FolderLock(tmp_path, advice="come back later").acquire()
