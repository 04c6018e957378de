"""The manual's continuous monitoring (inference/monitoring/accuracy_monitor.py) against a real moto_server.

The setup command runs as printed, as a script path, with the `ml-sandbox` profile pointed at the
local moto server; the alarms are then read back from CloudWatch. Published metrics come from real
evaluation reports of the held-out sample and are read back too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from inference.config.model_registry import ModelRegistry
from inference.monitoring.accuracy_monitor import app
from inference.monitoring.metric_names import NAMESPACE, SERVICE
from inference.records import load_catalog
from tests.manual.manual_blocks import MANUAL, ROOT, manual_command

SCRIPT = "inference/monitoring/accuracy_monitor.py"
SERVICE_ONLY = [{"Name": "service", "Value": SERVICE}]


def cloudwatch():
    from inference import aws

    return aws.client("cloudwatch", "ml-sandbox")


def alarms() -> dict[str, dict]:
    found = cloudwatch().describe_alarms(AlarmNamePrefix=f"{SERVICE}-")["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def statistics(metric: str, dimensions=SERVICE_ONLY) -> dict:
    """Average, SampleCount and Maximum of the last hour of one metric stream (exactly these dimensions,
    as CloudWatch matches them; get_metric_statistics in moto also matches streams with more dimensions)."""
    now = datetime.now(timezone.utc)
    queries = [{"Id": stat.lower(), "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions}, "Period": 3600, "Stat": stat}}
        for stat in ("Average", "SampleCount", "Maximum")]
    found = cloudwatch().get_metric_data(MetricDataQueries=queries, StartTime=now - timedelta(hours=1),
                                         EndTime=now + timedelta(minutes=5))["MetricDataResults"]
    values = {r["Id"]: r["Values"] for r in found}
    assert all(len(v) == 1 for v in values.values()), f"{metric} {dimensions}: {values}"
    return {"Average": values["average"][0], "SampleCount": values["samplecount"][0], "Maximum": values["maximum"][0]}


@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_setup_monitoring_as_printed(aws_env):
    argv = manual_command(SCRIPT, "--setup-monitoring")
    done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**aws_env, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-3000:]
    found = alarms()
    assert set(found) == {f"{SERVICE}-accuracy", f"{SERVICE}-latency", f"{SERVICE}-confidence"}
    accuracy, latency, confidence = (found[f"{SERVICE}-{m}"] for m in ("accuracy", "latency", "confidence"))
    assert (accuracy["MetricName"], accuracy["Threshold"], accuracy["ComparisonOperator"], accuracy["Statistic"]) == \
        ("Accuracy", 0.85, "LessThanThreshold", "Minimum")
    assert (latency["MetricName"], latency["Threshold"], latency["ComparisonOperator"], latency["ExtendedStatistic"]) == \
        ("PipelineLatency", 2000.0, "GreaterThanThreshold", "p95")
    assert (latency["Period"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (300, 3, 2)
    assert (confidence["MetricName"], confidence["Threshold"], confidence["ComparisonOperator"]) == \
        ("FinalConfidence", 0.6, "LessThanThreshold")
    for alarm in found.values():
        assert alarm["Namespace"] == "MultilingualInference" and alarm["Dimensions"] == SERVICE_ONLY
        assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"] == []
    assert "multilingual-product-inference-latency" in done.stdout and "notify nobody" in done.stdout


def test_alarms_notify_the_topic_and_are_updated_in_place(aws_env):
    from inference import aws

    topic = aws.client("sns", "ml-sandbox").create_topic(Name="inference-alerts")["TopicArn"]
    args = ["--setup-monitoring", "--metrics", "accuracy,latency", "--aws-profile", "ml-sandbox"]
    result = CliRunner().invoke(app, [*args, "--alert-thresholds", "accuracy:0.9", "--sns-topic-arn", topic])
    assert result.exit_code == 0, result.output
    found = alarms()
    assert set(found) == {f"{SERVICE}-accuracy", f"{SERVICE}-latency"}
    assert found[f"{SERVICE}-accuracy"]["Threshold"] == 0.9 and found[f"{SERVICE}-latency"]["Threshold"] == 2000.0
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in found.values())
    result = CliRunner().invoke(app, [*args, "--alert-thresholds", "accuracy:0.8,latency:1500", "--sns-topic-arn", topic])
    assert result.exit_code == 0, result.output
    found = alarms()
    assert len(found) == 2 and found[f"{SERVICE}-accuracy"]["Threshold"] == 0.8
    assert found[f"{SERVICE}-latency"]["Threshold"] == 1500.0
    missing = topic.replace("inference-alerts", "nobody")
    result = CliRunner().invoke(app, [*args, "--sns-topic-arn", missing])
    assert result.exit_code == 2 and f"--sns-topic-arn {missing}: no such SNS topic" in result.output


@pytest.fixture(scope="module")
def reports(heldout_home, tmp_path_factory):
    """A full evaluation (ner and hybrid) and a hybrid --agent-type report of 40 held-out queries."""
    from tests.accuracy.accuracy_validator import Options, evaluate, load_cases
    from tests.accuracy.full_evaluation import run_full_evaluation

    home, _, test = heldout_home
    folder = tmp_path_factory.mktemp("monitor")
    shutil.copytree(home, folder / "home", ignore=shutil.ignore_patterns("LOCK"))
    records = load_catalog(test)[:40]
    queries = folder / "test_queries.json"
    queries.write_text(json.dumps([{"id": r.id, "query": r.name, "brand": r.brand} for r in records], ensure_ascii=False),
                       encoding="utf-8")
    cases = load_cases(test_data=queries)
    registry = ModelRegistry(home=folder / "home")
    full = run_full_evaluation(cases, ["ner", "hybrid"], "accuracy,confidence_calibration", [1],
                               Options(registry=registry), latency_samples=20)
    single = evaluate("hybrid", cases, "accuracy", [1], Options(registry=registry))
    paths = {}
    for name, report in (("full", full), ("single", single)):
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    return paths, full, single


@pytest.mark.slow
def test_publish_a_full_evaluation_report(reports, aws_env):
    paths, full, _ = reports
    result = CliRunner().invoke(app, ["--publish", str(paths["full"]), "--aws-profile", "ml-sandbox"])
    assert result.exit_code == 0, result.output
    hybrid, ner = full["agents"]["hybrid"], full["agents"]["ner"]
    assert statistics("Accuracy")["Average"] == pytest.approx(hybrid["metrics"]["brand_accuracy"])
    assert statistics("Accuracy", SERVICE_ONLY + [{"Name": "agent", "Value": "ner"}])["Average"] == \
        pytest.approx(ner["metrics"]["brand_accuracy"])
    confidence = statistics("FinalConfidence")
    assert confidence["SampleCount"] == 40
    assert confidence["Average"] == pytest.approx(sum(r["confidence"] for r in hybrid["results"]) / 40, abs=1e-4)
    latency = statistics("PipelineLatency")
    assert latency["SampleCount"] == 20
    assert latency["Maximum"] == pytest.approx(max(hybrid["latency_values_ms"]["end_to_end"]), abs=1e-3)
    assert statistics("NerLatency")["SampleCount"] == 20
    assert "Published Accuracy [service=multilingual-product-inference]" in result.output


@pytest.mark.slow
def test_publish_an_agent_type_report_only_the_asked_metrics(reports, aws_env):
    paths, _, single = reports
    result = CliRunner().invoke(app, ["--publish", str(paths["single"]), "--metrics", "accuracy", "--aws-profile", "ml-sandbox"])
    assert result.exit_code == 0, result.output
    assert statistics("Accuracy")["Average"] == pytest.approx(single["metrics"]["brand_accuracy"])
    assert cloudwatch().list_metrics(Namespace=NAMESPACE, MetricName="FinalConfidence")["Metrics"] == []


@pytest.mark.parametrize("args, message", [
    ([], "nothing to do: give --setup-monitoring and/or --publish REPORT"),
    (["--setup-monitoring", "--metrics", "accuracy,errors"], "--metrics 'accuracy,errors': expected some of"),
    (["--setup-monitoring", "--alert-thresholds", "accuracy:1.5"], "accuracy threshold 1.5 is outside [0, 1]"),
    (["--setup-monitoring", "--alert-thresholds", "accuracy=0.8"], "is not METRIC:VALUE"),
    (["--setup-monitoring", "--metrics", "accuracy", "--alert-thresholds", "latency:100"], "which --metrics leaves out"),
    (["--setup-monitoring", "--aws-profile", "no-such-profile"], "AWS could not be reached or is not configured"),
])
def test_option_errors_exit_2(aws_env, args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert alarms() == {}


def test_publish_rejects_a_file_that_is_no_report(aws_env, tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"rows": 3}', encoding="utf-8")
    result = CliRunner().invoke(app, ["--publish", str(path)])
    assert result.exit_code == 2 and f"{path}: the report is none of" in result.output
