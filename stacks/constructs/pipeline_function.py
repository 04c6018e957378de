"""One Lambda function running a handler of `lambdas/`: its own role, log group and settings.

Every function gets X-Ray active tracing, a log group with the configured retention, the
Powertools service/namespace variables, and a role that holds only what the stack grants it
(no managed policies: logs are granted on the function's own log group).
"""

from __future__ import annotations

from typing import Mapping

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from inference.monitoring import metric_names
from stacks.constructs.lambda_package import HANDLER_PACKAGE, RUNTIME
from stacks.constructs.log_retention import retention
from stacks.constructs.nag import acknowledge
from stacks.constructs.vpc_placement import VpcPlacement
from stacks.settings import DeploySettings


def powertools_environment(settings: DeploySettings) -> dict[str, str]:
    """The variables Powertools reads: the metrics' namespace and `service` dimension, the log level."""
    return {"POWERTOOLS_SERVICE_NAME": metric_names.SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": metric_names.NAMESPACE,
            "LOG_LEVEL": settings.log_level}


class PipelineFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, module: str, code: lambda_.Code,
                 settings: DeploySettings, environment: Mapping[str, str], timeout: Duration,
                 description: str, vpc_config: VpcPlacement | None = None, memory_mb: int | None = None,
                 tmp_mb: int | None = None) -> None:
        """`tmp_mb`: /tmp space beyond Lambda's default 512 MB, for a task that stages whole files there."""
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=retention(settings.log_retention_days),
                                       removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"{module} Lambda: only the grants its stack gives it")
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=code,
            handler=f"{HANDLER_PACKAGE}.{module}.handler",
            description=description,
            role=self.role,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=memory_mb or settings.lambda_memory_mb,
            ephemeral_storage_size=Size.mebibytes(tmp_mb) if tmp_mb else None,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**powertools_environment(settings), **environment},
            vpc=vpc_config.vpc if vpc_config else None,
            vpc_subnets=ec2.SubnetSelection(subnets=vpc_config.subnets) if vpc_config else None,
            security_groups=vpc_config.security_groups if vpc_config else None,
        )
        self.module = module
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
                    "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
                    "active tracing needs them on '*'")
        acknowledge(self.function, "AwsSolutions-L1",
                    "The team pins Python 3.12 for the Lambda runtime: the bundle's wheels are built for cp312 "
                    "and the handlers are tested with it; moving to a newer runtime is a deliberate upgrade")
        if vpc_config:
            acknowledge(self.role, "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                                   "AWSLambdaVPCAccessExecutionRole]",
                        "CDK attaches AWS's VPC access policy so the function can manage its network interfaces "
                        "in the configured subnets; those EC2 actions support no resource scoping")
