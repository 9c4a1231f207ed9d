"""Reading results back from disk: the one reader that plots and the report share.

Everything comes from the files the runner wrote (YAML with `yaml.safe_load`, JSON, CSV), never from
pickles or from live objects, so `optbench report` can redraw any experiment. CSV columns become
float64 arrays with an empty cell read as NaN.

Runs that differ only in `train.seed` form one *variant*; figures and tables show variants, with the
mean and standard deviation over their seeds.

An `optbench activations` folder is read by `read_activations`: one `ActivationCaseResult` per case, its
per-layer statistics as arrays and its histogram counts as a layers × bins matrix.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from optbench.data import DATASETS
from optbench.errors import OptbenchError
from optbench.layout import (
    ACTIVATIONS_FILE,
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    EXPERIMENT_FILE,
    FINISHED,
    METRICS_FILE,
    RUNS_DIR,
    read_status,
)
from optbench.plain import comparison_key, value_at
from optbench.stats import FloatArray
from optbench.text import format_value

Columns = dict[str, FloatArray]

SEED_KEY = "train.seed"
SEED_KEYS = (SEED_KEY, "train.init_seed", "train.data_seed")
"""The seeds of a run: runs that differ only in them are one variant, run several times."""
NAMED_SECTIONS = ("model.init", "model.output_init", "optimizer.schedule")
"""Config sections written as {name: ..., hyperparameters...}; labels show them as name(k=v, ...)."""


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _to_float(cell: str) -> float:
    try:
        return float(cell) if cell.strip() else math.nan
    except ValueError:
        return math.nan


def read_csv(path: Path) -> Columns:
    """A CSV file as float64 columns; empty or non-numeric cells are NaN."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    return {
        name: np.array([_to_float(row[i]) for row in body], dtype=np.float64) for i, name in enumerate(header)
    }


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV file as text rows (for summary.csv, whose status and name columns are not numbers)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def _read_optional_csv(path: Path) -> Columns | None:
    try:
        return read_csv(path)
    except OSError:
        return None


def classes_of(config: Mapping[str, Any]) -> int | None:
    """The number of classes of a run's dataset (chance-level cross-entropy is ln of it), if it has one."""
    entry = DATASETS.get(str(value_at(config, "task.dataset")))
    return None if entry is None else entry.classes


def layer_widths(config: Mapping[str, Any], n_layers: int) -> dict[int, int]:
    """Units per layer (1-based) where the config says: hidden sizes, and the classes of a known dataset."""
    hidden = value_at(config, "model.hidden") or []
    widths = {i + 1: int(w) for i, w in enumerate(hidden)}
    classes = classes_of(config)
    if classes is not None:
        widths[n_layers] = classes
    return widths


# --------------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------------


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
    config = _read_yaml(folder / CONFIG_FILE)
    return RunResult(
        run_id=folder.name,
        folder=folder,
        config=config if isinstance(config, dict) else {},
        status=read_status(folder) or {},
        metrics=_read_optional_csv(folder / METRICS_FILE),
        diagnostics=_read_optional_csv(folder / DIAGNOSTICS_FILE),
    )


def last_finite(steps: FloatArray, values: FloatArray) -> int | None:
    """Index of the last row whose step and value are finite (the last point before a divergence)."""
    finite = np.flatnonzero(np.isfinite(steps) & np.isfinite(values))
    return int(finite[-1]) if finite.size else None


# --------------------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """Runs that differ only in their seed, with a readable label (`adam lr=0.001`)."""

    label: str
    runs: tuple[RunResult, ...]

    def __repr__(self) -> str:
        return f"Variant({self.label!r}, {len(self.runs)} runs)"

    @property
    def config(self) -> Mapping[str, Any]:
        return self.runs[0].config

    @property
    def optimizer(self) -> str:
        return self.runs[0].optimizer

    @property
    def lr(self) -> float:
        return self.runs[0].lr

    @property
    def init(self) -> Mapping[str, Any] | None:
        init = value_at(self.config, "model.init")
        return init if isinstance(init, Mapping) else None

    @property
    def finished(self) -> tuple[RunResult, ...]:
        """The runs whose numbers count: completed or diverged, with metrics on disk."""
        return tuple(r for r in self.runs if r.finished and r.has_metrics)

    @property
    def diagnosed(self) -> tuple[RunResult, ...]:
        """The finished runs that have per-layer diagnostics."""
        return tuple(r for r in self.finished if r.layers)

    @property
    def diverged(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.finished if r.state == "diverged")


