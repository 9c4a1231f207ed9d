"""A source audit: the package never uses pickle, eval, exec, unsafe YAML loading or a shell.

One place runs code by design: the plugin loader executes the text of a user's plugin file
(``file.py:Name``), the text that was hashed and recorded with the run. It is named below, and a
test checks that the exemption still matches the code, so that it cannot cover anything else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import optbench

PACKAGE = Path(optbench.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def violations(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            for name in names:
                if name.split(".")[0] in ("pickle", "cPickle", "dill", "shelve", "marshal"):
                    found.append(f"line {node.lineno}: imports {name}")
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if isinstance(func, ast.Name) and name in ("eval", "exec", "compile", "__import__"):
                found.append(f"line {node.lineno}: calls {name}")
            if (
                name in ("load", "load_all", "unsafe_load", "full_load")
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "yaml"
            ):
                found.append(f"line {node.lineno}: yaml.{name} (use yaml.safe_load)")
            if (
                name == "load"
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in ("np", "numpy")
                and not any(
                    k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in node.keywords
                )
            ):
                found.append(f"line {node.lineno}: np.load without allow_pickle=False")
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    found.append(f"line {node.lineno}: shell=True")
            if (
                name in ("system", "popen")
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "os"
            ):
                found.append(f"line {node.lineno}: os.{name}")
    return found


def test_the_package_has_sources_to_audit() -> None:
    assert len(SOURCES) > 10


# (file, function, what it calls): the plugin loader runs the user's recorded plugin file.
EXEMPT = {("plugins/loading.py", "_file_module", "exec"), ("plugins/loading.py", "_file_module", "compile")}


def _found_in(path: Path) -> list[tuple[str, str, str]]:
    """Each violation of a file with the function it sits in, as (file, function, violation)."""
    tree = ast.parse(path.read_text())
    name = path.relative_to(PACKAGE).as_posix()
    found = []
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for violation in violations(tree):
        line = int(violation.split(":")[0].removeprefix("line "))
        inside = [f.name for f in functions if f.lineno <= line <= (f.end_lineno or f.lineno)]
        found.append((name, inside[-1] if inside else "<module>", violation))
    return found


def test_no_pickle_eval_exec_unsafe_yaml_or_shell_in_the_package() -> None:
    found = [item for path in SOURCES for item in _found_in(path)]
    problems = [f for f in found if (f[0], f[1], f[2].rsplit(" ", 1)[-1]) not in EXEMPT]
    assert problems == []


def test_the_exemption_names_code_that_exists() -> None:
    found = {(f[0], f[1], f[2].rsplit(" ", 1)[-1]) for path in SOURCES for f in _found_in(path)}
    assert found >= EXEMPT


def test_the_audit_catches_each_forbidden_pattern() -> None:
    bad = """
import pickle
from yaml import load
eval("1")
exec("x = 1")
yaml.load(text)
np.load(path)
subprocess.run("ls", shell=True)
os.system("ls")
"""
    assert len(violations(ast.parse(bad))) == 7
    good = "yaml.safe_load(t)\nnp.load(p, allow_pickle=False)\nsubprocess.run(['ls'])\n"
    assert violations(ast.parse(good)) == []
