"""What a config can name and set, read from the registries and the declared fields: `optbench list`.

`optbench list WHAT` takes a family (`optimizers`, or `optimizer`), `keys`, `templates`, or the name
of one entry (`adam`, or a plugin by `file.py:Name` or `module:Name`): anything else is refused
with a did-you-mean.

Optimizers, initialisers and functions that installed packages register under the entry-point
groups `optbench.optimizers`, `optbench.initializers` and `optbench.functions` are listed after the
built-ins, as they are, with the distribution and version they come from; one that fails to load is
one `error:` line in its place, and the rest of the listing stands.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from optbench.config import ConfigKey, activations_keys, did_you_mean, experiment_keys, tune_keys
from optbench.config import templates as shipped
from optbench.data import DATASETS
from optbench.errors import UsageError
from optbench.functions import FUNCTIONS
from optbench.hparams import HyperParam, describe_default, hyperparameters
from optbench.init import INITIALIZERS
from optbench.nn import ACTIVATIONS
from optbench.optim import OPTIMIZERS, SCHEDULES
from optbench.text import text_table

FAMILIES = ("optimizers", "schedules", "inits", "activations", "functions", "datasets", "templates", "keys")
"""What `optbench list WHAT` lists; bare `optbench list` shows all but the keys."""

ALIASES = {
    "optimizer": "optimizers",
    "schedule": "schedules",
    "init": "inits",
    "initialiser": "inits",
    "initialisers": "inits",
    "initializer": "inits",
    "initializers": "inits",
    "activation": "activations",
    "function": "functions",
    "dataset": "datasets",
    "template": "templates",
    "key": "keys",
}


PLUGIN_GROUPS = {"optimizers": "optimizers", "inits": "initializers", "functions": "functions"}
"""The families installed packages extend, and each one's entry-point group (`optbench.<group>`)."""


@functools.cache
def installed_entry_points(family: str) -> dict[str, str | None]:
    """The entry points installed packages register for `family`, by name, each installed into the
    family's registry: None when it loaded, else the one-line reason it did not (read once per
    process)."""
    from optbench import plugins

    group = PLUGIN_GROUPS.get(family)
    if group is None:
        return {}
    found: dict[str, str | None] = {}
    for name in plugins.entry_points(group):
        code = plugins.entry_point_code(group, name)
        assert code is not None  # the name is one entry_points gave
        try:
            plugins.install(code, group)
            found[name] = None
        except plugins.PluginError as exc:
            found[name] = str(exc).removeprefix(f"{name}: ")
    return found


def _origin(family: str, name: str) -> str:
    """Where an entry point of `family` comes from (` [from mypkg 0.1]`); empty for a built-in."""
    from optbench import plugins

    group = PLUGIN_GROUPS.get(family)
    if group is None or name not in installed_entry_points(family):
        return ""
    code = plugins.entry_point_code(group, name)
    if code is None or code.distribution is None:
        return " [from an entry point]"
    return f" [from {code.distribution} {code.version}]"


def _broken(family: str, name: str, width: int) -> str | None:
    """The error line of an entry point of `family` that failed to load; None for any other name."""
    reason = installed_entry_points(family).get(name)
    if reason is None:
        return None
    return f"  {name.ljust(width)}  error: {reason}{_origin(family, name)}"


def _names(family: str) -> list[str]:
    """Every name of `family`: the built-ins, then installed packages' entry points (loaded or not)."""
    installed = installed_entry_points(family)  # first: the loaded ones join the registry
    return list(dict.fromkeys([*REGISTRIES[family], *installed]))


def _hyper_lines(params: Sequence[HyperParam], indent: str) -> list[str]:
    width = max((len(p.name) + len(describe_default(p.default)) for p in params), default=0) + 1
    return [f"{indent}{(p.name + '=' + describe_default(p.default)).ljust(width)}  {p.doc}" for p in params]


def _entries(family: str, names: Sequence[str]) -> str:
    registry = REGISTRIES[family]
    width = max(len(name) for name in names)
    lines = [f"{TITLES[family]}:"]
    for name in names:
        broken = _broken(family, name, width)
        if broken is not None:
            lines.append(broken)
            continue
        entry = registry[name]
        lines.append(f"  {name.ljust(width)}  {entry.summary}{_origin(family, name)}")
        if family in WITH_HYPERPARAMETERS:
            lines += _hyper_lines(
                hyperparameters(entry if isinstance(entry, type) else type(entry)), " " * (width + 6)
            )
    return "\n".join(lines) + "\n"


TITLES = {
    "optimizers": "optimizers (optimizer.name; hyperparameters as in torch.optim)",
    "schedules": "schedules (optimizer.schedule)",
    "inits": "initialisers (model.init)",
    "activations": "activations (model.activation)",
    "functions": "functions (task.function)",
    "datasets": "datasets (task.dataset; task.data_dir for any folder in MNIST layout)",
    "templates": "templates (optbench init TEMPLATE writes one to start from)",
}
REGISTRIES: dict[str, Mapping[str, Any]] = {
    "optimizers": OPTIMIZERS,
    "schedules": SCHEDULES,
    "inits": INITIALIZERS,
    "activations": ACTIVATIONS,
    "functions": FUNCTIONS,
    "datasets": DATASETS,
}
WITH_HYPERPARAMETERS = ("optimizers", "schedules", "inits")


