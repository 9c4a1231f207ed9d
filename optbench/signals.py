"""The stop signals, and holding them off: around a write that must not be left half-done, and in
the helper threads and processes a run starts (the engine's threads, `optbench.engine`).

A stop signal (SIGINT, SIGTERM) must raise in the main thread, at a point of its Python code, so that
no lock a helper shares with it is held when it does. A helper thread therefore starts with those
signals blocked, talks to the main thread only through `queue.SimpleQueue`s (whose put never waits
and whose get raises a KeyboardInterrupt cleanly), and is a daemon, so that nothing at the
interpreter's exit waits for it.
"""

from __future__ import annotations

import contextlib
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
