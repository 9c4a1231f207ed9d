"""What a command shows of its progress on stderr: the sweep's bar, the steps of a lone run.

On a terminal a sweep shows a tqdm bar of its runs, the last finished one named beside it, and a
lone run executing in this process shows a bar of its steps under it; where stderr is no terminal
(CI, nohup, `| tee`) a sweep prints one line per finished run instead. -q shows none of them, but
a notice that the sweep cannot go on (`note`) is shown all the same.
"""

from __future__ import annotations

import shutil
import sys
from typing import TYPE_CHECKING, Any, TextIO

from optbench.text import shorten, status_line

if TYPE_CHECKING:
    from optbench.config import RunConfig

DRAWING = "drawing figures…"
"""The line a command says (unless -q) before it draws the figures of its runs."""

MIN_BAR = 10
"""Characters the bar itself keeps on a narrow terminal: the run id beside it is shortened first,
or left out."""
RUN_BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
"""The sweep's bar: no rate (runs differ too much in length for runs/s to say anything), so that the
bar and the last finished run keep their room on a narrow terminal."""
RUN_METER = ": 100%|| {n}/{n} [00:00<00:00, ]"
STEP_METER = ": 100%|| {n}/{n} [00:00<00:00, 99999.99step/s]"
"""The widest text tqdm puts around a bar (besides its description and postfix), `n` the total."""


class SweepProgress:
    """The progress of a sweep's runs, as the sweep reports it; this one shows nothing (-q)."""

    def update(self, n: int = 1) -> None:
        """`n` more runs are done."""

    def finished(self, run_id: str, status: dict[str, Any], test: bool = True) -> None:
        """The run `run_id` ended with `status`; its test accuracy is not shown unless `test`."""

    def close(self) -> None:
        """The sweep is over."""


def _tqdm() -> Any:
    """tqdm's bar, without its monitor thread: a thread that can receive SIGINT would run the stop
    handler in the middle of a block that holds the stop signals (`stop_signals_blocked`)."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return tqdm


class _Lines(SweepProgress):
    """Progress where stderr is no terminal (CI, nohup, `| tee`): one line per finished run, as it ends."""

    def __init__(self, total: int, done: int, stream: TextIO) -> None:
        self.total, self.n, self.stream = total, done, stream

    def update(self, n: int = 1) -> None:
        self.n += n

    def finished(self, run_id: str, status: dict[str, Any], test: bool = True) -> None:
        line = status_line(run_id, status, test)
        print(f"[{self.n}/{self.total}] {line}", file=self.stream, flush=True)


def _columns() -> int:
    """The terminal's width as tqdm uses it (it leaves the last column free)."""
    return shutil.get_terminal_size().columns - 1


class _Bar(SweepProgress):
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

    def finished(self, run_id: str, status: dict[str, Any], test: bool = True) -> None:
        left = _columns() - self.meter
        room = min(left - MIN_BAR, left // 2)  # the bar keeps at least half of what is left
        self.tqdm.set_postfix_str(shorten(f"{run_id}: {status.get('status')}", room), refresh=True)

    def close(self) -> None:
        self.tqdm.close()


def progress_bar(
    total: int, done: int, name: str, enabled: bool, stream: TextIO | None = None
) -> SweepProgress:
    """The progress of a sweep of `total` runs, `done` of them finished already, called `name`: a bar
    on a terminal, a line per finished run elsewhere, nothing if disabled."""
    stream = stream or sys.stderr
    if not enabled:
        return SweepProgress()
    if not stream.isatty():
        return _Lines(total, done, stream)
    return _Bar(total, done, name, stream)


def note(message: str, stream: TextIO | None = None) -> None:
    """A line on stderr while a sweep may show its bar (above the bar on a terminal), even with -q:
    a notice that the sweep cannot go on (it waits for a worker) is no progress to hide."""
    stream = stream or sys.stderr
    if stream.isatty() and "tqdm" in sys.modules:
        _tqdm().write(message, file=stream)
    else:
        print(message, file=stream, flush=True)


def step_bar(run: RunConfig, enabled: bool, stream: TextIO | None = None) -> Any:
    """A tqdm bar of the steps of the one run executing here, under the sweep's bar (None when not
    shown: disabled, or stderr no terminal)."""
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
