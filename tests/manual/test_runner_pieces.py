"""The manual runner's pieces, each on small inputs: block order, preludes, output and placeholder
checks, the block executor, and the Bedrock stand-in's answers (through botocore, so their shapes
are the real ones)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.manual.checks import (assigned_names, declared_outputs, empty_value, free_names, missing_outputs,
                                 placeholder_lines, top_level_prints)
from tests.manual.manual_blocks import MANUAL, ROOT
from tests.manual.preludes import PRELUDES, MissingPrelude, check_provided, prelude_for
from tests.manual.run_manual import parse_selection, runnable_blocks

SMALL_MANUAL = """# Guide
## First
### One
```python
print("a")
```
```json
{"not": "run"}
```
## Second
```bash
python x.py --output out.json
```
### Two
```python
x = 1
```
"""


def test_blocks_are_the_bash_and_python_ones_in_manual_order(tmp_path):
    manual = tmp_path / "guide.md"
    manual.write_text(SMALL_MANUAL)
    blocks = runnable_blocks(manual)
    assert [(b.language, b.section, b.subsection, b.first_line) for b in blocks] == [
        ("python", "First", "One", 'print("a")'),
        ("bash", "Second", "", "python x.py --output out.json"),
        ("python", "Second", "Two", "x = 1")]


def test_selection_of_blocks():
    assert parse_selection("1,3-5,3", 6) == [1, 3, 4, 5]
    assert parse_selection(None, 3) == [1, 2, 3]
    with pytest.raises(ValueError, match="no block 7"):
        parse_selection("7", 6)


def test_declared_outputs_follow_the_output_flags_across_continuations():
    code = textwrap.dedent("""\
        # comment --output not-this.json
        python a.py \\
          --input in.txt \\
          --output report.json --detailed
        python b.py --analyze-failures --failure-output failures.json
        python c.py --output=inline.json
        python d.py --output-format json
        """)
    assert declared_outputs(code) == ["report.json", "failures.json", "inline.json"]


def test_missing_outputs_name_missing_empty_files_and_empty_folders(tmp_path):
    (tmp_path / "ok.json").write_text("{}")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"x")
    problems = missing_outputs(["ok.json", "empty.json", "gone.json", "empty_dir", "model"], tmp_path)
    assert problems == ["empty.json is empty", "gone.json was not written", "empty_dir is an empty folder"]


@pytest.mark.parametrize("line", ["Best parameters: None", "Best embedding model: ", "A/B test results: {}",
                                  "results: []", "Best configuration: TODO", "value = placeholder"])
def test_placeholder_lines_are_caught(line):
    assert placeholder_lines(f"log line\n{line}\n") == [line]


@pytest.mark.parametrize("line", ["Best parameters: {'learning_rate': 2e-05}", "Best embedding model: char-ngram",
                                  "Validation results: {'valid': True, 'records': 8}", "Model drift detected!",
                                  "Current NER model: {'name': 'crf-1', 'backend': 'crf'}"])
def test_real_results_are_not_placeholders(line):
    assert placeholder_lines(line) == []


def test_top_level_prints_count_only_unconditional_ones():
    source = "print('a')\nif x:\n    print('b')\nfor i in y:\n    print(i)\nprint(f'{z}')\n"
    assert top_level_prints(source) == 2


def test_assigned_and_free_names():
    source = textwrap.dedent("""\
        from m import Cls
        import os.path
        obj = Cls()
        a, (b, c) = 1, (2, 3)
        obj.fit(validation_predictions, validation_ground_truth)
        for item in items_not_defined:
            print(item, os.path.sep, len(a))
        def f(arg):
            return arg + b
        """)
    assert assigned_names(source) == ["obj", "a", "b", "c"]
    assert free_names(source) == {"validation_predictions", "validation_ground_truth", "items_not_defined"}


@pytest.mark.parametrize("value, why", [(None, "is None"), ({}, "is empty"), ("", "is empty"),
                                        ({"a": None}, "holds only None values"), ("TODO later", "is a placeholder")])
def test_empty_values(value, why):
    assert (empty_value(value) or "").startswith(why)


@pytest.mark.parametrize("value", [{"best_model": "char-ngram"}, [0], 0.0, False, "ok", object()])
def test_results_are_not_empty_values(value):
    assert empty_value(value) is None


def test_prelude_lookup():
    first = "from training.pipelines.confidence_calibration import PlattScaling"
    assert prelude_for(first, {"validation_predictions"}) is PRELUDES[first]
    assert prelude_for("import os", set()) is None
    with pytest.raises(MissingPrelude, match="current_window_rows"):
        prelude_for("import os", {"current_window_rows"})
    with pytest.raises(MissingPrelude, match="does not provide validation_ground_truth"):
        check_provided(PRELUDES[first], {"validation_predictions": []}, {"validation_predictions",
                                                                        "validation_ground_truth"})


@pytest.mark.skipif(not MANUAL.is_file(), reason="the manual is not beside the repository")
def test_each_prelude_belongs_to_one_python_block_and_covers_its_undefined_names():
    blocks = [b for b in runnable_blocks() if b.language == "python"]
    for first_line in PRELUDES:
        assert [b.first_line for b in blocks].count(first_line) == 1, first_line
    for block in blocks:
        free = free_names(block.code)
        if free:  # e.g. the calibration block's validation_predictions
            assert prelude_for(block.first_line, free) is not None
    assert free_names(next(b.code for b in blocks if b.first_line.endswith("import PlattScaling"))) == {
        "validation_predictions", "validation_ground_truth"}


def _exec(tmp_path, code: str):
    block, report = tmp_path / "block.py", tmp_path / "report.json"
    block.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "manual" / "exec_block.py"), str(block), str(report)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return done, json.loads(report.read_text()) if report.is_file() else None


def test_exec_block_reports_values_that_are_not_results(tmp_path):
    done, report = _exec(tmp_path, """\
        import json
        best = None
        results = {"accuracy": 0.9}
        print(f"Results: {results}")
        """)
    assert done.returncode == 0 and done.stdout == "Results: {'accuracy': 0.9}\n"
    assert report == {"prelude": None, "empty": {"best": "is None"}}


def test_exec_block_fails_like_python_on_an_error_and_on_undefined_names(tmp_path):
    done, _ = _exec(tmp_path, "raise SystemExit('boom')\n")
    assert done.returncode == 1 and "boom" in done.stderr
    done, _ = _exec(tmp_path, "print(undefined_thing)\n")
    assert done.returncode != 0 and "MissingPrelude" in done.stderr and "undefined_thing" in done.stderr
