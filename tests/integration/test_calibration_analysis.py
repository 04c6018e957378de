"""Confidence calibration on a held-out split of the sample catalogue (real CRF, real Milvus Lite).

The catalogue is split by id (the benchmark's split): 60% trains a home, 20% fits the calibrators,
20% is held out to score them. The manual's snippet runs as printed; the calibration analysis runs
in-process and as the manual's command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inference.agents.hybrid_agent import HybridAgent
from inference.config.model_registry import ModelRegistry
from inference.config.settings import Settings
from inference.metrics import evaluation_report
from inference.records import Record, load_catalog, write_jsonl
from tests.accuracy.calibration_analysis import CalibrationAnalysisError, run_calibration_analysis
from tests.manual.manual_blocks import MANUAL, read_blocks
from tests.performance.benchmark_local_pipeline import split_by_id
from training.pipelines.confidence_calibration import PlattScaling, predict_for_calibration
from training.pipelines.local_bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
VALIDATOR = ROOT / "tests" / "accuracy" / "accuracy_validator.py"
STAGES = ("ner", "rag", "llm", "hybrid")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """(trained home, calibration records, held-out records)."""
    records = load_catalog(SAMPLE / "catalog.jsonl")
    train, held = split_by_id(records, 0.4, seed=13)
    calibration, test = split_by_id(held, 0.5, seed=14)
    work = tmp_path_factory.mktemp("calibration-split")
    write_jsonl(({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category} for r in train), work / "train.jsonl")
    shutil.copy(SAMPLE / "aliases.json", work / "aliases.json")
    # folds=0: no learned fusion and no NER calibrator, so the manual's calibration has work to do
    bootstrap(work / "train.jsonl", home=work / "home", log=lambda _: None, folds=0)
    return work / "home", calibration, test


@pytest.fixture
def home(split, tmp_path) -> Path:
    """A private copy of the split's home, for tests that store calibrators."""
    target = tmp_path / "home"
    shutil.copytree(split[0], target, ignore=shutil.ignore_patterns("LOCK"))
    return target


def _queries(tmp_path: Path, records) -> tuple[Path, Path]:
    queries, truth = tmp_path / "test_queries.json", tmp_path / "ground_truth.json"
    queries.write_text(json.dumps([{"id": r.id, "query": r.name} for r in records], ensure_ascii=False), encoding="utf-8")
    truth.write_text(json.dumps({r.id: {"brand": r.brand, "category": r.category} for r in records}, ensure_ascii=False),
                     encoding="utf-8")
    return queries, truth


def _held_out_report(home: Path, records) -> dict:
    agent = HybridAgent(ModelRegistry(home=home), settings=Settings())
    try:
        rows = agent.predict_batch([Record(name=r.name, id=r.id) for r in records])
    finally:
        agent.close()
    return evaluation_report(rows, records)


def _manual_block() -> str:
    (block,) = [b for b in read_blocks() if b.section == "Confidence Score Calibration" and b.language == "python"]
    return block.code


@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_the_manuals_platt_scaling_lowers_ece_on_the_held_out_split(split, home, monkeypatch):
    _, calibration, test = split
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(home))
    before = _held_out_report(home, test)
    validation_predictions = predict_for_calibration([Record(name=r.name, id=r.id) for r in calibration],
                                                     ModelRegistry(home=home))
    assert all(set(row["stages"]) == {"ner", "rag"} for row in validation_predictions)  # every stage answered
    scope = {"validation_predictions": validation_predictions, "validation_ground_truth": calibration}
    exec(_manual_block(), scope)  # the manual's snippet, as printed: fit, then update_calibration per stage
    stored = {s: ModelRegistry(home=home).get_calibration(s) for s in STAGES}
    assert stored["ner"]["method"] == stored["rag"]["method"] == "platt"
    assert stored["llm"]["method"] == "identity" and "llm" in stored["llm"]["reason"]  # the LLM never answered
    stage_only = _held_out_report(home, test)

    scope["calibrator"].save(ModelRegistry(home=home))  # and the hybrid calibrator on the fused confidence
    after = _held_out_report(home, test)
    assert after["ece"] < before["ece"] and stage_only["ece"] < before["ece"], (before, stage_only, after)
    assert after["brier"] < before["brier"]
    assert after["labelled"] == before["labelled"] == len(test)


