"""One run, executed wherever a worker is: its resolved YAML in, plain events out.

Nothing here touches the results folder. Every event is a tuple of plain values, so it crosses a pipe
or a network unchanged, and the process that runs the command writes the files from it:

    ("rows", FILE, TEXT, STEP)   whole CSV lines to append to FILE (its header comes first); STEP is
                                 the training step of the last line, None for a header
    ("checkpoint", STEP, DATA)   a checkpoint of a dataset run after STEP, DATA the base64 text of
                                 its `.npz` bytes (`optbench.checkpoints`); every row up to STEP
                                 was emitted before it
    ("done", FIELDS)             the run is over; FIELDS go into status.json: status, steps_done,
                                 final_loss, final_test_acc, diverged_step or error, wall_s, versions,
                                 blas_threads (the BLAS threads it ran on: 1, `optbench.threads`);
                                 a run failed by an error not optbench's own adds its traceback

A run given a checkpoint (base64 text, as emitted) continues after its step and emits the rows after
it only, no header: the runner keeps the rows up to that step.

A run that raises ends with a `failed` done event carrying its message, so that the other runs of a
sweep go on; KeyboardInterrupt and the stop signals propagate to whoever runs the task.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import yaml

from optbench import __version__, checkpoints, train
from optbench.config import validate_run
from optbench.diagnostics import DIAGNOSTIC_COLUMNS
from optbench.engine import Engine
from optbench.errors import OptbenchError
from optbench.files import csv_line
from optbench.layout import DIAGNOSTICS_FILE, METRICS_FILE
from optbench.metrics import Row
from optbench.threads import one_blas_thread

Event = tuple[Any, ...]
Emit = Callable[[Event], None]


def versions() -> dict[str, str]:
    """What produced the numbers: recorded in every run's status.json."""
    return {"optbench": __version__, "numpy": np.__version__, "python": sys.version.split()[0]}


def describe_error(exc: BaseException) -> str:
    """A failed run's reason, one line: optbench's own message, or the file and the OS's reason."""
    if isinstance(exc, OptbenchError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def perform(
    config_text: str,
    emit: Emit,
    prepare: Callable[[Any], None] | None = None,
    checkpoint: str | None = None,
    engine: Engine = Engine.INLINE,
) -> None:
    """Execute the run that `config_text` (a config.yaml) describes, reporting everything to `emit`.

    `prepare`, if given, receives the parsed config before it is validated (validation reads the
    dataset's size from its folder): a cluster worker makes the data present there. What it raises
    fails the run like any other error. `checkpoint` resumes the run from a checkpoint it emitted.
    `engine` lays a dataset run's work out on the cores (`optbench.engine`; OVERLAPPED for a run
    that has a core to spare).
    """
    started = time.perf_counter()
    worker = {"pid": os.getpid(), "host": socket.gethostname(), "versions": versions()}

    def done(**fields: Any) -> None:
        emit(("done", {**fields, "wall_s": round(time.perf_counter() - started, 3), **worker}))

    try:
        raw = yaml.safe_load(config_text)
        if prepare is not None:
            prepare(raw)
        run, problems = validate_run(raw)
        if run is None:
            detail = "; ".join(f"{path}: {message}" for path, message in problems)
            raise OptbenchError(f"invalid config: {detail}")
        resume = checkpoints.unpack(base64.b64decode(checkpoint)) if checkpoint is not None else None
        if resume is None:
            emit(("rows", METRICS_FILE, csv_line(train.columns_for(run)), None))
        write_diagnostics = None
        if run.task.kind == "dataset":
            if resume is None:
                emit(("rows", DIAGNOSTICS_FILE, csv_line(DIAGNOSTIC_COLUMNS), None))

            def write_diagnostics(row: Row) -> None:
                emit(("rows", DIAGNOSTICS_FILE, csv_line(row), row[0]))

        def write_metrics(row: Row) -> None:
            emit(("rows", METRICS_FILE, csv_line(row), row[0]))

        def save(step: int, state: checkpoints.Checkpoint) -> None:
            emit(("checkpoint", step, base64.b64encode(checkpoints.pack(state)).decode("ascii")))

        with one_blas_thread() as blas_threads:
            outcome = train.run(
                run, write_metrics, write_diagnostics, save=save, resume=resume, engine=engine
            )
    except Exception as exc:  # a failing run is a result of the sweep, reported in its status
        if isinstance(exc, OptbenchError):
            done(status="failed", error=describe_error(exc))
        else:  # an error in code the run calls (a plugin's): where it happened, for its author
            done(status="failed", error=describe_error(exc), traceback=traceback.format_exc())
        return
    done(
        blas_threads=blas_threads,
        status=outcome.status,
        steps_done=outcome.steps_done,
        final_loss=outcome.final_loss,
        final_val_loss=outcome.final_val_loss,
        final_val_acc=outcome.final_val_acc,
        final_test_acc=outcome.final_test_acc,
        diverged_step=outcome.diverged_step,
    )