def _functions(names: Sequence[str]) -> str:
    width = max(len(name) for name in names)
    lines = [f"{TITLES['functions']}:"]
    for name in names:
        broken = _broken("functions", name, width)
        if broken is not None:
            lines.append(broken)
            continue
        f = FUNCTIONS[name]
        start = f"start ({f.start[0]:g}, {f.start[1]:g})"
        lines.append(f"  {name.ljust(width)}  {f.formula}  [{start}]{_origin('functions', name)}")
    return "\n".join(lines) + "\n"


def _templates(names: Sequence[str]) -> str:
    rows = []
    for name in names:
        t = shipped.describe(name)
        rows.append([name, f"optbench {t.command}", t.summary])
    table = text_table(["template", "run with", "what it is"], rows)
    return f"{TITLES['templates']}:\n" + "".join(f"  {line}" for line in table.splitlines(keepends=True))


def _keys_block(title: str, keys: Sequence[ConfigKey]) -> str:
    table = text_table(
        ["key", "type", "default", "meaning"], [[k.key, k.type, k.default, k.doc] for k in keys]
    )
    return f"{title}:\n" + "".join(f"  {line}" for line in table.splitlines(keepends=True))


def keys() -> str:
    """Every config key with its type, default and meaning: `optbench list keys`."""
    return "\n".join(
        [
            _keys_block(
                "experiment configs (train, compare; a tuning study's base takes task, model, optimizer "
                "and train), also as KEY=VALUE",
                experiment_keys(),
            ),
            _keys_block("tuning studies (tune) add", tune_keys()),
            _keys_block("activations configs (activations)", activations_keys()),
        ]
    )


def _family(family: str, names: Sequence[str] | None = None) -> str:
    if family == "keys":
        return keys()
    if family == "templates":
        return _templates(shipped.names() if names is None else names)
    if family == "functions":
        return _functions(_names(family) if names is None else names)
    return _entries(family, _names(family) if names is None else names)


def describe(family: str) -> str:
    """The `optbench list FAMILY` text: every name, a one-line summary, hyperparameters and defaults."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}")
    return _family(family)


def listing(what: str | None) -> str:
    """The text of `optbench list [WHAT]`: every family but the keys, one family, or the entries named WHAT.

    UsageError, with a did-you-mean, when WHAT is neither a family nor a name.
    """
    if what is None:
        return "\n".join(describe(f) for f in FAMILIES if f != "keys") + "\nconfig keys: optbench list keys\n"
    family = ALIASES.get(what, what)
    if family in FAMILIES:
        return describe(family)
    if ":" in what:
        return _spec(what)
    found = [f for f in REGISTRIES if what in _names(f)]
    found += ["templates"] if what in shipped.names() else []
    if found:
        return "\n".join(_family(f, [what]) for f in found)
    names = [*FAMILIES, *ALIASES, *(n for f in REGISTRIES for n in _names(f)), *shipped.names()]
    hint = did_you_mean(what, names) or f"; choose a family: {', '.join(FAMILIES)}, or a name they list"
    raise UsageError(f"nothing to list called {what!r}{hint}")


def _spec(spec: str) -> str:
    """`optbench list file.py:Name` (relative to the current folder) or `module:Name`: the plugin as
    a config would see it, in the family it belongs to. UsageError, one line, when it cannot be loaded
    or is an optimizer, initialiser or function of no family."""
    from optbench import plugins

    problems = []
    for family, group in PLUGIN_GROUPS.items():
        try:
            code = plugins.resolve(spec, group, None)
            if code is not None:
                plugins.install(code, group)
        except plugins.PluginError as exc:
            problems.append(str(exc))
            continue
        return _family(family, [spec])
    if len(set(problems)) == 1:  # the same for every family: the file or module itself is at fault
        raise UsageError(problems[0])
    what = problems[0].partition(", not ")[0]
    raise UsageError(
        f"{what}, not an optimizer (a subclass of optbench.Optimizer or torch.optim.Optimizer), an "
        "initialiser (of optbench.Initializer) or a 2-D function (an optbench.Objective)"
    )


def completions() -> list[str]:
    """What `optbench list` can be given: the families, their singular forms and every name (an
    entry point's by its name alone: completing loads no installed package)."""
    from optbench import plugins

    groups = [plugins.entry_points(group) for group in PLUGIN_GROUPS.values()]
    names = [*(n for r in REGISTRIES.values() for n in r), *(n for g in groups for n in g)]
    return [*FAMILIES, *ALIASES, *dict.fromkeys(names), *shipped.names()]
