"""What every part of `make bench` shares: the measurement record, the settings, running commands.

The parts (`steps`, `commands`, `cluster`) each return a list of `Measurement`s; `bench.py` runs
them in turn, prints the table and writes the CSV.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository: the configs the benchmark runs are read from there."""

COMPARE_CONFIG = ROOT / "configs" / "mnist_optimizers.yaml"
COMPARE_EXPERIMENT = "mnist-optimizers"
"""The experiment that config names: its results folder."""
ONE_SEED = "grid.train.seed=[0]"
FOUR_RUNS = (
    "runs=[{optimizer: {name: sgd, lr: 0.01}}, {optimizer: {name: momentum, lr: 0.01}}, "
    "{optimizer: {name: adagrad, lr: 0.01}}, {optimizer: {name: adam, lr: 0.001}}]"
)
"""The book's four optimizers (SGD, Momentum, AdaGrad, Adam): the design brief's 4-run compare."""


@dataclass(frozen=True)
class Settings:
    """How long to measure: `--quick` trades precision for time."""

    block: int
    """Training steps per timed block; the products-only block takes as many."""
    rounds: int
    """Rounds of (steps, products alone, textbook steps) per step measurement; medians are over these."""
    warmup: int
    compare_repeats: int
    startup_repeats: int


# Short blocks in many rounds: the speed of a core of a shared host changes within seconds, and each
# round's ratio compares two blocks measured milliseconds apart.
FULL = Settings(block=10, rounds=100, warmup=50, compare_repeats=5, startup_repeats=11)
QUICK = Settings(block=10, rounds=30, warmup=20, compare_repeats=1, startup_repeats=5)


@dataclass(frozen=True)
class Measurement:
    """One figure of the benchmark, with its target if it has one (`>= 0.6`, `< 250`)."""

    name: str
    value: float
    unit: str
    target: str = ""
    note: str = ""
    load: float = math.nan
    """The 1-minute load average when the measurement started."""

    @property
    def passed(self) -> bool | None:
        if not self.target:
            return None
        op, threshold = self.target.split()
        limit = float(threshold)
        return {
            ">=": self.value >= limit,
            "<=": self.value <= limit,
            "<": self.value < limit,
            "==": self.value == limit,
        }[op]


def load_average() -> float:
    return os.getloadavg()[0]


def progress(rows: Sequence[Measurement]) -> None:
    """Each new figure on stderr as soon as it is measured: a full benchmark takes minutes."""
    for row in rows:
        print(f"  {row.name} = {row.value:.4g} {row.unit}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A command the benchmark runs failed: its numbers would mean nothing."""


def optbench_command() -> list[str]:
    """The console script installed next to this interpreter, else `python -m optbench`."""
    script = Path(sys.executable).with_name("optbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "optbench"]


def run_command(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run `args` from the repository root; its wall time in seconds and its standard output."""
    start = time.perf_counter()
    result = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchError(f"{' '.join(args)} exited with status {result.returncode}: {detail}")
    return elapsed, result.stdout