def test_analysis_with_registry_calibrators_scores_the_held_out_split(split, home, tmp_path):
    _, calibration, test = split
    registry = ModelRegistry(home=home)
    PlattScaling(registry=registry).fit(
        predict_for_calibration([Record(name=r.name, id=r.id) for r in calibration], registry), calibration).save()
    queries, truth = _queries(tmp_path, test)
    report = run_calibration_analysis(queries, truth, tmp_path / "calibration_analysis.json", home=home)
    assert report["after_calibration"]["source"] == "registry"
    assert set(report["series"]) == {"final", "ner", "rag"}
    final = report["series"]["final"]
    assert final["after"]["ece"] < final["before"]["ece"] and final["before"]["n"] == len(test)
    assert report["series"]["rag"]["after"]["ece"] < report["series"]["rag"]["before"]["ece"]
    written = json.loads((tmp_path / "calibration_analysis.json").read_text(encoding="utf-8"))
    assert written["series"]["final"]["after"]["ece"] == final["after"]["ece"]
    assert sum(final["before"]["reliability"]["bin_counts"]) == len(test)
    assert (tmp_path / "calibration_analysis.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = Path(report["run_record"])
    assert json.loads((run / "run.json").read_text())["command"] == "calibration-analysis"
    assert json.loads((run / "metrics.json").read_text())["final"]["after"]["ece"] == final["after"]["ece"]


def test_analysis_cross_fits_calibrators_when_the_registry_has_none(split, tmp_path):
    home, calibration, test = split
    records = calibration + test
    queries, truth = _queries(tmp_path, records)
    report = run_calibration_analysis(queries, truth, tmp_path / "out.json", home=home, folds=4)
    source = report["after_calibration"]
    assert source["source"] == "cross-validation" and source["folds"] == 4 and "not saved" in source["note"]
    final = report["series"]["final"]
    assert final["after"]["ece"] < final["before"]["ece"]
    assert all(ModelRegistry(home=home).get_calibration(s) is None for s in STAGES)  # nothing was stored


def test_analysis_errors_name_the_file(split, tmp_path):
    home, _, test = split
    queries, truth = _queries(tmp_path, test[:5])
    partial = tmp_path / "partial_truth.json"
    partial.write_text(json.dumps({test[0].id: {"brand": "Colgate"}}), encoding="utf-8")
    with pytest.raises(CalibrationAnalysisError, match=r"test_queries.json entry 2 .*no ground truth"):
        run_calibration_analysis(queries, partial, tmp_path / "out.json", home=home)
    with pytest.raises(CalibrationAnalysisError, match="no such folder"):
        run_calibration_analysis(queries, truth, tmp_path / "out.json", home=tmp_path / "nowhere")
    with pytest.raises(CalibrationAnalysisError, match="folder .* does not exist"):
        run_calibration_analysis(queries, truth, tmp_path / "missing" / "out.json", home=home)


def test_the_manuals_calibration_analysis_command(split, tmp_path):
    home, calibration, test = split
    _queries(tmp_path, calibration + test)
    env = {**os.environ, "PRODUCT_INFERENCE_HOME": str(home), "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, str(VALIDATOR), "--calibration-analysis", "--test-data", "test_queries.json",
                             "--ground-truth", "ground_truth.json", "--output", "calibration_analysis.json"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "calibration_analysis.json").read_text(encoding="utf-8"))
    assert report["series"]["final"]["after"]["ece"] < report["series"]["final"]["before"]["ece"]
    assert (tmp_path / "calibration_analysis.png").is_file() and "ECE" in result.stdout
    assert list((tmp_path / "runs").glob("*-calibration-analysis/run.json"))
