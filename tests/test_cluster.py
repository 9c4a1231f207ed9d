"""Runs on a Dask cluster: a real scheduler and workers on 127.0.0.1, the same bytes as a local sweep,
and the faults (a worker killed, the scheduler killed, a wrong address, Ctrl-C and SIGTERM)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import need
from test_runner import assert_valid_csv, csv_rows, run_folders, strip_timing, wait_for_finished, write

from optbench.cli import main
from optbench.config import load_experiment
from optbench.errors import OptbenchError
from optbench.executors import Scheduler
from optbench.layout import RUNS_DIR, STATUS_FILE, SUMMARY_FILE, read_status
from optbench.runner import run_experiment

Client = need("distributed").Client

START_TIMEOUT_S = 60.0
"""How long a scheduler and its workers may take to come up."""

STOP_TIMEOUT_S = 10.0
"""How long a cluster process may take to stop on SIGTERM before it is killed."""

CONNECT_TIMEOUT = "3s"
"""The commands' connection timeout in these tests (Dask's own setting, through its environment)."""


@dataclass
class Cluster:
    """A scheduler and its workers, each a process of its own, in a folder of their own."""

    folder: Path
    scheduler_file: Path
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]

    @property
    def address(self) -> str:
        address = json.loads(self.scheduler_file.read_text())["address"]
        assert isinstance(address, str) and address.startswith("tcp://127.0.0.1:")
        return address

    @property
    def worker_pids(self) -> set[int]:
        return {worker.pid for worker in self.workers}

    def stop(self) -> None:
        """The workers first (a worker closing while its scheduler closes can hang), then the scheduler."""
        for group in (self.workers, [self.scheduler]):
            for process in group:
                if process.poll() is None:
                    process.terminate()
            for process in group:
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _dask(folder: Path, log: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`dask ARGS` in `folder`, its output in `folder/log`, in a session of its own (no Ctrl-C from us)."""
    with (folder / log).open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**{k: v for k, v in os.environ.items() if k != "OPTBENCH_SCHEDULER"}, **(env or {})},
        )


# Every server listens on 127.0.0.1 only, on a port the OS chooses; each ends by itself if forgotten:
# the scheduler after 5 idle minutes, a worker a minute after its scheduler is gone.
LOOPBACK = ("--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard")


def start_cluster(folder: Path, workers: int = 2, scheduler_env: dict[str, str] | None = None) -> Cluster:
    """A scheduler and `workers` one-thread workers (no nanny: a killed worker stays dead)."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    scheduler = _dask(
        folder,
        "scheduler.log",
        "scheduler",
        *LOOPBACK,
        "--port",
        "0",
        "--scheduler-file",
        str(scheduler_file),
        "--idle-timeout",
        "300",
        env=scheduler_env,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not scheduler_file.exists():
        assert scheduler.poll() is None, (folder / "scheduler.log").read_text()
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.05)
    processes = [start_worker(folder, scheduler_file, i) for i in range(workers)]
    cluster = Cluster(folder, scheduler_file, scheduler, processes)
    try:
        with Client(cluster.address, timeout=START_TIMEOUT_S, set_as_default=False) as client:
            if workers:
                client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_worker(folder: Path, scheduler_file: Path, i: int) -> subprocess.Popen[bytes]:
    """A one-thread worker of the scheduler (no nanny), in a folder of its own."""
    own = folder / f"worker-{i}"
    own.mkdir(exist_ok=True)
    return _dask(
        own,
        "worker.log",
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


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster for the tests that leave it as they found it."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that kill part of it or leave it busy."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


def summary_without_timing(folder: Path) -> list[dict[str, str]]:
    with (folder / SUMMARY_FILE).open(newline="") as f:
        return [{k: v for k, v in row.items() if k != "wall_s"} for row in csv.DictReader(f)]


def assert_same_results(local: Path, cluster: Path, run_ids: list[str]) -> None:
    """Byte-identical logs (the timing column of metrics.csv aside) and the same summary values."""
    for run_id in run_ids:
        a, b = local / RUNS_DIR / run_id, cluster / RUNS_DIR / run_id
        assert (a / "config.yaml").read_bytes() == (b / "config.yaml").read_bytes()
        metrics_a, metrics_b = (a / "metrics.csv").read_text(), (b / "metrics.csv").read_text()
        if "elapsed_s" in metrics_a.splitlines()[0]:  # a dataset run: elapsed_s, last, is timing
            metrics_a, metrics_b = strip_timing(metrics_a), strip_timing(metrics_b)
        assert metrics_a == metrics_b
        assert (a / "diagnostics.csv").exists() == (b / "diagnostics.csv").exists()
        if (a / "diagnostics.csv").exists():
            assert (a / "diagnostics.csv").read_bytes() == (b / "diagnostics.csv").read_bytes()
    assert summary_without_timing(local) == summary_without_timing(cluster)


FUNCTIONS = """experiment: paths
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.01}
train: {steps: 300}
runs:
  - {}
  - optimizer: {name: momentum, lr: 0.001}
  - {task: {function: beale}, optimizer: {name: rmsprop, lr: 0.01}}
