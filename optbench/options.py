"""The options and arguments the commands of `optbench` share, and what they hand a command.

A command that runs experiments takes its options through `running`, which gives it one
`RunOptions`: --out, --force, --dry-run, -q, and for a sweep --jobs, --scheduler, --scheduler-file
and --worker-timeout. Completion of config keys, template names and the words `list` takes lives
here too; the heavy modules they read are imported only when the shell asks.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from optbench.executors import Scheduler

F = TypeVar("F", bound=Callable[..., Any])


def complete_overrides(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Config keys for KEY=VALUE: those of the command's kind of config, as `KEY=`."""
    from optbench.config import completion_keys

    if "=" in incomplete:
        return []
    kind = {"activations": "activations", "tune": "tune", "suite": "suite"}.get(
        ctx.command.name or "", "experiment"
    )
    return [CompletionItem(f"{key}=") for key in completion_keys(kind) if key.startswith(incomplete)]


def complete_templates(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from optbench.config import templates

    return [CompletionItem(name) for name in templates.names() if name.startswith(incomplete)]


def complete_list(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from optbench import catalogue

    return [CompletionItem(name) for name in catalogue.completions() if name.startswith(incomplete)]


def complete_optimizers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Optimizer names for `check`: the built-ins and installed entry points (none of them loaded);
    when none matches, the shell's file names (for file.py:Name)."""
    from optbench import plugins
    from optbench.optim import OPTIMIZERS

    names = dict.fromkeys([*OPTIMIZERS, *plugins.entry_points("optimizers")])
    found = [CompletionItem(name) for name in names if name.startswith(incomplete)]
    return found or [CompletionItem(incomplete, type="file")]


CONFIG_ARG = click.argument("config", type=click.Path(path_type=Path, dir_okay=True))
OVERRIDES_ARG = click.argument(
    "overrides", nargs=-1, metavar="[KEY=VALUE]...", shell_complete=complete_overrides
)
OUT_OPT = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results root; each experiment writes into OUT/<experiment>/.",
)
QUIET_OPT = click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")


def jobs_option(what: str) -> Callable[[F], F]:
    """-j/--jobs: how many of `what` (e.g. "Runs executed") at once."""
    return click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help=f"{what} at once, in worker processes.  [default: the number of cores]",
    )


def results_arg(name: str) -> Callable[[F], F]:
    """The optional argument `name`: a results folder (default: results)."""
    return click.argument(
        name,
        metavar=f"[{name.upper()}]",
        type=click.Path(path_type=Path, exists=True, file_okay=False),
        default=Path("results"),
        required=False,
    )


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
WORKER_TIMEOUT_OPT = click.option(
    "--worker-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    default=None,
    help="On a Dask cluster, give up (exit 1) when runs have waited this long for want of a worker.  "
    "[default: wait, saying so every minute]",
)


def workers_of(jobs: int | None) -> int:
    return jobs or os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options a command that runs experiments shares (`running`); those it lacks keep their defaults."""

    out: Path
    dry_run: bool
    quiet: bool
    force: bool = False
    jobs: int | None = None
    scheduler_address: str | None = None
    scheduler_file: Path | None = None
    worker_timeout: float | None = None

    @property
    def workers(self) -> int:
        return workers_of(self.jobs)

    def scheduler(self) -> Scheduler | None:
        """The Dask scheduler --scheduler, --scheduler-file or $OPTBENCH_SCHEDULER names; None: run here."""
        from optbench.errors import UsageError
        from optbench.executors import Scheduler

        if self.scheduler_address and self.scheduler_file:
            raise UsageError("give --scheduler or --scheduler-file, not both")
        timeout = self.worker_timeout
        if self.scheduler_file is not None:
            return Scheduler(file=self.scheduler_file, worker_timeout_s=timeout)
        address = self.scheduler_address or os.environ.get(SCHEDULER_ENV)
        if address:
            return Scheduler(address=address, worker_timeout_s=timeout)
        if timeout is not None:
            raise UsageError(
                "--worker-timeout: applies to a Dask cluster: give --scheduler, --scheduler-file or "
                f"${SCHEDULER_ENV}"
            )
        return None


def running(prints: str, *, force: bool = True, sweep: bool = False) -> Callable[[F], F]:
    """The options of a command that runs experiments, handed to it as one `RunOptions`, `opts`:
    --out, --force (unless `force` is false), --dry-run (which prints `prints`), -q, and for a sweep
    (`sweep`) --jobs, --scheduler, --scheduler-file and --worker-timeout."""
    options = [
        OUT_OPT,
        *([jobs_option("Runs executed")] if sweep else []),
        *([click.option("--force", is_flag=True, help="Rerun runs that already finished.")] if force else []),
        click.option("--dry-run", is_flag=True, help=f"Print {prints} and write nothing."),
        QUIET_OPT,
        *([SCHEDULER_OPT, SCHEDULER_FILE_OPT, WORKER_TIMEOUT_OPT] if sweep else []),
    ]
    names = {field.name for field in dataclasses.fields(RunOptions)}

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names & kwargs.keys()}
            return command(*args, opts=RunOptions(**given), **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate
