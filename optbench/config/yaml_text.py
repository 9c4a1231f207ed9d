"""Strict YAML: config text as plain Python values, with YAML 1.2 floats and duplicate keys reported.

`parse_yaml` never builds arbitrary objects (it extends `yaml.SafeLoader`); every syntax error and
every duplicate key becomes a `ConfigError` line naming the source, and the key path or line.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from optbench.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads YAML 1.2 floats: `1e-3` is the number 0.001, not the string "1e-3"."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
            |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?)$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text into plain Python values; duplicate keys and syntax errors become ConfigError."""
    problems: list[str] = []
    loader = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        value = _construct(loader, node, "", source, problems) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError([f"{source}: {where}{exc.problem or exc}"]) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(
            [f"{source}: character {exc.position + 1}: {exc.reason} (#x{exc.character:04x})"]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{source}: {' '.join(str(exc).split())}"]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if problems:
        raise ConfigError(problems)
    return value


def _construct(loader: _Loader, node: yaml.Node, path: str, source: str, problems: list[str]) -> Any:
    """Build plain values from a YAML node tree, reporting duplicate keys with their key path."""
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<:` merge keys
        result: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                problems.append(f"{source}: {join_key(path, str(key))}: keys must be plain names")
                continue
            key_path = join_key(path, str(key))
            line = key_node.start_mark.line + 1
            if key in result:
                problems.append(f"{source}: {key_path}: duplicate key (lines {lines[key]} and {line})")
            lines[key] = line
            result[key] = _construct(loader, value_node, key_path, source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, f"{path}[{i}]", source, problems) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def join_key(path: str, key: str) -> str:
    """The dotted key path of `key` inside the mapping at `path` ("" for the top level)."""
    return f"{path}.{key}" if path else key
