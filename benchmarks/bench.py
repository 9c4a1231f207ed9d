"""The performance benchmark behind `make bench`: how fast a training step is, and why.

    python benchmarks/bench.py [--quick] [--out DIR]

Measures, on the lecture's MLP (784-100-100-100-100-10, ReLU, He, batch 128) and on this machine:

- steps per second of the full training step (`train.train_step`: batch draw, forward, loss,
  backward, update) for sgd, momentum and adam, in float32 and float64;
- the time of that step's matrix products alone (the same products on the same shapes and dtype,
  into preallocated buffers), and the efficiency = products-only time ÷ full step time;
- a textbook NumPy step (a dict of arrays, a fancy-indexed batch, everything allocated, a second
  forward pass for the logged loss), and our speed-up over it;
- the wall time of `optbench compare` on the lecture's comparison with one seed (5 runs) and on
  four of its optimizers (4 runs), at --jobs 1 and --jobs 2, and the ratio;
- the peak resident memory of one 2000-step MNIST run (`optbench train configs/mnist_sgd.yaml`);
- the start-up time of `optbench --help` and `optbench list`, and whether either imports a heavy
  module (matplotlib, tqdm) it does not need;
- on a Dask cluster of two one-thread workers on 127.0.0.1, started and stopped here: the cost per
  run of a sweep of one-step runs, and the throughput of an MNIST sweep against the local pool.

The machine may be shared, so every figure is a median over repeats, and a step and its products
alone are timed in alternation, in short blocks, so that each ratio compares two blocks measured
milliseconds apart. Prints a table and writes one CSV row per measurement, with the machine and the
load, to <out>/bench.csv, and appends the same rows to <out>/history.csv, so that commits can be
compared.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optbench import train
from optbench.data import BatchSampler, Dataset
from optbench.init import build_initializer
from optbench.layout import SUMMARY_FILE
from optbench.nn import ACTIVATIONS, MLP
from optbench.optim import build_optimizer
from optbench.text import text_table

Array = NDArray[Any]

ROOT = Path(__file__).resolve().parent.parent
"""The repository: the configs the benchmark runs are read from there."""

LECTURE_SIZES = (784, 100, 100, 100, 100, 10)
BATCH = 128
STEP_OPTIMIZERS = {"sgd": 0.01, "momentum": 0.01, "adam": 0.001}
"""The optimizers whose step is timed, with the lecture's learning rates."""
DTYPES = ("float32", "float64")

COMPARE_CONFIG = ROOT / "configs" / "mnist_optimizers.yaml"
COMPARE_EXPERIMENT = "mnist-optimizers"
"""The experiment that config names: its results folder."""
ONE_SEED = "grid.train.seed=[0]"
FOUR_RUNS = (
    "runs=[{optimizer: {name: sgd, lr: 0.01}}, {optimizer: {name: momentum, lr: 0.01}}, "
    "{optimizer: {name: adagrad, lr: 0.01}}, {optimizer: {name: adam, lr: 0.001}}]"
)
"""The book's four optimizers (SGD, Momentum, AdaGrad, Adam): the design brief's 4-run compare."""
MEMORY_CONFIG = ROOT / "configs" / "mnist_sgd.yaml"
HEAVY_MODULES = ("matplotlib", "tqdm")
"""Modules the CLI imports only in the commands that draw or show progress."""

# Targets of the issue and the design brief.
EFFICIENCY_TARGET = 0.60
PARALLEL_TARGET = 1.7
MEMORY_TARGET_MB = 250.0
STARTUP_TARGET_S = 0.3


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
FULL = Settings(block=10, rounds=100, warmup=50, compare_repeats=3, startup_repeats=11)
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
        return {">=": self.value >= limit, "<": self.value < limit, "==": self.value == limit}[op]


def load_average() -> float:
    return os.getloadavg()[0]


# --------------------------------------------------------------------------------------------------
# The training step, its products alone, and a textbook step
# --------------------------------------------------------------------------------------------------


