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


def float_cell(cell: str) -> float:
    """A CSV cell as a float: NaN when it is empty or not a number."""
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
        name: np.array([float_cell(row[i]) for row in body], dtype=np.float64)
        for i, name in enumerate(header)
    }


def read_rows(path: Path) -> list[dict[str, str]]:
    """A CSV file as text rows (for summary.csv, whose status and name columns are not numbers)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_yaml(path: Path) -> Any:
    """A YAML file as plain data (`yaml.safe_load`); None when it is missing, unreadable or not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def read_csv_or_none(path: Path) -> Columns | None:
    """`read_csv` of a file that may be absent: None when it cannot be read."""
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
