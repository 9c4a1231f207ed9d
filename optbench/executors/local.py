"""The local process pool: worker processes on this machine, each fed one run at a time over its pipe.

A run is sent only to an idle worker, so nothing waits in a pipe that no one reads: a stop signal
never leaves the command waiting on a full pipe, however large the sweep. Workers send their events
back as JSON (several rows per message, at least every `FLUSH_S` seconds while a run trains), so
the command's process unpickles nothing.

Workers are forked from the command's process where that is safe (Linux, and no other thread
running in it): they start with NumPy and optbench imported and the data already verified, and close
every file the command had open but their pipe, so that a folder lock or another process's pipe
stays the command's alone. Elsewhere they are spawned, and import what they need themselves.

Workers ignore SIGINT: a Ctrl-C reaches the whole process group, and the command's process alone
decides what it means. To stop, it terminates the workers with SIGTERM, whose default action ends
them at once; they write no files, so there is nothing for them to clean up. A worker that finds its
pipe closed (the command's process is gone) exits.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from optbench.executors import Handler
from optbench.executors.task import Event, perform
from optbench.signals import STOP_SIGNALS, stop_signals_blocked

FLUSH_S = 0.2
"""A worker sends the rows of a run in progress at least this often, so the files stay current."""

STOP_TIMEOUT_S = 5.0
"""How long a stopping worker may take before it is killed."""

WORKER_NAME = "optbench-worker"
"""The name a worker gives itself on Linux, where `ps` and `top` show it."""


def forks() -> bool:
    """Whether workers are forked: on Linux, from a process that runs no other thread (a fork copies
    only the calling thread, and with it any lock another thread held). Elsewhere they are spawned
    (macOS's system libraries are not safe to use in a forked child)."""
    return sys.platform == "linux" and threading.active_count() == 1


def _open_descriptors() -> list[int]:
    """The descriptors open in this process (Linux), the one that listed them aside."""
    listed = [int(name) for name in os.listdir("/proc/self/fd")]
    return [fd for fd in listed if _is_open(fd)]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _worker(conn: Connection, inherited: Sequence[int]) -> None:
    """A worker process: execute the runs its pipe sends until the pipe says stop or closes.

    A forked worker first closes what it `inherited` from the command (the files open as it was
    forked) but the standard streams and its pipe. Those multiprocessing opens to watch the worker's
    life, created after, stay open: closing them would make the worker look dead from the start.
    """
    for fd in inherited:
        if fd > 2 and fd != conn.fileno():
            with contextlib.suppress(OSError):
                os.close(fd)
    with contextlib.suppress(OSError):  # Linux only
        Path("/proc/self/comm").write_text(WORKER_NAME)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since start: see LocalPool._start
    with contextlib.suppress(EOFError, BrokenPipeError, ConnectionResetError):
        while (message := json.loads(conn.recv_bytes())) is not None:
            config_text, checkpoint = message
            _execute(conn, config_text, checkpoint)


def _execute(conn: Connection, config_text: str, checkpoint: str | None) -> None:
    batch: list[Event] = []
    last_sent = time.monotonic()

    def emit(event: Event) -> None:
        nonlocal last_sent
        batch.append(event)
        now = time.monotonic()
        if event[0] != "rows" or now - last_sent >= FLUSH_S:  # a checkpoint goes at once, as a done
            conn.send_bytes(json.dumps(batch).encode("utf-8"))
            batch.clear()
            last_sent = now

    perform(config_text, emit, checkpoint=checkpoint)


@dataclass
class _Slot:
    """One worker process, its end of the pipe, and the key of the run it executes (None: idle)."""

    process: Any
    conn: Connection
    key: str | None = field(default=None)


class LocalPool:
    """`workers` processes started at once; a worker that dies is replaced, its run failed."""

    def __init__(self, workers: int) -> None:
        self._slots = [self._start() for _ in range(workers)]

    @property
    def capacity(self) -> int:
        return len(self._slots)

    def _start(self) -> _Slot:
        """A new worker, started with SIGINT and SIGTERM blocked until `_worker` has set them up.

        The child inherits the blocked mask, so a Ctrl-C while it still imports waits for it instead of
        printing a traceback from the middle of an import (and is then ignored, as in every worker).
        """
        forked = forks()
        context = mp.get_context("fork") if forked else mp.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        inherited = _open_descriptors() if forked else []
        process = context.Process(target=_worker, args=(theirs, inherited), daemon=True)
        with stop_signals_blocked():
            process.start()
        theirs.close()
        return _Slot(process, ours)

    def submit(self, key: str, config_text: str, checkpoint: str | None = None) -> None:
        index = next(i for i, s in enumerate(self._slots) if s.key is None)
        message = json.dumps([config_text, checkpoint]).encode("utf-8")
        try:
            self._slots[index].conn.send_bytes(message)
        except OSError:  # the idle worker was killed from outside: a fresh one takes the run
            self._replace(index)
            self._slots[index].conn.send_bytes(message)
        self._slots[index].key = key

    def wait(self, handle: Handler, timeout: float) -> None:
        busy = [s for s in self._slots if s.key is not None]
        if not busy:
            return
        ready = set(wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout))
        for slot in busy:
            if slot.conn in ready or slot.process.sentinel in ready:
                self._receive(slot, handle)

    def _receive(self, slot: _Slot, handle: Handler) -> None:
        """Deliver what the worker sent; if it died, fail its run and start a replacement."""
        broken = False
        try:
            while slot.key is not None and slot.conn.poll():
                for event in json.loads(slot.conn.recv_bytes()):
                    assert slot.key is not None
                    handle(slot.key, tuple(event))
                    if event[0] == "done":
                        slot.key = None
        except (EOFError, OSError):
            broken = True
        if not broken and slot.process.is_alive():
            return
        key = slot.key
        self._replace(self._slots.index(slot))
        if key is not None:
            reason = f"worker process died (exit code {slot.process.exitcode})"
            handle(key, ("done", {"status": "failed", "error": reason}))

    def _replace(self, index: int) -> None:
        old = self._slots[index]
        old.process.join(STOP_TIMEOUT_S)
        if old.process.is_alive():
            old.process.kill()
            old.process.join()
        old.conn.close()
        self._slots[index] = self._start()

    def shutdown(self, cancel: bool) -> None:
        for slot in self._slots:
            if cancel:
                slot.process.terminate()
            else:
                with contextlib.suppress(OSError):
                    slot.conn.send_bytes(b"null")
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
            slot.conn.close()