VARIANT_IGNORES = ("experiment", *SEED_KEYS)
"""What runs of one variant may differ in."""


def _short_key(dotted: str) -> str:
    section = next((s for s in NAMED_SECTIONS if dotted == s or dotted.startswith(s + ".")), None)
    return (section or dotted).rsplit(".", 1)[-1]


def variant_label(
    config: Mapping[str, Any], varied: Sequence[str], show_lr: bool = False, exclude: Sequence[str] = ()
) -> str:
    """The optimizer name, then `key=value` for each varied key but the optimizer name and the seed.

    A named section (model.init, ...) is shown whole, `init=normal(std=0.01)`, whichever of its keys
    vary. `show_lr` adds `lr=` even when lr is not a varied key: an experiment comparing optimizers at
    their own default learning rates shows them. Keys in `exclude` are left out.
    """
    keys = [k for k in varied if k not in ("optimizer.name", *SEED_KEYS, *exclude)]
    if show_lr and "optimizer.lr" not in keys and "optimizer.lr" not in exclude:
        keys.insert(0, "optimizer.lr")
    parts = [str(value_at(config, "optimizer.name"))]
    shown: set[str] = set()
    for key in keys:
        section = next((s for s in NAMED_SECTIONS if key == s or key.startswith(s + ".")), key)
        if section in shown:
            continue
        shown.add(section)
        value = value_at(config, section)
        if value is not None:
            parts.append(f"{_short_key(section)}={format_value(value)}")
    return " ".join(parts)


def group_variants(runs: Sequence[RunResult], varied: Sequence[str]) -> list[Variant]:
    """Group runs whose resolved configs are equal but for train.seed, in order of first appearance.

    Runs without a config.yaml (never started) belong to no variant. Labels show `lr=` whenever the
    runs do not all share one learning rate.
    """
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        if run.config:
            groups.setdefault(comparison_key(run.config, VARIANT_IGNORES), []).append(run)
    show_lr = len({r.lr for members in groups.values() for r in members}) > 1
    return [
        Variant(
            variant_label(members[0].config, varied, show_lr), tuple(sorted(members, key=lambda r: r.seed))
        )
        for members in groups.values()
    ]


# --------------------------------------------------------------------------------------------------
# An experiment folder
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentResult:
    """An experiment folder: experiment.yaml and every run it lists."""

    folder: Path
    name: str
    description: str
    source: str
    kind: str
    varied: tuple[str, ...]
    runs: tuple[RunResult, ...]
    command: str = ""
    """The command line that defined the experiment (empty in folders written before it was recorded)."""
    overrides: tuple[Mapping[str, Any], ...] = ()
    """Each KEY=VALUE of that command: {key, file, used}, the file's value and the one the runs used."""

    def __repr__(self) -> str:
        return f"ExperimentResult({self.name!r}, {self.kind}, {len(self.runs)} runs)"

    @property
    def variants(self) -> list[Variant]:
        return group_variants(self.runs, self.varied)

    @property
    def finished_variants(self) -> list[Variant]:
        """Variants with at least one finished run: what the figures and the statistics show."""
        return [v for v in self.variants if v.finished]


def read_experiment(folder: Path) -> ExperimentResult:
    """An experiment folder written by `optbench compare`; OptbenchError if it is not one."""
    info = _read_yaml(folder / EXPERIMENT_FILE)
    if not isinstance(info, dict):
        raise OptbenchError(f"{folder}: no readable {EXPERIMENT_FILE}; not an optbench experiment folder")
    run_ids = [str(r) for r in info.get("runs") or []]
    return ExperimentResult(
        folder=folder,
        name=str(info.get("experiment", folder.name)),
        description=str(info.get("description") or ""),
        source=str(info.get("source") or ""),
        kind=str(info.get("kind", "dataset")),
        varied=tuple(str(k) for k in info.get("varied") or ()),
        runs=tuple(read_run(folder / RUNS_DIR / run_id) for run_id in run_ids),
        command=str(info.get("command") or ""),
        overrides=tuple(o for o in info.get("overrides") or () if isinstance(o, Mapping)),
    )


# --------------------------------------------------------------------------------------------------
# The activation-distribution experiment
# --------------------------------------------------------------------------------------------------

CASE_COLUMNS = ("mean", "std", "saturated_frac", "zero_frac", "grad_norm", "delta_std")
"""Per-layer statistics of activations.csv, read as float arrays (an empty saturated_frac is NaN)."""


