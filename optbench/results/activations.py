"""An `optbench activations` folder: per case, per-layer statistics as arrays and histogram counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench.errors import OptbenchError
from optbench.layout import ACTIVATIONS_FILE, CONFIG_FILE, EXPERIMENT_FILE
from optbench.results.files import float_cell, read_rows, read_yaml
from optbench.stats import FloatArray

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
    batch_norm: bool = False
    """Whether the case normalised each layer's input to its activation (`batch_norm: true`)."""

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
    config: Mapping[str, Any]
    """Its config.yaml as plain data: experiment, description, input, layers, nodes, bins, cases."""
    cases: tuple[ActivationCaseResult, ...]

    def __repr__(self) -> str:
        return f"ActivationsResult({self.name!r}, {len(self.cases)} cases)"

    @property
    def name(self) -> str:
        return str(self.config.get("experiment", self.folder.name))

    @property
    def description(self) -> str:
        return str(self.config.get("description") or "")

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
    config = read_yaml(folder / CONFIG_FILE)
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
                stats={c: np.array([float_cell(r.get(c) or "") for r in members]) for c in CASE_COLUMNS},
                hist_low=float_cell(first.get("hist_low") or ""),
                hist_high=float_cell(first.get("hist_high") or ""),
                counts=np.array(
                    [[_int_cell(r.get(b)) for b in bins] for r in members], dtype=np.int64
                ).reshape(len(members), len(bins)),
                batch_norm=isinstance(case_config, dict) and case_config.get("batch_norm") is True,
            )
        )
    return ActivationsResult(folder=folder, config=config, cases=tuple(cases))
