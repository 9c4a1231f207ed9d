"""summary.csv: one row per run of an experiment, kept current while a sweep runs.

A row holds the run's main settings (optimizer, lr, seed, steps, and the keys the experiment
varies) and what its status says (status, final numbers, wall time). Rows are in run-id order. A
row's text is made again only when its run's status changes, and the file is rewritten from those
lines; rewrites are spaced so that they take at most `WRITE_SHARE` of the sweep's time. A sweep of
runs that take seconds rewrites it after every run, one of thousands of tiny runs every few dozen
milliseconds; `flush` writes whatever is pending (at the end of a sweep, and on a stop).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from optbench.config import RunConfig, to_dict
from optbench.files import atomic_write_text, csv_line
from optbench.layout import SUMMARY_FILE
from optbench.plain import value_at

BASE_COLUMNS = ("run_id", "status", "optimizer", "lr", "seed", "steps", "final_loss", "wall_s")
DATASET_COLUMNS = ("final_val_loss", "final_val_acc", "final_test_acc", "init", "activation")
STATUS_COLUMNS = ("steps_done", "diverged_step", "error")
FROM_STATUS = (
    "final_loss",
    "wall_s",
    "final_val_loss",
    "final_val_acc",
    "final_test_acc",
    "steps_done",
    "diverged_step",
    "error",
)
"""Columns read from a run's status; the others come from its resolved config."""

KEYS_IN_BASE_COLUMNS = {
    "optimizer.name": "optimizer",
    "optimizer.lr": "lr",
    "train.seed": "seed",
    "train.steps": "steps",
    "model.activation": "activation",
    "model.init.name": "init",
}
"""Varied keys that already have a column of their own."""

WRITE_SHARE = 0.05
"""At most this share of a sweep's time goes to rewriting summary.csv."""


def summary_columns(runs: Sequence[RunConfig], varied: Sequence[str]) -> tuple[str, ...]:
    """The header: base columns, the dataset columns if any run has a model, each varied key once."""
    has_model = any(run.model is not None for run in runs)
    own = tuple(dict.fromkeys(k for k in varied if k not in KEYS_IN_BASE_COLUMNS))
    return BASE_COLUMNS + (DATASET_COLUMNS if has_model else ()) + own + STATUS_COLUMNS


def _cell(value: Any) -> Any:
    """A config value in a CSV cell: lists and mappings as JSON, which YAML also reads back."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _config_cells(run: RunConfig, columns: Sequence[str]) -> dict[str, Any]:
    config = to_dict(run)
    named = {
        "run_id": run.run_id,
        "optimizer": run.optimizer.name,
        "lr": run.optimizer.lr,
        "seed": run.train.seed,
        "steps": run.train.steps,
        "init": run.model.init.name if run.model else None,
        "activation": run.model.activation if run.model else None,
    }
    return {
        c: named[c] if c in named else _cell(value_at(config, c)) for c in columns if c not in FROM_STATUS
    }


class Summary:
    """The summary.csv of one experiment folder, rewritten from one cached line per run."""

    def __init__(
        self,
        folder: Path,
        runs: Sequence[RunConfig],
        varied: Sequence[str],
        statuses: Mapping[str, Any],
        unknown: Sequence[str] = (),
        labels: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`unknown`: run ids whose config is not known here (recorded, never started): id and status.
        `labels`: more columns by run id (a tune's trial and role), after the base columns."""
        self.path = folder / SUMMARY_FILE
        labels = labels or {}
        extra = tuple(dict.fromkeys(k for row in labels.values() for k in row))
        columns = summary_columns(runs, varied)
        at = columns.index("wall_s") + 1
        self.columns = columns[:at] + extra + columns[at:]
        self._config = {
            run.run_id: {**_config_cells(run, self.columns), **labels.get(run.run_id, {})} for run in runs
        }
        self._config.update({run_id: {"run_id": run_id} for run_id in unknown})
        self._lines = {
            run_id: self._line(run_id, statuses.get(run_id, {})) for run_id in sorted(self._config)
        }
        self._pending = True
        self._last_end = 0.0
        self._last_cost = 0.0

    def _line(self, run_id: str, status: Mapping[str, Any]) -> str:
        cells = dict(self._config[run_id], status=status.get("status", "pending"))
        cells.update((c, status.get(c)) for c in FROM_STATUS)
        return csv_line([cells.get(c) for c in self.columns])

    def update(self, run_id: str, status: Mapping[str, Any]) -> None:
        """A run's status changed: its row is made again, and the file rewritten when it is due."""
        self._lines[run_id] = self._line(run_id, status)
        self._pending = True
        if time.monotonic() - self._last_end >= self._last_cost / WRITE_SHARE:
            self.flush()

    def flush(self) -> None:
        """Rewrite the file if a row changed since it was last written."""
        if not self._pending:
            return
        started = time.monotonic()
        atomic_write_text(self.path, csv_line(self.columns) + "".join(self._lines.values()))
        self._pending = False
        self._last_end = time.monotonic()
        self._last_cost = self._last_end - started
