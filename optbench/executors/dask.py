"""Runs on a Dask cluster: a `distributed` client of a scheduler started outside optbench.

    dask scheduler --host 0.0.0.0 --port 8786              # on one machine
    dask worker tcp://head:8786 --nworkers 8 --nthreads 1  # on each worker machine, optbench installed

Each run is one Dask task, `run_on_worker`: it receives the run's resolved YAML and returns the events
of `executors.task` as one JSON string, which this process parses and hands to the runner, the only
writer of the results folder. No shared filesystem is assumed. The rows of a run arrive together when
it ends (the local pool sends them while it trains); the progress bar and summary.csv follow each run
as it comes back.

On a worker, a task runs on one BLAS thread like every run (`optbench.threads`: a worker imported
NumPy before optbench could set the environment), so that products sum in the same order as on a
local worker, and makes sure the data a dataset run needs is in the worker's own data folder,
fetched and verified on first use as `optbench data fetch` does.

Faults:

- A worker that dies mid-run: the scheduler starts the task again on another worker, up to
  `distributed.scheduler.allowed-failures` times (3 by default; set it where the scheduler runs, e.g.
  DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=5 in its environment); after that the run fails.
  Only the events a task returns are written, so a run started twice is recorded once.
- The scheduler going away: `wait` raises OptbenchError; the runner marks the runs in flight
  interrupted, and the same command, once a scheduler is back, runs what is left.
- No worker (none started yet, or all gone mid-sweep): Dask would keep the tasks waiting, silently,
  forever. After WORKER_NOTICE_S the sweep says so and how to start one, then says again every
  WAITING_EVERY_S that it still waits; with a worker timeout (`--worker-timeout`) it gives up with
  OptbenchError. The runner waits for a first worker before it writes anything.
- A stop (Ctrl-C, SIGTERM): `shutdown(cancel=True)` cancels every outstanding task.
- A worker that cannot load a plugin a run names (a module or distribution not installed there):
  the task says so instead of running, and the command stops at once with that one line, naming
  the worker; a plugin file's text travels with the run, so a file plugin needs nothing installed.

Dask moves tasks and results between machines with pickle: run the cluster on a trusted network only,
or with Dask's TLS settings. optbench unpickles nothing itself: results come back as JSON text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import dask.config
import yaml
from dask.utils import parse_timedelta
from distributed import Client, KilledWorker, get_worker
from distributed.comm.addressing import get_address_host_port, parse_address
from distributed.comm.registry import get_backend

from optbench.config import PLUGINS_KEY
from optbench.errors import DataError, OptbenchError
from optbench.executors import Handler, Scheduler
from optbench.executors.task import Event, describe_error, perform
from optbench.plugins import PluginError, install_records
from optbench.signals import start_helper
from optbench.text import plural

CAPACITY_REFRESH_S = 2.0
"""How often the cluster's worker threads are counted again: workers may join or leave mid-sweep."""

QUEUED_PER_THREAD = 1
"""Runs kept submitted per worker thread beyond the one it executes: a thread that finishes a run
finds the next one waiting at the scheduler, instead of idling for a round trip to this process
(`make bench`, two local workers: 5.8 ms per one-step run with it, 9.5 ms without)."""

CLOSE_TIMEOUT_S = 5.0
"""How long closing the client may take (it tells the scheduler to forget this sweep's tasks)."""

WORKER_NOTICE_S = 10.0
"""How long runs wait for a worker before the sweep says that the scheduler has none, and how to start
one: long enough for the workers of a cluster started together with the command to join."""

WAITING_EVERY_S = 60.0
"""How often the sweep says again that it still waits for a worker."""

WORKER_POLL_S = 0.5
"""How often the workers are counted while nothing can run for want of one."""


class _Ended(NamedTuple):
    """A task that ended: its result (the run's events as JSON text), or the error it ended with;
    neither when its result could not be fetched because the scheduler is gone."""

    dask_key: str
    result: str | None
    error: BaseException | None


# --------------------------------------------------------------------------------------------------
# This process: the client
# --------------------------------------------------------------------------------------------------


