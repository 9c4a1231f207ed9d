"""Writing results safely: atomic replacement, CSV rows that are never half-written, folder locks.

Every file optbench leaves behind is valid at every moment: small files (config.yaml, status.json,
summary.csv, report.md) are written to a temporary name and renamed over the old one, and metric
logs grow by whole rows, each written with one system call.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import math
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from optbench.errors import LockedError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""Names that become folder names: no separators, no leading dot, nothing a shell must quote."""


def is_safe_name(name: str) -> bool:
    """Whether `name` can be used as one path component inside the results folder."""
    return bool(SAFE_NAME.match(name)) and ".." not in name


def csv_cell(value: Any) -> str:
    """A CSV cell: floats as the shortest text that reads back to the same double, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


FILE_MODE = 0o644
"""Permissions of every file optbench writes: readable by all, like any download or result."""


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A new version of `path`, written through the yielded file and put in place in one step.

    The one policy of every writer (results, figures, data): the bytes go to a temporary file in the
    same folder, which on a clean exit is synced, renamed over `path`, and the folder synced, so
    readers see the old file or the new one, never a mix, and a crash cannot lose a rename that was
    reported done. On any exception (Ctrl-C included) the temporary file is removed and `path` is
    left as it was: raising inside the block is how a writer abandons a version it found wrong.
    """
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` by `data` in one step (see `atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by None: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """JSON that a strict parser reads: non-finite numbers are written as null (see `strict_json`)."""
    text = json.dumps(strict_json(data), indent=2, sort_keys=False, allow_nan=False, ensure_ascii=False)
    atomic_write_text(path, text + "\n")


def csv_line(values: Sequence[Any]) -> str:
    """One CSV row with its newline; cells holding commas or quotes are quoted (RFC 4180)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A whole CSV file as text (for files that are rewritten atomically, like summary.csv)."""
    return csv_line(columns) + "".join(csv_line(row) for row in rows)


class LineLog:
    """A text file that grows one or more whole lines at a time.

    Each append is a single os.write, so a process killed at any moment leaves only whole lines; a
    write that fails part-way (a full disk) is cut back to the last whole line before the error
    propagates.
    """

    def __init__(self, path: Path, append: bool = False) -> None:
        """A new file at `path`, or with `append` the end of the one there (a resumed run's log)."""
        self.path = path
        mode = os.O_APPEND if append else os.O_TRUNC
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, FILE_MODE)
        self._size = os.fstat(self._fd).st_size

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> LineLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FolderLock:
    """An exclusive lock on a results folder, held while a process writes into it.

    flock locks belong to the open file: the kernel drops them when the holder exits, killed or not,
    so a lock is never left stale. Whoever holds it knows that any run still marked `running` in that
    folder belongs to a process that is gone. `advice` ends the message of a process that finds the
    folder held.
    """

    FILENAME = ".lock"
    PATIENCE_S = 0.2
    """How long acquiring waits for a lock held only for a moment (by `holder`, say) before it gives up."""

    def __init__(self, folder: Path, advice: str = "wait for it to finish or choose another --out") -> None:
        self.path = folder / self.FILENAME
        self.advice = advice
        self._fd = -1

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.PATIENCE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                where = f"{self.path.parent}: another optbench process (pid {holder}) is writing here"
                raise LockedError(f"{where}; {self.advice}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd

    @classmethod
    def holder(cls, folder: Path) -> int | None:
        """The pid of the process holding the folder's lock (0 if it cannot be read), None if none does.

        It looks without taking the lock for longer than a moment, and without creating a lock file.
        """
        try:
            fd = os.open(folder / cls.FILENAME, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else 0
        finally:
            os.close(fd)
        return None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
