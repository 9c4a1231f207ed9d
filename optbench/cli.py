"""The `optbench` command: parse the shell's words, call one experiment, say where the results went.

No mathematics here, and nothing run in here: the commands call `optbench.runner` (the runs of
train and compare), `optbench.activations_writer`, `optbench.tune`, `optbench.suite` (a whole
suite) and `optbench.redraw` (report). The commands that run experiments share their options
(`running`) and their end (`_finish`: the failed runs, then the exit status). Errors a user can
fix are one line each on stderr with the exit status of their kind (2: usage or config, 1: run
time, 130: interrupted); heavy modules are imported inside the commands that need them, so
`optbench --help` starts fast.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from optbench import __version__
from optbench.errors import EXIT_INTERRUPTED, ConfigError, OptbenchError
from optbench.options import (
    CONFIG_ARG,
    OVERRIDES_ARG,
    QUIET_OPT,
    RunOptions,
    complete_list,
    complete_templates,
    jobs_option,
    results_arg,
    running,
    workers_of,
)
from optbench.progress import DRAWING

if TYPE_CHECKING:
    from optbench.config import Experiment
    from optbench.runner import SweepResult

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


def usage_line(exc: click.ClickException) -> str:
    """Click's error as one line, like optbench's own: what is wrong, then where help is.

    `--jobs 0` gives `--jobs: 0 is not in the range x>=1 (see optbench compare --help)`.
    """
    param = getattr(exc, "param", None)
    missing = isinstance(exc, click.MissingParameter)
    if isinstance(exc, click.BadParameter) and param is not None and not missing:
        names = param.opts if isinstance(param, click.Option) else [param.human_readable_name]
        message = exc.message
        if message[1:2].islower():  # "Directory 'x' does not exist", not an acronym like "MNIST"
            message = message[:1].lower() + message[1:]
        text = f"{max(names, key=len).strip('[].')}: {message}"
    else:
        text = exc.format_message()
        text = text[:1].lower() + text[1:]
    text = " ".join(text.replace(". Did you mean", "; did you mean").split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    return f"{text} (see {ctx.command_path} --help)" if ctx is not None else text


class _Commands(click.Group):
    """optbench's group of commands: Click's own errors (a bad option, a missing argument) are one
    line on stderr too, `error: ...`, with Click's exit status (2 for a usage error)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `optbench data`: its help is the answer
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {usage_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        # Without standalone mode Click returns what `ctx.exit` was given (--help, --version) or
        # what the command returned (None: done).
        sys.exit(result if isinstance(result, int) else 0)


def _say(quiet: bool, message: str) -> None:
    """A progress message on stderr, unless -q."""
    if not quiet:
        click.echo(message, err=True)


@click.group(
    cls=_Commands,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="optbench")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Experiments on neural-network optimizers and weight initialisation.

    A YAML config names a task (MNIST or a 2-D function), a model, an optimizer and how to train;
    KEY=VALUE arguments after it override any dotted key, e.g. optimizer.lr=0.1 train.steps=100.
    Results go to results/<experiment>/ as CSV logs, PNG figures and a report.

    Start with `optbench init` (an example config), `optbench list` (what a config can name) and
    `optbench list keys` (what it can set).

    \b
    Shell completion, in ~/.bashrc (zsh_source or fish_source for those shells):
      eval "$(_OPTBENCH_COMPLETE=bash_source optbench)"
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _load(command: str, config: Path, overrides: Sequence[str]) -> Experiment:
    """The experiment a command line describes, its command recorded; the loader's notes on stderr."""
    from optbench.config import load_experiment

    exp = load_experiment(config, overrides)
    for note in exp.notes:
        click.echo(f"note: {note}", err=True)
    return dataclasses.replace(exp, command=shlex.join(["optbench", command, str(config), *overrides]))


def _finish(
    sweeps: Iterable[SweepResult],
    interrupted: bool,
    resume: str = "rerun the same command to finish the remaining runs",
) -> None:
    """The end of a command that ran experiments: a line on stderr for each run that failed, with its
    reason; then, if a stop cut it short, `interrupted: <resume>` and exit status 130, else exit
    status 1 if a run failed."""
    failed: set[str] = set()  # a run two experiments share failed once
    for sweep in sweeps:
        for run_id, status in sorted(sweep.statuses.items()):
            if status.get("status") == "failed" and run_id not in failed:
                click.echo(f"error: run {run_id} failed: {status.get('error')}", err=True)
                failed.add(run_id)
    if interrupted:
        click.echo(f"interrupted: {resume}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if failed:
        sys.exit(1)


@main.command(short_help="Train one run of a config (its first).")
@CONFIG_ARG
@OVERRIDES_ARG
@running("the resolved run")
@_reports_errors
def train(config: Path, overrides: tuple[str, ...], opts: RunOptions) -> None:
    """Train one run: the config's base run, or its first run if it has runs or a grid.

    A run that already finished is not trained again (--force trains it anew); an interrupted one
    resumes from its last checkpoint. `compare` runs every run of the config.
    """
    from optbench.config import runs_table
    from optbench.layout import RUN_FIGURES, RUNS_DIR
    from optbench.text import status_line

    exp = _load("train", config, overrides)
    of_all = f"1 of {len(exp.runs)} runs; compare runs them all" if len(exp.runs) > 1 else ""
    if opts.dry_run:
        click.echo(runs_table(dataclasses.replace(exp, runs=exp.runs[:1])), nl=False)
        if of_all:
            click.echo(f"would train {of_all}")
        return
    from optbench.plots import Drawer
    from optbench.runner import run_experiment

    with Drawer() as drawer:
        result = run_experiment(exp.first_only(), opts.out, jobs=1, force=opts.force, progress=not opts.quiet)
        ((run_id, status),) = result.statuses.items()
        run_folder = result.folder / RUNS_DIR / run_id
        _finish([result], result.interrupted, resume=str(run_folder))
        if result.skipped:
            click.echo(
                f"note: {run_id} already finished; not trained again (--force trains it anew)", err=True
            )
            figures = [run_folder / name for name in RUN_FIGURES if (run_folder / name).is_file()]
        else:
            _say(opts.quiet, DRAWING)
            figures = drawer.run_figures(run_folder, processes=workers_of(None))
    click.echo(status_line(run_id, status))
    click.echo(f"results: {run_folder}")
    for figure in figures:
        click.echo(f"figure:  {figure}")
    if of_all:
        click.echo(f"trained {of_all}")


@main.command(short_help="Run every run of a config, then figures and a report.")
@CONFIG_ARG
@OVERRIDES_ARG
@running("the resolved runs", sweep=True)
@_reports_errors
def compare(config: Path, overrides: tuple[str, ...], opts: RunOptions) -> None:
    """Run every run of the config (runs x grid), then draw combined figures and write a report.

    Runs that already finished are skipped (--force reruns them), interrupted ones resume. At the end,
    one line per variant (its seeds as mean ± std) and the path of report.md.
    """
    from optbench.config import runs_table

    scheduler = opts.scheduler()
    exp = _load("compare", config, overrides)
    if opts.dry_run:
        click.echo(runs_table(exp), nl=False)
        return
    from optbench import report
    from optbench.plots import Drawer
    from optbench.runner import run_experiment

    with Drawer() as drawer:
        result = run_experiment(
            exp, opts.out, jobs=opts.workers, force=opts.force, progress=not opts.quiet, scheduler=scheduler
        )
        report_path = None
        if not result.interrupted:
            _say(opts.quiet, DRAWING)
            drawer.experiment_figures(result.folder, processes=opts.workers)
            report_path = report.write_report(result.folder)
    click.echo(report.variants_table(result.folder), nl=False)
    if result.skipped:
        click.echo(f"{result.skipped} run(s) already finished, skipped (--force reruns them)")
    if report_path is not None:
        click.echo(f"report:  {report_path}")
    click.echo(f"results: {result.folder}")
    _finish([result], result.interrupted)


@main.command(short_help="Histograms of each layer's outputs at initialisation.")
@CONFIG_ARG
@OVERRIDES_ARG
@running("the resolved cases", force=False)
@_reports_errors
def activations(config: Path, overrides: tuple[str, ...], opts: RunOptions) -> None:
    """Histograms of every layer's outputs at initialisation, and their gradients, for each case."""
    from optbench.config import cases_table, load_activations

    cfg = load_activations(config, overrides)
    if opts.dry_run:
        click.echo(cases_table(cfg), nl=False)
        return
    from optbench import report
    from optbench.activations_writer import run_activations
    from optbench.plots import Drawer

    with Drawer() as drawer:
        folder = run_activations(cfg, opts.out)
        _say(opts.quiet, DRAWING)
        figures = drawer.experiment_figures(folder, processes=1)
    path = report.write_report(folder)
    for figure in figures:
        click.echo(f"figure: {figure}")
    click.echo(f"report: {path}")


@main.command(short_help="Check the model's backward pass against central differences.")
@CONFIG_ARG
@OVERRIDES_ARG
@click.option("--batch", type=click.IntRange(2), default=8, show_default=True, help="Training images used.")
@click.option("--entries", type=click.IntRange(1), default=200, show_default=True, help="Entries per group.")
@click.option("--all-entries", is_flag=True, help="Check every entry of every group (slow for MNIST's W1).")
@_reports_errors
def gradcheck(config: Path, overrides: tuple[str, ...], batch: int, entries: int, all_entries: bool) -> None:
    """Compare the gradient the first run's model computes by backpropagation with central
    differences, in float64, on a few training images (the book's batch_norm_gradient_check.py):
    the mean absolute difference per parameter group (W1, b1, gamma1, beta1, ...), dropout on one
    held mask, the weight penalty included. Exit status 1 if a group exceeds the tolerance."""
    from optbench.errors import UsageError
    from optbench.gradcheck import (
        GRADCHECK_ATOL,
        GRADCHECK_RTOL,
        GRADCHECK_STEP,
        check_gradients,
        run_network,
    )

    (run,) = _load("gradcheck", config, overrides).first_only().runs
    if run.model is None:
        raise UsageError(f"{config}: task: gradcheck checks the model of a dataset task, not a function")
    net, x, labels = run_network(run, batch)
    click.echo(f"{net} on {len(x)} training images; central differences, h = {GRADCHECK_STEP:g}")
    checks = check_gradients(net, x, labels, None if all_entries else entries)
    for check in checks:
        click.echo(check.line())
    failed = [c.name for c in checks if not c.ok]
    limits = f"mean |difference| <= {GRADCHECK_ATOL:g} or relative <= {GRADCHECK_RTOL:g}"
    if failed:
        click.echo(
            f"error: {len(failed)} of {len(checks)} groups exceed the tolerance ({limits}): "
            f"{', '.join(failed)}",
            err=True,
        )
        sys.exit(1)
    click.echo(f"all {len(checks)} groups within the tolerance ({limits})")


@main.command(short_help="Run every experiment a suite file lists.")
@click.argument("suite_file", metavar="SUITE", type=click.Path(path_type=Path))
@OVERRIDES_ARG
@running("the experiments and their runs", sweep=True)
@_reports_errors
def suite(suite_file: Path, overrides: tuple[str, ...], opts: RunOptions) -> None:
    """Run every experiment a suite file lists, then all figures, reports and an index.

    Its compare experiments run as one sweep, then its tuning studies one after the other. KEY=VALUE
    overrides go to every listed config that has the key: `optbench suite configs/demo.yaml
    train.steps=10` is a quick smoke test of `make demo` (`optbench suite configs/demo.yaml`).
    """
    from optbench.config import load_suite, suite_table

    scheduler = opts.scheduler()
    loaded = load_suite(suite_file, overrides).load(
        shlex.join(["optbench", "suite", str(suite_file), *overrides])
    )
    if opts.dry_run:
        click.echo(suite_table(loaded), nl=False)
        return
    from optbench.suite import run_suite

    say = functools.partial(_say, opts.quiet)
    outcome = run_suite(loaded, opts.out, opts.workers, opts.force, not opts.quiet, scheduler, say)
    for result in outcome.results:
        done = sum(1 for s in result.statuses.values() if s.get("status") in ("completed", "diverged"))
        click.echo(f"{result.folder}: {done} of {len(result.statuses)} runs finished")
    for tuned in outcome.tuned:
        click.echo(f"{tuned.folder}: tuned" + (" (interrupted)" if tuned.interrupted else ""))
    if outcome.index is not None:
        click.echo(f"index: {outcome.index}")
    _finish(outcome.sweeps, outcome.interrupted)


@main.command(short_help="Tune optimizers under a budget, chosen on validation.")
@CONFIG_ARG
@OVERRIDES_ARG
@running("the trials that would run", sweep=True)
@_reports_errors
def tune(config: Path, overrides: tuple[str, ...], opts: RunOptions) -> None:
    """Tune every optimizer under a declared budget, choose on validation, rerun the chosen settings.

    The config's `tune:` section names the optimizers, their search spaces, the budget and the sampler
    (random, qmc or tpe); trial 0 of each optimizer is its defaults.
    """
    from optbench.config import load_tune

    study = dataclasses.replace(
        load_tune(config, overrides), command=shlex.join(["optbench", "tune", str(config), *overrides])
    )
    if opts.dry_run:
        from optbench.tune import trials_table

        click.echo(trials_table(study), nl=False)
        return
    from optbench import report
    from optbench.plots import Drawer
    from optbench.tune import run_tune

    scheduler = opts.scheduler()
    with Drawer() as drawer:
        outcome = run_tune(
            study, opts.out, jobs=opts.workers, force=opts.force, progress=not opts.quiet, scheduler=scheduler
        )
        if not outcome.interrupted:
            _say(opts.quiet, DRAWING)
            drawer.experiment_figures(outcome.folder, processes=opts.workers)
    if not outcome.interrupted:
        click.echo(f"report: {report.write_report(outcome.folder)}")
    click.echo(f"results: {outcome.folder}")
    _finish(outcome.sweeps, outcome.interrupted, resume="rerun the same command to finish the study")


@main.command("report", short_help="Redraw figures and reports from the CSV files.")
@results_arg("results_dir")
@jobs_option("Figures drawn")
@QUIET_OPT
@_reports_errors
def report_command(results_dir: Path, jobs: int | None, quiet: bool) -> None:
    """Redraw the figures and report of RESULTS_DIR from its CSV files, without training.

    RESULTS_DIR (default: results) is one experiment's folder, or a results root holding several (then
    each is redrawn and the index rewritten). A folder a running command is writing into is refused.
    """
    from optbench import report
    from optbench.redraw import redraw

    done = redraw(results_dir, workers_of(jobs), functools.partial(_say, quiet))
    if done.index is None:
        click.echo(report.variants_table(results_dir), nl=False)
        for figure in done.figures:
            click.echo(f"figure: {figure}")
        click.echo(f"report: {done.reports[0]}")
        return
    for path in done.reports:
        click.echo(f"report: {path}")
    click.echo(f"index: {done.index}")


@main.command("runs", short_help="List the experiments under a results folder.")
@results_arg("results")
@_reports_errors
def runs_command(results: Path) -> None:
    """List the experiments under RESULTS (default: results): their kind, their runs by status, when
    they last changed, and what they are. A folder a command is writing into says so."""
    from optbench import inventory

    entries = inventory.scan(results)
    if not entries:
        click.echo(f"{results}: holds no optbench experiment folder")
        return
    click.echo(inventory.table(entries), nl=False)


@main.command("export", short_help="Write every metric row of experiments to one CSV.")
@click.argument("experiments", nargs=-1, required=True, metavar="EXPERIMENT...")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    required=True,
    help="The CSV file to write, replaced whole (- for standard output).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results root in which EXPERIMENT names are looked up.",
)
@_reports_errors
def export_command(experiments: tuple[str, ...], output: Path, out: Path) -> None:
    """Write one long CSV of every metric row of every run of the EXPERIMENTs (folders, or names
    under --out), with each run's experiment, run_id, status and resolved config values as columns:
    what pandas.read_csv or R's read.csv loads in one call."""
    from optbench import export

    folders = export.experiment_folders(experiments, out)
    dest = None if str(output) == "-" else output
    done = export.export(folders, dest)
    if dest is not None:
        from optbench.text import plural

        empty = f"; {plural(done.empty, 'run')} without metric rows yet" if done.empty else ""
        click.echo(
            f"{dest}: {plural(done.rows, 'row')} of {plural(done.runs, 'run')} "
            f"from {plural(done.experiments, 'experiment')}{empty}"
        )


@main.command("init", short_help="Write an example config to start from.")
@click.argument("template", required=False, shell_complete=complete_templates)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@_reports_errors
def init_command(template: str | None, path: Path | None) -> None:
    """Write the example config TEMPLATE (default: paths_book, which runs in a second without data)
    to PATH: a .yaml file, or a folder (default: the current one). Existing files are never
    overwritten; a suite comes with the configs it lists. `optbench list templates` lists them."""
    from optbench.config import templates

    name = template or templates.DEFAULT_TEMPLATE
    written = templates.write(name, path)
    for file in written:
        click.echo(f"wrote {file}")
    command = templates.describe(name).command
    click.echo(f"run it with: {shlex.join(['optbench', command, str(written[0])])}")


@main.group("config", short_help="Show the resolved config that would run.")
def config_group() -> None:
    """Inspect configs."""


@config_group.command("show", short_help="Print the resolved config, every default spelled out.")
@CONFIG_ARG
@OVERRIDES_ARG
@click.option("--all", "every", is_flag=True, help="Every run of the config, not only the first.")
@_reports_errors
def config_show(config: Path, overrides: tuple[str, ...], every: bool) -> None:
    """Print the resolved config of CONFIG (with any KEY=VALUE overrides) as YAML, every default
    spelled out: its first run (what `train` runs), or each run with --all. Nothing is written."""
    from optbench.config import show

    click.echo(show(config, overrides, every), nl=False)


@main.command("list", short_help="List what configs can name, and every config key.")
@click.argument("what", required=False, metavar="[WHAT]", shell_complete=complete_list)
@_reports_errors
def list_command(what: str | None) -> None:
    """List what configs can name and set.

    WHAT is a family (optimizers, schedules, inits, activations, functions, datasets, templates), or
    keys (every config key with its type, default and meaning), or one name (adam, he, rosenbrock).
    Without WHAT: every family but the keys.
    """
    from optbench import catalogue

    click.echo(catalogue.listing(what), nl=False)


@main.group(short_help="Fetch and inspect datasets.")
def data() -> None:
    """Fetch and inspect datasets."""


DATA_DIR_OPT = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Data folder.  [default: $OPTBENCH_DATA, else the per-user cache]",
)
DATASET_ARG = click.argument(
    "dataset", metavar="[DATASET]", type=click.Choice(["mnist"]), default="mnist", required=False
)


