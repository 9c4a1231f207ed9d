"""The runner: run folders, resume, parallel workers giving the same bytes, failures, interrupts, locks."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from optbench.config import load_experiment, to_yaml
from optbench.errors import DataError, LockedError, UsageError
from optbench.executors.local import WORKER_NAME, LocalPool, forks
from optbench.files import FolderLock
from optbench.layout import RUNS_DIR, STATUS_FILE, read_status
from optbench.runner import run_experiment, run_experiments

SWEEP = """experiment: sweep
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.01}
train: {steps: 200}
grid:
  optimizer.lr: [0.001, 0.01]
  train.seed: [0, 1]
"""


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def assert_valid_csv(path: Path) -> None:
    """Every row has as many cells as the header: nothing half-written."""
    rows = csv_rows(path)
    assert rows, f"{path} is empty"
    assert all(len(row) == len(rows[0]) for row in rows), path
    assert path.read_bytes().endswith(b"\n")


def run_folders(out: Path, experiment: str) -> list[Path]:
    return sorted((out / experiment / RUNS_DIR).iterdir())


def test_a_two_by_two_grid_gives_four_completed_runs_with_their_files(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    result = run_experiment(exp, tmp_path / "out", jobs=1, progress=False)
    assert len(result.statuses) == 4
    assert {s["status"] for s in result.statuses.values()} == {"completed"}
    for folder in run_folders(tmp_path / "out", "sweep"):
        assert {p.name for p in folder.iterdir()} == {"config.yaml", "metrics.csv", "status.json"}
        assert len(csv_rows(folder / "metrics.csv")) == 1 + 201  # header, start point, 200 updates
        status = read_status(folder)
        assert status is not None and status["versions"]["numpy"]
        assert status["wall_s"] >= 0 and status["started"] <= status["ended"]
    summary = csv_rows(tmp_path / "out" / "sweep" / "summary.csv")
    assert summary[0][:8] == ["run_id", "status", "optimizer", "lr", "seed", "steps", "final_loss", "wall_s"]
    assert [row[0] for row in summary[1:]] == sorted(r.run_id for r in exp.runs)


def test_a_rerun_skips_finished_runs_and_touches_nothing(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    out = tmp_path / "out"
    run_experiment(exp, out, jobs=1, progress=False)
    before = {p: p.stat().st_mtime_ns for f in run_folders(out, "sweep") for p in f.iterdir()}
    result = run_experiment(exp, out, jobs=1, progress=False)
    assert result.skipped == 4
    assert {p: p.stat().st_mtime_ns for f in run_folders(out, "sweep") for p in f.iterdir()} == before


def test_force_reruns_finished_runs(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    out = tmp_path / "out"
    run_experiment(exp, out, jobs=1, progress=False)
    result = run_experiment(exp, out, jobs=1, force=True, progress=False)
    assert result.skipped == 0


def test_unfinished_runs_are_run_again(tmp_path: Path) -> None:
    """A run left `running` by a killed process, or `interrupted`, or `failed`, is not finished."""
    exp = load_experiment(write(tmp_path, SWEEP))
    out = tmp_path / "out"
    run_experiment(exp, out, jobs=1, progress=False)
    folders = run_folders(out, "sweep")
    for folder, status in zip(folders, ["running", "interrupted", "failed"]):
        data = json.loads((folder / STATUS_FILE).read_text())
        data["status"] = status
        (folder / STATUS_FILE).write_text(json.dumps(data))
    result = run_experiment(exp, out, jobs=1, progress=False)
    assert result.skipped == 1
    assert {s["status"] for s in result.statuses.values()} == {"completed"}


def strip_timing(text: str) -> str:
    return "\n".join(",".join(row[:-1]) for row in csv.reader(text.splitlines()))


@pytest.mark.slow
def test_two_workers_write_the_same_bytes_as_one(tmp_path: Path, mnist: object) -> None:
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
    run_experiment(exp, tmp_path / "one", jobs=1, progress=False)
    run_experiment(exp, tmp_path / "two", jobs=2, progress=False)
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()  # a fork would copy this process without it: the pool spawns its workers instead
    try:
        assert not forks()
        run_experiment(exp, tmp_path / "spawned", jobs=2, progress=False)
    finally:
        release.set()
        waiting.join()
    for run in exp.runs:
        a = tmp_path / "one" / "det" / RUNS_DIR / run.run_id
        for other in ("two", "spawned"):
            b = tmp_path / other / "det" / RUNS_DIR / run.run_id
            # elapsed_s is the last column of metrics.csv: the only one allowed to differ.
            assert strip_timing((a / "metrics.csv").read_text()) == strip_timing(
                (b / "metrics.csv").read_text()
            )
            assert (a / "diagnostics.csv").read_bytes() == (b / "diagnostics.csv").read_bytes()
            assert (a / "config.yaml").read_bytes() == (b / "config.yaml").read_bytes()


@pytest.mark.slow
def test_dropout_and_batch_norm_runs_write_the_same_bytes_at_one_and_two_jobs(
    tmp_path: Path, mnist: object
) -> None:
    """The masks come from each run's seed, whichever process draws them and in whatever order."""
    text = """experiment: masks
task: {dataset: mnist, train_size: 1000}
model: {hidden: [32, 32], batch_norm: true, dropout: 0.3, l2: 0.01}
optimizer: {name: sgd, lr: 0.05}
train: {epochs: 3, batch_size: 50, eval_every: epoch, steps: null}
grid:
  train.seed: [0, 1, 2]
"""
    exp = load_experiment(write(tmp_path, text))
    run_experiment(exp, tmp_path / "one", jobs=1, progress=False)
    run_experiment(exp, tmp_path / "two", jobs=2, progress=False)
    texts = []
    for run in exp.runs:
        a, b = (tmp_path / where / "masks" / RUNS_DIR / run.run_id for where in ("one", "two"))
        texts.append(strip_timing((a / "metrics.csv").read_text()))
        assert texts[-1] == strip_timing((b / "metrics.csv").read_text())
        assert (a / "diagnostics.csv").read_bytes() == (b / "diagnostics.csv").read_bytes()
    assert len(set(texts)) == 3  # each seed its own masks and batches


