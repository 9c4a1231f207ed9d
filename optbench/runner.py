"""Many runs as one sweep: skip what is finished, hand the rest to an executor, write what comes back.

A sweep locks every experiment folder it writes into for the whole invocation, so a run still
marked `running` when the lock is acquired belongs to a process that is gone, and is run again.
It starts the longest runs first (`optbench.cost`), keeps as many in flight as the executor takes
(this process, local workers, a Dask cluster), sends each as its resolved YAML text and writes the
plain events that come back (CSV lines, checkpoints, a final status) into the run's folder
(`optbench.runfolder`), keeping each experiment's summary.csv current (`optbench.summary`) and its
progress shown (`optbench.progress`). This process writes every file. A run that two experiments
of the sweep share executes once; the other gets a copy of its folder, so that each experiment
folder stays whole on its own.

A stop signal (Ctrl-C, SIGTERM) unwinds the sweep: every run in flight is marked `interrupted`,
the summaries are written, and the caller learns that the sweep was interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from optbench import train
from optbench.config import Experiment, RunConfig, to_yaml
from optbench.cost import estimated_cost
from optbench.definition import scope, write_definition
from optbench.errors import UsageError
from optbench.executors import Event, Executor, Scheduler, connect, make_executor
from optbench.files import FolderLock
from optbench.layout import METRICS_FILE, RUNS_DIR, is_finished, read_status
from optbench.progress import note, progress_bar, step_bar
from optbench.runfolder import RunWriter, copy_run, experiment_dir, keep_plugin_files, remove_stale_staging
from optbench.signals import STOP_SIGNALS, stop_signals_blocked
from optbench.summary import Summary

WAIT_S = 0.5
"""How long the sweep waits for an event before it looks again (it wakes at once when one comes)."""


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so that a sweep unwinds like it does on Ctrl-C."""


@dataclass(frozen=True)
class SweepResult:
    """One experiment of a sweep: its folder, each run's status, how many were skipped as finished."""

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


@dataclass(frozen=True)
class Shown:
    """What a sweep's progress shows beyond its own runs: `planned`, the runs of the whole command
    when it is one of several sweeps (the bar counts to it from the start), and `validation_only`,
    the runs whose test accuracy it leaves out (a study's trials, chosen on validation alone)."""

    planned: int | None = None
    validation_only: frozenset[str] = frozenset()


def _unfinished(exps: Sequence[Experiment], out: Path, force: bool) -> int:
    """How many runs of the sweep are to execute, as their folders say now (nothing is written): a run
    that several experiments share executes once, and not at all if one of them has it finished."""
    folders: dict[str, list[Path]] = {}
    for exp in exps:
        for run in exp.runs:
            folders.setdefault(run.run_id, []).append(out / exp.name / RUNS_DIR / run.run_id)
    if force:
        return len(folders)
    return sum(1 for found in folders.values() if not any(is_finished(read_status(f)) for f in found))


def run_experiment(
    exp: Experiment,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: Scheduler | None = None,
    shown: Shown = Shown(),
) -> SweepResult:
    """Execute every run of `exp` not yet finished; keep summary.csv current after each one."""
    (result,) = run_experiments([exp], out, jobs, force, progress, scheduler, shown)
    return result


def run_experiments(
    exps: Sequence[Experiment],
    out: Path,
    jobs: int = 1,
    force: bool = False,
    progress: bool = True,
    scheduler: Scheduler | None = None,
    shown: Shown = Shown(),
) -> list[SweepResult]:
    """Execute the unfinished runs of several experiments as one sweep, longest runs first.

    Each experiment folder is locked for the whole sweep; its summary.csv is rewritten after each of
    its runs finishes. With a scheduler the runs go to that Dask cluster, connected to before anything
    is written, and each worker checks its own data; if the cluster has no worker yet, the sweep waits
    for one before it writes anything, saying so; otherwise, with jobs > 1, to local worker
    processes, and with one job they run here.
    """
    if scheduler is None:
        _check_data(exps)
        return _run_sweep(exps, out, force, progress, shown, lambda runs: make_executor(jobs, runs))
    cluster = connect(scheduler, note)
    try:
        unfinished = _unfinished(exps, out, force)
        if unfinished:
            cluster.wait_for_workers(unfinished)
        return _run_sweep(exps, out, force, progress, shown, lambda runs: cluster)
    finally:
        cluster.shutdown(cancel=True)  # done already, unless the sweep never began


