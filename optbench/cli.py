"""The `optbench` command: parse the shell's words, call one experiment, say where the results went.

No mathematics here. Errors a user can fix are one line each on stderr with the exit status of their
kind (2: usage or config, 1: run time); heavy modules are imported inside the commands that need
them, so `optbench --help` starts fast.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from optbench import __version__
from optbench.errors import EXIT_INTERRUPTED, ConfigError, OptbenchError

if TYPE_CHECKING:
    from optbench.config import Experiment
    from optbench.executors import Scheduler

TRACEBACK_ENV = "OPTBENCH_TRACEBACK"
"""Set to 1 to let unexpected exceptions show their traceback (for bug reports)."""

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Turn optbench's errors into one line per problem on stderr and the matching exit status."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(exc.exit_code)
        except OptbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except OSError as exc:  # a full disk, a read-only folder: the file and the reason, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if os.environ.get(TRACEBACK_ENV):
                raise
            click.echo(
                f"error: internal error: {type(exc).__name__}: {exc} (set {TRACEBACK_ENV}=1 to see where)",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


CONFIG_ARG = click.argument("config", type=click.Path(path_type=Path, dir_okay=True))
OVERRIDES_ARG = click.argument("overrides", nargs=-1, metavar="[KEY=VALUE]...")
OUT_OPT = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results root; each experiment writes into OUT/<experiment>/.",
)
QUIET_OPT = click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
JOBS_OPT = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Runs executed at once, in worker processes.  [default: the number of cores]",
)
FORCE_OPT = click.option("--force", is_flag=True, help="Rerun runs that already finished.")
SCHEDULER_ENV = "OPTBENCH_SCHEDULER"
"""The address of a Dask scheduler to run on when neither --scheduler nor --scheduler-file is given."""
SCHEDULER_OPT = click.option(
    "--scheduler",
    "scheduler_address",
    metavar="ADDRESS",
    default=None,
    help="Execute the runs on the Dask cluster of this scheduler, e.g. tcp://head:8786, on every "
    f"worker thread (needs optbench[dask]).  [default: ${SCHEDULER_ENV}, else local processes]",
)
SCHEDULER_FILE_OPT = click.option(
    "--scheduler-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Like --scheduler, the address read from the file `dask scheduler --scheduler-file` wrote.",
)


def _scheduler(address: str | None, file: Path | None) -> Scheduler | None:
    """The Dask scheduler --scheduler, --scheduler-file or $OPTBENCH_SCHEDULER names; None: run locally."""
    from optbench.errors import UsageError
    from optbench.executors import Scheduler

    if address and file:
        raise UsageError("give --scheduler or --scheduler-file, not both")
    if file is not None:
        return Scheduler(file=file)
    address = address or os.environ.get(SCHEDULER_ENV)
    return Scheduler(address=address) if address else None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="optbench")
def main() -> None:
    """Experiments on neural-network optimizers and weight initialisation.

    A YAML config names a task (MNIST or a 2-D function), a model, an optimizer and how to train;
    KEY=VALUE arguments after it override any dotted key, e.g. optimizer.lr=0.1 train.steps=100.
    Results go to results/<experiment>/ as CSV logs, PNG figures and a summary.
    """


def _load(command: str, config: Path, overrides: Sequence[str]) -> Experiment:
    """The experiment a command line describes, its command recorded; the loader's notes on stderr."""
    from optbench.config import load_experiment

    exp = load_experiment(config, overrides)
    for note in exp.notes:
        click.echo(f"note: {note}", err=True)
    return dataclasses.replace(exp, command=shlex.join(["optbench", command, str(config), *overrides]))