@data.command("fetch", short_help="Download a dataset, verify and cache it.")
@DATASET_ARG
@DATA_DIR_OPT
@_reports_errors
def data_fetch(dataset: str, data_dir: Path | None) -> None:
    """Download DATASET (default mnist), verify its checksums and cache it."""
    from optbench.data import default_data_dir, fetch_mnist

    folder = data_dir or default_data_dir()
    source = fetch_mnist(folder, log=lambda message: click.echo(message, err=True))
    what = "already cached and verified" if source == "cache" else f"fetched from {source} and verified"
    click.echo(f"{dataset}: {what} in {folder}")


@data.command("info", short_help="Where a dataset is, its counts and checksums.")
@DATASET_ARG
@DATA_DIR_OPT
@_reports_errors
def data_info(dataset: str, data_dir: Path | None) -> None:
    """Where DATASET (default mnist) is, how many examples it has, and whether the checksums pass."""
    from optbench.data import data_info as inspect

    info = inspect(data_dir)
    click.echo(f"folder: {info.folder}")
    for f in info.files:
        if not f.present:
            state = "missing"
        elif not info.is_mnist:
            state = f"{f.size} bytes"
        else:
            state = f"{f.size} bytes, checksum {'ok' if f.checksum_ok else 'MISMATCH'}"
        click.echo(f"  {f.name:<29} {state}")
    if info.problem is not None:
        click.echo(f"error: {info.problem}", err=True)
        sys.exit(1)
    counts = f"{info.n_train} training and {info.n_test} test images"
    if info.is_mnist:
        click.echo(f"{dataset}: {counts}")
    else:
        click.echo(
            f"not MNIST (no file has MNIST's checksum), but a dataset in MNIST layout: {counts} "
            f"of {info.pixels} pixels; train on it with task.data_dir: {info.folder}"
        )
