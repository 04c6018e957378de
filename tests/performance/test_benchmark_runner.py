"""The manual's batch-size optimisation (tests/performance/benchmark_runner.py).

The command runs as printed on a home bootstrapped from the sample catalogue; its timings are
checked for consistency with each other (not against fixed numbers: they depend on the machine),
and its recommendation against the rule it states.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.manual.manual_blocks import MANUAL, ROOT, manual_command
from tests.performance.benchmark_runner import (BenchmarkError, app, batches, load_names, measure_batch_size,
                                                parse_batch_sizes, recommend)

SCRIPT = "tests/performance/benchmark_runner.py"


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory) -> Path:
    from training.pipelines.local_bootstrap import bootstrap

    home = tmp_path_factory.mktemp("bench") / "home"
    bootstrap(home=home, log=lambda _: None)
    return home


@pytest.mark.slow
@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_batch_size_optimization_as_printed(bootstrapped, tmp_path):
    argv = manual_command(SCRIPT, "--optimize-batch-size")
    env = {**os.environ, "PRODUCT_INFERENCE_HOME": str(bootstrapped), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, str(ROOT / argv[1]), *argv[2:]], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=540)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "batch_optimization.json").read_text(encoding="utf-8"))
    assert report["batch_sizes"] == [1, 4, 8, 16, 32] and report["measures"] == ["latency", "throughput", "memory"]
    assert report["names"] == 256 and report["repeats"] == 3 and "CPUs" in report["machine"]
    for result in report["results"]:
        size = result["batch_size"]
        assert result["batches_per_pass"] == 256 // size and result["full_batches_timed"] == 3 * 256 // size
        per_batch, per_name = result["latency_ms"]["per_batch"], result["latency_ms"]["per_name"]
        assert per_batch["n"] == per_name["n"] == 3 * 256 // size
        assert 0 < per_batch["p50"] <= per_batch["p95"] <= per_batch["max"]
        assert per_name["mean"] == pytest.approx(per_batch["mean"] / size, rel=1e-3, abs=1e-3)
        # throughput is the median pass: names over its seconds
        median = sorted(result["pass_seconds"])[1]
        assert result["throughput_names_per_s"] == pytest.approx(256 / median, rel=1e-3)
        memory = result["memory_mb"]
        assert memory["rss_peak"] >= memory["rss_before"] > 50 and memory["rss_peak_growth"] >= 0
        assert memory["python_peak_per_batch"] > 0
    pick = report["recommendation"]
    best = max(r["throughput_names_per_s"] for r in report["results"])
    fits = [r["batch_size"] for r in report["results"]
            if r["throughput_names_per_s"] >= 0.95 * best and r["latency_ms"]["per_batch"]["p95"] <= 2000]
    assert fits and pick["batch_size"] == min(fits) and "smallest batch size" in pick["rule"]
    assert "Recommended batch size" in done.stdout
    from PIL import Image

    picture = Image.open(tmp_path / "batch_optimization.png").convert("RGB")
    assert picture.width > 800 and len(picture.getcolors(1 << 24)) > 100
    runs = list(tmp_path.glob("runs/*-batch-size-optimization"))
    assert runs and json.loads((runs[0] / "metrics.json").read_text())["recommended_batch_size"] == pick["batch_size"]


def test_measurement_arithmetic_on_a_timed_function():
    """measure_batch_size on a function whose cost is known: 2 ms a call plus 1 ms a name."""
    import time

    def predict(chunk):
        time.sleep(0.002 + 0.001 * len(chunk))
        return [{} for _ in chunk]

    result = measure_batch_size(predict, [f"n{i}" for i in range(10)], 4, repeats=2, memory=True)
    assert result["batches_per_pass"] == 3 and result["full_batches_timed"] == 4  # the batch of 2 is not timed
    assert result["latency_ms"]["per_batch"]["min"] >= 6.0 and result["latency_ms"]["per_name"]["min"] >= 1.5
    assert result["throughput_names_per_s"] <= 10 / 0.016  # a pass sleeps 3 * 2 ms + 10 * 1 ms at least
    assert result["memory_mb"]["python_peak_per_batch"] >= 0
    with pytest.raises(BenchmarkError, match="returned 0 rows for a batch of 4"):
        measure_batch_size(lambda chunk: [], ["a"] * 4, 4, repeats=1, memory=False)


def test_recommendation_follows_the_rule():
    def result(size, throughput, p95):
        return {"batch_size": size, "throughput_names_per_s": throughput, "latency_ms": {"per_batch": {"p95": p95}}}

    results = [result(1, 100, 5), result(8, 390, 40), result(16, 400, 90), result(32, 405, 3000)]
    assert recommend(results, 2000, 0.05)["batch_size"] == 8  # 390 >= 0.95 * 405; 32 is over the budget
    assert recommend(results, 50, 0.01)["batch_size"] == 1  # nothing within 1% fits 50 ms: lowest p95
    assert recommend(results, 50, 0.01)["why"].startswith("no size met both conditions")


def test_inputs(tmp_path):
    assert parse_batch_sizes("32,1,4,4") == [1, 4, 32]
    for bad in ("0,4", "a,b", ""):
        with pytest.raises(BenchmarkError, match="--batch-sizes"):
            parse_batch_sizes(bad)
    names, where = load_names(None, 20)
    assert names[0] == "ยาสีฟัน Wonder smile 80g" and len(names) == 20 and "demo names" in where
    text = tmp_path / "names.txt"
    text.write_text("iPhone 15\n\nมาม่า ต้มยำ\n", encoding="utf-8")
    assert load_names(text, 10) == (["iPhone 15", "มาม่า ต้มยำ"], str(text))
    assert [len(b) for b in batches(list(range(10)), 4)] == [4, 4, 2]


@pytest.mark.parametrize("args, message", [
    (["--batch-sizes", "1,4"], "nothing to do: give --optimize-batch-size"),
    (["--optimize-batch-size", "--measure", "latency,energy"], "--measure 'latency,energy'"),
    (["--optimize-batch-size", "--names", "8", "--batch-sizes", "4,16"], "8 names are fewer than the largest batch size 16"),
    (["--optimize-batch-size", "--names", "8", "--batch-sizes", "4"], "no ner model is registered"),
])
def test_option_errors_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(app, [*args, "--home", str(tmp_path), "--output", str(tmp_path / "out.json")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "out.json").exists()
