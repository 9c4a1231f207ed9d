"""The performance benchmark behind `make bench`: how fast optbench is, end to end and per step.

    python benchmarks/bench.py [--quick] [--out DIR]

Its parts, each a module of this folder: `steps` (the training step against its matrix products
and a textbook step), `commands` (the command line in subprocesses: a compare's fixed cost and
rerun, --jobs 1 against 2, `optbench train` against a plain PyTorch script, the runner's cost per
run, peak memory, start-up) and `cluster` (a local Dask cluster).

The machine may be shared, so every figure is a median over repeats, and a ratio compares two
things measured close together (a step and its products alone in alternating short blocks, two
commands in alternation). Prints a table and writes one CSV row per measurement, with the machine
and the load, to <out>/bench.csv, and appends the same rows to <out>/history.csv, so that commits
can be compared.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from cluster import cluster_measurements
from commands import (
    compare_measurements,
    end_to_end_measurements,
    memory_measurement,
    startup_measurements,
    sweep_measurements,
    torch_measurements,
)
from common import FULL, QUICK, ROOT, BenchError, Measurement
from steps import step_measurements

from optbench import train
from optbench.text import text_table


def machine_info() -> dict[str, str]:
    """What the figures depend on besides the code: CPU, cores, NumPy and its BLAS, Python, commit."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = "unknown"
    with contextlib.suppress(Exception):  # the layout of show_config's dict is not a stable API
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{info['name']} {info['version']}"
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "numpy": np.__version__,
        "blas": blas,
        "python": platform.python_version(),
    }


def _git_commit() -> str:
    """The checked-out commit, marked `+dirty` when the work tree differs from it; empty outside git."""
    git = shutil.which("git")
    if git is None:
        return ""
    try:
        head = subprocess.run([git, "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run([git, "diff", "--quiet", "HEAD"], cwd=ROOT, capture_output=True).returncode
    except OSError:
        return ""
    if head.returncode != 0:
        return ""
    return head.stdout.strip() + ("+dirty" if dirty else "")


CSV_COLUMNS = ("name", "value", "unit", "target", "pass", "note", "load_1min")
MACHINE_COLUMNS = ("date", "commit", "cpu", "cores", "numpy", "blas", "python")


def _cell(row: Measurement) -> list[str]:
    passed = "" if row.passed is None else ("yes" if row.passed else "NO")
    return [row.name, f"{row.value:.6g}", row.unit, row.target, passed, row.note, f"{row.load:.2f}"]


def write_csv(rows: Sequence[Measurement], machine: dict[str, str], out: Path, quick: bool) -> Path:
    """<out>/bench.csv for this run; the same rows appended to <out>/history.csv."""
    out.mkdir(parents=True, exist_ok=True)
    header = [*CSV_COLUMNS, *MACHINE_COLUMNS, "quick"]
    lines = [[*_cell(r), *(machine[c] for c in MACHINE_COLUMNS), str(quick).lower()] for r in rows]
    path = out / "bench.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *lines])
    history = out / "history.csv"
    new = not history.exists()
    with history.open("a", newline="") as f:
        csv.writer(f).writerows([header, *lines] if new else lines)
    return path


def table(rows: Sequence[Measurement]) -> str:
    """The measurements as aligned text columns: name, value, unit, target, pass, load, note."""
    header = ("measurement", "value", "unit", "target", "pass", "load", "note")
    cells = [(r.name, f"{r.value:.4g}", r.unit, r.target, _cell(r)[4], f"{r.load:.2f}", r.note) for r in rows]
    return text_table(header, cells)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: rough figures, sooner")
    parser.add_argument(
        "--out", type=Path, default=Path("results/bench"), help="folder for bench.csv and history.csv"
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    machine = machine_info()
    print(
        f"{machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']} ({machine['blas']})",
        flush=True,
    )
    rows: list[Measurement] = []
    try:
        print("start-up ...", file=sys.stderr, flush=True)
        rows += startup_measurements(settings)
        print("peak memory of one MNIST run ...", file=sys.stderr, flush=True)
        rows.append(memory_measurement())
        print("training steps ...", file=sys.stderr, flush=True)
        rows += step_measurements(train.cached_dataset("mnist", None), settings)
        print("a compare's fixed cost, its rerun, the whole compare ...", file=sys.stderr, flush=True)
        rows += end_to_end_measurements(settings)
        print("compare at --jobs 1 and 2 ...", file=sys.stderr, flush=True)
        rows += compare_measurements(settings)
        print("optbench train against a PyTorch script ...", file=sys.stderr, flush=True)
        rows += torch_measurements(settings)
        print("the runner's cost per run ...", file=sys.stderr, flush=True)
        rows += sweep_measurements()
        print("a Dask cluster of two local workers ...", file=sys.stderr, flush=True)
        rows += cluster_measurements(settings)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(table(rows), end="")
    print(f"results: {write_csv(rows, machine, args.out, args.quick)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
