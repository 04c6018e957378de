"""The manual's continuous monitoring: CloudWatch alarms on accuracy, latency and confidence, and the
metrics of evaluation runs published where those alarms look.

    python inference/monitoring/accuracy_monitor.py --setup-monitoring \\
        --cloudwatch-namespace MultilingualInference --metrics accuracy,latency,confidence \\
        --alert-thresholds accuracy:0.85,latency:2000 --aws-profile ml-sandbox --region us-east-1
    python inference/monitoring/accuracy_monitor.py --publish full_evaluation_report.json

One alarm per metric, named `<prefix>-<metric>` (prefix default: the service name), on the metric
names and the `service` dimension of inference/monitoring/metric_names.py, which the Lambdas publish
and the CDK monitoring stack watches too:

| --metrics  | CloudWatch metric | statistic, period            | alarm when        | default threshold |
| accuracy   | Accuracy          | minimum, 1 hour              | below threshold   | 0.85              |
| latency    | PipelineLatency   | p95, 5 minutes, 2 of 3       | above threshold   | 2000 ms           |
| confidence | FinalConfidence   | average, 1 hour              | below threshold   | 0.6 (the hybrid's confidence_threshold default) |

The statistics and periods are those of the CDK monitoring stack's alarms (stacks/monitoring_stack.py),
so both tell on call the same thing. Missing data does not breach: accuracy arrives only when an
evaluation runs. With `--sns-topic-arn`
the alarms notify that topic (on ALARM and on OK). Re-running updates the alarms in place.

`--publish REPORT` sends an evaluation report's figures: a full evaluation
(tests/accuracy/accuracy_validator.py --full-evaluation), one agent type's report (--agent-type), or
`product-infer evaluate`'s. The pipeline's figures (the hybrid's; `product-infer evaluate` is the
hybrid) go out with the `service` dimension alone, which the alarms watch: Accuracy, FinalConfidence
(each query's confidence), PipelineLatency and the stage latencies (each timed call). Every agent's
accuracy also goes out with an added `agent` dimension, for dashboards.

Every AWS call goes through the session factory inference.aws (profile, region, AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):  # run as a script path: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402
from rich.table import Table  # noqa: E402

from inference.monitoring import metric_names as names  # noqa: E402


@dataclass(frozen=True)
class AlarmSpec:
    metric: str
    statistic: str  # "Average", or a percentile such as "p95" (an extended statistic)
    comparison: str
    period: int  # seconds
    evaluation_periods: int
    datapoints_to_alarm: int
    default_threshold: float
    unit: str | None  # of the threshold, for people; the alarm sets none, so it matches whatever unit publishers use
    bounds: tuple[float, float | None]  # valid thresholds
    what: str


ALARMS: dict[str, AlarmSpec] = {
    "accuracy": AlarmSpec(names.ACCURACY, "Minimum", "LessThanThreshold", 3600, 1, 1, 0.85, None, (0.0, 1.0),
                          "an evaluation run measured brand accuracy"),
    "latency": AlarmSpec(names.PIPELINE_LATENCY, "p95", "GreaterThanThreshold", 300, 3, 2, 2000.0, "Milliseconds",
                         (0.0, None), "p95 pipeline latency in 2 of 3 five-minute periods"),
    "confidence": AlarmSpec(names.FINAL_CONFIDENCE, "Average", "LessThanThreshold", 3600, 1, 1, 0.6, None, (0.0, 1.0),
                            "mean final confidence over an hour"),
}
MAX_VALUES_PER_DATUM = 150  # CloudWatch's limit for Values/Counts arrays
MAX_DATA_PER_CALL = 20


class MonitorError(Exception):
    """A problem with the options, the report or the AWS account; the message says which."""


# -- options ------------------------------------------------------------------------------------------------
def parse_metrics(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in ALARMS]
    if unknown or not chosen:
        raise MonitorError(f"--metrics {text!r}: expected some of {', '.join(ALARMS)}")
    return list(dict.fromkeys(chosen))


def parse_thresholds(text: str | None, metrics: Sequence[str]) -> dict[str, float]:
    """`accuracy:0.85,latency:2000` -> thresholds for every metric (defaults for the ones not given)."""
    given: dict[str, float] = {}
    for part in [p.strip() for p in (text or "").split(",") if p.strip()]:
        metric, sep, value = part.partition(":")
        metric = metric.strip()
        if not sep or metric not in ALARMS:
            raise MonitorError(f"--alert-thresholds: {part!r} is not METRIC:VALUE with METRIC one of {', '.join(ALARMS)}")
        if metric not in metrics:
            raise MonitorError(f"--alert-thresholds names {metric}, which --metrics leaves out")
        try:
            number = float(value)
        except ValueError:
            raise MonitorError(f"--alert-thresholds: {part!r}: {value!r} is not a number") from None
        low, high = ALARMS[metric].bounds
        if number < low or (high is not None and number > high):
            raise MonitorError(f"--alert-thresholds: {metric} threshold {number:g} is outside "
                               f"[{low:g}, {'∞' if high is None else f'{high:g}'}]")
        given[metric] = number
    return {m: given.get(m, ALARMS[m].default_threshold) for m in metrics}


def _cloudwatch(profile: str | None, region: str | None):
    from inference.aws import client

    return client("cloudwatch", profile, region)


def _dimensions(**extra: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in {**names.SERVICE_DIMENSION, **extra}.items()]


# -- alarms -------------------------------------------------------------------------------------------------
def alarm_name(prefix: str, metric: str) -> str:
    return f"{prefix}-{metric}"


def setup_monitoring(namespace: str, thresholds: dict[str, float], prefix: str = names.SERVICE,
                     sns_topic_arn: str | None = None, profile: str | None = None,
                     region: str | None = None) -> list[dict[str, Any]]:
    """Create (or update) one alarm per metric; returns what was created."""
    from inference.aws import client

    if sns_topic_arn:
        sns = client("sns", profile, region)
        try:
            sns.get_topic_attributes(TopicArn=sns_topic_arn)
        except sns.exceptions.NotFoundException:
            raise MonitorError(f"--sns-topic-arn {sns_topic_arn}: no such SNS topic") from None
    cloudwatch = _cloudwatch(profile, region)
    created = []
    for metric, threshold in thresholds.items():
        spec = ALARMS[metric]
        statistic = ({"ExtendedStatistic": spec.statistic} if spec.statistic.startswith("p")
                     else {"Statistic": spec.statistic})
        request = dict(
            AlarmName=alarm_name(prefix, metric),
            AlarmDescription=f"{spec.what} {'below' if spec.comparison.startswith('Less') else 'above'} {threshold:g}"
                             f"{' ms' if spec.unit == 'Milliseconds' else ''} (accuracy_monitor.py --setup-monitoring)",
            Namespace=namespace, MetricName=spec.metric, Dimensions=_dimensions(), **statistic,
            Period=spec.period, EvaluationPeriods=spec.evaluation_periods, DatapointsToAlarm=spec.datapoints_to_alarm,
            Threshold=threshold,
            ComparisonOperator=spec.comparison, TreatMissingData="notBreaching", ActionsEnabled=True,
            AlarmActions=[sns_topic_arn] if sns_topic_arn else [], OKActions=[sns_topic_arn] if sns_topic_arn else [])
        cloudwatch.put_metric_alarm(**request)
        created.append({"alarm": request["AlarmName"], "metric": spec.metric, "statistic": spec.statistic,
                        "comparison": spec.comparison, "threshold": threshold, "period_s": spec.period,
                        "evaluation_periods": spec.evaluation_periods, "datapoints_to_alarm": spec.datapoints_to_alarm,
                        "actions": request["AlarmActions"]})
    return created


# -- publishing an evaluation report ------------------------------------------------------------------------
@dataclass
class Datum:
    metric: str
    values: list[float]
    unit: str = "None"
    agent: str | None = None


def report_data(report: dict[str, Any], metrics: Sequence[str]) -> list[Datum]:
    """The figures of an evaluation report, as data points (see the module docstring)."""
    if report.get("evaluation") == "full":
        agents = {name: part for name, part in report.get("agents", {}).items() if part.get("status") == "evaluated"}
    elif "agent_type" in report and "metrics" in report:
        agents = {report["agent_type"]: report}
    elif "brand_accuracy" in report and "rows" in report:  # product-infer evaluate: the hybrid pipeline
        agents = {"hybrid": {"metrics": {"brand_accuracy": report["brand_accuracy"]}}}
    else:
        raise MonitorError("the report is none of: a full evaluation, an --agent-type report, a product-infer evaluate "
                           "report")
    if not agents:
        raise MonitorError("the report holds no evaluated agent (all were skipped)")
    data: list[Datum] = []
    pipeline = agents.get("hybrid")
    if "accuracy" in metrics:
        for name, part in agents.items():
            accuracy = part["metrics"].get("brand_accuracy")
            if accuracy is not None:
                data.append(Datum(names.ACCURACY, [float(accuracy)], agent=name))
                if name == "hybrid":
                    data.append(Datum(names.ACCURACY, [float(accuracy)]))
    if pipeline and "confidence" in metrics and pipeline.get("results"):
        data.append(Datum(names.FINAL_CONFIDENCE, [float(r["confidence"]) for r in pipeline["results"]]))
    if pipeline and "latency" in metrics:
        for stage, values in pipeline.get("latency_values_ms", {}).items():
            metric = names.PIPELINE_LATENCY if stage == "end_to_end" else names.stage_latency(stage)
            data.append(Datum(metric, [float(v) for v in values], unit="Milliseconds"))
    if not data:
        raise MonitorError(f"the report holds none of the figures of --metrics {','.join(metrics)}")
    return data


def publish(data: Sequence[Datum], namespace: str, profile: str | None = None, region: str | None = None,
            timestamp: datetime | None = None) -> list[dict[str, Any]]:
    """put_metric_data for every datum (values in chunks of CloudWatch's limit); returns a summary per datum."""
    stamp = timestamp or datetime.now(timezone.utc)
    entries, summary = [], []
    for datum in data:
        counts: dict[float, int] = {}
        for value in datum.values:
            counts[round(value, 6)] = counts.get(round(value, 6), 0) + 1
        pairs = list(counts.items())
        dims = _dimensions(**({"agent": datum.agent} if datum.agent else {}))
        for start in range(0, len(pairs), MAX_VALUES_PER_DATUM):
            chunk = pairs[start:start + MAX_VALUES_PER_DATUM]
            entries.append({"MetricName": datum.metric, "Dimensions": dims, "Timestamp": stamp, "Unit": datum.unit,
                            "Values": [v for v, _ in chunk], "Counts": [float(c) for _, c in chunk]})
        summary.append({"metric": datum.metric, "dimensions": {d["Name"]: d["Value"] for d in dims},
                        "values": len(datum.values), "mean": round(sum(datum.values) / len(datum.values), 4)})
    cloudwatch = _cloudwatch(profile, region)
    for start in range(0, len(entries), MAX_DATA_PER_CALL):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=entries[start:start + MAX_DATA_PER_CALL])
    return summary


