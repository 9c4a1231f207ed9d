"""Many runs: run folders, skipping finished work, parallel workers, interrupts, the summary.

Layout (the results contract):

    <out>/<experiment>/runs/<run_id>/{config.yaml, metrics.csv, diagnostics.csv, status.json}
    <out>/<experiment>/summary.csv
    <out>/<experiment>/experiment.yaml   name, description, source file, varied keys, run ids in order

A run folder is owned by the one process executing that run. The experiment folder is locked for the
whole invocation, so a run still marked `running` when the lock is acquired belongs to a process that
is gone, and is run again. Workers receive each run as its resolved YAML text and report back plain
dicts: nothing crosses a process boundary that is not plain data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import yaml

from optbench import __version__, train
from optbench.config import (
    ActivationsConfig,
    Experiment,
    RunConfig,
    activations_to_yaml,
    to_yaml,
    validate_run,
    value_at,
)
from optbench.diagnostics import DIAGNOSTIC_COLUMNS
from optbench.errors import OptbenchError, UsageError
from optbench.files import CsvLog, FolderLock, atomic_write_json, atomic_write_text, csv_text

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
DIAGNOSTICS_FILE = "diagnostics.csv"
STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.csv"
EXPERIMENT_FILE = "experiment.yaml"
RUNS_DIR = "runs"

FINISHED = ("completed", "diverged")
"""Statuses of a run that is done: a rerun skips it. failed, interrupted and stale running are rerun."""

SUMMARY_COLUMNS = ("run_id", "status", "optimizer", "lr", "seed", "steps", "final_loss", "wall_s")
DATASET_SUMMARY_COLUMNS = ("final_test_acc", "init", "activation")
EXTRA_SUMMARY_COLUMNS = ("steps_done", "diverged_step", "error")
KEYS_IN_BASE_COLUMNS = (
    "optimizer.name",
    "optimizer.lr",
    "train.seed",
    "train.steps",
    "model.activation",
    "model.init.name",
)


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Interrupted(BaseException):
    """SIGTERM, turned into an exception so that a run unwinds like it does on Ctrl-C."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    return {"optbench": __version__, "numpy": np.__version__, "python": sys.version.split()[0]}


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


