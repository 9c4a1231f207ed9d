"""The command line under `make bench`, in subprocesses, as a user runs it.

- the fixed cost of a compare (the book's four optimizers, one step each, end to end with figures
  and report), a rerun of that finished compare, and the lecture's four-optimizer compare at its
  2000 steps against the sum of its runs' own times;
- `optbench compare` at --jobs 1 and 2 on the lecture's comparison with one seed (5 runs) and on the
  four optimizers (4 runs), and the speed-up;
- `optbench train` of the lecture MLP with Adam against `reference_torch.py`, a plain PyTorch CPU
  script of the same model, batch, steps and evaluations (skipped where torch is not installed);
- the runner's own cost per run on sweeps of one-step runs;
- the peak resident memory of one 2000-step MNIST run;
- the start-up time of `optbench --help` and `optbench list`, and whether either imports a heavy
  module (matplotlib, tqdm) it does not need.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import (
    COMPARE_CONFIG,
    COMPARE_EXPERIMENT,
    FOUR_RUNS,
    ONE_SEED,
    ROOT,
    Measurement,
    Settings,
    load_average,
    optbench_command,
    progress,
    run_command,
)

from optbench.data import default_data_dir
from optbench.layout import SUMMARY_FILE

MNIST_SGD = ROOT / "configs" / "mnist_sgd.yaml"
"""The lecture's MLP, batch 128, 2000 steps, evaluations every 100: the single run measured here."""
ADAM = ("optimizer.name=adam", "optimizer.lr=0.001")
TORCH_REFERENCE = ROOT / "benchmarks" / "reference_torch.py"
HEAVY_MODULES = ("matplotlib", "tqdm")
"""Modules the CLI imports only in the commands that draw or show progress."""
JOBS = 2
"""Workers of the compares timed end to end: the cores of the machines the targets were set on."""

# Targets of the issues and the design brief.
PARALLEL_TARGET = 1.7
FIXED_COST_TARGET_S = 1.0
RERUN_TARGET_S = 0.5
END_TO_END_TARGET = 1.15
TORCH_TARGET = 2.5
MEMORY_TARGET_MB = 250.0
STARTUP_TARGET_S = 0.3


def _compare(*overrides: str, out: str, jobs: int = JOBS, force: bool = True) -> float:
    """Wall time of one `optbench compare` of the lecture's config with `overrides`, into `out`."""
    args = [*optbench_command(), "compare", str(COMPARE_CONFIG), *overrides, "--jobs", str(jobs)]
    return run_command([*args, "--out", out, "-q", *(["--force"] if force else [])])[0]


def end_to_end_measurements(settings: Settings) -> list[Measurement]:
    """What a user waits for beyond the training: a compare's fixed cost, a rerun, the whole compare.

    The fixed cost is the four-optimizer compare with one step per run; the rerun is the same command
    again on its finished folder (nothing to train, no figure to redraw). The whole compare, at 2000
    steps, is set against the sum of its runs' own wall_s over the workers plus the fixed cost.
    """
    load = load_average()
    fixed, rerun, whole, runs = [], [], [], []
    for _ in range(settings.compare_repeats):
        with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
            fixed.append(_compare(ONE_SEED, FOUR_RUNS, "train.steps=1", out=tmp))
            rerun.append(_compare(ONE_SEED, FOUR_RUNS, "train.steps=1", out=tmp, force=False))
        with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
            whole.append(_compare(ONE_SEED, FOUR_RUNS, out=tmp))
            runs.append(_runs_wall_s(Path(tmp) / COMPARE_EXPERIMENT))
    fixed_s, rerun_s, whole_s, runs_s = map(statistics.median, (fixed, rerun, whole, runs))
    repeats = f"median of {len(fixed)}"
    bound = runs_s / JOBS + fixed_s
    rows = [
        Measurement(
            "compare_fixed_cost",
            fixed_s,
            "s",
            f"<= {FIXED_COST_TARGET_S}",
            f"four one-step runs, --jobs {JOBS}, end to end with figures and report; {repeats}",
            load,
        ),
        Measurement(
            "compare_rerun",
            rerun_s,
            "s",
            f"<= {RERUN_TARGET_S}",
            f"the same compare again on its finished folder; {repeats}",
            load,
        ),
        Measurement("compare_4runs_2000_steps", whole_s, "s", note=f"--jobs {JOBS}; {repeats}", load=load),
        Measurement(
            "compare_4runs_end_to_end_ratio",
            whole_s / bound,
            "x",
            f"<= {END_TO_END_TARGET}",
            f"wall time / (runs' summed wall_s {runs_s:.2f} s / {JOBS} workers + fixed cost)",
            load,
        ),
    ]
    progress(rows)
    return rows