def publish_report(path: Path, namespace: str, metrics: Sequence[str], profile: str | None = None,
                   region: str | None = None) -> list[dict[str, Any]]:
    from inference.records import read_json

    try:
        report = read_json(path)
    except FileNotFoundError:
        raise MonitorError(f"--publish {path}: no such file") from None
    except ValueError as exc:
        raise MonitorError(str(exc)) from None
    if not isinstance(report, dict):
        raise MonitorError(f"{path}: expected a JSON object (an evaluation report)")
    try:
        return publish(report_data(report, metrics), namespace, profile, region)
    except MonitorError as exc:
        raise MonitorError(f"{path}: {exc}") from None


# -- the command --------------------------------------------------------------------------------------------
app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


@app.command()
def main(
    setup: bool = typer.Option(False, "--setup-monitoring", help="Create or update one CloudWatch alarm per metric."),
    namespace: str = typer.Option(names.NAMESPACE, "--cloudwatch-namespace", help="CloudWatch namespace of the metrics."),
    metrics: str = typer.Option(",".join(ALARMS), "--metrics", help="Some of accuracy, latency, confidence."),
    thresholds: Optional[str] = typer.Option(None, "--alert-thresholds", help=(
        "METRIC:VALUE pairs, e.g. accuracy:0.85,latency:2000 (ms); defaults: accuracy 0.85, latency 2000, confidence 0.6.")),
    publish_path: Optional[Path] = typer.Option(None, "--publish", help="Publish the figures of this evaluation report."),
    sns_topic_arn: Optional[str] = typer.Option(None, "--sns-topic-arn", help="SNS topic the alarms notify."),
    prefix: str = typer.Option(names.SERVICE, "--alarm-prefix", help="Alarm names are PREFIX-METRIC."),
    aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile for the session factory."),
    region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
):
    """Create the alarms and/or publish an evaluation report's metrics."""
    from botocore.exceptions import BotoCoreError, ClientError

    err, out = Console(stderr=True, soft_wrap=True), Console(soft_wrap=True)
    try:
        if not setup and publish_path is None:
            raise MonitorError("nothing to do: give --setup-monitoring and/or --publish REPORT")
        chosen = parse_metrics(metrics)
        limits = parse_thresholds(thresholds, chosen)
        if not namespace.strip():
            raise MonitorError("--cloudwatch-namespace must not be empty")
        try:
            if setup:
                created = setup_monitoring(namespace, limits, prefix, sns_topic_arn, aws_profile, region)
                table = Table(title=f"CloudWatch alarms in {namespace}")
                for column in ("alarm", "metric", "statistic", "when", "threshold", "period"):
                    table.add_column(column)
                for a in created:
                    table.add_row(a["alarm"], a["metric"], a["statistic"],
                                  "below" if a["comparison"].startswith("Less") else "above", f"{a['threshold']:g}",
                                  f"{a['period_s']} s, {a['datapoints_to_alarm']} of {a['evaluation_periods']}")
                out.print(table)
                out.print(f"Alarms notify {sns_topic_arn}" if sns_topic_arn else "No --sns-topic-arn: the alarms notify nobody")
            if publish_path is not None:
                sent = publish_report(publish_path, namespace, chosen, aws_profile, region)
                for item in sent:
                    dims = ", ".join(f"{k}={v}" for k, v in item["dimensions"].items())
                    out.print(f"Published {item['metric']} [{dims}]: {item['values']} value(s), mean {item['mean']}",
                              markup=False, highlight=False)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise MonitorError(f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise MonitorError(f"AWS could not be reached or is not configured ({type(exc).__name__}): {exc}") from None
    except MonitorError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2)


if __name__ == "__main__":
    app()