@dataclass(frozen=True)
class ActivationCaseResult:
    """One (init, activation) case of an activations folder: per-layer statistics and histograms.

    Arrays are indexed by layer − 1; `counts[k]` holds layer k + 1's histogram over [hist_low, hist_high].
    """

    index: int
    label: str
    init: Mapping[str, Any]
    activation: str
    layers: NDArray[np.int64]
    stats: Mapping[str, FloatArray]
    hist_low: float
    hist_high: float
    counts: NDArray[np.int64]

    def __repr__(self) -> str:
        return f"ActivationCaseResult({self.label!r}, {len(self.layers)} layers)"

    @property
    def init_name(self) -> str:
        return str(self.init.get("name", ""))

    @property
    def bounded(self) -> bool:
        """Whether the activation saturates (sigmoid, tanh): its saturated fraction was measured."""
        return bool(np.all(np.isfinite(self.stats["saturated_frac"])))

    def __getitem__(self, column: str) -> FloatArray:
        return self.stats[column]


@dataclass(frozen=True)
class ActivationsResult:
    """An `optbench activations` folder: its resolved config and one ActivationCaseResult per case."""

    folder: Path
    name: str
    description: str
    config: Mapping[str, Any]
    cases: tuple[ActivationCaseResult, ...]

    def __repr__(self) -> str:
        return f"ActivationsResult({self.name!r}, {len(self.cases)} cases)"

    @property
    def outputs_per_layer(self) -> int | None:
        """N × H, the number of outputs of each hidden layer, when the config says."""
        samples, nodes = self.config.get("samples"), self.config.get("nodes")
        if isinstance(samples, int) and isinstance(nodes, int):
            return samples * nodes
        return None

    @property
    def readout_classes(self) -> int | None:
        """Classes of the read-out whose cross-entropy gave the gradients, when the config says."""
        classes = self.config.get("readout_classes")
        return classes if isinstance(classes, int) else None


def is_result_folder(folder: Path) -> bool:
    """An experiment folder of `compare` or `train`, or an `optbench activations` folder."""
    return (folder / EXPERIMENT_FILE).is_file() or is_activations_folder(folder)


def is_activations_folder(folder: Path) -> bool:
    """An `optbench activations` result: activations.csv and no experiment.yaml."""
    return (folder / ACTIVATIONS_FILE).is_file() and not (folder / EXPERIMENT_FILE).is_file()


def _int_cell(text: str | None) -> int:
    return int(float(text)) if text and text.strip() else 0


def read_activations(folder: Path) -> ActivationsResult:
    """An activations folder (activations.csv, config.yaml); OptbenchError if it has no readable CSV."""
    try:
        rows = read_rows(folder / ACTIVATIONS_FILE)
    except OSError:
        raise OptbenchError(f"{folder}: no readable {ACTIVATIONS_FILE}; not an activations folder") from None
    config = _read_yaml(folder / CONFIG_FILE)
    config = config if isinstance(config, dict) else {}
    listed = config.get("cases")
    case_configs: list[Any] = listed if isinstance(listed, list) else []
    by_case: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        by_case.setdefault(_int_cell(row.get("case")), []).append(row)
    bins = sorted((k for k in (rows[0] if rows else {}) if k.startswith("count_")), key=lambda k: int(k[6:]))
    cases = []
    for index, members in sorted(by_case.items()):
        members.sort(key=lambda r: _int_cell(r.get("layer")))
        first = members[0]
        case_config = case_configs[index] if index < len(case_configs) else {}
        init = case_config.get("init") if isinstance(case_config, dict) else None
        cases.append(
            ActivationCaseResult(
                index=index,
                label=first.get("label", ""),
                init=init if isinstance(init, dict) else {"name": first.get("init", "")},
                activation=first.get("activation", ""),
                layers=np.array([_int_cell(r.get("layer")) for r in members], dtype=np.int64),
                stats={c: np.array([_to_float(r.get(c) or "") for r in members]) for c in CASE_COLUMNS},
                hist_low=_to_float(first.get("hist_low") or ""),
                hist_high=_to_float(first.get("hist_high") or ""),
                counts=np.array(
                    [[_int_cell(r.get(b)) for b in bins] for r in members], dtype=np.int64
                ).reshape(len(members), len(bins)),
            )
        )
    return ActivationsResult(
        folder=folder,
        name=str(config.get("experiment", folder.name)),
        description=str(config.get("description") or ""),
        config=config,
        cases=tuple(cases),
    )
