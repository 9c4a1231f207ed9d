"""Many runs: run folders, skipping finished work, handing runs to an executor, the summary.

Layout (the results contract):

    <out>/<experiment>/runs/<run_id>/{config.yaml, metrics.csv, diagnostics.csv, status.json}
    <out>/<experiment>/summary.csv
    <out>/<experiment>/experiment.yaml   name, description, source file, varied keys, run ids in order

This process writes every file. Executors (this process, local workers, a Dask cluster) receive
each run as its resolved YAML text and send back plain events: CSV lines and a final status. The
experiment folder is locked for the whole invocation, so a run still marked `running` when the
lock is acquired belongs to a process that is gone, and is run again.

From the moment a run folder exists it holds a status.json that tells the truth: a new folder is
built under a temporary name with its config.yaml and status.json and renamed into place, with the
stop signals held until the status is written; a stop marks every run in flight `interrupted`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import os
import shutil
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import numpy as np

from optbench import checkpoints, train
from optbench.config import (
    ActivationsConfig,
    Experiment,
    RunConfig,
    activations_to_yaml,
    to_yaml,
)
from optbench.data import DATASETS
from optbench.definition import scope, write_definition
from optbench.errors import OptbenchError, UsageError
from optbench.executors import Event, Executor, Scheduler, connect, make_executor
from optbench.executors.task import describe_error, versions
from optbench.files import (
    FolderLock,
    LineLog,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    csv_text,
    fsync_dir,
)
from optbench.layout import (
    ACTIVATIONS_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    FINISHED,
    METRICS_FILE,
    RUNS_DIR,
    STATUS_FILE,
    is_finished,
    read_status,
)
from optbench.signals import STOP_SIGNALS, stop_signals_blocked
from optbench.summary import Summary
from optbench.text import shorten, status_line

WAIT_S = 0.5
"""How long the sweep waits for an event before it looks again (it wakes at once when one comes)."""


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so that a sweep unwinds like it does on Ctrl-C."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def experiment_dir(out: Path, experiment: str) -> Path:
    """The experiment's folder, created; --out must be a folder (or not exist yet)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    folder = out / experiment
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptbenchError(f"{folder}: cannot create the results folder: {exc.strerror or exc}") from None
    return folder


# --------------------------------------------------------------------------------------------------
# One run folder
# --------------------------------------------------------------------------------------------------


