"""Which figures need drawing: what each figure was drawn from, recorded beside the PNGs.

A folder's figures are drawn from its input files and from the code that draws them, nothing else.
figures.json (`optbench.layout.FIGURES_FILE`) keeps, per figure, a digest of both and the size and
mtime of the PNG written; a figure whose digest still matches and whose PNG is still the one written
is not drawn again. The inputs are hashed by their bytes, not their times: a rerun that rewrites a
file with the same content changes nothing.

The inputs are every file a reader of `optbench.results` may read in the folder (`INPUT_FILES` and,
in each run folder, `RUN_INPUT_FILES`); the code is the source of `FIGURE_CODE` and the matplotlib
version.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.files import atomic_write_text
from optbench.layout import (
    ACTIVATIONS_FILE,
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    EXPERIMENT_FILE,
    FIGURES_FILE,
    METRICS_FILE,
    RUNS_DIR,
    STATUS_FILE,
)

INPUT_FILES = (EXPERIMENT_FILE, CONFIG_FILE, ACTIVATIONS_FILE)
"""The files of an experiment folder's top that figures are drawn from (those it has)."""
RUN_INPUT_FILES = (CONFIG_FILE, STATUS_FILE, METRICS_FILE, DIAGNOSTICS_FILE)
"""The files of each run folder that figures are drawn from (those it has)."""
FIGURE_CODE = (
    "optbench.plots",
    "optbench.results",
    "optbench.data",
    "optbench.stats",
    "optbench.functions",
    "optbench.measures",
    "optbench.init",
    "optbench.nn",
    "optbench.text",
    "optbench.plain",
    "optbench.layout",
    "optbench.train",
)
"""The modules and packages whose source a figure depends on: editing one redraws every figure."""


def _digest() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16)


def _source_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    origin = Path(spec.origin)
    if spec.submodule_search_locations is not None:
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


@functools.cache
def code_digest() -> str:
    """A digest of the figure code: the source of FIGURE_CODE and the matplotlib version."""
    digest = _digest()
    digest.update(importlib.metadata.version("matplotlib").encode())
    for module in FIGURE_CODE:
        for path in _source_files(module):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def input_files(folder: Path) -> list[Path]:
    """Every file of the folder that a figure of it may be drawn from, in a fixed order."""
    files = [folder / name for name in INPUT_FILES]
    runs = folder / RUNS_DIR
    if runs.is_dir():
        for run in sorted(p for p in runs.iterdir() if p.is_dir()):
            files += [run / name for name in RUN_INPUT_FILES]
    return files


def inputs_digest(folder: Path) -> str:
    """A digest of what the folder's figures are drawn from: its input files' names and bytes (and
    which are absent), and the figure code."""
    digest = _digest()
    digest.update(code_digest().encode())
    for path in input_files(folder):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        name = path.relative_to(folder).as_posix().encode()
        digest.update(len(name).to_bytes(4, "little") + name + len(content).to_bytes(8, "little"))
        digest.update(content)
    return digest.hexdigest()


def _stamp(png: Path) -> list[int] | None:
    """The size and mtime (ns) of a PNG, or None if there is none."""
    try:
        stat = png.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


@dataclass(frozen=True)
class Fingerprints:
    """figures.json of one folder: per figure file name, the digest it was drawn from and its PNG's stamp."""

    folder: Path
    figures: Mapping[str, Mapping[str, Any]]

    def __repr__(self) -> str:
        return f"Fingerprints({self.folder.name!r}, {len(self.figures)} figures)"

    def fresh(self, name: str, inputs: str) -> bool:
        """Whether figure `name` was drawn from these inputs and its PNG is the one then written."""
        entry = self.figures.get(name)
        if entry is None or entry.get("inputs") != inputs:
            return False
        stamp = _stamp(self.folder / name)
        return stamp is not None and entry.get("png") == stamp

    def all_fresh(self, inputs: str) -> bool:
        """Whether the folder's figures are all current: drawn from these inputs, their PNGs unchanged.

        The figures a folder gets depend on its inputs alone, so those recorded are all of them.
        """
        return bool(self.figures) and all(self.fresh(name, inputs) for name in self.figures)

    def recorded(self, drawn: Iterable[tuple[str, str]]) -> Fingerprints:
        """These fingerprints with (figure name, inputs digest) of figures just drawn, in the order
        drawn after those kept; figures drawn from other inputs than these are dropped (the folder no
        longer gets them)."""
        drawn = list(drawn)
        newest = {inputs for _, inputs in drawn}
        figures = {name: entry for name, entry in self.figures.items() if entry.get("inputs") in newest}
        figures.update(
            {name: {"inputs": inputs, "png": _stamp(self.folder / name)} for name, inputs in drawn}
        )
        return Fingerprints(self.folder, figures)

    def save(self) -> None:
        text = json.dumps({"figures": self.figures}, indent=1) + "\n"
        atomic_write_text(self.folder / FIGURES_FILE, text)


def read_fingerprints(folder: Path) -> Fingerprints:
    """The folder's figures.json; empty when it has none or it cannot be read."""
    try:
        data = json.loads((folder / FIGURES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    figures = data.get("figures") if isinstance(data, dict) else None
    if not isinstance(figures, dict):
        return Fingerprints(folder, {})
    return Fingerprints(folder, {k: v for k, v in figures.items() if isinstance(v, dict)})