grid:
  train.seed: [0, 1]
"""


def test_a_function_sweep_on_the_cluster_writes_the_same_bytes_as_a_local_one(
    tmp_path: Path, shared_cluster: Cluster
) -> None:
    exp = load_experiment(write(tmp_path, FUNCTIONS))
    run_experiment(exp, tmp_path / "local", jobs=2, progress=False)
    result = run_experiment(
        exp, tmp_path / "cluster", progress=False, scheduler=Scheduler(file=shared_cluster.scheduler_file)
    )
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    assert {s["pid"] for s in result.statuses.values()} <= shared_cluster.worker_pids
    assert_same_results(
        tmp_path / "local" / "paths", tmp_path / "cluster" / "paths", [r.run_id for r in exp.runs]
    )
    assert not list(shared_cluster.folder.rglob("*.csv")), "a worker wrote results of its own"


@pytest.mark.slow
def test_an_mnist_sweep_on_the_cluster_writes_the_same_bytes_as_a_local_one(
    tmp_path: Path, shared_cluster: Cluster, mnist: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = """experiment: det
task: {dataset: mnist}
model: {hidden: [32, 32]}
optimizer: {name: adam, lr: 0.001}
train: {steps: 60, eval_every: 20}
grid:
  optimizer.name: [adam, sgd]
  train.seed: [0, 1]
"""
    exp = load_experiment(write(tmp_path, text))
    run_experiment(exp, tmp_path / "local", jobs=2, progress=False)
    # No shared filesystem: the data is the workers' own; where the command runs there is none.
    monkeypatch.setenv("OPTBENCH_DATA", str(tmp_path / "no-data-here"))
    result = run_experiment(
        exp, tmp_path / "cluster", progress=False, scheduler=Scheduler(address=shared_cluster.address)
    )
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    assert {s["pid"] for s in result.statuses.values()} <= shared_cluster.worker_pids
    assert_same_results(
        tmp_path / "local" / "det", tmp_path / "cluster" / "det", [r.run_id for r in exp.runs]
    )


@pytest.mark.slow
def test_a_dropout_sweep_on_the_cluster_writes_the_same_bytes_as_a_local_one(
    tmp_path: Path, shared_cluster: Cluster, mnist: object
) -> None:
    text = """experiment: masks
task: {dataset: mnist, train_size: 500}
model: {hidden: [32, 32], batch_norm: true, dropout: 0.3}
optimizer: {name: sgd, lr: 0.05}
train: {epochs: 2, batch_size: 50, eval_every: epoch, steps: null}
grid:
  train.seed: [0, 1]
"""
    exp = load_experiment(write(tmp_path, text))
    run_experiment(exp, tmp_path / "local", jobs=1, progress=False)
    result = run_experiment(
        exp, tmp_path / "cluster", progress=False, scheduler=Scheduler(file=shared_cluster.scheduler_file)
    )
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    assert_same_results(
        tmp_path / "local" / "masks", tmp_path / "cluster" / "masks", [r.run_id for r in exp.runs]
    )


def test_a_data_dir_missing_on_the_workers_fails_its_run_naming_the_host_and_the_others_complete(
    tmp_path: Path, shared_cluster: Cluster
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    text = f"""experiment: mixed
task: {{function: book}}
optimizer: {{name: sgd, lr: 0.1}}
train: {{steps: 10}}
runs:
  - {{}}
  - task: {{dataset: mnist, function: null, data_dir: {data_dir}}}
    model: {{hidden: [8]}}
