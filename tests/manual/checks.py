"""What makes a manual block's run count: the files its commands say they write exist and are not
empty, its printed results are not placeholders, and the values its Python assigns are real.

Pure functions over a block's code and what it produced, so each rule has a unit test.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path
from typing import Any, Iterable

from tests.manual.manual_blocks import shell_commands

OUTPUT_FLAGS = ("--output", "--failure-output")
# A printed result that says nothing: a label followed by None / {} / [] / "" / nothing, or a
# marker of unfinished work anywhere in the line.
_EMPTY_VALUE = re.compile(r":\s*(None|\{\}|\[\]|\(\)|''|\"\"|nan|)\s*$")
_MARKER = re.compile(r"\b(TODO|FIXME|TBD|NotImplemented|placeholder)\b", re.IGNORECASE)


def declared_outputs(code: str) -> list[str]:
    """Paths a bash block's commands say they write (--output PATH, --failure-output PATH)."""
    paths = []
    for argv in shell_commands(code):
        for i, arg in enumerate(argv):
            flag, _, inline = arg.partition("=")
            if flag in OUTPUT_FLAGS:
                value = inline or (argv[i + 1] if i + 1 < len(argv) else "")
                if value and not value.startswith("-"):
                    paths.append(value)
    return paths


def missing_outputs(paths: Iterable[str], cwd: Path) -> list[str]:
    """Problems with the declared outputs: missing, an empty file, or an empty folder."""
    problems = []
    for raw in paths:
        path = Path(raw) if Path(raw).is_absolute() else cwd / raw
        if not path.exists():
            problems.append(f"{raw} was not written")
        elif path.is_file() and path.stat().st_size == 0:
            problems.append(f"{raw} is empty")
        elif path.is_dir() and not any(p.is_file() and p.stat().st_size for p in path.rglob("*")):
            problems.append(f"{raw} is an empty folder")
    return problems


def placeholder_lines(output: str) -> list[str]:
    """Printed lines that are placeholders rather than results."""
    return [line for line in output.splitlines() if line.strip() and (_EMPTY_VALUE.search(line) or _MARKER.search(line))]


def top_level_prints(source: str) -> int:
    """How many print() calls run unconditionally (statements at the top of the block)."""
    return sum(1 for node in ast.parse(source).body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
               and isinstance(node.value.func, ast.Name) and node.value.func.id == "print")


def assigned_names(source: str) -> list[str]:
    """Names a block binds at its top level with `name = ...` (in order, once each)."""
    names: list[str] = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return names


def free_names(source: str) -> set[str]:
    """Names a block reads but never defines (no assignment, import, def or loop binds them)."""
    tree = ast.parse(source)
    bound, loaded = set(dir(builtins)), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound


def empty_value(value: Any) -> str | None:
    """Why a value a block computed is not a result (None, empty, a placeholder string), else None."""
    if value is None:
        return "is None"
    if isinstance(value, (str, bytes, list, tuple, dict, set)) and len(value) == 0:
        return "is empty"
    if isinstance(value, str) and _MARKER.search(value):
        return f"is a placeholder ({value[:40]!r})"
    if isinstance(value, dict) and all(v is None for v in value.values()):
        return "holds only None values"
    return None