def read_status(run_folder: Path) -> dict[str, Any] | None:
    """A run's status.json, or None if it has none (never started) or it cannot be read."""
    try:
        data = json.loads((run_folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_finished(run_folder: Path) -> bool:
    status = read_status(run_folder)
    return status is not None and status.get("status") in FINISHED


# --------------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------------


def execute(run: RunConfig, run_folder: Path, on_step: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Execute one run into its folder and return its final status (also written to status.json).

    KeyboardInterrupt and `Interrupted` mark the run `interrupted` and propagate; any other exception
    marks it `failed` and is returned as data, so that the other runs of a sweep go on.
    """
    run_folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_folder / CONFIG_FILE, to_yaml(run))
    status: dict[str, Any] = {
        "run_id": run.run_id,
        "status": "running",
        "seed": run.train.seed,
        "started": _now(),
        "ended": None,
        "wall_s": None,
        "pid": os.getpid(),
        "versions": versions(),
    }
    atomic_write_json(run_folder / STATUS_FILE, status)
    started = time.perf_counter()

    def finish(**fields: Any) -> dict[str, Any]:
        status.update(fields, ended=_now(), wall_s=round(time.perf_counter() - started, 3))
        atomic_write_json(run_folder / STATUS_FILE, status)
        return status

    try:
        with contextlib.ExitStack() as stack:
            metrics = stack.enter_context(CsvLog(run_folder / METRICS_FILE, train.columns_for(run)))
            diagnostics = None
            if run.task.kind == "dataset":
                diagnostics = stack.enter_context(CsvLog(run_folder / DIAGNOSTICS_FILE, DIAGNOSTIC_COLUMNS))
            outcome = train.run(run, metrics.write, diagnostics.write if diagnostics else None, on_step)
    except (KeyboardInterrupt, Interrupted):
        finish(status="interrupted")
        raise
    except Exception as exc:  # a failing run is a result of the sweep, reported in its status
        return finish(status="failed", error=_describe_error(exc))
    return finish(
        status=outcome.status,
        steps_done=outcome.steps_done,
        final_loss=outcome.final_loss,
        final_test_acc=outcome.final_test_acc,
        diverged_step=outcome.diverged_step,
    )


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, OptbenchError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------------


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted()


class _WorkerState:
    """Whether a worker still has a run to unwind; after that, stop signals are ignored."""

    unwinding = True


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    """In a worker, SIGINT and SIGTERM unwind the current run, and do nothing once it is over.

    Checking a flag here, rather than swapping handlers at the end, leaves no moment at which a
    late signal can raise during the worker's exit and print a traceback.
    """
    if _WorkerState.unwinding:
        raise Interrupted()


def _worker(tasks: mp.Queue[Any], results: mp.Queue[Any]) -> None:
    """A worker process: take (resolved YAML, folder) tasks until told to stop, report each result."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_stop_signal)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked since start: see _Pool.start
        while True:
            task = tasks.get()
            if task is None:
                return
            config_text, folder = task
            run, problems = validate_run(yaml.safe_load(config_text))
            if run is None:  # cannot happen for text written by to_yaml; reported rather than hidden
                results.put(("done", folder, {"status": "failed", "error": f"invalid config: {problems}"}))
                continue
            results.put(("started", folder, os.getpid()))
            results.put(("done", folder, execute(run, Path(folder))))
    except (KeyboardInterrupt, Interrupted):
        return
    finally:
        _WorkerState.unwinding = False


@dataclass
class _Pool:
    """Worker processes pulling runs from one queue; replaced if one dies mid-run."""

    context: Any

    def __post_init__(self) -> None:
        self.tasks: mp.Queue[Any] = self.context.Queue()
        self.results: mp.Queue[Any] = self.context.Queue()
        self.workers: list[Any] = []

    def start(self, n: int) -> None:
        """Start n workers with SIGINT and SIGTERM blocked until `_worker` has its handlers.

        A Ctrl-C that arrives while a worker is still importing then waits for it instead of
        printing a traceback from the middle of an import; the child inherits the blocked mask.
        """
        for _ in range(n):
            process = self.context.Process(target=_worker, args=(self.tasks, self.results), daemon=True)
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            self.workers.append(process)

    def stop(self, interrupt: bool) -> None:
        """Wait for every worker to exit; with `interrupt`, signal them first. Stragglers are killed."""
        for process in self.workers if interrupt else ():
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


Done = Callable[[Path, dict[str, Any]], None]
"""Called with a run's folder and its final status as each run finishes."""


def _run_parallel(todo: Sequence[tuple[RunConfig, Path]], jobs: int, on_done: Done) -> None:
    pool = _Pool(mp.get_context("spawn"))
    for run, folder in todo:
        pool.tasks.put((to_yaml(run), str(folder)))
    n_workers = min(jobs, len(todo))
    for _ in range(n_workers):
        pool.tasks.put(None)
    pool.start(n_workers)
    active: dict[int, str] = {}  # worker pid -> folder of the run it is executing
    remaining = {str(folder) for _, folder in todo}
    interrupted = True
    try:
        while remaining:
            try:
                kind, key, payload = pool.results.get(timeout=0.5)
            except queue.Empty:
                _reap_dead_workers(pool, active, remaining, on_done)
                if remaining and not any(p.is_alive() for p in pool.workers):
                    for key in sorted(remaining):  # the queue lost its workers: report, never hang
                        on_done(
                            Path(key), {"status": "failed", "error": "no worker left to execute this run"}
                        )
                    break
                continue
            if kind == "started":
                active[payload] = key
            else:
                active = {pid: k for pid, k in active.items() if k != key}
                remaining.discard(key)
                on_done(Path(key), payload)
        interrupted = False
    finally:
        pool.stop(interrupt=interrupted)


def _reap_dead_workers(pool: _Pool, active: dict[int, str], remaining: set[str], on_done: Done) -> None:
    """A worker killed from outside (out of memory, say) fails its run; a fresh worker takes its place."""
    for process in list(pool.workers):
        if process.is_alive() or process.pid not in active:
            continue
        key = active.pop(process.pid)
        pool.workers.remove(process)
        if key in remaining:
            remaining.discard(key)
            on_done(
                Path(key),
                {"status": "failed", "error": f"worker process died (exit code {process.exitcode})"},
            )
            pool.tasks.put(None)
            pool.start(1)


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
def _sigterm_as_interrupt() -> Iterator[None]:
    """In the main process, SIGTERM unwinds like Ctrl-C does."""
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    sizes = (784, *run.model.hidden, 10)
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
    exp: Experiment, out: Path, jobs: int = 1, force: bool = False, progress: bool = True
) -> SweepResult:
    """Execute every run of `exp` not yet finished; keep summary.csv current after each one."""
    (result,) = run_experiments([exp], out, jobs, force, progress)
    return result


def run_experiments(
    exps: Sequence[Experiment], out: Path, jobs: int = 1, force: bool = False, progress: bool = True
) -> list[SweepResult]:
    """Execute the unfinished runs of several experiments as one sweep, longest runs first.

    Each experiment folder is locked for the whole sweep; its summary.csv is rewritten after each of
    its runs finishes. With jobs > 1 the runs go to worker processes; otherwise they run here.
    """
    _check_data(exps)
    folders = [experiment_dir(out, exp.name) for exp in exps]
    if len(set(folders)) != len(folders):
        raise UsageError("two experiments of the sweep write into the same folder: give them distinct names")
    with contextlib.ExitStack() as stack:
        for folder in folders:
            stack.enter_context(FolderLock(folder))
        stack.enter_context(_sigterm_as_interrupt())
        statuses: list[dict[str, dict[str, Any]]] = [{} for _ in exps]
        skipped = [0] * len(exps)
        owner: dict[Path, tuple[int, str]] = {}  # run folder -> (experiment index, run id)
        todo: list[tuple[float, int, RunConfig, Path]] = []
        for index, (exp, folder) in enumerate(zip(exps, folders)):
            write_experiment_file(folder, exp)
            for run in exp.runs:
                run_folder = folder / RUNS_DIR / run.run_id
                owner[run_folder] = (index, run.run_id)
                status = read_status(run_folder)
                if not force and status is not None and status.get("status") in FINISHED:
                    statuses[index][run.run_id] = status
                    skipped[index] += 1
                else:
                    todo.append((-estimated_cost(run), len(todo), run, run_folder))
        todo.sort(key=lambda item: item[:2])
        ordered = [(run, run_folder) for _, _, run, run_folder in todo]
        total = sum(len(exp.runs) for exp in exps)
        name = exps[0].name if len(exps) == 1 else f"{len(exps)} experiments"
        bar = _progress_bar(total, total - len(ordered), name, progress)

        def on_done(run_folder: Path, status: dict[str, Any]) -> None:
            index, run_id = owner[run_folder]
            statuses[index][run_id] = status
            write_summary(folders[index], exps[index], statuses[index])
            bar.update(1)
            bar.set_postfix_str(f"{run_id}: {status.get('status')}", refresh=True)

        interrupted = False
        try:
            if jobs <= 1 or len(ordered) <= 1:
                for run, run_folder in ordered:
                    with _step_bar(run, progress and jobs <= 1) as step:
                        on_done(run_folder, execute(run, run_folder, step))
            else:
                _run_parallel(ordered, jobs, on_done)
        except (KeyboardInterrupt, Interrupted):
            interrupted = True
        finally:
            bar.close()
            for _, run_folder in ordered:
                index, run_id = owner[run_folder]
                status = read_status(run_folder)
                if status is not None and status.get("status") == "running":
                    status.update(status="interrupted", ended=_now())
                    atomic_write_json(run_folder / STATUS_FILE, status)
                if run_id not in statuses[index] and status is not None:
                    statuses[index][run_id] = status
            for index, folder in enumerate(folders):
                write_summary(folder, exps[index], statuses[index])
    return [SweepResult(folder, statuses[i], skipped[i], interrupted) for i, folder in enumerate(folders)]


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, done: int, name: str, enabled: bool) -> Any:
    if not (enabled and sys.stderr.isatty()):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=name, unit="run", file=sys.stderr, dynamic_ncols=True)


