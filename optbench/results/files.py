"""Reading the files of a results folder: CSV as float columns or text rows, YAML, and the facts a
config gives about its dataset (classes, layer widths)."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from optbench.data import DATASETS
from optbench.plain import value_at
from optbench.stats import FloatArray

Columns = dict[str, FloatArray]


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