class _WorkerWatch:
    """How long runs have waited for want of a worker thread: said after WORKER_NOTICE_S with the
    command that starts one, said again every WAITING_EVERY_S, given up after `timeout` seconds."""

    def __init__(self, address: str, timeout: float | None, say: Callable[[str], None]) -> None:
        self.address, self.timeout, self.say = address, timeout, say
        self.since: float | None = None
        self.said_at: float | None = None

    def check(self, workers: int, threads: int, waiting: int) -> None:
        """The cluster has `workers` workers of `threads` threads in all, and `waiting` runs wait."""
        now = time.monotonic()
        if threads > 0 or not waiting:
            if threads > 0 and self.said_at is not None:
                self.say(f"note: {plural(workers, 'Dask worker')} at {self.address} now; the runs go on")
            self.since = self.said_at = None
            return
        self.since = now if self.since is None else self.since
        waited = now - self.since
        start = f"dask worker {self.address} --nthreads 1"
        if self.timeout is not None and waited >= self.timeout:
            raise OptbenchError(
                f"no Dask worker at {self.address} for {self.timeout:g} s (--worker-timeout): start one "
                f"with: {start}, then run the same command again"
            )
        if self.said_at is None and waited >= WORKER_NOTICE_S:
            self.say(
                f"note: the Dask scheduler at {self.address} has {plural(workers, 'worker')}, so no run can "
                f"start: start one with: {start} (waiting for it; --worker-timeout SECONDS gives up)"
            )
            self.said_at = now
        elif self.said_at is not None and now - self.said_at >= WAITING_EVERY_S:
            self.say(
                f"waiting for a Dask worker at {self.address}: {plural(workers, 'worker')}, "
                f"{plural(waiting, 'run')} waiting, {waited:.0f} s so far"
            )
            self.said_at = now


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DaskExecutor:
    """Runs as tasks of a Dask cluster: one per worker thread at once, and as many more queued."""

    def __init__(
        self,
        client: Client,
        address: str,
        worker_timeout: float | None = None,
        say: Callable[[str], None] = _say_on_stderr,
    ) -> None:
        self.address = address
        # Dask's client and futures are typed as Any here: most of their methods carry no annotations.
        self._client: Any = client
        self._run_keys: dict[str, str] = {}  # Dask key -> run key, until this thread hears it ended
        # Dask key -> future, until the event loop has its result. The loop lets go of a future, so that
        # its finalizer runs there: run in this thread, a stop signal landing in it would be lost.
        self._futures: dict[str, Any] = {}
        self._ended: queue.SimpleQueue[_Ended] = queue.SimpleQueue()
        self._threads = 0
        self._workers = 0
        self._counted_at = -math.inf
        self._closed = False
        self._watch = _WorkerWatch(address, worker_timeout, say)

    def __repr__(self) -> str:
        return f"DaskExecutor({self.address!r}, {self._threads} worker threads)"

    @property
    def capacity(self) -> int:
        if time.monotonic() - self._counted_at >= CAPACITY_REFRESH_S:
            self._count()
        # With no worker, one run waits at the scheduler for the next to join.
        return max(self._threads, 1) * (1 + QUEUED_PER_THREAD)

    def _count(self) -> None:
        """Count the cluster's workers and their threads again."""
        info = self._client.scheduler_info(n_workers=0)
        self._workers = int(info.get("n_workers", 0))
        self._threads = int(info.get("total_threads", 0))
        self._counted_at = time.monotonic()

    def wait_for_workers(self, runs: int) -> None:
        """Return once the cluster has a worker thread for the `runs` runs to execute; meanwhile say
        that it waits and how to start a worker, or give up after the worker timeout (OptbenchError).
        """
        while True:
            self._check_connected()
            self._count()
            self._watch.check(self._workers, self._threads, runs)
            if self._threads:
                return
            time.sleep(WORKER_POLL_S)

    def submit(self, key: str, config_text: str, checkpoint: str | None = None) -> None:
        self._check_connected()
        future = self._client.submit(run_on_worker, config_text, checkpoint, pure=False)
        self._run_keys[future.key] = key
        self._futures[future.key] = future
        self._client.loop.add_callback(self._collect, future)

    async def _collect(self, future: Any) -> None:
        """On the client's event loop: the task's result, fetched as soon as it exists.

        A result waits on the worker that computed it; if that worker dies first, Dask computes it
        again, but only after the connection attempts to the dead worker time out (30 s by default).
        Fetching each result at once, all of them concurrently, keeps that window to milliseconds.
        """
        try:
            result = await self._client.gather(future, asynchronous=True)
        except BaseException as exc:
            # The task's own error (KilledWorker included), or no answer: the client cancels every
            # future when it loses the scheduler, and a fetch under way fails.
            ended = _Ended(future.key, None, exc if future.status == "error" else None)
        else:
            ended = _Ended(future.key, result, None)
        self._futures.pop(future.key, None)
        self._ended.put(ended)

    def wait(self, handle: Handler, timeout: float) -> None:
        try:
            ended = [self._ended.get(timeout=timeout)]
        except queue.Empty:
            self._check_connected()
            if time.monotonic() - self._counted_at >= CAPACITY_REFRESH_S:
                self._count()
            self._watch.check(self._workers, self._threads, len(self._run_keys))
            return
        with contextlib.suppress(queue.Empty):
            while True:
                ended.append(self._ended.get_nowait())
        if any(e.result is None and e.error is None for e in ended):
            raise self._lost()
        for task in ended:
            key = self._run_keys.pop(task.dask_key)
            if task.result is not None:
                events = json.loads(task.result)
                if events and events[0][0] == "lacking":
                    raise OptbenchError(events[0][1])
                for event in events:
                    handle(key, tuple(event))
            else:
                handle(key, ("done", {"status": "failed", "error": _task_error(task.error)}))

    def shutdown(self, cancel: bool) -> None:
        if self._closed:
            return
        self._closed = True
        futures = list(self._futures.copy().values())  # the event loop may be removing some
        self._run_keys.clear()
        # A scheduler that is gone has nothing left to cancel, and closing only ends this client.
        if cancel and futures and self._client.status == "running":
            with contextlib.suppress(Exception):
                self._client.cancel(futures, force=True)
        with contextlib.suppress(Exception):
            self._client.close(timeout=CLOSE_TIMEOUT_S)

    def _check_connected(self) -> None:
        if self._client.status != "running":
            raise self._lost()

    def _lost(self) -> OptbenchError:
        return OptbenchError(
            f"lost the connection to the Dask scheduler at {self.address}: the runs finished so far are "
            "kept; run the same command again once it is back to finish the rest"
        )