class RunWriter:
    """The files of one run in flight, written from the events its executor delivers."""

    def __init__(self, folder: Path, run: RunConfig, command: str = "", resume: bool = True) -> None:
        """`resume`: a run whose folder holds a checkpoint continues from it (--force starts over)."""
        self.folder = folder
        self.resume = resume
        self.keep_checkpoint = run.train.keep_checkpoint
        self.status: dict[str, Any] = {
            "run_id": run.run_id,
            "status": "running",
            "command": command,
            "seed": run.train.seed,
            "started": _now(),
            "ended": None,
            "wall_s": None,
            "pid": os.getpid(),
            "versions": versions(),
        }
        self.steps_done = 0
        self.resumed_from: int | None = None
        self._logs: dict[str, LineLog] = {}
        self._write_error: str | None = None

    def create(self, config_text: str) -> str | None:
        """A new folder appears whole (config.yaml and status.json); an old one gets its status first.

        Call it with the stop signals held, and register the writer before they are released: a stop
        then either finds no folder or a folder whose run it marks interrupted. Returns the checkpoint
        (base64 text) the run resumes from, its logs cut back to the checkpoint's step; None when it
        starts afresh.
        """
        if self.folder.is_dir():
            found = self._checkpoint() if self.resume else None
            if found is not None:
                self.resumed_from = self.steps_done = found[0]
                self.status["resumed_from"] = found[0]
            atomic_write_json(self.folder / STATUS_FILE, self.status)
            atomic_write_text(self.folder / CONFIG_FILE, config_text)
            if found is not None:
                for name in (METRICS_FILE, DIAGNOSTICS_FILE):
                    _cut_back(self.folder / name, found[0])
                return base64.b64encode(found[1]).decode("ascii")
            for name in (METRICS_FILE, DIAGNOSTICS_FILE, CHECKPOINT_FILE):
                (self.folder / name).unlink(missing_ok=True)
            return None
        staging = self.folder.with_name(f".{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            atomic_write_text(staging / CONFIG_FILE, config_text)
            atomic_write_json(staging / STATUS_FILE, self.status)
            os.rename(staging, self.folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(self.folder.parent)
        return None

    def _checkpoint(self) -> tuple[int, bytes] | None:
        """The folder's checkpoint and its step, when its metrics reach that step; else None."""
        try:
            data = (self.folder / CHECKPOINT_FILE).read_bytes()
            step = checkpoints.step_of(data)
        except (OSError, OptbenchError):
            return None
        return (step, data) if _last_step(self.folder / METRICS_FILE) >= step else None

    def checkpoint(self, step: int, text: str) -> None:
        """Keep the run's newest checkpoint (atomically: a stop leaves the previous one whole)."""
        if self._write_error is not None:
            return
        try:
            atomic_write_bytes(self.folder / CHECKPOINT_FILE, base64.b64decode(text))
        except OSError as exc:
            self._write_error = describe_error(exc)

    def rows(self, name: str, text: str, step: int | None) -> None:
        """Append whole CSV lines; a failed write fails the run (the file keeps its whole rows)."""
        if self._write_error is not None:
            return
        try:
            # A stop between creating the file and its first lines would leave it empty.
            with stop_signals_blocked():
                log = self._logs.get(name)
                if log is None:
                    log = self._logs[name] = LineLog(self.folder / name, append=self.resumed_from is not None)
                log.append(text)
        except OSError as exc:
            self._write_error = describe_error(exc)
        if step is not None and name == METRICS_FILE:
            self.steps_done = int(step)

    def finish(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the final status the executor reported (or the write error that failed the run)."""
        self._close()
        if self._write_error is not None:
            fields = {**fields, "status": "failed", "error": self._write_error, "final_loss": None}
        self.status.update(fields, ended=_now())
        atomic_write_json(self.folder / STATUS_FILE, self.status)
        if self.status.get("status") in FINISHED and not self.keep_checkpoint:
            (self.folder / CHECKPOINT_FILE).unlink(missing_ok=True)
        return self.status

    def interrupt(self) -> dict[str, Any]:
        self._close()
        self.status.update(status="interrupted", steps_done=self.steps_done, ended=_now())
        atomic_write_json(self.folder / STATUS_FILE, self.status)
        return self.status

    def _close(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()


def _last_step(path: Path) -> int:
    """The step of the last row of a log (-1 if it has none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return -1
    for line in reversed(lines[1:]):
        with contextlib.suppress(ValueError):
            return int(line.split(",", 1)[0])
    return -1


def _cut_back(path: Path, step: int) -> None:
    """Keep a log's header and its rows up to `step` (a resumed run writes the rows after it)."""
    try:
        header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (OSError, ValueError):
        return
    kept = [row for row in rows if int(row.split(",", 1)[0]) <= step]
    atomic_write_text(path, header + "".join(kept))


def _remove_stale_staging(runs_dir: Path) -> None:
    """Run folders a killed process was still building (the lock says no one else is)."""
    for staging in runs_dir.glob(".*.tmp-*"):
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Whole experiments
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    folder: Path
    statuses: dict[str, dict[str, Any]]
    skipped: int
    interrupted: bool

    @property
    def any_failed(self) -> bool:
        return any(s.get("status") == "failed" for s in self.statuses.values())


@contextlib.contextmanager
def _stop_signals_unwind() -> Iterator[threading.Event]:
    """In this process, Ctrl-C raises KeyboardInterrupt and SIGTERM Interrupted, and the event yielded
    records that one came (a signal ignored when we started stays ignored).

    Python drops the exception of a signal that lands in a finalizer (the `__del__` of a library's
    object, run in this thread): the sweep checks the event between waits, so no stop is lost.
    """
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted()

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    ours = [signum for signum, handler in previous.items() if handler not in (signal.SIG_IGN, None)]
    for signum in ours:
        signal.signal(signum, on_signal)
    try:
        yield stopped
    finally:
        for signum in ours:
            signal.signal(signum, previous[signum])


UPDATE_COST = 100
"""Work of one optimizer pass over one parameter, in multiply-adds: an Adam update (three passes'
worth of state) costs about 0.4 of the step's matrix products for the lecture's MLP at batch 128."""


def estimated_cost(run: RunConfig) -> float:
    """Relative work of a run, to start the longest first: a sweep then ends with short runs only.

    A dataset step costs its matrix products (6 multiply-adds per weight and example: forward, and
    backward for both inputs and weights) plus the update, one pass per state buffer and one more.
    """
    if run.model is None:
        return float(run.train.steps)
    dataset = DATASETS[str(run.task.dataset)]
    sizes = (dataset.n_features, *run.model.hidden, dataset.classes)
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    buffers = len(run.optimizer.build().init_state(np.zeros(1)))
    update = UPDATE_COST * (weights + sum(sizes[1:])) * (1 + buffers)
    return float(run.train.steps) * (6 * run.train.batch_size * weights + update)


def _check_data(exps: Sequence[Experiment]) -> None:
    """Load (and verify) every dataset the runs need before anything is written.

    Missing or corrupt data is one message with the command that fixes it, not a failed run each.
    """
    needed = {
        (r.task.dataset, r.task.data_dir) for exp in exps for r in exp.runs if r.task.dataset is not None
    }
    for name, data_dir in sorted(needed, key=str):
        assert name is not None
        train.cached_dataset(name, data_dir)


def run_experiment(
    exp: Experiment,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: Scheduler | None = None,
) -> SweepResult:
    """Execute every run of `exp` not yet finished; keep summary.csv current after each one."""
    (result,) = run_experiments([exp], out, jobs, force, progress, scheduler)
    return result


def run_experiments(
    exps: Sequence[Experiment],
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: Scheduler | None = None,
) -> list[SweepResult]:
    """Execute the unfinished runs of several experiments as one sweep, longest runs first.

    Each experiment folder is locked for the whole sweep; its summary.csv is rewritten after each of
    its runs finishes. With a scheduler the runs go to that Dask cluster, connected to before anything
    is written, and each worker checks its own data; otherwise, with jobs > 1, to local worker
    processes, and with one job they run here.
    """
    if scheduler is None:
        _check_data(exps)
        return _run_sweep(exps, out, force, progress, lambda runs: make_executor(jobs, runs))
    cluster = connect(scheduler)
    try:
        return _run_sweep(exps, out, force, progress, lambda runs: cluster)
    finally:
        cluster.shutdown(cancel=True)  # done already, unless the sweep never began


def _run_sweep(
    exps: Sequence[Experiment],
    out: Path,
    force: bool,
    progress: bool,
    make: Callable[[int], Executor],
) -> list[SweepResult]:
    """The sweep of `run_experiments`, its executor made by `make(number of runs to execute)`."""
    folders = [experiment_dir(out, exp.name) for exp in exps]
    if len(set(folders)) != len(folders):
        raise UsageError("two experiments of the sweep write into the same folder: give them distinct names")
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(FolderLock(folder))
        scopes = [scope(folder, exp) for folder, exp in zip(folders, exps)]  # may refuse: nothing written
        stopped = stack.enter_context(_stop_signals_unwind())
        statuses: list[dict[str, dict[str, Any]]] = [{} for _ in exps]
        skipped = [0] * len(exps)
        summaries: list[Summary] = []
        owner: dict[Path, tuple[int, RunConfig]] = {}  # run folder -> (experiment index, run)
        todo: list[tuple[float, int, Path]] = []
        for index, (exp, folder, (kept, definition)) in enumerate(zip(exps, folders, scopes)):
            _remove_stale_staging(folder / RUNS_DIR)
            if definition is not None:
                write_definition(folder, definition)
            for run in exp.runs:
                run_folder = folder / RUNS_DIR / run.run_id
                owner[run_folder] = (index, run)
                status = read_status(run_folder)
                if not force and status is not None and is_finished(status):
                    statuses[index][run.run_id] = status
                    skipped[index] += 1
                else:
                    todo.append((-estimated_cost(run), len(todo), run_folder))
            summary = Summary(
                folder, kept.runs, kept.varied, {**kept.statuses, **statuses[index]}, kept.unknown, exp.labels
            )
            summary.flush()
            summaries.append(summary)
        ordered = [run_folder for _, _, run_folder in sorted(todo)]
        total = sum(len(exp.runs) for exp in exps)
        name = exps[0].name if len(exps) == 1 else f"{len(exps)} experiments"
        bar = _progress_bar(total, total - len(ordered), name, progress)

        def record(run_folder: Path, status: dict[str, Any]) -> None:
            index, run = owner[run_folder]
            statuses[index][run.run_id] = status
            summaries[index].update(run.run_id, status)
            bar.update(1)
            bar.finished(run.run_id, status)

        sweep = _Sweep(owner, [exp.command for exp in exps], record, progress, force)
        interrupted = False
        executor = make(len(ordered)) if ordered else None
        try:
            if executor is not None:
                sweep.drive(executor, ordered, stopped)
        except (KeyboardInterrupt, Interrupted):
            interrupted = True
        finally:
            with stop_signals_blocked():
                if executor is not None:
                    executor.shutdown(cancel=interrupted or bool(sweep.in_flight))
                sweep.interrupt_in_flight()
                bar.close()
                for summary in summaries:
                    summary.flush()
    return [SweepResult(folder, statuses[i], skipped[i], interrupted) for i, folder in enumerate(folders)]


class _Sweep:
    """The runs of a sweep in flight: submitted as slots free up, written from their events."""

    def __init__(
        self,
        owner: dict[Path, tuple[int, RunConfig]],
        commands: Sequence[str],
        record: Callable[[Path, dict[str, Any]], None],
        progress: bool,
        force: bool = False,
    ) -> None:
        self.owner = owner
        self.force = force
        self.commands = commands
        self.record = record
        self.progress = progress
        self.in_flight: dict[str, RunWriter] = {}
        self.step_bar: Any = None

    def drive(self, executor: Executor, ordered: Sequence[Path], stopped: threading.Event) -> None:
        pending = deque(ordered)
        show_steps = executor.capacity == 1
        while pending or self.in_flight:
            while pending and len(self.in_flight) < executor.capacity:
                run_folder = pending.popleft()
                index, run = self.owner[run_folder]
                config_text = to_yaml(run)
                with stop_signals_blocked():
                    writer = RunWriter(run_folder, run, self.commands[index], resume=not self.force)
                    checkpoint = writer.create(config_text)
                    self.in_flight[str(run_folder)] = writer
                if show_steps:
                    self.step_bar = _step_bar(run, self.progress)
                executor.submit(str(run_folder), config_text, checkpoint)
            executor.wait(self.handle, WAIT_S)
            if stopped.is_set():  # a stop signal whose exception Python dropped
                raise Interrupted()

    def handle(self, key: str, event: Event) -> None:
        writer = self.in_flight[key]
        if event[0] == "rows":
            _, name, text, step = event
            writer.rows(name, text, step)
            if self.step_bar is not None and name == METRICS_FILE and step is not None:
                self.step_bar.update(int(step) - self.step_bar.n)
            return
        if event[0] == "checkpoint":
            writer.checkpoint(int(event[1]), str(event[2]))
            return
        with stop_signals_blocked():
            status = writer.finish(event[1])
            del self.in_flight[key]
            if self.step_bar is not None:
                self.step_bar.close()
                self.step_bar = None
            self.record(writer.folder, status)

    def interrupt_in_flight(self) -> None:
        if self.step_bar is not None:
            self.step_bar.close()
        for writer in self.in_flight.values():
            self.record(writer.folder, writer.interrupt())
        self.in_flight.clear()


class _NoBar:
    """No progress output (-q)."""

    def update(self, n: int = 1) -> None:
        pass

    def finished(self, run_id: str, status: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def _tqdm() -> Any:
    """tqdm's bar, without its monitor thread: a thread that can receive SIGINT would run the stop
    handler in the middle of a block that holds the stop signals (`stop_signals_blocked`)."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return tqdm


class _Lines(_NoBar):
    """Progress where stderr is no terminal (CI, nohup, `| tee`): one line per finished run, as it ends."""

    def __init__(self, total: int, done: int, stream: TextIO) -> None:
        self.total, self.n, self.stream = total, done, stream

    def update(self, n: int = 1) -> None:
        self.n += n

    def finished(self, run_id: str, status: dict[str, Any]) -> None:
        print(f"[{self.n}/{self.total}] {status_line(run_id, status)}", file=self.stream, flush=True)


MIN_BAR = 10
"""Characters the bar itself keeps on a narrow terminal: the run id beside it is shortened first,
or left out."""
RUN_BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
"""The sweep's bar: no rate (runs differ too much in length for runs/s to say anything), so that the
bar and the last finished run keep their room on a narrow terminal."""
RUN_METER = ": 100%|| {n}/{n} [00:00<00:00, ]"
STEP_METER = ": 100%|| {n}/{n} [00:00<00:00, 99999.99step/s]"
"""The widest text tqdm puts around a bar (besides its description and postfix), `n` the total."""


def _columns() -> int:
    """The terminal's width as tqdm uses it (it leaves the last column free)."""
    return shutil.get_terminal_size().columns - 1


class _Bar(_NoBar):
    """The sweep's bar on a terminal; its postfix names the last finished run, shortened to keep the bar."""

    def __init__(self, total: int, done: int, name: str, stream: TextIO) -> None:
        tqdm = _tqdm()
        desc = shorten(name, max(8, _columns() // 4))
        self.meter = len(desc) + len(RUN_METER.format(n=total))
        self.tqdm = tqdm(
            total=total,
            initial=done,
            desc=desc,
            unit="run",
            file=stream,
            dynamic_ncols=True,
            bar_format=RUN_BAR,
        )

    def update(self, n: int = 1) -> None:
        self.tqdm.update(n)

    def finished(self, run_id: str, status: dict[str, Any]) -> None:
        left = _columns() - self.meter
        room = min(left - MIN_BAR, left // 2)  # the bar keeps at least half of what is left
        self.tqdm.set_postfix_str(shorten(f"{run_id}: {status.get('status')}", room), refresh=True)

    def close(self) -> None:
        self.tqdm.close()


def _progress_bar(total: int, done: int, name: str, enabled: bool, stream: TextIO | None = None) -> _NoBar:
    """The sweep's progress: a bar on a terminal, a line per finished run elsewhere, nothing if disabled."""
    stream = stream or sys.stderr
    if not enabled:
        return _NoBar()
    if not stream.isatty():
        return _Lines(total, done, stream)
    return _Bar(total, done, name, stream)


def _step_bar(run: RunConfig, enabled: bool, stream: TextIO | None = None) -> Any:
    """The steps of the one run executing here, under the sweep's bar (None when not shown)."""
    stream = stream or sys.stderr
    if not (enabled and stream.isatty()):
        return None
    tqdm = _tqdm()
    room = _columns() - len(STEP_METER.format(n=run.train.steps)) - MIN_BAR
    return tqdm(
        total=run.train.steps,
        desc=shorten(run.run_id, max(room, 8)),
        unit="step",
        leave=False,
        file=stream,
        dynamic_ncols=True,
        mininterval=0.2,
    )


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------


def run_activations(cfg: ActivationsConfig, out: Path) -> Path:
    """Compute every case of the experiment and write its statistics; returns the experiment folder."""
    from optbench import activations

    folder = experiment_dir(out, cfg.experiment)
    with FolderLock(folder):
        mnist = None
        if cfg.input == "mnist":
            mnist = train.cached_dataset("mnist", cfg.data_dir)
        rows = [stats.row() for stats in activations.run(cfg, mnist)]
        atomic_write_text(folder / CONFIG_FILE, activations_to_yaml(cfg))
        atomic_write_text(folder / ACTIVATIONS_FILE, csv_text(activations.columns(cfg.bins), rows))
    return folder
