"""The example configs that ship inside the package (optbench/templates/), and copying one out.

They are the repository's `configs/` (a link to that folder): one source, so the configs a user of
`pip install optbench` starts from with `optbench init` are the ones the demo and the tests run. A
template that names a plugin file shipped beside it (`adabelief.py:AdaBelief`) comes with that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from optbench.config.kinds import command_for, kind_of
from optbench.errors import UsageError
from optbench.text import summary_sentence

if TYPE_CHECKING:
    from importlib.abc import Traversable

SUFFIX = ".yaml"
DEFAULT_TEMPLATE = "paths_book"
"""What `optbench init` writes when no template is named: it runs in a second and needs no data."""


def _folder() -> Traversable:
    return resources.files("optbench").joinpath("templates")


def names() -> list[str]:
    """Every template by name (its file name without .yaml), sorted."""
    return sorted(f.name.removesuffix(SUFFIX) for f in _folder().iterdir() if f.name.endswith(SUFFIX))


def text(name: str) -> str:
    """The template's file text, comments included; UsageError with a did-you-mean for an unknown name."""
    if name not in names():
        from optbench.config.fields import did_you_mean

        hint = did_you_mean(name, names()) or f"; choose from {', '.join(names())}"
        raise UsageError(f"unknown template {name!r}{hint} (optbench list templates)")
    return _folder().joinpath(name + SUFFIX).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Template:
    """A shipped config: its name, its kind, the command that runs it and a one-line summary."""

    name: str
    kind: str
    command: str
    summary: str


def describe(name: str) -> Template:
    """A template's kind, command and summary: its description's first sentence, else its first comment's."""
    content = text(name)
    raw = yaml.safe_load(content)
    raw = raw if isinstance(raw, dict) else {}
    description = str(raw.get("description") or "")
    if not description.strip():
        lines = content.splitlines()
        comments = [
            line.lstrip("# ")
            for line in lines[: next((i for i, x in enumerate(lines) if not x.startswith("#")), 0)]
        ]
        description = " ".join(comments)
    kind = kind_of(raw)
    return Template(name, kind, command_for(kind, raw), summary_sentence(description))


def listed_configs(name: str) -> list[str]:
    """The templates a suite template lists (each `compare:`, `activations:`, `tune:` entry), in order."""
    raw = yaml.safe_load(text(name))
    if not isinstance(raw, dict) or kind_of(raw) != "suite":
        return []
    listed = []
    for kind in ("compare", "activations", "tune"):
        for entry in raw.get(kind) or []:
            path = entry.get("config") if isinstance(entry, dict) else entry
            if isinstance(path, str) and path.endswith(SUFFIX):
                listed.append(path.removesuffix(SUFFIX))
    return listed


PLUGIN_SPEC = re.compile(r"\b([\w.-]+\.py):([A-Za-z_]\w*)")
"""A plugin spec naming a file in the config's own folder (`adabelief.py:AdaBelief`)."""


def plugin_specs(name: str) -> list[tuple[str, str]]:
    """(file, name) of each plugin a template names from a file shipped beside it, in its order."""
    shipped = {f.name for f in _folder().iterdir() if f.name.endswith(".py")}
    named = dict.fromkeys(PLUGIN_SPEC.findall(text(name)))
    return [(file, obj) for file, obj in named if file in shipped]


def plugin_files(name: str) -> list[str]:
    """The plugin files a template comes with."""
    return list(dict.fromkeys(file for file, _ in plugin_specs(name)))


def write(name: str, dest: Path | None) -> list[Path]:
    """Copy a template to `dest`, refusing to overwrite anything; the files written, the template first.

    `dest` is a file when it ends in .yaml or .yml, otherwise a folder (created if needed); None is the
    current folder. A suite comes with the configs it lists, a config with the plugin files it names,
    written beside it under their own names.
    """
    if dest is None or dest.suffix not in (".yaml", ".yml"):
        folder = dest or Path()
        target = folder / (name + SUFFIX)
    else:
        folder, target = dest.parent, dest
    plan = {target: text(name)} | {folder / (n + SUFFIX): text(n) for n in listed_configs(name)}
    plan |= {folder / f: _folder().joinpath(f).read_text(encoding="utf-8") for f in plugin_files(name)}
    existing = [path for path in plan if path.exists()]
    if existing:
        raise UsageError(f"{existing[0]}: already exists; choose another path, or remove it first")
    folder.mkdir(parents=True, exist_ok=True)
    for path, content in plan.items():
        with path.open("x", encoding="utf-8") as f:
            f.write(content)
    return list(plan)
