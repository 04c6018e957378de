"""The manual's drift detection (inference/monitoring/drift_detection.py) on real pipeline predictions.

The pipeline of a home bootstrapped from the sample catalogue predicts the whole catalogue; the
baseline is one half (split by a hash of the ids), the unshifted window the other half. Shifted
windows: the other half restricted to the baseline's eight most common categories (a promotion
week), and the other half with each name's first word cut off (a feed that truncates names).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from inference.agents.hybrid_agent import HybridAgent
from inference.config.settings import Settings
from inference.monitoring.drift_detection import DriftConfigError, ModelDriftDetector, psi_check
from inference.records import Record, load_catalog
from tests.manual.manual_blocks import MANUAL, manual_python_block
from tests.performance.benchmark_local_pipeline import split_by_id
from training.pipelines.local_bootstrap import SAMPLE_CATALOG

SETTINGS = {"baseline_data": "baseline_predictions.json", "drift_threshold": 0.05, "monitoring_window": "7d",
            "alert_on_drift": True}


@pytest.fixture(scope="module")
def predictions(registry):
    """(baseline rows, unshifted rows, category-mix rows, truncated-name rows)."""
    records = load_catalog(SAMPLE_CATALOG)
    first, second = split_by_id(records, 0.5, seed=7)
    agent = HybridAgent(registry, settings=Settings())
    try:
        baseline = agent.predict_batch([Record(name=r.name, id=r.id) for r in first])
        current = agent.predict_batch([Record(name=r.name, id=r.id) for r in second])
        truncated = agent.predict_batch([Record(name=" ".join(r.name.split()[1:]) or r.name, id=r.id) for r in second])
    finally:
        agent.close()
    common = {c for c, _ in Counter(r.category for r in first).most_common(8)}
    mix = [row for row, record in zip(current, second) if record.category in common]
    return baseline, current, mix, truncated


@pytest.fixture
def workdir(predictions, tmp_path, monkeypatch):
    (tmp_path / "baseline_predictions.json").write_text(json.dumps(predictions[0], ensure_ascii=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_workdir(tmp_path, monkeypatch):
    """A baseline of three rows, for the checks of settings and rows."""
    rows = [{"brand": b, "category": "Snack", "confidence": c, "needs_review": c < 0.6}
            for b, c in (("A", 0.9), ("B", 0.5), (None, 0.0))]
    (tmp_path / "baseline_predictions.json").write_text(json.dumps(rows), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def drift_metric(name: str) -> float | None:
    from inference import aws

    now = datetime.now(timezone.utc)
    points = aws.client("cloudwatch").get_metric_statistics(
        Namespace="MultilingualInference", MetricName=name, Dimensions=[{"Name": "service", "Value": "multilingual-product-inference"}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=5), Period=3600, Statistics=["Maximum"])["Datapoints"]
    return points[0]["Maximum"] if points else None


def run_manual_block(current_predictions, capsys) -> tuple[dict, str]:
    namespace = {"current_predictions": current_predictions}
    exec(compile(manual_python_block("4. Model Drift Detection"), "manual", "exec"), namespace)
    return namespace["drift_report"], capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_manual_block_unshifted_window_is_not_flagged(predictions, workdir, aws_env, capsys):
    report, printed = run_manual_block(predictions[1], capsys)
    assert report["drift_detected"] is False and report["drifted_checks"] == [] and printed == ""
    assert report["baseline"]["rows"] == len(predictions[0]) and report["current"]["rows"] == len(predictions[1])
    for check in report["checks"].values():
        assert check["significance_level"] == 0.05 and (check["p_value"] >= 0.05 or abs(check["value"]) < check["threshold"])
    assert report["alert"]["published"] is True
    assert drift_metric("DriftDetected") == 0.0
    assert drift_metric("DriftScore") == pytest.approx(report["drift_score"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_manual_block_category_mix_is_flagged(predictions, workdir, aws_env, capsys):
    report, printed = run_manual_block(predictions[2], capsys)
    assert report["drift_detected"] is True and printed == "Model drift detected! Consider retraining.\n"
    category = report["checks"]["category_distribution"]
    assert category["drifted"] and category["value"] >= 0.2 and category["p_value"] < 0.05
    assert report["drift_score"] == max(category["value"], report["checks"]["brand_distribution"]["value"])
    other = next(b for b in category["bins"] if b["label"] == "(other)")
    assert other["current_share"] < other["baseline_share"]  # the window holds the common categories only
    assert report["alert"]["published"] is True and drift_metric("DriftDetected") == 1.0


@pytest.mark.slow
def test_truncated_names_shift_confidence_and_review_share(predictions, workdir):
    detector = ModelDriftDetector()
    detector.configure({**SETTINGS, "alert_on_drift": False})
    report = detector.check_drift(predictions[3])
    assert report["drift_detected"] and {"confidence", "needs_review_share"} <= set(report["drifted_checks"])
    confidence = report["checks"]["confidence"]
    assert confidence["current_mean"] < confidence["baseline_mean"] and confidence["p_value"] < 0.05
    review = report["checks"]["needs_review_share"]
    assert review["current_share"] == round(sum(r["needs_review"] for r in predictions[3]) / len(predictions[3]), 4)
    assert review["value"] >= 0.05 and report["alert"] == {"enabled": False}


@pytest.mark.slow
def test_without_aws_the_report_says_the_alert_was_not_published(predictions, workdir, tmp_path, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from inference import aws

    aws.get_session.cache_clear()
    detector = ModelDriftDetector()
    detector.configure(SETTINGS)
    report = detector.check_drift(predictions[2])
    aws.get_session.cache_clear()
    assert report["drift_detected"] is True
    assert report["alert"]["published"] is False and "no AWS credentials are configured" in report["alert"]["reason"]
    assert report["alert"]["metrics"] == {"DriftScore": report["drift_score"], "DriftDetected": 1}


@pytest.mark.slow
def test_predictions_file_and_window(predictions, workdir):
    now = datetime(2025, 6, 30, tzinfo=timezone.utc)
    rows = [{**row, "timestamp": (now - timedelta(days=10 if i % 4 == 0 else 1)).isoformat()}
            for i, row in enumerate(predictions[1])]
    rows.append({"id": "bad", "name": "", "error": "line 9: name is empty or blank"})
    path = workdir / "current.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    detector = ModelDriftDetector(now=lambda: now)
    detector.configure({**SETTINGS, "alert_on_drift": False})
    report = detector.check_drift(str(path))
    old = sum(1 for i in range(len(predictions[1])) if i % 4 == 0)
    assert report["current"] == {"source": str(path), "rows": len(predictions[1]) - old, "error_rows": 1,
                                 "outside_window": old}
    assert report["window"]["start"] == "2025-06-23T00:00:00+00:00"


@pytest.mark.parametrize("rows, message", [
    ([{"brand": "A", "needs_review": False}], "current_predictions row 1: 'confidence' must be a number in [0, 1]"),
    ([{"brand": "A", "confidence": 0.4}], "current_predictions row 1: 'needs_review' must be true or false"),
    ([{"brand": 7, "confidence": 0.4, "needs_review": False}], "'brand' must be a string or null"),
    ([{"error": "line 1: name is empty"}], "no prediction rows without error in the window"),
    ([], "holds no predictions"),
])
def test_bad_current_rows_are_named(tiny_workdir, rows, message):
    detector = ModelDriftDetector()
    detector.configure({**SETTINGS, "alert_on_drift": False})
    with pytest.raises(DriftConfigError) as caught:
        detector.check_drift(rows)
    assert message in str(caught.value)


@pytest.mark.parametrize("change, message", [
    ({"baseline_data": [{"brand": "A", "confidence": 0.9}]}, "baseline_data row 1: 'needs_review' must be true or false"),
    ({"baseline_data": "missing.json"}, "baseline_data missing.json: no such file"),
    ({"monitoring_window": "a week"}, "monitoring_window 'a week'"),
    ({"drift_threshold": 5}, "drift_threshold must be a number between 0 and 1"),
    ({"threshold": 0.1}, "unknown drift setting(s) ['threshold']"),
])
def test_configuration_errors(tiny_workdir, change, message):
    with pytest.raises(DriftConfigError) as caught:
        ModelDriftDetector().configure({**SETTINGS, **change})
    assert message in str(caught.value)


def test_psi_by_hand():
    baseline = ["A"] * 50 + ["B"] * 30 + ["C"] * 20
    current = ["A"] * 20 + ["B"] * 30 + ["D"] * 50  # D was never answered in the baseline: "(other)"
    check = psi_check(baseline, current, top=2, psi_threshold=0.2, alpha=0.05)
    # bins A, B, (other), (none); counts + 0.5 each, shares over 102
    b = [50.5 / 102, 30.5 / 102, 20.5 / 102, 0.5 / 102]
    c = [20.5 / 102, 30.5 / 102, 50.5 / 102, 0.5 / 102]
    assert check["value"] == round(sum((y - x) * math.log(y / x) for x, y in zip(b, c)), 4)
    assert [bin_["label"] for bin_ in check["bins"]] == ["A", "B", "(other)", "(none)"]
    assert check["drifted"] and check["p_value"] < 0.001
    same = psi_check(baseline, list(baseline), top=2, psi_threshold=0.2, alpha=0.05)
    assert same["value"] == 0.0 and not same["drifted"] and same["p_value"] == 1.0
