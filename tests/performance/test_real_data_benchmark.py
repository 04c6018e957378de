"""The real-data benchmark runs end to end on a file shaped like the shared dev sets (built here
from the project's sample: `source` and `lang` fields added), and reports every measure and target."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.normalize import script_of
from inference.records import load_catalog
from tests.performance.real_data_benchmark import TARGETS, add_thai_and_mixed, target_table

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog.jsonl"
SCRIPT = Path(__file__).with_name("real_data_benchmark.py")


def dev_shaped(path: Path) -> Path:
    """The sample with the dev sets' extra fields: two sources, a language per row."""
    with path.open("w", encoding="utf-8") as out:
        for i, r in enumerate(load_catalog(SAMPLE)):
            out.write(json.dumps({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category,
                                  "lang": script_of(r.name), "source": "shop_a" if i % 2 else "shop_b"},
                                 ensure_ascii=False) + "\n")
    return path


def test_target_table_compares_in_the_right_direction():
    result = {"accuracy": {"brand_accuracy": 0.95, "ece": 0.05, "unseen_brand_accuracy": 0.5,
                           "by_script": {"th": {"rows": 3, "brand_accuracy": 1.0}, "mixed": {"rows": 1, "brand_accuracy": 0.0}},
                           "decided_before_llm": 0.9},
              "latency_ms": {"p95": 12.0}, "batch_throughput_names_per_s": 400.0}
    add_thai_and_mixed(result)
    assert result["accuracy"]["thai_and_mixed"] == {"rows": 4, "brand_accuracy": 0.75}
    rows = {r["measure"]: r for r in target_table(result, thai_off=False)}
    assert len(rows) == len(TARGETS)
    assert rows["brand accuracy, all rows"]["met"] is True
    assert rows["ECE of the final confidence"]["met"] is False          # lower is better
    assert rows["warm single-name latency p95 (ms)"]["met"] is True
    assert rows["batch throughput (names/s)"]["met"] is False
    assert rows["brand accuracy, tops_th_en"]["met"] is None            # no such source in this result
    thai_off = target_table(result, thai_off=True)
    assert thai_off[0]["measure"].startswith("brand accuracy (dev_thai_off") and thai_off[0]["met"] is True


@pytest.mark.slow
def test_benchmark_command_reports_groups_folds_and_targets(tmp_path):
    data = dev_shaped(tmp_path / "dev_like.jsonl")
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--folds", "2",
                           "--latency-samples", "5", "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    accuracy = result["accuracy"]
    assert set(accuracy["by_source"]) == {"shop_a", "shop_b"}
    assert set(accuracy["by_language"]) >= {"th", "en", "mixed"}
    assert len(accuracy["brand_accuracy_per_fold"]) == 2 and accuracy["brand_accuracy"] > 0.8
    assert 0.0 <= accuracy["decided_before_llm"] <= 1.0 and accuracy["ece"] is not None
    assert result["split"]["folds"] == 2 and len(result["targets"]) == len(TARGETS)
    assert "Targets on dev_like.jsonl" in done.stdout
