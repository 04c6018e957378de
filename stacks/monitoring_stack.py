"""Monitoring: the CloudWatch dashboard, the alarms and their SNS topic.

Application metrics use the names and the single `service` dimension of
`inference/monitoring/metric_names.py` (what the Lambdas publish through Powertools and the
evaluation/drift jobs publish through `inference.monitoring`); AWS metrics come from the state
machines, the functions and the SageMaker endpoints themselves.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from inference.monitoring import metric_names as names
from stacks.constructs.alarms import AlarmSet, Comparison
from stacks.constructs.sagemaker_endpoint import VARIANT
from stacks.settings import DeploySettings

PERIOD = Duration.minutes(5)
DASHBOARD = "MultilingualProductInference"
MICROSECONDS_PER_MS = 1000  # SageMaker's ModelLatency is in microseconds


def app_metric(name: str, statistic: str, label: str | None = None, period: Duration = PERIOD) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=names.NAMESPACE, metric_name=name, dimensions_map=names.SERVICE_DIMENSION,
                             statistic=statistic, period=period, label=label or f"{name} ({statistic})")


def endpoint_metric(endpoint: str, name: str, statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="AWS/SageMaker", metric_name=name, statistic=statistic, period=PERIOD,
                             dimensions_map={"EndpointName": endpoint, "VariantName": VARIANT},
                             label=f"{endpoint} {name} ({statistic})")


class MonitoringStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, state_machines: dict,
                 functions: dict, endpoint_names: list[str], **kwargs) -> None:
        """`state_machines` / `functions`: name -> construct, from the inference and training stacks."""
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key(self, "AlertsKey", enable_key_rotation=True, removal_policy=RemovalPolicy.DESTROY,
                      description="Encrypts the alarm notifications topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey")
        self.topic = sns.Topic(self, "Alerts", display_name="Multilingual product inference alerts",
                               master_key=key, enforce_ssl=True)
        if settings.alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alert_email))

        self.alarms = AlarmSet(self, "Alarms", topic=self.topic)
        self._quality_alarms(settings)
        self._failure_alarms(settings, state_machines, functions)
        self._endpoint_alarms(settings, endpoint_names)
        self.dashboard = self._dashboard(state_machines, functions, endpoint_names)

    # -- alarms ------------------------------------------------------------------------------------
    def _quality_alarms(self, settings: DeploySettings) -> None:
        self.alarms.add("AccuracyBelowThreshold", metric=app_metric(names.ACCURACY, "Minimum", period=Duration.hours(1)),
                        threshold=settings.accuracy_threshold, comparison=Comparison.LESS_THAN_THRESHOLD,
                        missing=cloudwatch.TreatMissingData.IGNORE,
                        description=f"An evaluation run measured accuracy below {settings.accuracy_threshold}")
        self.alarms.add("PipelineLatencyP95", metric=app_metric(names.PIPELINE_LATENCY, "p95"),
                        threshold=settings.latency_p95_threshold_ms, comparison=Comparison.GREATER_THAN_THRESHOLD,
                        evaluation_periods=3, datapoints_to_alarm=2,
                        description=f"p95 pipeline latency above {settings.latency_p95_threshold_ms:g} ms "
                                    f"in 2 of 3 five-minute periods")
        self.alarms.add("DriftDetected", metric=app_metric(names.DRIFT_DETECTED, "Maximum", period=Duration.hours(1)),
                        threshold=1, comparison=Comparison.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        missing=cloudwatch.TreatMissingData.IGNORE,
                        description="A drift check crossed its threshold (inference.monitoring.drift_detection)")

    def _failure_alarms(self, settings: DeploySettings, state_machines: dict, functions: dict) -> None:
        for name, machine in state_machines.items():
            self.alarms.add(f"{name}ExecutionsFailed", metric=machine.metric_failed(period=PERIOD, statistic="Sum"),
                            threshold=1, comparison=Comparison.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            description=f"An execution of the {name} state machine failed")
        for module, function in functions.items():
            title = module.title().replace("_", "")
            self.alarms.add(f"{title}Errors", metric=function.metric_errors(period=PERIOD, statistic="Sum"),
                            threshold=settings.lambda_error_threshold,
                            comparison=Comparison.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            description=f"The {module} Lambda raised errors")
            self.alarms.add(f"{title}Throttles", metric=function.metric_throttles(period=PERIOD, statistic="Sum"),
                            threshold=1, comparison=Comparison.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            description=f"The {module} Lambda was throttled")

    def _endpoint_alarms(self, settings: DeploySettings, endpoint_names: list[str]) -> None:
        for endpoint in endpoint_names:
            title = endpoint.title().replace("-", "")
            self.alarms.add(f"{title}5xx", metric=endpoint_metric(endpoint, "Invocation5XXErrors", "Sum"),
                            threshold=1, comparison=Comparison.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                            description=f"The {endpoint} endpoint answered with 5xx errors")
            self.alarms.add(f"{title}ModelLatency", metric=endpoint_metric(endpoint, "ModelLatency", "p95"),
                            threshold=settings.endpoint_latency_threshold_ms * MICROSECONDS_PER_MS,
                            comparison=Comparison.GREATER_THAN_THRESHOLD, evaluation_periods=3, datapoints_to_alarm=2,
                            description=f"p95 model latency of {endpoint} above "
                                        f"{settings.endpoint_latency_threshold_ms:g} ms")

    # -- dashboard ---------------------------------------------------------------------------------
    def _dashboard(self, state_machines: dict, functions: dict, endpoint_names: list[str]) -> cloudwatch.Dashboard:
        stage_latency = [app_metric(names.stage_latency(s), "p95") for s in names.STAGES]
        stage_confidence = [app_metric(names.stage_confidence(s), "Average") for s in names.STAGES]
        rows = [
            [cloudwatch.GraphWidget(title="Pipeline latency (ms)", width=12, left=[
                app_metric(names.PIPELINE_LATENCY, "p50"), app_metric(names.PIPELINE_LATENCY, "p95"), *stage_latency]),
             cloudwatch.GraphWidget(title="Confidence per stage (calibrated)", width=12, left=[
                 *stage_confidence, app_metric(names.FINAL_CONFIDENCE, "Average")])],
            [cloudwatch.GraphWidget(title="Decisions (count)", width=12, left=[
                app_metric(n, "Sum") for n in (names.EARLY_STOP, names.LLM_ESCALATION, names.NEEDS_REVIEW,
                                                names.STAGE_FAILURE, names.INVALID_INPUT)]),
             cloudwatch.GraphWidget(title="Accuracy and drift", width=12,
                                    left=[app_metric(names.ACCURACY, "Minimum", period=Duration.hours(1))],
                                    right=[app_metric(names.DRIFT_SCORE, "Maximum", period=Duration.hours(1)),
                                           app_metric(names.DRIFT_DETECTED, "Maximum", period=Duration.hours(1))])],
            [cloudwatch.GraphWidget(title="State machine executions", width=24, left=[
                metric for name, machine in state_machines.items() for metric in (
                    machine.metric_started(period=PERIOD, label=f"{name} started"),
                    machine.metric_succeeded(period=PERIOD, label=f"{name} succeeded"),
                    machine.metric_failed(period=PERIOD, label=f"{name} failed"))])],
            [cloudwatch.GraphWidget(title="Lambda errors and throttles", width=12, left=[
                metric for module, fn in functions.items() for metric in (
                    fn.metric_errors(period=PERIOD, label=f"{module} errors"),
                    fn.metric_throttles(period=PERIOD, label=f"{module} throttles"))]),
             cloudwatch.GraphWidget(title="Lambda duration p95 (ms)", width=12, left=[
                 fn.metric_duration(period=PERIOD, statistic="p95", label=module) for module, fn in functions.items()])],
        ]
        if endpoint_names:
            rows.append([
                cloudwatch.GraphWidget(title="Endpoint invocations and 5xx", width=12, left=[
                    endpoint_metric(e, n, "Sum") for e in endpoint_names for n in ("Invocations", "Invocation5XXErrors")]),
                cloudwatch.GraphWidget(title="Endpoint model latency p95 (µs)", width=12, left=[
                    endpoint_metric(e, "ModelLatency", "p95") for e in endpoint_names])])
        rows.append([cloudwatch.AlarmStatusWidget(title="Alarms", width=24, alarms=self.alarms.alarms)])
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=DASHBOARD)
        for row in rows:
            dashboard.add_widgets(*row)
        return dashboard