class Products:
    """The matrix products of one training step of an MLP, alone, each into a preallocated buffer.

    Forward x·W for every layer; backward hᵀ·δ (the weight gradient) for every layer and δ·Wᵀ (the
    signal to the layer below) for all but the first: what a step cannot avoid.
    """

    def __init__(self, sizes: Sequence[int], batch: int, dtype: np.dtype[Any], rng: np.random.Generator):
        def filled(*shape: int) -> Array:
            # Values of the scale training sees: products of subnormal numbers would be slower.
            return (rng.standard_normal(shape) * 0.1).astype(dtype)

        self.x = filled(batch, sizes[0])
        self.weights = [filled(a, b) for a, b in itertools.pairwise(sizes)]
        self.outputs = [filled(batch, n) for n in sizes[1:]]
        self.deltas = [filled(batch, n) for n in sizes[1:]]
        self.grads = [filled(a, b) for a, b in itertools.pairwise(sizes)]

    @property
    def flops(self) -> int:
        """Floating-point operations of one run: 2·m·k·n for each product of m×k by k×n."""
        batch = len(self.x)
        sizes = [w.size for w in self.weights]
        return 2 * batch * (2 * sum(sizes) + sum(sizes[1:]))

    def run(self) -> None:
        h = self.x
        for w, z in zip(self.weights, self.outputs):
            np.matmul(h, w, out=z)
            h = z
        for i in range(len(self.weights) - 1, -1, -1):
            h_in = self.x if i == 0 else self.outputs[i - 1]
            np.matmul(h_in.T, self.deltas[i], out=self.grads[i])
            if i > 0:
                np.matmul(self.deltas[i], self.weights[i].T, out=self.deltas[i - 1])


class TextbookStep:
    """A training step as textbook NumPy code writes it: the reference the speed-up is measured on.

    As the book's chapter 6 comparison: parameters in a dict of arrays, the training set normalised
    to floats once and a batch drawn by fancy indexing, every intermediate array allocated, and after
    the update a second forward pass that computes the loss to log.
    """

    def __init__(self, net: MLP, data: Dataset, optimizer: str, lr: float, rng: np.random.Generator):
        self.dtype = net.dtype
        self.images = data.train_images / self.dtype.type(255)
        self.labels = data.train_labels.astype(np.intp)
        self.rng = rng
        self.params: dict[str, Array] = {}
        for i, (w, b) in enumerate(zip(net.weights, net.biases), start=1):
            assert b is not None
            self.params[f"W{i}"] = w.copy()
            self.params[f"b{i}"] = b.copy()
        self.n_layers = len(net.weights)
        self.optimizer, self.lr = optimizer, lr
        self.state: dict[str, dict[str, Array]] = {"m": {}, "v": {}}
        self.t = 0

    def forward(self, x: Array) -> tuple[list[Array], list[Array], Array]:
        inputs, masks = [], []
        h = x
        for i in range(1, self.n_layers + 1):
            inputs.append(h)
            a = h @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self.n_layers:
                mask = a <= 0
                h = a.copy()
                h[mask] = 0
                masks.append(mask)
            else:
                h = a
        return inputs, masks, h

    @staticmethod
    def softmax_loss(logits: Array, t: Array) -> tuple[float, Array]:
        z = logits - logits.max(axis=1, keepdims=True)
        y = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
        loss = float(-np.sum(np.log(y[np.arange(len(t)), t] + 1e-7)) / len(t))
        return loss, y

    def gradient(self, x: Array, t: Array) -> dict[str, Array]:
        inputs, masks, logits = self.forward(x)
        _, y = self.softmax_loss(logits, t)
        dout = y.copy()
        dout[np.arange(len(t)), t] -= 1
        dout = dout / len(t)
        grads = {}
        for i in range(self.n_layers, 0, -1):
            grads[f"W{i}"] = inputs[i - 1].T @ dout
            grads[f"b{i}"] = np.sum(dout, axis=0)
            if i > 1:
                dout = dout @ self.params[f"W{i}"].T
                dout[masks[i - 2]] = 0
        return grads

    def update(self, grads: dict[str, Array]) -> None:
        """The book's SGD, Momentum (0.9) and Adam (0.9, 0.999, 1e-7), its constants inline as it has them."""
        m, v = self.state["m"], self.state["v"]
        if self.optimizer == "sgd":
            for key in self.params:
                self.params[key] -= self.lr * grads[key]
        elif self.optimizer == "momentum":
            for key in self.params:
                m[key] = 0.9 * m.get(key, 0) - self.lr * grads[key]
                self.params[key] += m[key]
        else:
            self.t += 1
            lr_t = self.lr * math.sqrt(1.0 - 0.999**self.t) / (1.0 - 0.9**self.t)
            for key in self.params:
                m.setdefault(key, np.zeros_like(self.params[key]))
                v.setdefault(key, np.zeros_like(self.params[key]))
                m[key] += (1 - 0.9) * (grads[key] - m[key])
                v[key] += (1 - 0.999) * (grads[key] ** 2 - v[key])
                self.params[key] -= lr_t * m[key] / (np.sqrt(v[key]) + 1e-7)

    def step(self) -> float:
        idx = self.rng.choice(len(self.images), BATCH)
        x, t = self.images[idx], self.labels[idx]
        self.update(self.gradient(x, t))
        return self.softmax_loss(self.forward(x)[2], t)[0]


WARM_CALLS = 2
"""Untimed calls before each timed block: they bring back into the caches what the previous block
evicted, so that each block is timed in its own steady state."""


def _time_block(fn: Callable[[], Any], n: int) -> float:
    """Seconds per call of `fn`, over `n` calls made after WARM_CALLS untimed ones."""
    for _ in range(WARM_CALLS):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


@dataclass(frozen=True)
class StepTimes:
    """Seconds per call, one entry per round, of the three things timed in alternation."""

    step: list[float]
    products: list[float]
    textbook: list[float]
    flops: int
    """Of the products of one step."""

    @property
    def efficiency(self) -> float:
        """Median of products-only time ÷ step time, the two measured in the same round."""
        return statistics.median(p / s for p, s in zip(self.products, self.step))


def time_steps(data: Dataset, optimizer: str, dtype: str, settings: Settings) -> StepTimes:
    """Rounds of: a block of training steps, a block of its products alone, a block of textbook steps."""
    rng_init, rng_data = train.seeded_generators(0)
    net = MLP(LECTURE_SIZES, ACTIVATIONS["relu"], build_initializer("he"), rng_init, dtype=dtype)
    lr = STEP_OPTIMIZERS[optimizer]
    textbook = TextbookStep(net, data, optimizer, lr, np.random.default_rng(1))
    sampler = BatchSampler(data.train_images, data.train_labels, BATCH, rng_data, dtype=net.dtype)
    opt = build_optimizer(optimizer, {"lr": lr})
    products = Products(LECTURE_SIZES, BATCH, net.dtype, np.random.default_rng(2))

    def step() -> None:
        train.train_step(net, sampler, opt)

    for fn in (step, products.run, textbook.step):
        _time_block(fn, settings.warmup)
    times = StepTimes([], [], [], products.flops)
    for _ in range(settings.rounds):
        times.step.append(_time_block(step, settings.block))
        times.products.append(_time_block(products.run, settings.block))
        # A third as many: the textbook step is slower, and only its median is needed.
        times.textbook.append(_time_block(textbook.step, max(settings.block // 3, 1)))
    return times


def step_measurements(data: Dataset, settings: Settings) -> list[Measurement]:
    rows = []
    for dtype in DTYPES:
        for optimizer in STEP_OPTIMIZERS:
            load = load_average()
            times = time_steps(data, optimizer, dtype, settings)
            step, products, textbook = map(statistics.median, (times.step, times.products, times.textbook))
            rounds = f"median of {len(times.step)} rounds"
            tag = f"{optimizer}_{dtype}"
            is_target = (optimizer, dtype) == ("adam", "float32")
            rows += [
                Measurement(f"step_rate_{tag}", 1 / step, "steps/s", note=rounds, load=load),
                Measurement(
                    f"efficiency_{tag}",
                    times.efficiency,
                    "ratio",
                    f">= {EFFICIENCY_TARGET}" if is_target else "",
                    # The products' speed tells the state of the core: the clock of a core of a shared
                    # host drops within seconds of sustained load, slowing the products more than the rest.
                    f"products alone {products * 1e6:.0f} us ({times.flops / products / 1e9:.0f} GFLOP/s) / "
                    f"step {step * 1e6:.0f} us; {rounds}",
                    load,
                ),
                Measurement(
                    f"speedup_vs_textbook_{tag}",
                    textbook / step,
                    "x",
                    note=f"textbook step {textbook * 1e6:.0f} us; ratio of medians",
                    load=load,
                ),
            ]
            _progress(rows[-3:])
    return rows


# --------------------------------------------------------------------------------------------------
# The command line, in subprocesses: compare at --jobs 1 and 2, peak memory, start-up
# --------------------------------------------------------------------------------------------------


class BenchError(Exception):
    """A command the benchmark runs failed: its numbers would mean nothing."""


def optbench_command() -> list[str]:
    """The console script installed next to this interpreter, else `python -m optbench`."""
    script = Path(sys.executable).with_name("optbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "optbench"]


def run_command(args: Sequence[str]) -> tuple[float, str]:
    """Run `args` from the repository root; its wall time in seconds and its standard output."""
    start = time.perf_counter()
    result = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BenchError(f"{' '.join(args)} exited with status {result.returncode}: {detail}")
    return elapsed, result.stdout


def _runs_wall_s(experiment_folder: Path) -> float:
    """The sum of the runs' own wall times, from the summary the compare wrote."""
    with (experiment_folder / SUMMARY_FILE).open(newline="") as f:
        return sum(float(row["wall_s"]) for row in csv.DictReader(f))


COMPARES = (
    ("5runs", (ONE_SEED,), "5 runs on 2 workers: at most 5/3 = 1.67 if they took equally long"),
    ("4runs", (ONE_SEED, FOUR_RUNS), "the design brief's 4-run compare: at most 2"),
)


def compare_measurements(settings: Settings) -> list[Measurement]:
    """`optbench compare` at --jobs 1 and 2: the lecture's comparison with one seed, and four of its runs.

    Besides the wall times, splits the --jobs 1 time into the runs' own (their wall_s in summary.csv)
    and the rest, which no number of workers shortens: start-up, the data check, figures, report.
    """
    rows = []
    for label, overrides, bound in COMPARES:
        load = load_average()
        walls: dict[int, list[float]] = {1: [], 2: []}
        runs: list[float] = []
        for _ in range(settings.compare_repeats):
            for jobs in (1, 2):
                with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
                    args = [*optbench_command(), "compare", str(COMPARE_CONFIG), *overrides]
                    wall, _ = run_command([*args, "--jobs", str(jobs), "--out", tmp, "--force", "-q"])
                    walls[jobs].append(wall)
                    if jobs == 1:
                        runs.append(_runs_wall_s(Path(tmp) / COMPARE_EXPERIMENT))
        one, two = statistics.median(walls[1]), statistics.median(walls[2])
        runs_s = statistics.median(runs)
        serial = one - runs_s
        repeats = f"median of {len(walls[1])}"
        rows += [
            Measurement(f"compare_{label}_jobs1", one, "s", note=repeats, load=load),
            Measurement(f"compare_{label}_jobs2", two, "s", note=repeats, load=load),
            Measurement(
                f"compare_{label}_speedup",
                one / two,
                "x",
                f">= {PARALLEL_TARGET}",
                f"jobs1 / jobs2; {bound}",
                load,
            ),
            Measurement(
                f"compare_{label}_serial_part",
                serial,
                "s",
                note="of jobs1: all but the runs (start-up, data check, figures, report)",
                load=load,
            ),
            Measurement(
                f"compare_{label}_runs_speedup",
                runs_s / (two - serial),
                "x",
                note="the runs alone: their summed wall_s / (jobs2 wall time - serial part), approximate",
                load=load,
            ),
        ]
        _progress(rows[-5:])
    return rows


SWEEP_PROBE = """
import sys, tempfile, time
from pathlib import Path
from optbench.config import expand
from optbench.executors import Scheduler
from optbench.runner import run_experiment

if __name__ == "__main__":
    n, jobs = int(sys.argv[1]), int(sys.argv[2])
    scheduler = Scheduler(file=Path(sys.argv[3])) if len(sys.argv) > 3 else None
    raw = {"experiment": "tiny", "task": {"function": "rosenbrock"}, "optimizer": {"name": "sgd"},
           "train": {"steps": 1}, "grid": {"optimizer.lr": [1e-4 * (1 + i) for i in range(n)]}}
    exp = expand(raw, "bench")
    with tempfile.TemporaryDirectory(prefix="optbench-bench-") as out:
        start = time.perf_counter()
        run_experiment(exp, Path(out), jobs=jobs, progress=False, scheduler=scheduler)
        print(time.perf_counter() - start)
"""
"""Runs a sweep of n one-step function runs through the runner (on the cluster of the scheduler file
given third, if any) and prints its wall time."""

SWEEP_SIZES = (500, 5000)
RUNNER_TARGET_MS = 10.0


def sweep_measurements() -> list[Measurement]:
    """The runner's own cost per run: sweeps of one-step function runs (whose training is ~0), --jobs 2.

    Everything but the training counts: folders, config.yaml, status.json, the workers' events, the
    summary. The per-run cost at 5,000 runs against 500 shows whether it stays flat as sweeps grow.
    """
    rows = []
    per_run = {}
    for n in SWEEP_SIZES:
        load = load_average()
        with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
            probe = Path(tmp) / "sweep_probe.py"  # a file: spawned workers re-import the main module
            probe.write_text(SWEEP_PROBE)
            _, out = run_command([sys.executable, str(probe), str(n), "2"])
        per_run[n] = float(out.split()[-1]) / n * 1e3
        target = f"< {RUNNER_TARGET_MS:g}" if n == max(SWEEP_SIZES) else ""
        note = f"{n} one-step rosenbrock runs through the runner, --jobs 2, wall time / runs"
        rows.append(Measurement(f"runner_ms_per_run_{n}", per_run[n], "ms", target, note, load))
    small, large = min(SWEEP_SIZES), max(SWEEP_SIZES)
    rows.append(
        Measurement(
            "runner_cost_growth",
            per_run[large] / per_run[small],
            "x",
            note=f"ms per run at {large} runs / at {small} runs: about 1 when the cost stays flat",
        )
    )
    _progress(rows)
    return rows


# --------------------------------------------------------------------------------------------------
# A Dask cluster on this machine: the runner's cost per run there, and its throughput
# --------------------------------------------------------------------------------------------------

CLUSTER_WORKERS = 2
CLUSTER_START_TIMEOUT_S = 60.0
CLUSTER_STOP_TIMEOUT_S = 10.0
CLUSTER_SWEEP_RUNS = 500
CLUSTER_OVERHEAD_TARGET_MS = 20.0
CLUSTER_THROUGHPUT_TARGET = 0.9
CLUSTER_MNIST = ("train.steps=300", "grid.train.seed=[0, 1, 2, 3]")
"""The lecture's comparison at 300 steps and four seeds: 20 MNIST runs."""

LOOPBACK = ("--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard")
"""Every server of the benchmark's cluster listens on 127.0.0.1 only, on a port the OS chooses."""


def _dask(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    with (folder / f"{args[0]}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the benchmark is not theirs: they are stopped below
        )


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(CLUSTER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_workers(scheduler_file: Path, workers: int, timeout: float) -> None:
    from distributed import Client

    address = json.loads(scheduler_file.read_text())["address"]
    with Client(address, timeout=timeout, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        client.wait_for_workers(workers, timeout=timeout)


@contextlib.contextmanager
def local_cluster(folder: Path, workers: int = CLUSTER_WORKERS) -> Iterator[Path]:
    """A Dask scheduler and `workers` one-thread workers, started in `folder` and stopped on leaving.

    Yields the scheduler file. Each process ends by itself if left behind: the scheduler after five
    idle minutes, a worker a minute after its scheduler is gone.
    """
    scheduler_file = folder / "scheduler.json"
    scheduler = _dask(
        folder,
        "scheduler",
        *LOOPBACK,
        "--port",
        "0",
        "--scheduler-file",
        str(scheduler_file),
        "--idle-timeout",
        "300",
    )
    started: list[subprocess.Popen[bytes]] = []
    try:
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
        while not scheduler_file.exists():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the Dask scheduler did not start: see {folder / 'scheduler.log'}")
            time.sleep(0.05)
        for i in range(workers):
            own = folder / f"worker-{i}"
            own.mkdir()
            started.append(
                _dask(
                    own,
                    "worker",
                    *LOOPBACK,
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--local-directory",
                    str(own),
                    "--death-timeout",
                    "60",
                )
            )
        try:
            _wait_for_workers(scheduler_file, workers, CLUSTER_START_TIMEOUT_S)
        except Exception as exc:
            raise BenchError(f"the Dask workers did not start ({exc}): see the logs in {folder}") from None
        yield scheduler_file
    finally:
        _stop(started)  # the workers first: one closing while its scheduler closes can hang
        _stop([scheduler])


COMPARE_PROBE = """
import sys, tempfile, time
from pathlib import Path
from optbench.config import load_experiment
from optbench.executors import Scheduler
from optbench.runner import run_experiment

if __name__ == "__main__":
    config, jobs, scheduler_file, overrides = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    scheduler = Scheduler(file=Path(scheduler_file)) if scheduler_file != "-" else None
    exp = load_experiment(Path(config), overrides)
    with tempfile.TemporaryDirectory(prefix="optbench-bench-") as out:
        start = time.perf_counter()
        run_experiment(exp, Path(out), jobs=jobs, progress=False, scheduler=scheduler)
        print(time.perf_counter() - start)
"""
"""Runs the sweep of a config (with overrides) through the runner, on the cluster of a scheduler file
or, given "-", in local workers, and prints its wall time: the runs alone, no figures."""


def cluster_measurements(settings: Settings) -> list[Measurement]:
    """On two local Dask workers: the cost per run of one-step runs, and MNIST throughput against --jobs 2.

    The cost per run is everything but the training of a one-step run: the runner's files, the
    round trip to the scheduler and a worker, the result's JSON. The throughput compares the same
    20-run MNIST sweep on the cluster and in the local pool, on the same two cores.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="optbench-bench-cluster-") as tmp:
        folder = Path(tmp)
        probe, compare_probe = folder / "sweep_probe.py", folder / "compare_probe.py"
        probe.write_text(SWEEP_PROBE)
        compare_probe.write_text(COMPARE_PROBE)
        (folder / "cluster").mkdir()
        with local_cluster(folder / "cluster") as scheduler_file:
            load = load_average()
            _, out = run_command(
                [sys.executable, str(probe), str(CLUSTER_SWEEP_RUNS), "1", str(scheduler_file)]
            )
            per_run = float(out.split()[-1]) / CLUSTER_SWEEP_RUNS * 1e3
            rows.append(
                Measurement(
                    f"cluster_ms_per_run_{CLUSTER_SWEEP_RUNS}",
                    per_run,
                    "ms",
                    f"< {CLUSTER_OVERHEAD_TARGET_MS:g}",
                    f"{CLUSTER_SWEEP_RUNS} one-step rosenbrock runs on {CLUSTER_WORKERS} local Dask workers, "
                    "wall time / runs",
                    load,
                )
            )
            _progress(rows[-1:])
            load = load_average()
            walls: dict[str, list[float]] = {"local": [], "cluster": []}
            for _ in range(settings.compare_repeats):
                for where, target in (("local", "-"), ("cluster", str(scheduler_file))):
                    args = [sys.executable, str(compare_probe), str(COMPARE_CONFIG), "2", target]
                    _, out = run_command([*args, *CLUSTER_MNIST])
                    walls[where].append(float(out.split()[-1]))
        local, cluster = statistics.median(walls["local"]), statistics.median(walls["cluster"])
        repeats = f"median of {len(walls['local'])}"
        rows += [
            Measurement("cluster_mnist_20runs_local_jobs2", local, "s", note=repeats, load=load),
            Measurement("cluster_mnist_20runs_dask", cluster, "s", note=repeats, load=load),
            Measurement(
                "cluster_mnist_throughput_ratio",
                local / cluster,
                "ratio",
                f">= {CLUSTER_THROUGHPUT_TARGET}",
                f"20 MNIST runs of 300 steps: --jobs 2 wall time / {CLUSTER_WORKERS} Dask workers' wall time",
                load,
            ),
        ]
        _progress(rows[-3:])
    return rows


MEMORY_PROBE = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
"""Runs a command as its only child, then prints the child's peak resident set (kB on Linux)."""


def memory_measurement() -> Measurement:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
        args = [*optbench_command(), "train", str(MEMORY_CONFIG), "--out", tmp, "-q"]
        _, out = run_command([sys.executable, "-c", MEMORY_PROBE, *args])
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, kB elsewhere
    peak_mb = int(out.split()[-1]) * scale / 2**20
    row = Measurement(
        "peak_memory_train",
        peak_mb,
        "MB",
        f"< {MEMORY_TARGET_MB:g}",
        "optbench train configs/mnist_sgd.yaml: 2000 steps, then its figures",
        load,
    )
    _progress([row])
    return row


IMPORT_PROBE = """
import contextlib, io, sys
from optbench.cli import main
heavy, args = sys.argv[1].split(","), sys.argv[2:]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(args, standalone_mode=False)
    except SystemExit:
        pass
print(" ".join(name for name in heavy if name in sys.modules))
"""
"""Runs the CLI with argv[2:] in-process, then prints which of the modules listed in argv[1] it imported."""


def startup_measurements(settings: Settings) -> list[Measurement]:
    rows = []
    for args in (["--help"], ["list"]):
        load = load_average()
        command = [*optbench_command(), *args]
        run_command(command)  # once untimed, so that every timed run finds the files in the page cache
        times = [run_command(command)[0] for _ in range(settings.startup_repeats)]
        _, heavy = run_command([sys.executable, "-c", IMPORT_PROBE, ",".join(HEAVY_MODULES), *args])
        label = "_".join(a.strip("-") for a in args)
        rows += [
            Measurement(
                f"startup_{label}",
                statistics.median(times),
                "s",
                f"< {STARTUP_TARGET_S}",
                f"optbench {' '.join(args)}, median of {len(times)}",
                load,
            ),
            Measurement(
                f"heavy_imports_{label}",
                len(heavy.split()),
                "modules",
                "== 0",
                f"imported: {heavy.strip() or 'none'} (of {', '.join(HEAVY_MODULES)})",
                load,
            ),
        ]
        _progress(rows[-2:])
    return rows


# --------------------------------------------------------------------------------------------------
# The machine, the table, the CSV
# --------------------------------------------------------------------------------------------------


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


def _progress(rows: Sequence[Measurement]) -> None:
    for row in rows:
        print(f"  {row.name} = {row.value:.4g} {row.unit}", file=sys.stderr, flush=True)


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
        print("compare at --jobs 1 and 2 ...", file=sys.stderr, flush=True)
        rows += compare_measurements(settings)
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