"""
    exp = load_experiment(write(tmp_path, text))  # validated here, where the folder exists
    data_dir.rmdir()  # ... and gone by the time a worker looks: workers see only their own disks
    result = run_experiment(
        exp, tmp_path / "out", progress=False, scheduler=Scheduler(file=shared_cluster.scheduler_file)
    )
    states = sorted((s["status"], s.get("error") or "") for s in result.statuses.values())
    assert states[0] == ("completed", "")
    assert states[1] == (
        "failed",
        f"task.data_dir: no such folder on worker {socket.gethostname()}: {data_dir}",
    )


STUDY = """experiment: study
task: {function: rosenbrock}
train: {steps: 300}
tune:
  budget: 6
  sampler: tpe
  batch: 2
  seed: 3
  optimizers:
    - name: sgd
      search: {lr: {log_uniform: [1.0e-5, 1.0e-2]}}
    - name: adam
      search: {lr: {log_uniform: [1.0e-3, 1.0]}, betas.0: {uniform: [0.5, 0.99]}}
"""
"""tpe, two trials at a time: each batch is a sweep of its own, told its scores before the next."""


@pytest.mark.slow
def test_a_tune_through_the_cluster_draws_the_same_trials_and_makes_the_same_choice(
    tmp_path: Path, shared_cluster: Cluster
) -> None:
    need("optuna")
    from optbench.config import load_tune
    from optbench.results import read_tune
    from optbench.tune import run_tune

    study = load_tune(write(tmp_path, STUDY))
    local = run_tune(study, tmp_path / "local", jobs=2, progress=False)
    cluster = run_tune(
        study, tmp_path / "cluster", progress=False, scheduler=Scheduler(file=shared_cluster.scheduler_file)
    )
    assert not local.interrupted and not cluster.interrupted and len(cluster.sweeps) > 2
    runs = [s for sweep in cluster.sweeps for s in sweep.statuses.values()]
    assert {s["pid"] for s in runs} <= shared_cluster.worker_pids
    assert summary_without_timing(local.folder) == summary_without_timing(cluster.folder)
    a, b = read_tune(local.folder), read_tune(cluster.folder)
    for name in ("sgd", "adam"):
        chosen_a, chosen_b = a.chosen(name), b.chosen(name)
        assert chosen_a is not None and chosen_b is not None
        assert (chosen_a.number, chosen_a.score) == (chosen_b.number, chosen_b.score)


ROOT = Path(__file__).resolve().parent.parent


def write_suite(tmp_path: Path) -> Path:
    """A suite of an activation experiment and the function sweep."""
    write(tmp_path, FUNCTIONS)
    activations = ROOT / "configs" / "activations.yaml"
    return write(tmp_path, f"suite: both\nactivations: [{activations}]\ncompare: [c.yaml]\n", "suite.yaml")


@pytest.mark.slow
def test_a_suite_sends_its_runs_to_the_cluster(tmp_path: Path, shared_cluster: Cluster) -> None:
    out = tmp_path / "out"
    args = [
        "suite",
        str(write_suite(tmp_path)),
        "--out",
        str(out),
        "-q",
        "--scheduler",
        shared_cluster.address,
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    assert (out / "activations" / "activations.csv").exists()
    runs = [read_status(folder) for folder in run_folders(out, "paths")]
    assert len(runs) == 6 and all(s is not None and s["pid"] in shared_cluster.worker_pids for s in runs)


def test_a_suite_with_a_wrong_scheduler_address_writes_nothing(tmp_path: Path) -> None:
    args = ["suite", str(write_suite(tmp_path)), "--out", str(tmp_path / "out"), "--scheduler", "head-node"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and "not a Dask scheduler address" in result.stderr
    assert not (tmp_path / "out").exists()


def compare(
    config: Path, out: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`optbench compare` in a process group of its own, as a shell runs a foreground command."""
    return subprocess.Popen(
        [sys.executable, "-m", "optbench", "compare", str(config), "--out", str(out), "-q", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": CONNECT_TIMEOUT, **(env or {})},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize("where", ["nothing listening", "a server that never answers", "not an address"])
def test_a_wrong_scheduler_address_is_one_line_exit_1_and_nothing_written(tmp_path: Path, where: str) -> None:
    config = write(tmp_path, FUNCTIONS)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = {
            "nothing listening": f"tcp://127.0.0.1:{free_port()}",
            "a server that never answers": f"tcp://127.0.0.1:{silent.getsockname()[1]}",
            "not an address": "head-node",
        }[where]
        # The address from the environment, as OPTBENCH_SCHEDULER gives it.
        process = compare(config, tmp_path / "out", env={"OPTBENCH_SCHEDULER": address})
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert len(stderr.splitlines()) == 1, stderr
    if where == "not an address":
        assert stderr.startswith("error: head-node: not a Dask scheduler address")
    else:
        assert stderr == (
            f"error: no Dask scheduler answered at {address} within 3 s: check the address, and that the "
            "scheduler is running\n"
        )
    assert not (tmp_path / "out").exists()


def test_the_runner_waits_for_a_scheduler_no_longer_than_its_timeout_and_writes_nothing(
    tmp_path: Path,
) -> None:
    exp = load_experiment(write(tmp_path, FUNCTIONS))
    scheduler = Scheduler(address=f"tcp://127.0.0.1:{free_port()}", timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(
        OptbenchError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:\d+ within 0\.5 s"
    ):
        run_experiment(exp, tmp_path / "out", progress=False, scheduler=scheduler)
    assert time.monotonic() - started < 5
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [None, '{"type": "Scheduler"}'])
def test_a_missing_or_wrong_scheduler_file_is_one_line_and_nothing_written(
    tmp_path: Path, content: str | None
) -> None:
    file = tmp_path / "scheduler.json"
    if content is not None:
        file.write_text(content)
    config = write(tmp_path, FUNCTIONS)
    args = ["compare", str(config), "--out", str(tmp_path / "out"), "--scheduler-file", str(file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    reason = "no such scheduler file; dask scheduler --scheduler-file FILE writes one"
    if content is not None:
        reason = "not a Dask scheduler file: it holds no address"
    assert result.stderr == f"error: {file}: {reason}\n"
    assert not (tmp_path / "out").exists()


def test_a_scheduler_and_a_scheduler_file_together_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(write(tmp_path, FUNCTIONS)),
            "--scheduler",
            "tcp://127.0.0.1:8786",
            "--scheduler-file",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr == "error: give --scheduler or --scheduler-file, not both\n"


def test_without_distributed_a_scheduler_says_what_to_install(tmp_path: Path) -> None:
    # None in sys.modules makes `import distributed` fail, as it does where the package is absent.
    program = "import sys; sys.modules['distributed'] = None; from optbench.cli import main; main()"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            program,
            "compare",
            str(write(tmp_path, FUNCTIONS)),
            "--out",
            str(tmp_path / "out"),
            "--scheduler",
            "tcp://127.0.0.1:8786",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: running on a Dask cluster needs the distributed package: pip install 'optbench[dask]'\n"
    )
    assert not (tmp_path / "out").exists()


LONG = """experiment: long
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.001}
train: {steps: 40000}
grid:
  train.seed: [0, 1, 2, 3, 4, 5, 6, 7]
"""
"""Eight runs of about half a second each: long enough to be stopped in the middle."""

LONG_ROWS = 1 + 40001
"""The lines of a whole metrics.csv of LONG: the header, the start point and every update."""


def statuses(out: Path) -> list[dict[str, object]]:
    found = [read_status(folder) for folder in run_folders(out, "long")]
    assert None not in found
    return [s for s in found if s is not None]


def assert_each_run_recorded_once(out: Path) -> None:
    """Every run completed, with whole logs of one run each and one summary row."""
    runs = statuses(out)
    assert len(runs) == 8 and {s["status"] for s in runs} == {"completed"}
    for folder in run_folders(out, "long"):
        steps = [row[0] for row in csv_rows(folder / "metrics.csv")[1:]]
        assert steps == [str(i) for i in range(LONG_ROWS - 1)]
    summary = csv_rows(out / "long" / SUMMARY_FILE)
    assert sorted(row[0] for row in summary[1:]) == sorted(str(s["run_id"]) for s in runs)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_has_its_run_executed_again_and_every_run_completes(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    config = write(tmp_path, LONG)
    process = compare(config, tmp_path / "out", "--scheduler-file", str(own_cluster.scheduler_file))
    wait_for_finished(tmp_path / "out" / "long", 1)
    victim, survivor = own_cluster.workers
    victim.send_signal(signal.SIGKILL)  # busy: runs wait at the scheduler for both workers
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert victim.wait() == -signal.SIGKILL
    assert_each_run_recorded_once(tmp_path / "out")
    pids = [s["pid"] for s in statuses(tmp_path / "out")]
    assert set(pids) <= own_cluster.worker_pids and pids.count(survivor.pid) > pids.count(victim.pid)


@pytest.mark.slow
def test_a_run_whose_workers_all_died_fails_alone_and_the_others_complete(tmp_path: Path) -> None:
    # No retry at all: the first worker that dies under a run takes the run with it.
    cluster = start_cluster(
        tmp_path / "cluster", scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    )
    try:
        process = compare(write(tmp_path, LONG), tmp_path / "out", "--scheduler", cluster.address)
        wait_for_finished(tmp_path / "out" / "long", 1)
        cluster.workers[0].send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=120)
    finally:
        cluster.stop()
    assert process.returncode == 1, stderr
    runs = statuses(tmp_path / "out")
    failed = [s for s in runs if s["status"] == "failed"]
    assert failed and len(failed) + sum(s["status"] == "completed" for s in runs) == 8
    reason = (
        "every Dask worker that executed it died (KilledWorker: the scheduler gives up after "
        "distributed.scheduler.allowed-failures retries)"
    )
    assert all(s["error"] == reason for s in failed)
    assert stderr.count("error: run ") == len(failed) and "Traceback" not in stderr


@pytest.mark.slow
def test_the_scheduler_killed_mid_sweep_is_one_line_and_the_same_command_later_finishes_the_rest(
    tmp_path: Path, own_cluster: Cluster
) -> None:
    config = write(tmp_path, LONG)
    out = tmp_path / "out"
    options = ("--scheduler-file", str(own_cluster.scheduler_file))
    process = compare(config, out, *options)
    wait_for_finished(out / "long", 2)
    address = own_cluster.address
    own_cluster.scheduler.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert stderr == (
        f"error: lost the connection to the Dask scheduler at {address}: the runs finished so far are kept; "
        "run the same command again once it is back to finish the rest\n"
    )
    before = {str(s["run_id"]): s["status"] for s in statuses(out)}
    assert set(before.values()) <= {"completed", "interrupted"}, before
    kept = {run_id for run_id, status in before.items() if status == "completed"}
    assert len(kept) >= 2 and "interrupted" in before.values()
    for folder in run_folders(out, "long"):
        if (folder / "metrics.csv").exists():
            assert_valid_csv(folder / "metrics.csv")
    summary = {row[0]: row[1] for row in csv_rows(out / "long" / SUMMARY_FILE)[1:]}
    assert {run_id: summary[run_id] for run_id in before} == before
    mtimes = {run_id: (out / "long" / RUNS_DIR / run_id / STATUS_FILE).stat().st_mtime_ns for run_id in kept}

    own_cluster.stop()
    again = start_cluster(own_cluster.folder)  # a new scheduler writes the same scheduler file
    try:
        rerun = compare(config, out, *options)
        stdout, stderr = rerun.communicate(timeout=120)
    finally:
        again.stop()
    assert rerun.returncode == 0, stderr
    assert f"{len(kept)} run(s) already finished, skipped" in stdout
    assert_each_run_recorded_once(out)
    assert {r: (out / "long" / RUNS_DIR / r / STATUS_FILE).stat().st_mtime_ns for r in kept} == mtimes


def scheduler_tasks(cluster: Cluster) -> int:
    """How many tasks the scheduler still holds."""
    with Client(cluster.address, timeout=10, set_as_default=False) as client:
        count: int = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        return count


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_cancels_the_tasks_marks_runs_in_flight_interrupted_and_exits_130(
    tmp_path: Path, own_cluster: Cluster, signum: int
) -> None:
    config = write(tmp_path, LONG)
    process = compare(config, tmp_path / "out", "--scheduler", own_cluster.address)
    wait_for_finished(tmp_path / "out" / "long", 1)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    else:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    runs = statuses(tmp_path / "out")
    assert {s["status"] for s in runs} <= {"completed", "interrupted"}
    assert any(s["status"] == "interrupted" for s in runs)
    summary = {row[0]: row[1] for row in csv_rows(tmp_path / "out" / "long" / SUMMARY_FILE)[1:]}
    assert all(summary[str(s["run_id"])] == s["status"] for s in runs)
    deadline = time.monotonic() + 10
    while scheduler_tasks(own_cluster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert scheduler_tasks(own_cluster) == 0


# -- a scheduler without workers ------------------------------------------------------------------------


@pytest.fixture
def no_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler of the test's own, no worker joined."""
    cluster = start_cluster(tmp_path_factory.mktemp("cluster"), workers=0)
    yield cluster
    cluster.stop()


def test_a_scheduler_without_workers_gives_up_after_the_worker_timeout_in_one_line_and_writes_nothing(
    tmp_path: Path, no_workers: Cluster
) -> None:
    process = compare(
        write(tmp_path, FUNCTIONS),
        tmp_path / "out",
        "--scheduler",
        no_workers.address,
        "--worker-timeout",
        "1",
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    address = no_workers.address
    assert stderr == (
        f"error: no Dask worker at {address} for 1 s (--worker-timeout): start one with: dask worker "
        f"{address} --nthreads 1, then run the same command again\n"
    )
    assert not (tmp_path / "out").exists()


class Watched(io.StringIO):
    """stderr that tells, through an event, when a line it was given holds `awaited`."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.awaited, self.seen = awaited, threading.Event()

    def write(self, text: str) -> int:
        if self.awaited in text:
            self.seen.set()
        return super().write(text)


def test_a_scheduler_without_workers_says_so_and_how_to_start_one_and_runs_once_one_joins(
    tmp_path: Path, no_workers: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optbench.executors.dask as dask_executor

    monkeypatch.setattr(dask_executor, "WORKER_NOTICE_S", 0.2)
    monkeypatch.setattr(dask_executor, "WAITING_EVERY_S", 0.5)
    stderr = Watched("waiting for a Dask worker")
    monkeypatch.setattr(sys, "stderr", stderr)

    def join_once_said() -> None:
        if stderr.seen.wait(60):  # if never said, the worker timeout below ends the test
            no_workers.workers.append(start_worker(no_workers.folder, no_workers.scheduler_file, 0))

    helper = threading.Thread(target=join_once_said)
    helper.start()
    exp = load_experiment(write(tmp_path, FUNCTIONS))
    try:
        result = run_experiment(
            exp,
            tmp_path / "out",
            progress=False,
            scheduler=Scheduler(address=no_workers.address, worker_timeout_s=120),
        )
    finally:
        helper.join()
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    address = no_workers.address
    lines = stderr.getvalue().splitlines()
    assert lines[0] == (
        f"note: the Dask scheduler at {address} has 0 workers, so no run can start: start one with: "
        f"dask worker {address} --nthreads 1 (waiting for it; --worker-timeout SECONDS gives up)"
    )
    assert re.fullmatch(
        rf"waiting for a Dask worker at {address}: 0 workers, 6 runs waiting, \d+ s so far", lines[1]
    )
    assert lines[-1] == f"note: 1 Dask worker at {address} now; the runs go on"


@pytest.mark.slow
def test_workers_gone_mid_sweep_give_up_after_the_worker_timeout_keeping_the_finished_runs(
    tmp_path: Path,
) -> None:
    cluster = start_cluster(tmp_path / "cluster", workers=1)
    address = cluster.address
    try:
        out = tmp_path / "out"
        process = compare(write(tmp_path, LONG), out, "--scheduler", address, "--worker-timeout", "2")
        wait_for_finished(out / "long", 1)
        cluster.workers[0].send_signal(signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)
    finally:
        cluster.stop()
    assert process.returncode == 1, stderr
    assert stderr.splitlines() == [
        f"error: no Dask worker at {address} for 2 s (--worker-timeout): start one with: dask worker "
        f"{address} --nthreads 1, then run the same command again"
    ]
    runs = statuses(out)
    assert {s["status"] for s in runs} == {"completed", "interrupted"}
    summary = {row[0]: row[1] for row in csv_rows(out / "long" / SUMMARY_FILE)[1:]}
    assert all(summary[str(s["run_id"])] == s["status"] for s in runs)


def test_a_worker_timeout_without_a_cluster_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPTBENCH_SCHEDULER", raising=False)
    args = [
        "compare",
        str(write(tmp_path, FUNCTIONS)),
        "--out",
        str(tmp_path / "out"),
        "--worker-timeout",
        "5",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --worker-timeout: applies to a Dask cluster: give --scheduler, --scheduler-file or "
        "$OPTBENCH_SCHEDULER\n"
    )
    assert not (tmp_path / "out").exists()
