"""The user's manual as data: its code blocks, in order, with the section each belongs to.

The manual (`../shared/docs/model-accuracy-tuning-guide.md`) is the user's spec; these helpers let
tests check that every command and import it prints still resolves against the code.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANUAL = ROOT.parent / "shared" / "docs" / "model-accuracy-tuning-guide.md"

_FENCE = re.compile(r"^```(\w+)\s*$")


@dataclass
class Block:
    section: str      # the "## " heading it sits under
    subsection: str   # the nearest "### " heading
    language: str     # "bash" or "python"
    code: str
    line: int         # first line of the code in the manual

    @property
    def first_line(self) -> str:
        return first_code_line(self.code)


def first_code_line(code: str) -> str:
    """The first line of a block that is neither blank nor a comment."""
    return next((l.strip() for l in code.splitlines() if l.strip() and not l.strip().startswith("#")), "")


def read_blocks(path: Path = MANUAL) -> list[Block]:
    blocks, section, subsection = [], "", ""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section, subsection = line[3:].strip(), ""
        elif line.startswith("### "):
            subsection = line[4:].strip()
        match = _FENCE.match(line.strip())
        if match:
            start = i + 1
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            blocks.append(Block(section, subsection, match.group(1), "\n".join(lines[start:i]), start + 1))
        i += 1
    return blocks


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a bash block as argument lists (comments dropped, continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    buffer = ""
    for raw in joined.splitlines():
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        buffer = f"{buffer}\n{raw}" if buffer else raw
        try:
            commands.append(shlex.split(buffer))
            buffer = ""
        except ValueError:  # an open quote: python -c "..." spans lines
            continue
    return commands


def python_sources(block: Block) -> list[str]:
    """Python code in a block: the block itself, or the `python -c` strings of a bash block."""
    if block.language == "python":
        return [block.code]
    return [argv[2] for argv in shell_commands(block.code) if argv[:2] == ["python", "-c"] and len(argv) > 2]


def imported_names(source: str) -> list[tuple[str, str]]:
    """(module, name) for each `from module import name` in the source."""
    tree = ast.parse(source)
    return [(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names]


def attribute_calls(source: str) -> list[tuple[str, str, str]]:
    """(variable, class name, method) for `var = Class(...)` followed by `var.method(...)`."""
    tree = ast.parse(source)
    classes: dict[str, str] = {}
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    classes[target.id] = node.value.func.id
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in classes):
            calls.append((node.func.value.id, classes[node.func.value.id], node.func.attr))
    return calls


def script_flags(argv: list[str]) -> tuple[str, list[str]]:
    """For `python path/to/script.py --flag value ...`: the script and its --flags."""
    return argv[1], [a.split("=", 1)[0] for a in argv[2:] if a.startswith("--")]


def manual_command(script: str, flag: str | None = None) -> list[str]:
    """The argument list of the first command in the manual that runs `script` (with `flag`, if given)."""
    for block in read_blocks():
        for argv in (shell_commands(block.code) if block.language == "bash" else []):
            if len(argv) > 1 and argv[1] == script and (flag is None or flag in argv):
                return argv
    raise LookupError(f"the manual runs no {script}{f' {flag}' if flag else ''}")


def manual_python_block(subsection: str) -> str:
    """The code of the first Python block under the manual's `### subsection` heading."""
    for block in read_blocks():
        if block.language == "python" and block.subsection == subsection:
            return block.code
    raise LookupError(f"the manual has no Python block under {subsection!r}")