@main.command()
@CONFIG_ARG
@OVERRIDES_ARG
@OUT_OPT
@QUIET_OPT
@_reports_errors
def train(config: Path, overrides: tuple[str, ...], out: Path, quiet: bool) -> None:
    """Train one run: the config's base run, or its first run if it has runs or a grid."""
    from optbench.layout import RUNS_DIR
    from optbench.runner import run_experiment

    exp = _load("train", config, overrides).first_only()
    result = run_experiment(exp, out, jobs=1, force=True, progress=not quiet)
    ((run_id, status),) = result.statuses.items()
    run_folder = result.folder / RUNS_DIR / run_id
    if result.interrupted:
        click.echo(f"interrupted: {run_folder}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if status.get("status") == "failed":
        _echo_failures(result.statuses)
        sys.exit(1)
    from optbench import plots

    figures = plots.run_figures(run_folder)
    _echo_status(run_id, status)
    click.echo(f"results: {run_folder}")
    for figure in figures:
        click.echo(f"figure:  {figure}")


def _echo_failures(statuses: dict[str, dict[str, Any]]) -> None:
    """One line on stderr for each run that failed, with its reason."""
    for run_id, status in sorted(statuses.items()):
        if status.get("status") == "failed":
            click.echo(f"error: run {run_id} failed: {status.get('error')}", err=True)


def _echo_status(run_id: str, status: dict[str, Any]) -> None:
    state = status.get("status")
    if state == "diverged" and status.get("diverged_step") is not None:
        state = f"diverged at step {status['diverged_step']}"
    parts = [f"{run_id}: {state}"]
    if status.get("final_loss") is not None:
        parts.append(f"final_loss {status['final_loss']:.6g}")
    for key in ("val_acc", "test_acc"):
        if status.get(f"final_{key}") is not None:
            parts.append(f"{key} {status[f'final_{key}']:.4f}")
    if status.get("wall_s") is not None:
        parts.append(f"{status['wall_s']:.1f} s")
    click.echo(", ".join(parts))


@main.command()
@CONFIG_ARG
@OVERRIDES_ARG
@OUT_OPT
@JOBS_OPT
@FORCE_OPT
@click.option("--dry-run", is_flag=True, help="Print the resolved runs and write nothing.")
@QUIET_OPT
@SCHEDULER_OPT
@SCHEDULER_FILE_OPT
@_reports_errors
def compare(
    config: Path,
    overrides: tuple[str, ...],
    out: Path,
    jobs: int | None,
    force: bool,
    dry_run: bool,
    quiet: bool,
    scheduler_address: str | None,
    scheduler_file: Path | None,
) -> None:
    """Run every run of the config (runs x grid), then draw combined figures and a summary."""
    from optbench.config import runs_table

    scheduler = _scheduler(scheduler_address, scheduler_file)
    exp = _load("compare", config, overrides)
    if dry_run:
        click.echo(runs_table(exp), nl=False)
        return
    from optbench import plots, report
    from optbench.runner import run_experiment

    workers = jobs or os.cpu_count() or 1
    result = run_experiment(exp, out, jobs=workers, force=force, progress=not quiet, scheduler=scheduler)
    if not result.interrupted:
        plots.experiment_figures(result.folder, processes=workers)
        report.write_report(result.folder)
    click.echo(report.summary_table(result.folder), nl=False)
    _echo_failures(result.statuses)
    if result.skipped:
        click.echo(f"{result.skipped} run(s) already finished, skipped (--force reruns them)")
    click.echo(f"results: {result.folder}")
    if result.interrupted:
        click.echo("interrupted: rerun the same command to finish the remaining runs", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.any_failed:
        sys.exit(1)


@main.command()
@CONFIG_ARG
@OVERRIDES_ARG
@OUT_OPT
@_reports_errors
def activations(config: Path, overrides: tuple[str, ...], out: Path) -> None:
    """Histograms of every layer's outputs at initialisation, and their gradients, for each case."""
    from optbench.config import load_activations
    from optbench.runner import run_activations

    cfg = load_activations(config, overrides)
    folder = run_activations(cfg, out)
    from optbench import plots, report

    figures = plots.activation_figures(folder)
    path = report.write_report(folder)
    for figure in figures:
        click.echo(f"figure: {figure}")
    click.echo(f"report: {path}")


@main.command()
@click.argument("suite_file", metavar="SUITE", type=click.Path(path_type=Path))
@OUT_OPT
@JOBS_OPT
@FORCE_OPT
@QUIET_OPT
@SCHEDULER_OPT
@SCHEDULER_FILE_OPT
@_reports_errors
def suite(
    suite_file: Path,
    out: Path,
    jobs: int | None,
    force: bool,
    quiet: bool,
    scheduler_address: str | None,
    scheduler_file: Path | None,
) -> None:
    """Run every experiment a suite file lists, then all figures, reports and an index.

    Its compare experiments run as one sweep, then its tuning studies one after the other.
    `make demo` is `optbench suite configs/demo.yaml`: the lecture's experiments, end to end.
    """
    from optbench.config import load_activations, load_experiment, load_suite, load_tune
    from optbench.runner import run_activations, run_experiments
    from optbench.tune import run_tune

    scheduler = _scheduler(scheduler_address, scheduler_file)
    spec = load_suite(suite_file)
    problems: list[str] = []
    experiments, activation_configs, studies = [], [], []
    command = shlex.join(["optbench", "suite", str(suite_file)])
    for entry in spec.compare:
        try:
            exp = load_experiment(entry.path, entry.overrides)
            experiments.append(dataclasses.replace(exp, command=command))
        except ConfigError as exc:
            problems += exc.problems
    for entry in spec.activations:
        try:
            activation_configs.append(load_activations(entry.path, entry.overrides))
        except ConfigError as exc:
            problems += exc.problems
    for entry in spec.tune:
        try:
            studies.append(dataclasses.replace(load_tune(entry.path, entry.overrides), command=command))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    workers = jobs or os.cpu_count() or 1
    # The sweep first: it connects to the cluster (or checks the data) before anything is written.
    results = (
        run_experiments(experiments, out, jobs=workers, force=force, progress=not quiet, scheduler=scheduler)
        if experiments
        else []
    )
    folders = [run_activations(cfg, out) for cfg in activation_configs]
    interrupted = any(r.interrupted for r in results)
    tuned = []
    for study in studies if not interrupted else []:
        outcome = run_tune(study, out, jobs=workers, force=force, progress=not quiet, scheduler=scheduler)
        tuned.append(outcome)
        if outcome.interrupted:
            interrupted = True
            break
    from optbench import plots, report

    finished = [r.folder for r in results if not r.interrupted] + [
        t.folder for t in tuned if not t.interrupted
    ]
    drawn = folders + finished
    plots.render([job for folder in drawn for job in plots.figure_jobs(folder)], workers)
    for folder in drawn:
        report.write_report(folder)
    for result in results:
        _echo_failures(result.statuses)
        done = sum(1 for s in result.statuses.values() if s.get("status") in ("completed", "diverged"))
        click.echo(f"{result.folder}: {done} of {len(result.statuses)} runs finished")
    for outcome in tuned:
        for sweep in outcome.sweeps:
            _echo_failures(sweep.statuses)
        click.echo(f"{outcome.folder}: tuned" + (" (interrupted)" if outcome.interrupted else ""))
    if interrupted:
        click.echo("interrupted: rerun the same command to finish the remaining runs", err=True)
        sys.exit(EXIT_INTERRUPTED)
    index = report.write_index(out, [*folders, *(r.folder for r in results), *(t.folder for t in tuned)])
    click.echo(f"index: {index}")
    if any(r.any_failed for r in results) or any(t.any_failed for t in tuned):
        sys.exit(1)


@main.command()
@CONFIG_ARG
@OVERRIDES_ARG
@OUT_OPT
@JOBS_OPT
@FORCE_OPT
@click.option("--dry-run", is_flag=True, help="Print the trials that would run and write nothing.")
@QUIET_OPT
@SCHEDULER_OPT
@SCHEDULER_FILE_OPT
@_reports_errors
def tune(
    config: Path,
    overrides: tuple[str, ...],
    out: Path,
    jobs: int | None,
    force: bool,
    dry_run: bool,
    quiet: bool,
    scheduler_address: str | None,
    scheduler_file: Path | None,
) -> None:
    """Tune every optimizer under a declared budget, choose on validation, rerun the chosen settings.

    The config's `tune:` section names the optimizers, their search spaces, the budget and the sampler
    (random, qmc or tpe); trial 0 of each optimizer is its defaults.
    """
    from optbench.config import load_tune

    study = dataclasses.replace(
        load_tune(config, overrides), command=shlex.join(["optbench", "tune", str(config), *overrides])
    )
    if dry_run:
        from optbench.tune import planned_trials

        click.echo(_trials_table(planned_trials(study)), nl=False)
        if study.spec.sampler == "tpe":
            later = f"trials 1 to {study.spec.budget - 1}"
            click.echo(f"{later} of each optimizer are proposed by tpe as the results come in")
        return
    from optbench import plots, report
    from optbench.tune import run_tune

    workers = jobs or os.cpu_count() or 1
    scheduler = _scheduler(scheduler_address, scheduler_file)
    outcome = run_tune(study, out, jobs=workers, force=force, progress=not quiet, scheduler=scheduler)
    if not outcome.interrupted:
        plots.experiment_figures(outcome.folder, processes=workers)
        click.echo(f"report: {report.write_report(outcome.folder)}")
    for sweep in outcome.sweeps:
        _echo_failures(sweep.statuses)
    click.echo(f"results: {outcome.folder}")
    if outcome.interrupted:
        click.echo("interrupted: rerun the same command to finish the study", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if outcome.any_failed:
        sys.exit(1)


def _trials_table(trials: Sequence[Any]) -> str:
    """The trials of a dry run: optimizer, trial number, seeds and the searched values."""
    from optbench.text import format_value, plural, text_table

    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    rows = [
        [t.optimizer, str(t.number), " ".join(str(r.train.seed) for r in t.runs)]
        + [format_value(t.params[k]) if k in t.params else "" for k in keys]
        for t in trials
    ]
    runs = sum(len(t.runs) for t in trials)
    return (
        text_table(["optimizer", "trial", "seeds", *keys], rows)
        + f"{plural(len(trials), 'trial')}, {plural(runs, 'run')}\n"
    )


@main.command("report")
@click.argument("results_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_reports_errors
def report_command(results_dir: Path) -> None:
    """Redraw the figures and report of RESULTS_DIR from its CSV files, without training.

    RESULTS_DIR is one experiment's folder, or a results root holding several (then each is redrawn
    and the index rewritten).
    """
    from optbench import plots, report
    from optbench.results import is_result_folder

    processes = os.cpu_count() or 1
    if not is_result_folder(results_dir):
        folders = sorted(f for f in results_dir.iterdir() if f.is_dir() and is_result_folder(f))
        if not folders:
            raise OptbenchError(f"{results_dir}: holds no optbench experiment folder")
        plots.render([job for folder in folders for job in plots.figure_jobs(folder)], processes)
        for folder in folders:
            click.echo(f"report: {report.write_report(folder)}")
        click.echo(f"index: {report.write_index(results_dir, folders)}")
        return
    figures = plots.experiment_figures(results_dir, processes=processes)
    path = report.write_report(results_dir)
    click.echo(report.summary_table(results_dir), nl=False)
    for figure in figures:
        click.echo(f"figure: {figure}")
    click.echo(f"report: {path}")


FAMILIES = ("optimizers", "schedules", "inits", "activations", "functions", "datasets")


@main.command("list")
@click.argument("family", type=click.Choice(FAMILIES), required=False)
def list_command(family: str | None) -> None:
    """List what configs can name: optimizers (with hyperparameters), inits, functions, ..."""
    from optbench import catalogue

    for name in [family] if family else FAMILIES:
        click.echo(catalogue.describe(name))


@main.group()
def data() -> None:
    """Fetch and inspect datasets."""


DATA_DIR_OPT = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data folder.  [default: $OPTBENCH_DATA, else the per-user cache]",
)


@data.command("fetch")
@click.argument("dataset", type=click.Choice(["mnist"]), default="mnist")
@DATA_DIR_OPT
@_reports_errors
def data_fetch(dataset: str, data_dir: Path | None) -> None:
    """Download DATASET (default mnist), verify its checksums and cache it."""
    from optbench.data import default_data_dir, fetch_mnist

    folder = data_dir or default_data_dir()
    source = fetch_mnist(folder, log=lambda message: click.echo(message, err=True))
    what = "already cached and verified" if source == "cache" else f"fetched from {source} and verified"
    click.echo(f"{dataset}: {what} in {folder}")


@data.command("info")
@DATA_DIR_OPT
@_reports_errors
def data_info(data_dir: Path | None) -> None:
    """Where the data is, how many examples it has, and whether the checksums pass."""
    from optbench.data import data_info as inspect

    info = inspect(data_dir)
    click.echo(f"folder: {info.folder}")
    for f in info.files:
        if not f.present:
            state = "missing"
        else:
            state = f"{f.size} bytes, checksum {'ok' if f.checksum_ok else 'MISMATCH'}"
        click.echo(f"  {f.name:<26} {state}")
    if info.problem is None:
        click.echo(f"mnist: {info.n_train} training and {info.n_test} test images")
    else:
        click.echo(f"error: {info.problem}", err=True)
        sys.exit(1)
