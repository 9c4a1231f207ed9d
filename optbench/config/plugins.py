"""Plugins named in a config file: found, read and installed before the config is validated.

Every place of a config that names an optimizer, an initialiser or a 2-D function (in the base, in
`runs:` entries, as grid values, in a tuning study's `tune.optimizers`, on the command line) may name
a plugin: `file.py:Name` (relative to the config file), `module:Name` or an entry point's name. Each
is read and installed into its family's registry here, once, so that merging, validation, overrides
and search spaces see it as a built-in. A config that lists `plugins:` (a run's config.yaml) installs
the code it records, not the file as it is now, so that rerunning a run's config reruns its code.

A plugin that cannot be read, loaded or is of the wrong kind is one line naming the file and the key
where it is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from optbench import plugins
from optbench.config.overrides import COMMAND_LINE
from optbench.config.serialise import PLUGINS_KEY
from optbench.errors import ConfigError

NAMED_PATHS = {
    "optimizer": "optimizers",
    "optimizer.name": "optimizers",
    "tune.optimizers.name": "optimizers",
    "model.init": "initializers",
    "model.init.name": "initializers",
    "model.output_init": "initializers",
    "model.output_init.name": "initializers",
    "cases.init": "initializers",
    "cases.init.name": "initializers",
    "task.function": "functions",
}
"""Where a config names an entry of a family (after runs entries, grid axes and list indices are set
aside): the places a plugin may be named."""


def install_named(raw: dict[str, Any], overrides: Sequence[tuple[str, Any]], path: Path) -> None:
    """Install every plugin `raw` (the config file `path`) and its `overrides` name; ConfigError
    with one line per plugin that fails."""
    source = str(path)
    problems: list[str] = []
    recorded: set[tuple[str, str]] = set()
    if raw.get(PLUGINS_KEY) is not None:
        try:
            recorded = {(family, code.spec) for code, family in plugins.install_records(raw[PLUGINS_KEY])}
        except plugins.PluginError as exc:
            problems.append(f"{source}: {exc}")
    named = [(f"{source}: {dotted}", dotted, value) for dotted, value in _leaves(raw, "")]
    for key, value in overrides:
        named += [(f"{COMMAND_LINE}: {key}", dotted, leaf) for dotted, leaf in _leaves(value, key)]
    done: set[tuple[str, str]] = set(recorded)
    for where, dotted, value in named:
        family = NAMED_PATHS.get(_place(dotted))
        if family is None or not isinstance(value, str) or (family, value) in done:
            continue
        done.add((family, value))
        try:
            code = plugins.resolve(value, family, path.parent)
            if code is not None:
                plugins.install(code, family)
        except plugins.PluginError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise ConfigError(problems)


def named_in(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(family, name) of every entry a raw config names where a plugin may be named."""
    named = [(NAMED_PATHS.get(_place(dotted)), value) for dotted, value in _leaves(dict(raw), "")]
    return [(family, value) for family, value in named if family is not None and isinstance(value, str)]


NPZ_PLACE = "task.dataset"


def anchor_npz(raw: Any, folder: Path, prefix: str = "") -> None:
    """Make every relative `task.dataset: path/to/data.npz` of `raw` (in place) relative to `folder`,
    the config file's: a config means the same file from wherever it is run."""
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    for key, value in list(items):
        dotted = f"{prefix}[{key}]" if isinstance(raw, list) else f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, str) and _place(dotted) == NPZ_PLACE and value.endswith(".npz"):
            if not Path(value).expanduser().is_absolute():
                raw[key] = str(folder / value)
        else:
            anchor_npz(value, folder, dotted)


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """(dotted path with list indices, value) of every leaf under `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def _place(dotted: str) -> str:
    """The key a value sets, a runs entry, a grid axis and list indices set aside."""
    place = re.sub(r"^runs\[\d+\]\.", "", dotted)
    return re.sub(r"\[\d+\]", "", place.removeprefix("grid."))
