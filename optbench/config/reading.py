"""Reading a config file, and tracing each value of a resolved config back to where it was written.

Every kind of config (experiment, activations, tuning study, suite) starts as `read_config`: the
file's raw mapping and its parsed KEY=VALUE overrides. `Origin` then maps each dotted key path to
the file, runs entry, grid axis or override that wrote it, so a problem is reported there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optbench.config.fields import describe_value
from optbench.config.overrides import parse_overrides
from optbench.config.plugins import anchor_npz, install_named
from optbench.config.yaml_text import join_key, parse_yaml
from optbench.errors import ConfigError


def read_config(
    path: Path, overrides: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, Any]], list[str]]:
    """The raw mapping of a config file, its parsed overrides, and the problems found so far."""
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{source}: no such file{_template_hint(path)}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a folder, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = _line_column(data[: exc.start].decode("utf-8", "replace"))
        byte = data[exc.start]
        raise ConfigError(
            [f"{source}: {where}: not a YAML config: byte 0x{byte:02x} is not UTF-8 text (a binary file?)"]
        ) from None
    raw = parse_yaml(text, source)
    pairs, problems = parse_overrides(overrides)
    if raw is None:
        raise ConfigError([f"{source}: the file is empty; a config needs at least a task section"])
    if isinstance(raw, str):  # plain text, a CSV given by mistake: YAML reads it as one long string
        start = _first_content(text)
        first = text[start:].splitlines()[0].strip()
        shown = first if len(first) <= EXCERPT else first[: EXCERPT - 1] + "…"
        raise ConfigError(
            [
                f"{source}: {_line_column(text[:start])}: not a YAML config: it starts with the text "
                f"{shown!r}, where a config is a mapping of sections (task:, optimizer:, train:, ...)"
            ]
        )
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: the config must be a mapping of sections, got {describe_value(raw)}"])
    raw.setdefault("experiment", _default_experiment_name(path))
    anchor_npz(raw, path.parent)
    install_named(raw, pairs, path)
    return raw, pairs, problems


EXCERPT = 40
"""The characters of a file's first line that a problem quotes, at most."""


def _first_content(text: str) -> int:
    """Where the first character of `text` that is no blank, comment or document marker is."""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and stripped != "---":
            return offset + len(line) - len(line.lstrip())
        offset += len(line)
    return 0


def _line_column(before: str) -> str:
    """`line L, column C` of the character that follows the text `before`."""
    line = before.count("\n") + 1
    return f"line {line}, column {len(before) - (before.rfind(chr(10)) + 1) + 1}"


def _template_hint(path: Path) -> str:
    """For a missing config named like a shipped example (configs/mnist_optimizers.yaml, outside the
    repository), the command that writes it there; else nothing."""
    from optbench.config import templates

    name = path.stem.replace("-", "_")
    if path.suffix not in (".yaml", ".yml") or name not in templates.names():
        return ""
    where = [] if path == Path(name + templates.SUFFIX) else [str(path)]
    command = shlex.join(["optbench", "init", name, *where])
    return f"; it is an example that ships with optbench: write it with {command}"


def _default_experiment_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip(".-") or "experiment"


@dataclass(frozen=True)
class Where:
    """Where a value was written. Inline: `prefix` + the key path (the file itself, a runs entry).
    Not inline: the value came from one dotted key (a grid axis, an override) that `prefix` names."""

    prefix: str
    inline: bool


class Origin:
    """Maps dotted key paths of a resolved run to where their values were written.

    `file` is the config file's own mapping: a path it does not hold, created by a dotted key of the
    command line or a grid axis (`optimzer.lr=0.1` creates `optimzer`), is reported where that key
    was written, not in the file.
    """

    def __init__(self, source: str, file: Any = None) -> None:
        self.source = source
        self.file = file if isinstance(file, dict) else {}
        self.where: dict[str, tuple[str, Where]] = {}

    def copy(self) -> Origin:
        other = Origin(self.source, self.file)
        other.where = dict(self.where)
        return other

    def mark(
        self, raw: dict[str, Any], where: Where, written_at: str | None = None, prefix: str = ""
    ) -> None:
        """Record that every key path in `raw` (under `prefix`) was written at `where`."""
        for key, value in raw.items():
            path = join_key(prefix, str(key))
            top = written_at if written_at is not None else path
            self.where[path] = (top, where)
            if isinstance(value, dict):
                self.mark(value, where, top, path)

    def locate(self, path: str) -> str:
        """`FILE: key.path` (or the runs entry, grid axis or override) for a problem found at `path`."""
        parts = re.sub(r"\[\d+\]", "", path).split(".") if path else []
        for n in range(len(parts), 0, -1):
            found = self.where.get(".".join(parts[:n]))
            if found is not None:
                written_at, where = found
                if where.inline:
                    return where.prefix + path
                return where.prefix if path == written_at else f"{where.prefix}: {path}"
        if parts and not _holds(self.file, parts):
            below = ".".join(parts) + "."
            for key, (_, where) in self.where.items():
                if key.startswith(below) and not where.inline:
                    return where.prefix
        return f"{self.source}: {path}" if path else self.source


def _holds(data: dict[str, Any], parts: Sequence[str]) -> bool:
    """Whether nested `data` has the key path `parts`."""
    node: Any = data
    for key in parts:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
