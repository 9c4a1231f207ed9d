"""One run folder as it is on disk: its config, status, metrics and diagnostics (`RunResult`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optbench import plugins
from optbench.formula import formula_objective
from optbench.functions import FUNCTIONS, Objective
from optbench.layout import CONFIG_FILE, DIAGNOSTICS_FILE, FINISHED, METRICS_FILE, read_status
from optbench.plain import value_at
from optbench.results.files import Columns, read_csv_or_none, read_yaml
from optbench.stats import FloatArray

PLUGINS_KEY = "plugins"
"""The section of a run's config.yaml that records the plugin code it used (`optbench.config`)."""

SEED_KEY = "train.seed"
SEED_KEYS = (SEED_KEY, "train.init_seed", "train.data_seed")
"""The seeds of a run: runs that differ only in them are one variant, run several times."""


@dataclass(frozen=True)
class RunResult:
    """One run folder: its resolved config, its status and its metric logs (None where absent)."""

    run_id: str
    folder: Path
    config: Mapping[str, Any]
    status: Mapping[str, Any]
    metrics: Columns | None
    diagnostics: Columns | None

    def __repr__(self) -> str:
        return f"RunResult({self.run_id!r}, {self.state})"

    @property
    def state(self) -> str:
        """completed, diverged, failed, interrupted, running, or pending (never started)."""
        return str(self.status.get("status", "pending"))

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def kind(self) -> str:
        return "function" if value_at(self.config, "task.function") is not None else "dataset"

    @property
    def objective(self) -> Objective | None:
        """The 2-D function of a function run (None for a dataset run, or a function no one registered):
        a formula built from the config, a plugin installed from the code its config records."""
        function = value_at(self.config, "task.function")
        if isinstance(function, Mapping):
            xlim, ylim = function.get("box") or (None, None)
            try:
                start = value_at(self.config, "task.start")
                text = str(function.get("formula"))
                return formula_objective(text, start, xlim, ylim, function.get("minimum"))
            except (ValueError, TypeError):
                return None
        name = str(function)
        if name not in FUNCTIONS and self.config.get(PLUGINS_KEY):
            try:
                plugins.install_records(self.config[PLUGINS_KEY])
            except plugins.PluginError:
                return None
        return FUNCTIONS.get(name)

    @property
    def optimizer(self) -> str:
        return str(value_at(self.config, "optimizer.name"))

    @property
    def lr(self) -> float:
        return float(value_at(self.config, "optimizer.lr"))

    @property
    def seed(self) -> int:
        return int(value_at(self.config, SEED_KEY) or 0)

    @property
    def steps(self) -> int:
        return int(value_at(self.config, "train.steps") or 0)

    @property
    def init_name(self) -> str | None:
        name = value_at(self.config, "model.init.name")
        return None if name is None else str(name)

    @property
    def has_metrics(self) -> bool:
        return self.metrics is not None and len(self.metrics.get("step", ())) > 0

    @property
    def diverged_step(self) -> int | None:
        step = self.status.get("diverged_step")
        return None if step is None else int(step)

    @property
    def final_loss(self) -> float:
        return _float_or_nan(self.status.get("final_loss"))

    @property
    def final_test_acc(self) -> float:
        return _float_or_nan(self.status.get("final_test_acc"))

    @property
    def final_val_acc(self) -> float:
        """NaN when the run held out no validation split (or has not finished)."""
        return _float_or_nan(self.status.get("final_val_acc"))

    @property
    def final_val_loss(self) -> float:
        return _float_or_nan(self.status.get("final_val_loss"))

    @property
    def layers(self) -> list[int]:
        """The layers (1-based) that diagnostics.csv describes; none when the run has no diagnostics."""
        if self.diagnostics is None or "layer" not in self.diagnostics:
            return []
        layers = self.diagnostics["layer"]
        return sorted(int(v) for v in np.unique(layers[np.isfinite(layers)]))

    def layer_curve(self, layer: int, column: str) -> tuple[FloatArray, FloatArray]:
        """(steps, values) of one diagnostics column for one layer, finite values only, in step order."""
        if self.diagnostics is None or column not in self.diagnostics:
            return np.empty(0), np.empty(0)
        diag = self.diagnostics
        keep = (diag["layer"] == layer) & np.isfinite(diag[column]) & np.isfinite(diag["step"])
        order = np.argsort(diag["step"][keep], kind="stable")
        return diag["step"][keep][order], diag[column][keep][order]

    def curve(self, column: str) -> tuple[FloatArray, FloatArray]:
        """(steps, values) of one metrics column, rows with a non-finite value left out."""
        if self.metrics is None or column not in self.metrics:
            return np.empty(0), np.empty(0)
        steps, values = self.metrics["step"], self.metrics[column]
        keep = np.isfinite(values) & np.isfinite(steps)
        return steps[keep], values[keep]


def _float_or_nan(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def read_run(folder: Path) -> RunResult:
    """A run folder as it is on disk now; missing files give an empty config/status and None logs."""
    config = read_yaml(folder / CONFIG_FILE)
    return RunResult(
        run_id=folder.name,
        folder=folder,
        config=config if isinstance(config, dict) else {},
        status=read_status(folder) or {},
        metrics=read_csv_or_none(folder / METRICS_FILE),
        diagnostics=read_csv_or_none(folder / DIAGNOSTICS_FILE),
    )


def last_finite(steps: FloatArray, values: FloatArray) -> int | None:
    """Index of the last row whose step and value are finite (the last point before a divergence)."""
    finite = np.flatnonzero(np.isfinite(steps) & np.isfinite(values))
    return int(finite[-1]) if finite.size else None