def test_function_runs_are_byte_identical_across_job_counts(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    run_experiment(exp, tmp_path / "one", jobs=1, progress=False)
    run_experiment(exp, tmp_path / "two", jobs=2, progress=False)
    for run in exp.runs:
        a = tmp_path / "one" / "sweep" / RUNS_DIR / run.run_id / "metrics.csv"
        b = tmp_path / "two" / "sweep" / RUNS_DIR / run.run_id / "metrics.csv"
        assert a.read_bytes() == b.read_bytes()


def test_a_diverging_run_stops_at_once_and_the_others_complete(tmp_path: Path) -> None:
    text = (
        SWEEP.replace("optimizer.lr: [0.001, 0.01]", "optimizer.lr: [0.01]").replace(
            "train.seed: [0, 1]", "train.seed: [0]"
        )
        + "runs:\n  - optimizer: {name: sgd, lr: 10.0}\n  - {}\n"
    )
    text = text.replace("optimizer.lr: [0.01]\n", "")
    exp = load_experiment(write(tmp_path, text))
    result = run_experiment(exp, tmp_path / "out", jobs=1, progress=False)
    by_optimizer = {exp_run.optimizer.name: result.statuses[exp_run.run_id] for exp_run in exp.runs}
    diverged = by_optimizer["sgd"]
    assert diverged["status"] == "diverged"
    assert 1 <= diverged["diverged_step"] < 200
    assert by_optimizer["adam"]["status"] == "completed"
    assert not result.any_failed
    rows = csv_rows(
        tmp_path
        / "out"
        / "sweep"
        / RUNS_DIR
        / next(r.run_id for r in exp.runs if r.optimizer.name == "sgd")
        / "metrics.csv"
    )
    assert int(rows[-1][0]) == diverged["diverged_step"]


def test_a_run_that_raises_fails_alone_with_its_message(tmp_path: Path, mnist: object) -> None:
    text = """experiment: mixed
task: {function: book}
optimizer: {name: sgd, lr: 0.1}
train: {steps: 10}
runs:
  - {}
  - task: {dataset: mnist, function: null}
    model: {hidden: [10000000, 10000000]}
"""
    exp = load_experiment(write(tmp_path, text))
    result = run_experiment(exp, tmp_path / "out", jobs=2, progress=False)
    statuses = sorted((s["status"], s.get("error") or "") for s in result.statuses.values())
    assert statuses[0] == ("completed", "")
    assert statuses[1][0] == "failed" and "MemoryError" in statuses[1][1]
    assert result.any_failed


def test_missing_data_stops_the_sweep_before_anything_is_written(tmp_path: Path) -> None:
    text = f"task: {{dataset: mnist, data_dir: {tmp_path}}}\ntrain: {{steps: 5}}\n"
    exp = load_experiment(write(tmp_path, text))
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        run_experiment(exp, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_out_pointing_at_a_file_is_a_usage_error(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        run_experiment(exp, tmp_path / "file", progress=False)


def test_a_second_process_on_the_same_experiment_is_refused(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    folder = tmp_path / "out" / "sweep"
    folder.mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from optbench.files import FolderLock;"
            "FolderLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(30)",
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            run_experiment(exp, tmp_path / "out", progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert not (folder / RUNS_DIR).exists() or not any((folder / RUNS_DIR).iterdir())
    with FolderLock(folder):  # the holder's death released the lock
        pass


LONG_SWEEP = """experiment: long
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.001}
train: {steps: 150000}
grid:
  train.seed: [0, 1, 2, 3, 4, 5]
"""


def start_compare(tmp_path: Path, config: Path, jobs: int, **popen: Any) -> subprocess.Popen[str]:
    """`optbench compare` in a session of its own (so that a test can signal its whole group)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optbench",
            "compare",
            str(config),
            "--out",
            str(tmp_path / "out"),
            "--jobs",
            str(jobs),
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )


def wait_for_running(folder: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status_file in folder.glob(f"{RUNS_DIR}/*/{STATUS_FILE}"):
            status = read_status(status_file.parent)
            metrics = status_file.parent / "metrics.csv"
            if (
                status
                and status["status"] == "running"
                and metrics.exists()
                and metrics.stat().st_size > 5000
            ):
                return
        time.sleep(0.05)
    raise AssertionError("no run started")


def rerun_finishes_every_run(tmp_path: Path, config: Path) -> None:
    """The same compare again, as a user would after an interrupt or a kill: it completes every run."""
    rerun = subprocess.run(
        [sys.executable, "-m", "optbench", "compare", str(config), "--out", str(tmp_path / "out"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    statuses = [read_status(f) for f in run_folders(tmp_path / "out", "long")]
    assert {s["status"] for s in statuses if s is not None} == {"completed"} and None not in statuses


def check_interrupted_sweep(out: Path) -> None:
    statuses = [read_status(f) for f in run_folders(out, "long")]
    assert all(s is not None and s["status"] in ("completed", "interrupted") for s in statuses), statuses
    assert any(s is not None and s["status"] == "interrupted" for s in statuses)
    for folder in run_folders(out, "long"):
        if (folder / "metrics.csv").exists():
            assert_valid_csv(folder / "metrics.csv")
    assert_valid_csv(out / "long" / "summary.csv")
    assert not list(out.rglob(".*.tmp-*")), "temporary files left behind"


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "jobs"), [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGINT, 1)])
def test_an_interrupted_sweep_leaves_valid_files_and_a_rerun_finishes_it(
    tmp_path: Path, signum: int, jobs: int
) -> None:
    config = write(tmp_path, LONG_SWEEP)
    process = start_compare(tmp_path, config, jobs)
    wait_for_running(tmp_path / "out" / "long")
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
    else:
        process.send_signal(signal.SIGTERM)  # `kill PID` reaches the main process only
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    check_interrupted_sweep(tmp_path / "out")

    rerun_finishes_every_run(tmp_path, config)


@pytest.mark.slow
def test_a_killed_sweep_is_seen_as_incomplete_and_rerun(tmp_path: Path) -> None:
    config = write(tmp_path, LONG_SWEEP.replace("[0, 1, 2, 3, 4, 5]", "[0, 1]"))
    process = start_compare(tmp_path, config, 1)
    wait_for_running(tmp_path / "out" / "long")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stale = [read_status(f) for f in run_folders(tmp_path / "out", "long")]
    assert any(s is not None and s["status"] == "running" for s in stale)
    rerun_finishes_every_run(tmp_path, config)


MANY = """experiment: many
task: {function: rosenbrock}
optimizer: {name: adam}
train: {steps: 1500}
grid:
  optimizer.lr: [%s]
"""


def wait_for_finished(folder: Path, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [s for f in folder.glob(f"{RUNS_DIR}/*/{STATUS_FILE}") if (s := read_status(f.parent))]
        if sum(s["status"] == "completed" for s in done) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} runs finished")


def assert_no_process_left(group: int) -> None:
    """Every process of the command's group (it and its workers) is gone."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("a process of the stopped command is still alive")


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "jobs"), [(signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGINT, 1)])
def test_a_stop_signal_ends_a_sweep_of_a_thousand_runs_within_seconds(
    tmp_path: Path, signum: int, jobs: int
) -> None:
    lrs = ", ".join(f"{1e-4 * (1 + i):.6g}" for i in range(1200))
    config = write(tmp_path, MANY % lrs)
    process = start_compare(tmp_path, config, jobs)
    wait_for_finished(tmp_path / "out" / "many", 5)
    stopped = time.monotonic()
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise AssertionError("the sweep did not end within 20 s of the stop signal") from None
    assert time.monotonic() - stopped < 10
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert_no_process_left(process.pid)
    statuses = [read_status(f) for f in run_folders(tmp_path / "out", "many")]
    assert None not in statuses
    assert {s["status"] for s in statuses if s is not None} <= {"completed", "interrupted"}
    summary = csv_rows(tmp_path / "out" / "many" / "summary.csv")
    assert len(summary) == 1 + 1200
    by_id = {row[0]: row[1] for row in summary[1:]}
    for status in statuses:
        assert status is not None and by_id[status["run_id"]] == status["status"]


def signal_while_writing(monkeypatch: pytest.MonkeyPatch, signum: int, name: str) -> None:
    """Send `signum` to this process just as the runner writes the file `name` of a run folder."""
    import optbench.runfolder

    real = optbench.runfolder.atomic_write_text
    sent = []

    def write_then_signal(path: Path, text: str) -> None:
        if path.name == name and not sent:
            sent.append(path)
            os.kill(os.getpid(), signum)
        real(path, text)

    monkeypatch.setattr(optbench.runfolder, "atomic_write_text", write_then_signal)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("rerun", [False, True])
def test_a_stop_signal_while_a_run_folder_is_created_leaves_a_truthful_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, rerun: bool
) -> None:
    """The signal lands after the folder exists and before its status is written: the old race."""
    exp = load_experiment(write(tmp_path, SWEEP))
    out = tmp_path / "out"
    if rerun:
        run_experiment(exp, out, jobs=1, progress=False)
    signal_while_writing(monkeypatch, signum, "config.yaml")
    result = run_experiment(exp, out, jobs=1, force=rerun, progress=False)
    assert result.interrupted
    folders = run_folders(out, "sweep")
    assert folders, "the interrupted run left no folder"
    statuses = [read_status(f) for f in folders]
    assert None not in statuses, statuses
    states = sorted(s["status"] for s in statuses if s is not None)
    assert "interrupted" in states and "running" not in states
    assert set(states) <= ({"interrupted", "completed"} if rerun else {"interrupted"})
    assert not list((out / "sweep" / RUNS_DIR).glob(".*")), "a staging folder was left behind"
    monkeypatch.undo()
    assert {s["status"] for s in run_experiment(exp, out, jobs=1, progress=False).statuses.values()} == {
        "completed"
    }


def test_a_folder_left_half_built_by_a_killed_process_is_cleaned_and_rerun(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    out = tmp_path / "out"
    run_experiment(exp, out, jobs=1, progress=False)
    first, second = run_folders(out, "sweep")[:2]
    staging = first.with_name(f".{first.name}.tmp-12345")
    first.rename(staging)
    (second / STATUS_FILE).unlink()  # what SIGKILL can leave of an older layout: a folder, no status
    result = run_experiment(exp, out, jobs=1, progress=False)
    assert result.skipped == 2
    assert not staging.exists()
    assert {s["status"] for s in result.statuses.values()} == {"completed"}


def workers_of(pid: int) -> list[int]:
    """The worker processes of a command (its drawing process aside), by the name they give themselves."""
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if Path(f"/proc/{c}/comm").read_text().strip() == WORKER_NAME]


@pytest.mark.slow
def test_a_worker_killed_from_outside_fails_its_run_and_a_new_worker_finishes_the_rest(
    tmp_path: Path,
) -> None:
    config = write(tmp_path, LONG_SWEEP)
    process = start_compare(tmp_path, config, 2)
    wait_for_running(tmp_path / "out" / "long")
    workers = workers_of(process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert "worker process died (exit code -9)" in stderr
    statuses = [read_status(f) for f in run_folders(tmp_path / "out", "long")]
    states = sorted(s["status"] for s in statuses if s is not None)
    assert len(states) == 6 and states.count("failed") == 1 and states.count("completed") == 5


@pytest.mark.slow
def test_workers_are_forked_holding_no_file_of_the_command_but_their_pipe(tmp_path: Path) -> None:
    """A worker keeps neither the folder lock, nor the drawer's pipes, nor another worker's pipe: its
    own pipe, and the two through which multiprocessing watches it, are all it holds (with its
    standard streams, and the /dev/null multiprocessing gives it as its input)."""

    def held(pid: int) -> dict[int, str]:
        return {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}

    process = start_compare(tmp_path, write(tmp_path, LONG_SWEEP), 2)
    try:
        wait_for_running(tmp_path / "out" / "long")
        workers = workers_of(process.pid)
        assert len(workers) == 2
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        (drawer,) = [int(c) for c in children if int(c) not in workers]
        drawer_pipes = {target for target in held(drawer).values() if target.startswith("pipe:")}
        for worker in workers:
            assert b"spawn_main" not in Path(f"/proc/{worker}/cmdline").read_bytes(), "spawned, not forked"
            beyond = [target for fd, target in held(worker).items() if fd > 2]
            sockets = [target for target in beyond if target.startswith("socket:")]
            pipes = [target for target in beyond if target.startswith("pipe:")]
            files = [target for target in beyond if target.startswith("/") and target != os.devnull]
            assert len(sockets) == 1 and len(pipes) == 2 and not files, beyond
            assert not drawer_pipes & set(pipes), "a worker holds the drawer's pipe"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=60)


def test_a_live_worker_looks_alive_and_a_stopped_one_exits_on_its_own() -> None:
    """A worker's sentinel (what the pool waits on, with its pipe) is quiet while it lives, and a
    worker told to stop exits by itself, with status 0, before the pool would kill it."""
    from multiprocessing.connection import wait

    pool = LocalPool(2)
    processes = [slot.process for slot in pool._slots]
    try:
        assert wait([p.sentinel for p in processes], timeout=0.5) == []
    finally:
        pool.shutdown(cancel=False)
    assert [p.exitcode for p in processes] == [0, 0]


def strict_json(path: Path) -> dict[str, object]:
    """A JSON file read by a parser that refuses NaN and Infinity, as strict JSON readers do."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path}: {constant} is not JSON")

    data = json.loads(path.read_text(), parse_constant=refuse)
    assert isinstance(data, dict)
    return data


def test_a_diverged_function_run_has_strict_json_and_no_final_loss(tmp_path: Path) -> None:
    config = write(tmp_path, SWEEP.split("grid:")[0].replace("lr: 0.01", "lr: 1000.0").replace("adam", "sgd"))
    result = run_experiment(load_experiment(config), tmp_path / "out", progress=False)
    ((run_id, status),) = result.statuses.items()
    assert status["status"] == "diverged" and status["final_loss"] is None
    on_disk = strict_json(tmp_path / "out" / "sweep" / RUNS_DIR / run_id / STATUS_FILE)
    assert on_disk["final_loss"] is None and on_disk["diverged_step"] == status["diverged_step"]
    rows = csv_rows(tmp_path / "out" / "sweep" / RUNS_DIR / run_id / "metrics.csv")
    assert rows[-1][3] in ("inf", "nan")  # the value it reached stays in the log


@pytest.mark.slow
def test_a_diverged_dataset_run_has_no_final_accuracy_anywhere(tmp_path: Path, mnist: object) -> None:
    text = """experiment: blowup
task: {dataset: mnist, validation: 1000}
model: {hidden: [16], activation: identity}
optimizer: {name: sgd, lr: 1.0}
train: {steps: 300, eval_every: 2}
"""
    code = subprocess.run(
        [
            sys.executable,
            "-m",
            "optbench",
            "train",
            str(write(tmp_path, text)),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert code.returncode == 0, code.stderr
    line = next(x for x in code.stdout.splitlines() if ": diverged" in x)
    assert "acc" not in line and "diverged at step" in line
    rows = csv_rows(run_folders(tmp_path / "out", "blowup")[0] / "metrics.csv")
    assert rows[-2][4] != ""  # it was evaluated before it diverged: that accuracy is not its final one
    (folder,) = run_folders(tmp_path / "out", "blowup")
    status = strict_json(folder / STATUS_FILE)
    assert status["status"] == "diverged"
    assert (
        status["final_val_acc"] is None and status["final_test_acc"] is None and status["final_loss"] is None
    )
    summary = dict(zip(*csv_rows(tmp_path / "out" / "blowup" / "summary.csv")))
    assert summary["final_test_acc"] == summary["final_val_acc"] == summary["final_loss"] == ""
    report = (tmp_path / "out" / "blowup" / "runs").parent / "report.md"
    assert not report.exists() or "accuracy of" not in report.read_text()


@pytest.mark.slow
def test_sigint_ignored_at_start_is_respected_by_the_command_and_its_workers(tmp_path: Path) -> None:
    """Under nohup or in a script's background job, SIGINT to the group must change nothing."""
    config = write(tmp_path, LONG_SWEEP.replace("150000", "30000").replace("[0, 1, 2, 3, 4, 5]", "[0, 1, 2]"))
    process = start_compare(
        tmp_path, config, 2, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)
    )
    wait_for_running(tmp_path / "out" / "long")
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    statuses = {
        s["run_id"]: s["status"] for f in run_folders(tmp_path / "out", "long") if (s := read_status(f))
    }
    assert set(statuses.values()) == {"completed"} and len(statuses) == 3
    summary = {row[0]: row[1] for row in csv_rows(tmp_path / "out" / "long" / "summary.csv")[1:]}
    assert summary == statuses


def test_an_interrupted_run_records_how_many_steps_it_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optbench.runfolder

    exp = load_experiment(write(tmp_path, SWEEP.replace("steps: 200", "steps: 100000")))
    real = optbench.runfolder.RunWriter.rows

    def rows_then_stop(self: optbench.runfolder.RunWriter, name: str, text: str, step: int | None) -> None:
        real(self, name, text, step)
        if step == 500:
            raise KeyboardInterrupt

    monkeypatch.setattr(optbench.runfolder.RunWriter, "rows", rows_then_stop)
    result = run_experiment(exp, tmp_path / "out", jobs=1, progress=False)
    assert result.interrupted
    (status,) = [s for s in result.statuses.values() if s["status"] == "interrupted"]
    assert status["steps_done"] == 500
    folder = tmp_path / "out" / "sweep" / RUNS_DIR / status["run_id"]
    assert strict_json(folder / STATUS_FILE)["steps_done"] == 500
    assert len(csv_rows(folder / "metrics.csv")) == 1 + 501


class SignalsItself:
    """An object whose finalizer sends `signum` to this process: the handler runs inside `__del__`,
    where Python prints the exception it raises and drops it (as in a library's finalizer)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_that_lands_in_a_finalizer_still_stops_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    import optbench.runfolder

    exp = load_experiment(write(tmp_path, SWEEP))
    real = optbench.runfolder.RunWriter.rows

    def rows_then_signal_in_a_finalizer(
        self: optbench.runfolder.RunWriter, name: str, text: str, step: int | None
    ) -> None:
        real(self, name, text, step)
        if step == 100:
            SignalsItself(signum)  # dropped at once: its __del__ runs here

    monkeypatch.setattr(optbench.runfolder.RunWriter, "rows", rows_then_signal_in_a_finalizer)
    result = run_experiment(exp, tmp_path / "out", jobs=1, progress=False)
    assert result.interrupted
    assert sum(s["status"] == "completed" for s in result.statuses.values()) < len(exp.runs)


CHECKPOINTED = """experiment: resumed
task: {dataset: mnist, validation: 2000}
model: {hidden: [64, 64]}
optimizer: {name: adam, lr: 0.001}
train: {steps: 3000, eval_every: 100, batch_size: 64, checkpoint_every: 200}
grid:
  train.seed: [0, 1]
"""


def without_timing(path: Path) -> list[list[str]]:
    rows = csv_rows(path)
    drop = rows[0].index("elapsed_s") if "elapsed_s" in rows[0] else None
    return [[c for i, c in enumerate(r) if i != drop] for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_an_interrupted_run_resumes_from_its_checkpoint_to_the_files_of_an_uninterrupted_one(
    tmp_path: Path, mnist: object, jobs: int
) -> None:
    config = write(tmp_path, CHECKPOINTED)
    process = start_compare(tmp_path, config, jobs)
    folder = tmp_path / "out" / "resumed"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(folder.glob("runs/*/checkpoint.npz")):
        time.sleep(0.05)
    time.sleep(0.3)  # some steps past the checkpoint: they are run again after it
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=60) == 130
    resumable = [f.name for f in run_folders(tmp_path / "out", "resumed") if (f / "checkpoint.npz").exists()]
    assert resumable, "no run left a checkpoint"
    rerun = subprocess.run(
        [
            sys.executable,
            "-m",
            "optbench",
            "compare",
            str(config),
            "--out",
            str(tmp_path / "out"),
            "-q",
            "--jobs",
            str(jobs),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rerun.returncode == 0, rerun.stderr
    whole = subprocess.run(
        [sys.executable, "-m", "optbench", "compare", str(config), "--out", str(tmp_path / "whole"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert whole.returncode == 0, whole.stderr
    for name in resumable:
        status = read_status(folder / "runs" / name)
        assert status is not None and status["status"] == "completed" and status["resumed_from"] > 0
        assert not (folder / "runs" / name / "checkpoint.npz").exists()  # removed once finished
        for log in ("metrics.csv", "diagnostics.csv"):
            ours, theirs = folder / "runs" / name / log, tmp_path / "whole" / "resumed" / "runs" / name / log
            assert without_timing(ours) == without_timing(theirs), log


# -- a run that two experiments share -----------------------------------------------------------------

SHARING = """experiment: a
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.01}
train: {steps: 200}
grid:
  train.seed: [0, 1]
