"""Monitoring stack: alarms on the metric names and dimension the code publishes, thresholds from
the context, all notifying one KMS-encrypted SNS topic; the dashboard."""

from __future__ import annotations

import json

from inference.monitoring import metric_names as names
from tests.integration.infrastructure.cdk_helpers import resolve, resources

SERVICE = [{"Name": "service", "Value": names.SERVICE}]


def alarms(synth) -> list[dict]:
    """Every alarm, its metric flattened into MetricName/Namespace/Dimensions/Stat whichever form CDK used."""
    found = []
    for _, props in resources(synth.template_json("Monitoring"), "AWS::CloudWatch::Alarm"):
        if "Metrics" in props:  # a labelled metric renders as a one-query "Metrics" list
            [query] = props["Metrics"]
            stat = query["MetricStat"]
            props = {**props, **stat["Metric"], "Stat": stat["Stat"], "Period": stat["Period"]}
        else:
            props = {**props, "Stat": props.get("ExtendedStatistic") or props.get("Statistic")}
        found.append(props)
    return found


def app_alarm(synth, metric: str) -> dict:
    found = [a for a in alarms(synth) if a.get("MetricName") == metric and a.get("Namespace") == names.NAMESPACE]
    assert len(found) == 1, metric
    assert found[0]["Dimensions"] == SERVICE
    return found[0]


def test_accuracy_alarm_below_the_context_threshold(synth, variant):
    alarm = app_alarm(synth, names.ACCURACY)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0.85, "LessThanThreshold")
    assert alarm["TreatMissingData"] == "ignore"  # published by evaluation runs, not continuously
    assert app_alarm(variant, names.ACCURACY)["Threshold"] == 0.9


def test_p95_latency_alarm_above_the_context_threshold(synth, variant):
    alarm = app_alarm(synth, names.PIPELINE_LATENCY)
    assert (alarm["Stat"], alarm["Threshold"], alarm["ComparisonOperator"]) == \
        ("p95", 2000, "GreaterThanThreshold")
    assert app_alarm(variant, names.PIPELINE_LATENCY)["Threshold"] == 1500


def test_drift_alarm(synth):
    alarm = app_alarm(synth, names.DRIFT_DETECTED)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_failed_executions_of_every_state_machine(synth):
    failed = [a for a in alarms(synth) if a.get("MetricName") == "ExecutionsFailed"]
    watched = {a["Dimensions"][0]["Value"]["Fn::GetStackOutput"]["OutputName"] if "Fn::GetStackOutput" in
               a["Dimensions"][0]["Value"] else a["Dimensions"][0]["Value"] for a in failed}
    assert len(failed) == 4 and len(watched) == 4
    assert all(a["Namespace"] == "AWS/States" and a["Threshold"] == 1 for a in failed)


def test_errors_and_throttles_of_every_function(synth):
    for metric in ("Errors", "Throttles"):
        found = [a for a in alarms(synth) if a.get("MetricName") == metric and a.get("Namespace") == "AWS/Lambda"]
        assert len(found) == 8, metric  # seven pipeline functions (check_catalogue among them) and register_model
        assert any("check_catalogue" in a["AlarmDescription"] for a in found), metric


def test_endpoint_alarms_only_with_endpoints(synth, variant):
    assert not [a for a in alarms(synth) if a.get("Namespace") == "AWS/SageMaker"]
    found = [a for a in alarms(variant) if a.get("Namespace") == "AWS/SageMaker"]
    assert sorted(a["MetricName"] for a in found) == ["Invocation5XXErrors", "Invocation5XXErrors",
                                                       "ModelLatency", "ModelLatency"]
    latency = next(a for a in found if a["MetricName"] == "ModelLatency")
    assert latency["Threshold"] == variant.context["endpoint_latency_threshold_ms"] * 1000  # microseconds
    endpoints = {d["Value"] for a in found for d in a["Dimensions"] if d["Name"] == "EndpointName"}
    assert endpoints == {variant.context["ner_endpoint_name"], variant.context["embedding_endpoint_name"]}


def test_every_alarm_notifies_the_encrypted_topic(synth):
    template = synth.template_json("Monitoring")
    topic_id, topic = next(iter(resources(template, "AWS::SNS::Topic")))
    assert "KmsMasterKeyId" in topic
    for alarm in alarms(synth):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    policies = [p for _, p in resources(template, "AWS::SNS::TopicPolicy")]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for p in policies for s in p["PolicyDocument"]["Statement"])


def test_email_subscription_only_when_given(synth, variant):
    assert not list(resources(synth.template_json("Monitoring"), "AWS::SNS::Subscription"))
    variant.template("Monitoring").has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": variant.context["alert_email"]})


def dashboard_metrics(synth) -> set[tuple]:
    template = synth.template_json("Monitoring")
    _, props = next(iter(resources(template, "AWS::CloudWatch::Dashboard")))
    body = json.loads(resolve(props["DashboardBody"], template))
    found = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            found.add(tuple(m for m in metric if not isinstance(m, dict)))
    return found


def test_dashboard_shows_stages_decisions_quality_and_aws_metrics(synth, variant):
    metrics = dashboard_metrics(synth)
    namespaces_names = {(m[0], m[1]) for m in metrics}
    for stage in names.STAGES:
        assert (names.NAMESPACE, names.stage_latency(stage)) in namespaces_names
        assert (names.NAMESPACE, names.stage_confidence(stage)) in namespaces_names
    for name in (names.PIPELINE_LATENCY, names.EARLY_STOP, names.LLM_ESCALATION, names.ACCURACY, names.DRIFT_SCORE):
        assert (names.NAMESPACE, name) in namespaces_names
        assert (names.NAMESPACE, name, "service", names.SERVICE) in metrics
    for aws in (("AWS/States", "ExecutionsFailed"), ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles")):
        assert aws in namespaces_names
    assert ("AWS/SageMaker", "Invocations") not in namespaces_names
    variant_names = {(m[0], m[1]) for m in dashboard_metrics(variant)}
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency"):
        assert ("AWS/SageMaker", metric) in variant_names