def _task_error(exc: BaseException | None) -> str:
    """Why a task ended without a result, in one line (`perform` itself reports a run's own errors)."""
    if isinstance(exc, KilledWorker):
        return (
            "every Dask worker that executed it died (KilledWorker: the scheduler gives up after "
            "distributed.scheduler.allowed-failures retries)"
        )
    if exc is None:
        return "the Dask task ended without a result"
    return describe_error(exc).splitlines()[0]


def connect(scheduler: Scheduler, say: Callable[[str], None] = _say_on_stderr) -> DaskExecutor:
    """A client of the scheduler, connected; OptbenchError in one line if it does not answer in time.

    `say` is given the lines that say the sweep waits for a worker.
    """
    address = _address(scheduler)
    timeout = scheduler.timeout_s
    if timeout is None:
        timeout = float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s"))
    _quiet_dask_logging()
    try:
        client = _start_with_stop_signals_blocked(
            lambda: Client(address, timeout=timeout, set_as_default=False),  # type: ignore[no-untyped-call]
            timeout,
        )
    except (OSError, TimeoutError, queue.Empty):
        raise OptbenchError(
            f"no Dask scheduler answered at {address} within {timeout:g} s: check the address, and that "
            "the scheduler is running"
        ) from None
    except Exception as exc:
        raise OptbenchError(
            f"cannot connect to the Dask scheduler at {address}: {describe_error(exc)}"
        ) from None
    return DaskExecutor(client, address, scheduler.worker_timeout_s, say)


def _address(scheduler: Scheduler) -> str:
    """The scheduler's address, checked for form (Dask would hang on an unknown scheme)."""
    if scheduler.file is not None:
        path = scheduler.file
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise OptbenchError(
                f"{path}: no such scheduler file; dask scheduler --scheduler-file FILE writes one"
            ) from None
        except OSError as exc:
            raise OptbenchError(f"{path}: cannot read the scheduler file: {exc.strerror or exc}") from None
        try:
            address = json.loads(text).get("address")
        except (ValueError, AttributeError):
            address = None
        if not isinstance(address, str):
            raise OptbenchError(f"{path}: not a Dask scheduler file: it holds no address")
    else:
        assert scheduler.address is not None
        address = scheduler.address
    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            get_address_host_port(address)
    except ValueError as exc:
        raise OptbenchError(
            f"{address}: not a Dask scheduler address ({exc}); expected one like tcp://head:8786"
        ) from None
    return address


