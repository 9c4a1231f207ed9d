"""The errors optbench reports to its users, each with the exit status the CLI gives it."""

from __future__ import annotations

EXIT_INTERRUPTED = 130
"""The exit status of a process stopped by SIGINT or SIGTERM, as shells report Ctrl-C."""


class OptbenchError(Exception):
    """A problem the user can fix, reported as one line without a traceback."""

    exit_code = 1


class ConfigError(OptbenchError):
    """One or more problems in a config file or in KEY=VALUE overrides.

    `problems` holds every problem found, one `FILE: key.path: message` line each, so that a user
    sees them all at once instead of fixing one per attempt.
    """

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class UsageError(OptbenchError):
    """A bad command-line argument that is not part of a config (an --out that is a file, say)."""

    exit_code = 2


class DataError(OptbenchError):
    """A dataset that is missing, unreachable, truncated or fails its checksum."""


class LockedError(OptbenchError):
    """Another optbench process is writing into the same experiment folder."""
