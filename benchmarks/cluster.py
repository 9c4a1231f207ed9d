"""A Dask cluster on this machine, for `make bench`: the runner's cost per run there, and its throughput.

A scheduler and two one-thread workers are started here, on 127.0.0.1 only, and stopped at the end:
the cost per run of a sweep of one-step runs, and the throughput of an MNIST sweep against the
local pool on the same two cores.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from commands import SWEEP_PROBE
from common import COMPARE_CONFIG, BenchError, Measurement, Settings, load_average, progress, run_command

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
            progress(rows[-1:])
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
        progress(rows[-3:])
    return rows
