"""A drawing process forked as a command starts, so that matplotlib is imported while its runs train.

Importing matplotlib and the drawing code takes a few tenths of a second of one core. A command
that trains before it draws (train, compare, tune, activations, suite) opens a `Drawer` before its
runs: the forked process imports the drawing code on time the runs leave free (a lone run leaves
most of a core), then waits. Once the runs are done the command hands it the folders to draw, as
JSON over a pipe (paths and a process count, nothing pickled), and waits for the answer: the PNGs
drawn, or the one-line reason it could not draw them. The drawing is `render`'s, in that process
and in the processes it forks.

Forked before the command starts a thread, a worker pool or a cluster client, the process holds no
copy of their pipes or locks. It ignores SIGINT until it is asked to draw: a Ctrl-C during the runs
is the command's to handle, and the command, stopping, closes the pipe, which ends the process
(as does the command's death). While drawing, a Ctrl-C interrupts it as it interrupts the command.
A process the command never asks to draw (its runs were all done, its figures current) is stopped
with SIGTERM, which it turns into an exception, so that an import cut short cleans up after itself
(matplotlib's lock on its font cache, the first time it builds one). Folders whose figures are all
current are never handed over. Where fork is unavailable, the drawing happens in the command's
process.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from optbench.errors import EXIT_INTERRUPTED, OptbenchError
from optbench.plots.rendering import current_figures, figure_jobs, figures_are_current, render, run_figures

STOP_TIMEOUT_S = 10.0
"""How long a drawing process may take to end once the command is done with it, before it is killed."""


def _draw(request: dict[str, Any]) -> list[Path]:
    """Draw what `request` asks: one run folder's figures, or the figures of several folders."""
    processes = int(request["processes"])
    if request["kind"] == "run":
        return run_figures(Path(request["folder"]), processes)
    folders = [Path(folder) for folder in request["folders"]]
    return render([job for folder in folders for job in figure_jobs(folder)], processes)


def _reason(exc: Exception) -> str:
    """A failure to draw as the command reports it: optbench's message, the file and the OS's reason,
    or the exception."""
    if isinstance(exc, OptbenchError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    return f"drawing figures failed: {type(exc).__name__}: {exc}"


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _serve(requests: Any, replies: Any, command_ends: Sequence[Any]) -> None:
    """The drawing process: import, then draw each request until the pipe closes or SIGTERM comes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # blocked since the fork: see Drawer
    for end in command_ends:  # so that the command's end closing is seen as the end of the pipe
        end.close()
    from optbench.plots.axes import import_drawing

    with contextlib.suppress(Exception):  # a failing import is reported by the first request's
        import_drawing()
    while True:
        try:
            request = json.loads(requests.recv_bytes())
        except EOFError:
            os._exit(0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            answer: dict[str, Any] = {"figures": [str(path) for path in _draw(request)]}
        except KeyboardInterrupt:
            os._exit(EXIT_INTERRUPTED)
        except Exception as exc:
            answer = {"error": _reason(exc)}
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with contextlib.suppress(OSError):  # the command is gone: the next read finds the pipe closed
            replies.send_bytes(json.dumps(answer).encode("utf-8"))


class Drawer:
    """The drawing process of one command (see the module's docstring); a context manager."""

    def __init__(self) -> None:
        self._process: Any = None
        self._asked = False
        self._drawing = False
        """Asked and not yet answered: true after a stop interrupted the wait for the answer."""
        if "fork" not in mp.get_all_start_methods():
            return
        context = mp.get_context("fork")
        requests_in, self._requests = context.Pipe(duplex=False)
        self._replies, replies_out = context.Pipe(duplex=False)
        sys.stdout.flush()  # what is buffered is written once, by this process
        sys.stderr.flush()
        self._process = context.Process(
            target=_serve,
            args=(requests_in, replies_out, (self._requests, self._replies)),
            name="optbench-drawer",
        )
        # Forked with SIGTERM blocked, so that one sent at once still finds the process's handler.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        requests_in.close()
        replies_out.close()

    def run_figures(self, run_folder: Path, processes: int) -> list[Path]:
        """`plots.run_figures`, drawn by the drawing process."""
        return self._ask({"kind": "run", "folder": str(run_folder), "processes": processes})

    def experiment_figures(self, folder: Path, processes: int) -> list[Path]:
        """`plots.experiment_figures`, drawn by the drawing process."""
        self.folders_figures([folder], processes)
        return current_figures(folder)

    def folders_figures(self, folders: Sequence[Path], processes: int) -> list[Path]:
        """The figures of several folders that need drawing (`figure_jobs`), shared among `processes`;
        returns those drawn. Folders whose figures are all current are not handed over."""
        stale = [folder for folder in folders if not figures_are_current(folder)]
        if not stale:
            return []
        return self._ask({"kind": "folders", "folders": [str(f) for f in stale], "processes": processes})

    def _ask(self, request: dict[str, Any]) -> list[Path]:
        """Have the drawing process draw what `request` asks, or draw it here if there is none."""
        if self._process is None:
            return _draw(request)
        self._asked = self._drawing = True
        try:
            self._requests.send_bytes(json.dumps(request).encode("utf-8"))
            answer = json.loads(self._replies.recv_bytes())
            self._drawing = False
        except (EOFError, BrokenPipeError):
            self._process.join(STOP_TIMEOUT_S)
            if self._process.exitcode == EXIT_INTERRUPTED:
                raise KeyboardInterrupt from None
            raise OptbenchError(
                f"drawing figures failed: the drawing process ended (exit code {self._process.exitcode})"
            ) from None
        if "error" in answer:
            raise OptbenchError(answer["error"])
        return [Path(path) for path in answer["figures"]]

    def close(self) -> None:
        """End the drawing process: it sees the pipe close and exits. One never asked to draw may
        still be importing, and is stopped with SIGTERM; one whose drawing a stop signal interrupted
        here gets SIGINT, as a Ctrl-C would give it."""
        if self._process is None:
            return
        if not self._asked:
            self._process.terminate()
        elif self._drawing and self._process.is_alive():
            os.kill(self._process.pid, signal.SIGINT)
        self._requests.close()
        self._replies.close()
        self._process.join(STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._process = None

    def __enter__(self) -> Drawer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