def torch_measurements(settings: Settings) -> list[Measurement]:
    """`optbench train` of the lecture MLP with Adam against a plain PyTorch CPU script doing the same.

    The same model, batch, 2000 steps and evaluations every 100 steps on the validation and test
    sets, each command end to end (start-up and data loading included; optbench also draws its two
    figures). Timed in alternation; the ratio is of the medians. torch runs with its default threads:
    the variables optbench sets to pin BLAS are removed from its environment.
    """
    if importlib.util.find_spec("torch") is None:
        row = Measurement(
            "train_adam_vs_torch", math.nan, "x", note="skipped: torch is not installed (pip install torch)"
        )
        progress([row])
        return [row]
    load = load_average()
    pins = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    torch_env = {key: value for key, value in os.environ.items() if key not in pins}
    ours, theirs = [], []
    torch_line = ""
    for _ in range(settings.compare_repeats):
        with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
            args = [*optbench_command(), "train", str(MNIST_SGD), *ADAM, "--out", tmp, "-q"]
            ours.append(run_command(args)[0])
        wall, torch_line = run_command(
            [sys.executable, str(TORCH_REFERENCE), str(default_data_dir())], env=torch_env
        )
        theirs.append(wall)
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    repeats = f"median of {len(ours)}"
    rows = [
        Measurement("train_adam_optbench", ours_s, "s", note=f"end to end; {repeats}", load=load),
        Measurement(
            "train_adam_torch", theirs_s, "s", note=f"{torch_line.strip()}; end to end; {repeats}", load=load
        ),
        Measurement(
            "train_adam_vs_torch",
            theirs_s / ours_s,
            "x",
            f">= {TORCH_TARGET}",
            "PyTorch script's wall time / optbench train's",
            load,
        ),
    ]
    progress(rows)
    return rows


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

    --jobs 1 is timed twice: as a user runs it (a run with the process to itself evaluates beside its
    training, on the second core) and confined to one core (`taskset -c 0`: it then evaluates in
    line), the baseline of the parallel target, which is about what a second core adds. Besides the
    wall times, the one-core time is split into the runs' own (their wall_s in summary.csv) and the
    rest, which no number of workers shortens: start-up, the data check, figures, report.
    """
    rows = []
    one_core = ["taskset", "-c", "0"] if shutil.which("taskset") else None
    for label, overrides, bound in COMPARES:
        load = load_average()
        walls: dict[str, list[float]] = {"jobs1": [], "jobs1_one_core": [], "jobs2": []}
        runs: list[float] = []
        for _ in range(settings.compare_repeats):
            for name in walls:
                if name == "jobs1_one_core" and one_core is None:
                    continue
                jobs = "2" if name == "jobs2" else "1"
                prefix = one_core if name == "jobs1_one_core" and one_core is not None else []
                with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
                    args = [*prefix, *optbench_command(), "compare", str(COMPARE_CONFIG), *overrides]
                    wall, _ = run_command([*args, "--jobs", jobs, "--out", tmp, "--force", "-q"])
                    walls[name].append(wall)
                    if name == ("jobs1_one_core" if one_core is not None else "jobs1"):
                        runs.append(_runs_wall_s(Path(tmp) / COMPARE_EXPERIMENT))
        medians = {name: statistics.median(w) for name, w in walls.items() if w}
        baseline = medians.get("jobs1_one_core", medians["jobs1"])
        two = medians["jobs2"]
        runs_s = statistics.median(runs)
        serial = baseline - runs_s
        repeats = f"median of {len(walls['jobs2'])}"
        rows += [
            Measurement(f"compare_{label}_jobs1", medians["jobs1"], "s", note=f"as run; {repeats}", load=load)
        ]
        if "jobs1_one_core" in medians:
            rows.append(
                Measurement(
                    f"compare_{label}_jobs1_one_core",
                    medians["jobs1_one_core"],
                    "s",
                    note=f"taskset -c 0; {repeats}",
                    load=load,
                )
            )
        rows += [
            Measurement(f"compare_{label}_jobs2", two, "s", note=repeats, load=load),
            Measurement(
                f"compare_{label}_speedup",
                baseline / two,
                "x",
                f">= {PARALLEL_TARGET}",
                f"jobs1 on one core / jobs2; {bound}",
                load,
            ),
            Measurement(
                f"compare_{label}_jobs1_vs_jobs2",
                medians["jobs1"] / two,
                "x",
                note="jobs1 as run (evaluating beside its training) / jobs2",
                load=load,
            ),
            Measurement(
                f"compare_{label}_serial_part",
                serial,
                "s",
                note="of jobs1 on one core: all but the runs (start-up, data check, figures, report)",
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
        progress(rows[-7:])
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
    progress(rows)
    return rows


MEMORY_PROBE = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)
"""Runs a command as its only child, then prints the peak resident set (kB on Linux) of the largest
process of the command's tree: the command, or its drawing process."""


def memory_measurement() -> Measurement:
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="optbench-bench-") as tmp:
        args = [*optbench_command(), "train", str(MNIST_SGD), "--out", tmp, "-q"]
        _, out = run_command([sys.executable, "-c", MEMORY_PROBE, *args])
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, kB elsewhere
    peak_mb = int(out.split()[-1]) * scale / 2**20
    row = Measurement(
        "peak_memory_train",
        peak_mb,
        "MB",
        f"< {MEMORY_TARGET_MB:g}",
        "optbench train configs/mnist_sgd.yaml: 2000 steps, then its figures; its largest process",
        load,
    )
    progress([row])
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
        progress(rows[-2:])
    return rows
