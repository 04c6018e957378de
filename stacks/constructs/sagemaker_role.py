"""The execution role a SageMaker job or model assumes: image pull, its own logs and metrics.

Bucket and key access is granted by the stack that knows which prefixes the job reads and writes.
"""

from __future__ import annotations

import re
from typing import Iterable

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.constructs.nag import acknowledge, acknowledge_wildcard_resource
from stacks.settings import SettingError

# <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:<digest>)
ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9._/-]+)[:@].+$")


def ecr_repository_arn(image_uri: str) -> str:
    """The ECR repository ARN of an image URI; SettingError for an image that is not in ECR."""
    match = ECR_IMAGE.match(image_uri)
    if not match:
        raise SettingError(f"{image_uri!r} is not an ECR image URI "
                           f"(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)")
    account, region, repository = match.groups()
    return f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{repository}"


class SageMakerRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, images: Iterable[str], log_group: str,
                 description: str) -> None:
        """`log_group`: SageMaker's log group of the job kind, e.g. /aws/sagemaker/TrainingJobs."""
        super().__init__(scope, construct_id)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description=description)
        self.role.add_to_policy(iam.PolicyStatement(
            sid="PullImages",
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            resources=sorted({ecr_repository_arn(image) for image in images})))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        stack = Stack.of(self)
        log_group_arn = stack.format_arn(service="logs", resource="log-group", resource_name=log_group,
                                         arn_format=ArnFormat.COLON_RESOURCE_NAME)
        log_resources = [log_group_arn, f"{log_group_arn}:log-stream:*"]
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=log_resources))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="PublishOwnMetrics", actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}))
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken and cloudwatch:PutMetricData support no resource-level permissions; "
                    "PutMetricData is limited to SageMaker's namespaces by a condition")
        for resource in (r for r in log_resources if "*" in r):
            acknowledge_wildcard_resource(
                self.role, resource, "SageMaker names its log groups/streams per endpoint, job and instance at run "
                                     "time; the role may write only under SageMaker's own log group prefix")