@contextlib.contextmanager
def _step_bar(run: RunConfig, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from tqdm import tqdm

    with tqdm(
        total=run.train.steps,
        desc=run.run_id,
        unit="step",
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.2,
    ) as bar:

        def on_step(step: int) -> None:
            bar.update(step - bar.n)

        yield on_step


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------


def summary_columns(exp: Experiment) -> tuple[str, ...]:
    has_model = any(run.model is not None for run in exp.runs)
    columns = SUMMARY_COLUMNS + (DATASET_SUMMARY_COLUMNS if has_model else ())
    varied = tuple(k for k in exp.varied if k not in KEYS_IN_BASE_COLUMNS)
    return columns + varied + EXTRA_SUMMARY_COLUMNS


def summary_rows(exp: Experiment, statuses: dict[str, dict[str, Any]]) -> list[list[Any]]:
    columns = summary_columns(exp)
    rows = []
    for run in sorted(exp.runs, key=lambda r: r.run_id):
        status = statuses.get(run.run_id, {})
        values: dict[str, Any] = {
            "run_id": run.run_id,
            "status": status.get("status", "pending"),
            "optimizer": run.optimizer.name,
            "lr": run.optimizer.lr,
            "seed": run.train.seed,
            "steps": run.train.steps,
            "final_loss": status.get("final_loss"),
            "wall_s": status.get("wall_s"),
            "final_test_acc": status.get("final_test_acc"),
            "init": run.model.init.name if run.model else None,
            "activation": run.model.activation if run.model else None,
            "steps_done": status.get("steps_done"),
            "diverged_step": status.get("diverged_step"),
            "error": status.get("error"),
        }
        rows.append([values[c] if c in values else _cell(value_at(run, c)) for c in columns])
    return rows


def _cell(value: Any) -> Any:
    """A config value in a CSV cell: lists and mappings as JSON, which YAML also reads back."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def write_experiment_file(folder: Path, exp: Experiment) -> None:
    """What report and plots need to know about the experiment beyond its runs' own files."""
    kind = exp.runs[0].task.kind if exp.runs else "dataset"
    data = {
        "experiment": exp.name,
        "description": exp.description.strip(),
        "source": exp.source,
        "kind": kind,
        "varied": list(exp.varied),
        "runs": [run.run_id for run in exp.runs],
    }
    atomic_write_text(folder / EXPERIMENT_FILE, yaml.safe_dump(data, sort_keys=False, width=110))


def write_summary(folder: Path, exp: Experiment, statuses: dict[str, dict[str, Any]]) -> None:
    atomic_write_text(folder / SUMMARY_FILE, csv_text(summary_columns(exp), summary_rows(exp, statuses)))


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------

ACTIVATIONS_FILE = "activations.csv"


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
