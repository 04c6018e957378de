"""A set of CloudWatch alarms that all notify one SNS topic."""

from __future__ import annotations

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

Comparison = cloudwatch.ComparisonOperator


class AlarmSet(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []

    def add(self, alarm_id: str, *, metric: cloudwatch.IMetric, threshold: float, comparison: Comparison,
            description: str, evaluation_periods: int = 1, datapoints_to_alarm: int | None = None,
            missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(self, alarm_id, metric=metric, threshold=threshold, comparison_operator=comparison,
                                 evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints_to_alarm,
                                 treat_missing_data=missing, alarm_description=description)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
