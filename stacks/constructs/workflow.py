"""Step Functions building blocks: an observed state machine (every event logged, X-Ray on) and
Lambda tasks that retry with backoff.

Two retry policies, in this order on every Lambda task:
1. `InvalidEvent` is never retried: the handler said the input itself is malformed.
2. Lambda's own transient errors (throttling, service faults) are retried with exponential backoff
   and full jitter, up to `TRANSIENT_ATTEMPTS` times.
3. Optionally, any other task failure (`States.TaskFailed`: an outage the handler raised, such as
   `StageUnavailable` from the LLM) is retried a few times more before a Catch takes over.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.log_retention import retention
from stacks.constructs.nag import acknowledge, acknowledge_wildcard_resource

LAMBDA_TRANSIENT_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                           "Lambda.TooManyRequestsException"]
NOT_RETRIED = ["InvalidEvent"]
TRANSIENT_ATTEMPTS = 4
FAILURE_ATTEMPTS = 2


def lambda_task(scope: Construct, state_name: str, function: lambda_.IFunction, *, retry_failures: bool,
                **props: Any) -> tasks.LambdaInvoke:
    """A Task that calls `function` with the state as its event and takes its answer as the result."""
    task = tasks.LambdaInvoke(scope, state_name, lambda_function=function, payload_response_only=True,
                              retry_on_service_exceptions=False, **props)
    task.add_retry(errors=NOT_RETRIED, max_attempts=0)
    task.add_retry(errors=LAMBDA_TRANSIENT_ERRORS, interval=Duration.seconds(1), max_attempts=TRANSIENT_ATTEMPTS,
                   backoff_rate=2, max_delay=Duration.seconds(20), jitter_strategy=sfn.JitterType.FULL)
    if retry_failures:
        task.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(2), max_attempts=FAILURE_ATTEMPTS,
                       backoff_rate=2, max_delay=Duration.seconds(20), jitter_strategy=sfn.JitterType.FULL)
    return task


class ObservedStateMachine(Construct):
    """A state machine that logs ALL events (with execution data) to its own log group and traces with X-Ray."""

    def __init__(self, scope: Construct, construct_id: str, *, name: str, definition: sfn.IChainable,
                 machine_type: sfn.StateMachineType, timeout: Duration, log_retention_days: int,
                 comment: str, invoked: list[lambda_.IFunction] = ()) -> None:
        """`invoked`: the functions its Lambda tasks call (CDK grants lambda:InvokeFunction on them and
        their versions, `<arn>:*`)."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", log_group_name=f"/aws/vendedlogs/states/{name}",
                                       retention=retention(log_retention_days),
                                       removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=name,
            state_machine_type=machine_type,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=comment,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        acknowledge(self.state_machine, "AwsSolutions-IAM5[Resource::*]",
                    "CloudWatch Logs delivery (logs:CreateLogDelivery and friends) and X-Ray (PutTraceSegments) "
                    "support no resource-level permissions: Step Functions logging and tracing need them on '*'; "
                    "CDK's SageMaker .sync task adds the read-only sagemaker:ListTags there too")
        for function in invoked:
            acknowledge_wildcard_resource(
                self.state_machine, f"{function.function_arn}:*",
                "CDK's Lambda task grants InvokeFunction on the function and its versions/aliases (<arn>:*); the "
                "function itself is fixed")
