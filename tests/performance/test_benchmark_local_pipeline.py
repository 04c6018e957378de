"""The benchmark must keep working; its numbers are reported, not asserted (except accuracy)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.records import load_catalog
from tests.performance.benchmark_local_pipeline import run_benchmark, split_by_id

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog.jsonl"


def test_split_by_id_is_stable_and_disjoint():
    records = load_catalog(SAMPLE)
    train, test = split_by_id(records, 0.2, seed=13)
    again_train, again_test = split_by_id(list(reversed(records)), 0.2, seed=13)
    assert {r.id for r in test} == {r.id for r in again_test}  # order does not matter, only ids
    assert not {r.id for r in train} & {r.id for r in test}
    assert len(train) + len(test) == len(records) and 0.1 < len(test) / len(records) < 0.3
    assert {r.id for r in split_by_id(records, 0.2, seed=14)[1]} != {r.id for r in test}


@pytest.mark.slow
def test_benchmark_reports_every_measure(tmp_path):
    result = run_benchmark(SAMPLE, latency_samples=20, workdir=tmp_path)
    assert result["split"]["test"] == result["accuracy"]["rows"] > 50
    # Held-out names of the sample: most brands are known, some names lack the brand.
    assert result["accuracy"]["brand_accuracy"] >= 0.8
    assert result["accuracy"]["errors"] == 0
    assert result["latency_ms"]["samples"] == 20 and 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
    assert result["batch_throughput_names_per_s"] > 0 and result["peak_rss_mb"]["after_predictions"] > 0
    assert set(result["accuracy"]["by_script"]) >= {"th", "en", "mixed"}


@pytest.mark.slow
def test_benchmark_command_line_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    script = Path(__file__).with_name("benchmark_local_pipeline.py")
    done = subprocess.run([sys.executable, str(script), "--latency-samples", "5", "--output", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["accuracy"]["brand_accuracy"] > 0.8
    assert "batch throughput" in done.stdout
