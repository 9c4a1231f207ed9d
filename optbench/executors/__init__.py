"""Where runs execute: here, in a pool of local worker processes, or on a Dask cluster.

An executor receives runs as (key, resolved YAML text) and hands back the plain events of
`executors.task` as they arrive. It never writes into the results folder: the runner does, from the
events, so every executor gives the same files with the same guarantees.

Modules: `task` (one run, wherever it executes), `local` (the local process pool), `dask` (a Dask
cluster; needs the optional `distributed` package, imported only when a scheduler is given).

Public face: `Executor` (the protocol), `Handler`, `Event`, `InlineExecutor`, `make_executor`,
`Scheduler`, `connect`; and what the runner records of a run: `versions`, `describe_error`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from optbench.engine import Engine
from optbench.errors import UsageError
from optbench.executors.task import Event, describe_error, perform, versions

if TYPE_CHECKING:
    from optbench.executors.dask import DaskExecutor

Handler = Callable[[str, Event], None]
"""Called with a run's key and each of its events, in the order the run emitted them."""


class Executor(Protocol):
    """Runs submitted by key; their events delivered to a handler by `wait`."""

    @property
    def capacity(self) -> int:
        """How many runs it executes at once: the runner keeps that many submitted."""
        ...

    def submit(self, key: str, config_text: str, checkpoint: str | None = None) -> None:
        """Start executing a run (at once, or when a slot frees), from `checkpoint` if given."""
        ...

    def wait(self, handle: Handler, timeout: float) -> None:
        """Deliver the events that arrive within `timeout` seconds to `handle`."""
        ...

    def shutdown(self, cancel: bool) -> None:
        """Stop every worker; with `cancel`, abandon the runs in flight at once."""
        ...


class InlineExecutor:
    """Executes runs one after another in this process (`--jobs 1`): no worker to start or stop.

    `wait` executes the oldest submitted run to its end, delivering its events as they happen, so its
    rows reach the disk while it trains and Ctrl-C interrupts it where it is. With a second core, the
    run overlaps its work on it (`Engine.OVERLAPPED`: the same numbers, sooner).
    """

    capacity = 1

    def __init__(self) -> None:
        self._queue: deque[tuple[str, str, str | None]] = deque()
        self._engine = Engine.OVERLAPPED if _cores() > 1 else Engine.INLINE

    def submit(self, key: str, config_text: str, checkpoint: str | None = None) -> None:
        self._queue.append((key, config_text, checkpoint))

    def wait(self, handle: Handler, timeout: float) -> None:
        if self._queue:
            key, config_text, checkpoint = self._queue.popleft()
            perform(config_text, lambda event: handle(key, event), checkpoint=checkpoint, engine=self._engine)

    def shutdown(self, cancel: bool) -> None:
        self._queue.clear()


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_executor(jobs: int, runs: int) -> Executor:
    """`jobs` runs at once: in this process for one, else in that many local workers (at most `runs`)."""
    workers = min(jobs, runs)
    if workers <= 1:
        return InlineExecutor()
    from optbench.executors.local import LocalPool

    return LocalPool(workers)


@dataclass(frozen=True)
class Scheduler:
    """A Dask scheduler to execute runs on: its address, or the scheduler file it wrote (exactly one)."""

    address: str | None = None
    """Like tcp://head:8786."""
    file: Path | None = None
    """What `dask scheduler --scheduler-file FILE` wrote: JSON holding the address."""
    timeout_s: float | None = None
    """How long to wait for it to answer; None: Dask's `distributed.comm.timeouts.connect` (30 s unless
    configured, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s)."""
    worker_timeout_s: float | None = None
    """How long runs may wait for want of a worker before the sweep gives up; None: for ever, saying so."""

    def __post_init__(self) -> None:
        if (self.address is None) == (self.file is None):
            raise ValueError("a Scheduler has an address or a file, not both or neither")


def connect(scheduler: Scheduler, say: Callable[[str], None]) -> DaskExecutor:
    """An executor on the Dask cluster of `scheduler`, connected: OptbenchError if it does not answer.

    `say` shows the lines that say it waits for a worker. Its `shutdown` may be called again, and then
    does nothing.
    """
    try:
        from optbench.executors.dask import connect as connect_dask
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("distributed", "dask"):
            raise
        raise UsageError(
            "running on a Dask cluster needs the distributed package: pip install 'optbench[dask]'"
        ) from None
    return connect_dask(scheduler, say)


__all__ = [
    "Event",
    "Executor",
    "Handler",
    "InlineExecutor",
    "Scheduler",
    "connect",
    "describe_error",
    "make_executor",
    "versions",
]