"""
SHARED_TOO = """experiment: b
task: {function: rosenbrock}
optimizer: {name: adam, lr: 0.01}
train: {steps: 200}
runs:
  - {}
  - {optimizer: {name: momentum, lr: 0.001}}
"""
"""b's first run is a's run at seed 0: the same resolved config, the same run id."""


def progress_lines(err: str) -> list[tuple[str, str]]:
    """(`[n/total]`, run id) of each progress line."""
    return [
        (line.split()[0], line.split()[1].rstrip(":")) for line in err.splitlines() if line.startswith("[")
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_two_experiments_share_executes_once_and_each_folder_holds_it_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: int
) -> None:
    a, b = load_experiment(write(tmp_path, SHARING)), load_experiment(write(tmp_path, SHARED_TOO, "b.yaml"))
    (shared,) = {r.run_id for r in a.runs} & {r.run_id for r in b.runs}
    out = tmp_path / "out"
    results = run_experiments([a, b], out, jobs=jobs)
    lines = progress_lines(capsys.readouterr().err)
    assert [n for n, _ in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert sorted(run_id for _, run_id in lines) == sorted({r.run_id for r in a.runs + b.runs})
    source, copy = out / "a" / RUNS_DIR / shared, out / "b" / RUNS_DIR / shared
    assert (source / "metrics.csv").read_bytes() == (copy / "metrics.csv").read_bytes()
    (run_b,) = [r for r in b.runs if r.run_id == shared]
    assert (copy / "config.yaml").read_text() == to_yaml(run_b)  # its own experiment's config
    status_a, status_b = read_status(source), read_status(copy)
    assert status_a is not None and status_b is not None
    assert status_b == {**status_a, "copied_from": f"a/runs/{shared}"}  # one training, copied
    assert results[1].statuses[shared] == status_b
    summary = {row[0]: row[1] for row in csv_rows(out / "b" / "summary.csv")[1:]}
    assert summary == {r.run_id: "completed" for r in b.runs}


def test_a_run_finished_in_one_experiment_is_copied_into_another_without_executing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = load_experiment(write(tmp_path, SHARING)), load_experiment(write(tmp_path, SHARED_TOO, "b.yaml"))
    out = tmp_path / "out"
    run_experiment(a, out, progress=False)
    results = run_experiments([a, b], out)
    (momentum,) = [r.run_id for r in b.runs if r.optimizer.name == "momentum"]
    assert progress_lines(capsys.readouterr().err) == [("[3/3]", momentum)]
    assert {s["status"] for s in results[1].statuses.values()} == {"completed"}
    assert {p.name for p in (out / "b" / RUNS_DIR).iterdir()} == {r.run_id for r in b.runs}
