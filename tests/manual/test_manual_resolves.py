"""Every command and import that the manual's tuning sections print must resolve.

Reads the manual's code blocks: each `python script.py --flags` must name an existing script whose
--help lists every flag used; each `from x import y` must import; each method called on an object
of a project class must exist on that class. Running the blocks for real is the manual runner's
job; this test fails fast when a rename breaks what users copy.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from tests.manual.manual_blocks import (MANUAL, ROOT, attribute_calls, imported_names, python_sources, read_blocks,
                                        script_flags, shell_commands)

SECTIONS = ("NER Model Tuning", "RAG System Tuning", "LLM Fine-tuning", "Hybrid Agent Optimization",
            "Confidence Score Calibration", "Performance vs Accuracy Trade-offs", "Evaluation and Validation")

pytestmark = pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")


def _blocks():
    return [b for b in read_blocks() if b.section in SECTIONS] if MANUAL.is_file() else []


def _script_commands():
    seen = {}
    for block in _blocks():
        if block.language != "bash":
            continue
        for argv in shell_commands(block.code):
            if argv and argv[0] == "python" and len(argv) > 1 and argv[1].endswith(".py"):
                script, flags = script_flags(argv)
                seen.setdefault(script, set()).update(flags)
    return sorted(seen.items())


def _imports():
    return sorted({pair for block in _blocks() for source in python_sources(block) for pair in imported_names(source)})


def _method_calls():
    found = set()
    for block in _blocks():
        for source in python_sources(block):
            imports = dict((name, module) for module, name in imported_names(source))
            for _, cls, method in attribute_calls(source):
                if cls in imports:
                    found.add((imports[cls], cls, method))
    return sorted(found)


def test_the_manual_sections_have_code_blocks():
    blocks = _blocks()
    assert {b.section for b in blocks} == set(SECTIONS)
    assert len(_script_commands()) >= 11 and len(_imports()) >= 10


@pytest.mark.parametrize("script, flags", _script_commands(), ids=[s for s, _ in _script_commands()])
def test_manual_command_exists_and_accepts_its_flags(script, flags, tmp_path):
    path = ROOT / script
    assert path.is_file(), f"the manual runs {script}, which does not exist"
    done = subprocess.run([sys.executable, str(path), "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={"COLUMNS": "200", "TERM": "dumb", "PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                                            "HOME": str(tmp_path), "PRODUCT_INFERENCE_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr[-2000:]
    missing = sorted(f for f in flags if f not in done.stdout)
    assert not missing, f"{script} --help does not list {missing}"


@pytest.mark.parametrize("module, name", _imports())
def test_manual_import_resolves(module, name):
    assert hasattr(importlib.import_module(module), name), f"{module} has no {name}"


@pytest.mark.parametrize("module, cls, method", _method_calls())
def test_manual_method_exists(module, cls, method):
    assert callable(getattr(getattr(importlib.import_module(module), cls), method, None)), f"{cls}.{method} is missing"
