"""The manual, executed: every bash and python block of the tuning guide runs, unchanged and in
order, in a folder prepared by `product-infer export-sample` (tests/manual/run_manual.py).

The whole run takes about ten minutes on two cores, most of it the manual's 81-trial grid search.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from tests.manual.manual_blocks import MANUAL, ROOT
from tests.manual.run_manual import runnable_blocks

RUNNER = ROOT / "tests" / "manual" / "run_manual.py"
LINE = re.compile(r"^\[(\d+)\] (passed|FAILED) +[\d.]+s +(bash|python) ")

pytestmark = pytest.mark.slow


def _run(tmp_path, *args, timeout):
    done = subprocess.run([sys.executable, str(RUNNER), "--workdir", str(tmp_path / "run"), *args],
                          capture_output=True, text=True, timeout=timeout)
    lines = [LINE.match(line) for line in done.stdout.splitlines()]
    return done, [m for m in lines if m]


@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_every_block_of_the_manual_runs_and_does_its_work(tmp_path):
    done, lines = _run(tmp_path, timeout=3000)
    blocks = runnable_blocks()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert [int(m[1]) for m in lines] == list(range(1, len(blocks) + 1))
    assert [m[3] for m in lines] == [b.language for b in blocks]
    assert all(m[2] == "passed" for m in lines)
    assert f"Total: {len(blocks)} passed, 0 failed" in done.stdout
    # what moto lacks went to the stand-in, and the undefined names came from the preludes
    assert "stand-in: Converse" in done.stdout and "CreateCustomModelDeployment" in done.stdout
    assert all(f"prelude: {name}" in done.stdout for name in ("calibration_data", "current_window", "ab_test_models"))


def test_a_block_that_fails_or_only_pretends_fails_the_run(tmp_path):
    manual = tmp_path / "guide.md"
    manual.write_text(textwrap.dedent('''\
        ## Works
        ```bash
        python -c "import json; json.dump({'rows': 1}, open('report.json', 'w'))" --output report.json
        aws s3 ls s3://guide-bucket/ --profile ml-sandbox --region us-east-1
        ```
        ## Writes nothing
        ```bash
        python -c "print('done')" --output missing.json
        ```
        ## Prints a placeholder
        ```python
        best = None
        print(f"Best parameters: {best}")
        ```
        ## Raises
        ```python
        from inference.config.model_registry import ModelRegistry
        ModelRegistry().get_model_config('no-such-type')
        ```
        '''))
    done, lines = _run(tmp_path, "--manual", str(manual), timeout=600)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert [(int(m[1]), m[2]) for m in lines] == [(1, "passed"), (2, "FAILED"), (3, "FAILED"), (4, "FAILED")]
    assert "missing.json was not written" in done.stdout
    assert "best is None" in done.stdout and "printed a placeholder: 'Best parameters: None'" in done.stdout
    assert "exit status 1" in done.stdout
    assert "Total: 1 passed, 3 failed" in done.stdout