def _quiet_dask_logging() -> None:
    """Dask logs a lost connection as tracebacks on stderr; optbench says it in one line instead.

    Tornado's too: a Ctrl-C that lands while the client waits for the scheduler's answer (counting the
    workers) makes the callback that cancels the wait fail on the event loop (NameError inside
    `distributed.utils.sync`), which tornado logs as a traceback; the sweep stops all the same.
    """
    named = [name for name in logging.Logger.manager.loggerDict if name.startswith("distributed.")]
    for name in ("distributed", *named):
        logger = logging.getLogger(name)
        if name == "distributed" or logger.level != logging.NOTSET:
            logger.setLevel(logging.CRITICAL)
    logging.getLogger("tornado.application").setLevel(logging.CRITICAL)


def _start_with_stop_signals_blocked(start: Callable[[], Client], timeout: float) -> Client:
    """`start()` in a thread that blocks SIGINT and SIGTERM; its result, waited for here.

    Every thread Dask starts for the client descends from that thread and inherits the block, so the
    stop signals reach only the main thread. Otherwise, while the runner holds them to write a run's
    files, the kernel would hand one to a Dask thread, and Python would raise it in the main thread in
    the middle of that write. Waiting here keeps Ctrl-C working while the client connects, and bounds
    the wait: Dask itself waits forever for a server that accepts connections but never answers.
    Raises queue.Empty when `timeout` passes, or what `start` raised.
    """
    outcome: queue.SimpleQueue[tuple[Client | None, BaseException | None]] = queue.SimpleQueue()

    def target() -> None:
        try:
            outcome.put((start(), None))
        except BaseException as exc:
            outcome.put((None, exc))

    start_helper(target, "optbench-dask-connect")
    client, error = outcome.get(timeout=timeout)
    if error is not None:
        raise error
    assert client is not None
    return client


# --------------------------------------------------------------------------------------------------
# A worker: the task
# --------------------------------------------------------------------------------------------------


def run_on_worker(config_text: str, checkpoint: str | None = None) -> str:
    """The Dask task: execute one run here (from `checkpoint`, if given) and return its events as JSON.

    Its checkpoints are left out: the events reach the command only when the run is over, when a
    checkpoint has nothing left to save.
    """
    lacking = _lacking_plugins(config_text)
    if lacking is not None:
        return json.dumps([["lacking", lacking]])
    events: list[Event] = []

    def keep(event: Event) -> None:
        if event[0] != "checkpoint":
            events.append(event)

    perform(config_text, keep, prepare=_prepare_data, checkpoint=checkpoint)
    return json.dumps(events)


def _lacking_plugins(config_text: str) -> str | None:
    """Why this worker cannot load a plugin the run names (a module or a distribution not installed
    here, a file importing one), in one line naming the worker; None when it can. The command then
    stops at once: every run naming that plugin would fail the same way here."""
    raw = yaml.safe_load(config_text)
    records = raw.get(PLUGINS_KEY) if isinstance(raw, dict) else None
    if not records:
        return None
    try:
        install_records(records)
    except PluginError as exc:
        return f"Dask worker {_worker_name()} cannot load a plugin: {exc}; install it on every worker"
    return None


def _worker_name() -> str:
    """This worker's address and host, as the scheduler's dashboard lists it."""
    try:
        address = str(get_worker().address)
    except ValueError:  # not inside a Dask worker (called directly)
        return socket.gethostname()
    return f"{address} ({socket.gethostname()})"


_fetching = threading.Lock()
"""The threads of one worker fetch the data one at a time."""


def _prepare_data(raw: Any) -> None:
    """The data a dataset run needs, in this worker's own folders (a worker sees only its own disk)."""
    task = raw.get("task") if isinstance(raw, dict) else None
    if not isinstance(task, dict) or task.get("dataset") is None:
        return
    host = socket.gethostname()
    data_dir = task.get("data_dir")
    if data_dir is not None:
        if not Path(str(data_dir)).expanduser().is_dir():
            raise DataError(f"task.data_dir: no such folder on worker {host}: {data_dir}")
        return
    if str(task["dataset"]).endswith(".npz") and not Path(str(task["dataset"])).is_file():
        raise DataError(f"task.dataset: no such file on worker {host}: {task['dataset']}")
    if task["dataset"] != "mnist":  # MNIST is the one dataset the cache fetches; others need a data_dir
        return
    from optbench.data import default_data_dir, fetch_mnist

    with _fetching:
        try:
            fetch_mnist(default_data_dir())
        except DataError as exc:
            raise DataError(f"on worker {host}: {exc}") from None
