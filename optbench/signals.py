"""The stop signals, and holding them off: around a write that must not be left half-done, and in
the helper threads and processes a run starts; and `Helper`, a thread that runs jobs beside the
training thread of a run with a spare core.

A stop signal (SIGINT, SIGTERM) must raise in the main thread, at a point of its Python code, so that
no lock a helper shares with it is held when it does. A helper thread therefore starts with those
signals blocked, talks to the main thread only through `queue.SimpleQueue`s (whose put never waits
and whose get raises a KeyboardInterrupt cleanly), and is a daemon, so that nothing at the
interpreter's exit waits for it.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done; a thread or process started inside keeps
    them blocked."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def start_helper(target: Callable[[], None], name: str) -> threading.Thread:
    """Start `target` in a daemon thread called `name` that never receives the stop signals."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    with stop_signals_blocked():
        thread.start()
    return thread


class Helper:
    """A helper thread that runs the jobs it is given, in order, until it is closed.

    `wait()` returns once every job given so far has run, with the first error any of them raised
    (returned, for the caller to raise). A stop signal raises in the waiting thread and leaves the
    jobs counted: the next `wait()` waits for them again.

    While `active` is false, code that would give it a job does the job itself: a run turns its
    helper off while an evaluation has the spare core, where two threads would take turns on it.
    """

    def __init__(self, name: str) -> None:
        self.active = True
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Exception | None] = queue.SimpleQueue()
        self._pending = 0
        self._thread = start_helper(self._serve, name)

    def submit(self, job: Callable[[], None]) -> None:
        self._pending += 1
        self._jobs.put(job)

    @property
    def idle(self) -> bool:
        """Whether every job given so far has run (`wait()` would not wait)."""
        return self._done.qsize() >= self._pending

    def wait(self) -> Exception | None:
        error = None
        while self._pending:
            outcome = self._done.get()
            self._pending -= 1
            error = error or outcome
        return error

    def close(self) -> None:
        """End the thread once the jobs given so far have run; it is inactive from then on."""
        self.active = False
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
                self._done.put(None)
            except Exception as exc:  # returned to the caller by wait()
                self._done.put(exc)