def _run_sweep(
    exps: Sequence[Experiment],
    out: Path,
    force: bool,
    progress: bool,
    shown: Shown,
    make: Callable[[int], Executor],
) -> list[SweepResult]:
    """The sweep of `run_experiments`, its executor made by `make(number of runs to execute)`.

    A run that several experiments share (the same id: the same resolved config) executes once, in
    the first of them; the others get a copy of its folder when it ends, or at once when one of them
    has it finished already. The progress counts it once.
    """
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
        owner: dict[Path, tuple[int, RunConfig]] = {}  # run folder -> (experiment index, run)
        shared: dict[str, list[Path]] = {}  # run id -> its folders, in the experiments' order
        for index, (exp, folder) in enumerate(zip(exps, folders)):
            for run in exp.runs:
                run_folder = folder / RUNS_DIR / run.run_id
                if run_folder not in owner:
                    owner[run_folder] = (index, run)
                    shared.setdefault(run.run_id, []).append(run_folder)
        for run_folder, (index, run) in owner.items():
            status = read_status(run_folder)
            if not force and status is not None and is_finished(status):
                statuses[index][run.run_id] = status
                skipped[index] += 1
        todo: list[tuple[float, int, Path]] = []
        copies: dict[Path, list[Path]] = {}  # a run folder to execute -> the same run's other folders
        reused: list[tuple[Path, Path]] = []  # (a finished run folder, the same run's unfinished one)
        for run_id, run_folders in shared.items():
            ended = [f for f in run_folders if run_id in statuses[owner[f][0]]]
            rest = [f for f in run_folders if f not in ended]
            if rest and ended:
                reused += [(ended[0], f) for f in rest]
            elif rest:
                todo.append((-estimated_cost(owner[rest[0]][1]), len(todo), rest[0]))
                copies[rest[0]] = rest[1:]

        def give(source: Path, dest: Path) -> dict[str, Any]:
            """The run ended in `source` copied to its folder `dest` in another experiment."""
            index, run = owner[dest]
            with stop_signals_blocked():
                status = copy_run(source, dest, to_yaml(run), run.train.keep_checkpoint)
            statuses[index][run.run_id] = status
            return status

        for folder, (_, definition) in zip(folders, scopes):
            remove_stale_staging(folder / RUNS_DIR)
            if definition is not None:
                write_definition(folder, definition)
        for folder, exp in zip(folders, exps):
            keep_plugin_files(folder, exp.runs)
        for source, dest in reused:
            give(source, dest)
        summaries: list[Summary] = []
        for index, (exp, folder, (kept, _)) in enumerate(zip(exps, folders, scopes)):
            summary = Summary(
                folder, kept.runs, kept.varied, {**kept.statuses, **statuses[index]}, kept.unknown, exp.labels
            )
            summary.flush()
            summaries.append(summary)
        ordered = [run_folder for _, _, run_folder in sorted(todo)]
        name = exps[0].name if len(exps) == 1 else f"{len(exps)} experiments"
        bar = progress_bar(max(len(shared), shown.planned or 0), len(shared) - len(ordered), name, progress)

        def record(run_folder: Path, status: dict[str, Any]) -> None:
            index, run = owner[run_folder]
            statuses[index][run.run_id] = status
            summaries[index].update(run.run_id, status)
            for other in copies.pop(run_folder, []) if status.get("status") != "interrupted" else []:
                summaries[owner[other][0]].update(run.run_id, give(run_folder, other))
            bar.update(1)
            bar.finished(run.run_id, status, test=run.run_id not in shown.validation_only)

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
                    self.step_bar = step_bar(run, self.progress)
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
