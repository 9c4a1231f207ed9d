"""Run folders: the experiment folder that holds them, and one run's files written as it goes.

Layout (the results contract, `optbench.layout`):

    <out>/<experiment>/runs/<run_id>/{config.yaml, metrics.csv, diagnostics.csv, status.json,
                                      checkpoint.npz}

From the moment a run folder exists it holds a status.json that tells the truth: a new folder is
built under a temporary name with its config.yaml and status.json and renamed into place (the
sweep holds the stop signals meanwhile, and marks a run it stops `interrupted`). A run that resumes
from its checkpoint has its logs cut back to the checkpoint's step first; the staging folders of a
process that was killed are removed by the next one to lock the experiment.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from optbench import checkpoints
from optbench.config import RunConfig
from optbench.errors import OptbenchError, UsageError
from optbench.executors import describe_error, versions
from optbench.files import LineLog, atomic_write_bytes, atomic_write_json, atomic_write_text, fsync_dir
from optbench.layout import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    FINISHED,
    METRICS_FILE,
    PLUGINS_DIR,
    STATUS_FILE,
    TRACEBACK_FILE,
    read_status,
)
from optbench.plugins import PluginCode
from optbench.signals import stop_signals_blocked


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
        why = _why_not_created(folder, exc)
        raise UsageError(f"{folder}: cannot create the results folder: {why}; choose another --out") from None
    return folder


def _why_not_created(folder: Path, exc: OSError) -> str:
    """Why `mkdir -p folder` failed, said of the deepest part of the path that exists.

    The system's own words alone mislead: creating /proc/x says "No such file or directory" of a
    folder that was to be created.
    """
    reason = exc.strerror or str(exc)
    found = next(p for p in folder.parents if os.path.lexists(p))  # the root always exists
    if found.is_symlink() and not found.exists():
        return f"{found} is a link to {os.readlink(found)}, which does not exist"
    if not found.is_dir():
        return f"{found} is a file, not a folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to create a folder in {found} ({reason})"
    if exc.errno == errno.EROFS:
        return f"{found} is on a read-only file system"
    if exc.errno == errno.ENOENT:  # the folder that exists refuses new entries: /proc, /sys
        return f"{found} accepts no new folders ({reason})"
    return f"{reason} (in {found})"


def remove_stale_staging(runs_dir: Path) -> None:
    """Remove the run folders a killed process was still building (call it holding the experiment's lock,
    which says no one else is)."""
    for staging in runs_dir.glob(".*.tmp-*"):
        shutil.rmtree(staging, ignore_errors=True)


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
        if run.plugins:
            self.status["plugins"] = [plugin_status(family, code) for family, code in run.plugins]
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
            for name in (METRICS_FILE, DIAGNOSTICS_FILE, CHECKPOINT_FILE, TRACEBACK_FILE):
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
        fields = dict(fields)
        trace = fields.pop("traceback", None)
        if trace is not None:
            atomic_write_text(self.folder / TRACEBACK_FILE, trace)
            fields["traceback"] = TRACEBACK_FILE
        if self._write_error is not None:
            fields = {**fields, "status": "failed", "error": self._write_error, "final_loss": None}
        self.status.update(fields, ended=_now())
        atomic_write_json(self.folder / STATUS_FILE, self.status)
        if self.status.get("status") in FINISHED and not self.keep_checkpoint:
            (self.folder / CHECKPOINT_FILE).unlink(missing_ok=True)
        return self.status

    def interrupt(self) -> dict[str, Any]:
        """Mark the run `interrupted`, with the steps it did, and return its status."""
        self._close()
        self.status.update(status="interrupted", steps_done=self.steps_done, ended=_now())
        atomic_write_json(self.folder / STATUS_FILE, self.status)
        return self.status

    def _close(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()


def plugin_status(family: str, code: PluginCode) -> dict[str, Any]:
    """A plugin as a run's status.json records it: its code's identity (not its text, which is in
    config.yaml) and, for a file, the copy the experiment folder keeps."""
    entry = {"family": family, **{k: v for k, v in code.record().items() if k != "source"}}
    if code.kept_name is not None:
        entry["copy"] = f"{PLUGINS_DIR}/{code.kept_name}"
    return entry


def keep_plugin_files(folder: Path, runs: Iterable[RunConfig]) -> None:
    """Keep in the experiment `folder` a copy of each plugin file its `runs` use, as it was read."""
    for run in runs:
        for _, code in run.plugins:
            if code.kept_name is None or code.source is None:
                continue
            path = folder / PLUGINS_DIR / code.kept_name
            if not path.exists():
                path.parent.mkdir(exist_ok=True)
                atomic_write_text(path, code.source)


def copy_run(source: Path, dest: Path, config_text: str, keep_checkpoint: bool = False) -> dict[str, Any]:
    """Give `dest` the files of the same run, ended in `source` (another experiment's folder), and
    return its status: its own config.yaml, a copy of the logs, and the status with `copied_from`,
    the source's path from the results root. The folder appears whole, as a new run's does (call
    it holding the stop signals), and replaces what an unfinished run had left there.
    """
    status = dict(read_status(source) or {})
    status["copied_from"] = f"{source.parent.parent.name}/{source.parent.name}/{source.name}"
    skipped = {CONFIG_FILE, STATUS_FILE} | (set() if keep_checkpoint else {CHECKPOINT_FILE})
    staging = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for item in source.iterdir():
            if item.is_file() and item.name not in skipped:
                shutil.copyfile(item, staging / item.name)
        atomic_write_text(staging / CONFIG_FILE, config_text)
        atomic_write_json(staging / STATUS_FILE, status)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(dest.parent)
    return status


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
