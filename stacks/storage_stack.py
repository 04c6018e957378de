"""Storage: the project's KMS key and its four buckets (data, model artifacts, Bedrock training,
access logs), and the SSM parameters through which the training commands find them.

Bucket names are fixed at synth time (the context's name, else `product-inference-<purpose>-
<account>-<region>`), so the other stacks address the buckets by name, with ARNs of their own
(`bucket_named`), and no bucket ARN crosses a stack boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.constructs.nag import acknowledge
from stacks.constructs.secure_bucket import SecureBucket
from stacks.settings import DeploySettings
from training.pipelines.bedrock_nova import OUTPUT_SETTING
from training.pipelines.sagemaker_launcher import PARAMETER_PREFIX

ARTIFACT_BUCKET_SETTING = "artifact-bucket"  # read by training.pipelines.sagemaker_launcher.deployment_setting
REGISTRY_KEY = "registry/model_registry.json"
BUCKET_PREFIX = "product-inference"


@dataclass(frozen=True)
class BucketNames:
    data: str
    artifacts: str
    bedrock_training: str
    access_logs: str

    @classmethod
    def from_settings(cls, settings: DeploySettings) -> "BucketNames":
        def name(given: str | None, purpose: str) -> str:
            return given or f"{BUCKET_PREFIX}-{purpose}-{Aws.ACCOUNT_ID}-{settings.region}"

        return cls(data=name(settings.data_bucket_name, "data"),
                   artifacts=name(settings.artifact_bucket_name, "artifacts"),
                   bedrock_training=name(settings.bedrock_training_bucket_name, "bedrock-training"),
                   access_logs=name(settings.access_log_bucket_name, "access-logs"))

    @property
    def registry_uri(self) -> str:
        return f"s3://{self.artifacts}/{REGISTRY_KEY}"


def bucket_named(scope: Construct, construct_id: str, name: str) -> s3.IBucket:
    """One of the project's buckets, addressed by name from another stack."""
    return s3.Bucket.from_bucket_name(scope, construct_id, name)


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.names = BucketNames.from_settings(settings)
        self.key = kms.Key(self, "DataKey", alias="alias/multilingual-product-inference",
                           description="Encrypts the project's buckets, training data and model artifacts",
                           enable_key_rotation=True, rotation_period=Duration.days(365),
                           removal_policy=RemovalPolicy.RETAIN)
        access_logs = SecureBucket(self, "AccessLogs", key=None, access_logs=None,
                                   bucket_name=self.names.access_logs).bucket
        acknowledge(access_logs, "AwsSolutions-S1",
                    "This is the server access log target of the other buckets; logging it into itself would loop")
        self.access_log_bucket = access_logs
        self.data_bucket = SecureBucket(self, "Data", key=self.key, access_logs=access_logs,
                                        bucket_name=self.names.data, log_prefix="data/").bucket
        self.artifact_bucket = SecureBucket(self, "Artifacts", key=self.key, access_logs=access_logs,
                                            bucket_name=self.names.artifacts, log_prefix="artifacts/").bucket
        self.bedrock_training_bucket = SecureBucket(
            self, "BedrockTraining", key=self.key, access_logs=access_logs,
            bucket_name=self.names.bedrock_training, log_prefix="bedrock-training/").bucket

        # The training commands (train_ner_pipeline.py, train_nova_pipeline.py) read these.
        for setting, bucket in ((ARTIFACT_BUCKET_SETTING, self.artifact_bucket),
                                (OUTPUT_SETTING, self.bedrock_training_bucket)):
            ssm.StringParameter(self, f"Parameter-{setting}", parameter_name=f"{PARAMETER_PREFIX}/{setting}",
                                string_value=bucket.bucket_name, description=f"{setting} of the CDK app")

        for name, value in (("DataBucketName", self.data_bucket.bucket_name),
                            ("ArtifactBucketName", self.artifact_bucket.bucket_name),
                            ("BedrockTrainingBucketName", self.bedrock_training_bucket.bucket_name),
                            ("ModelRegistryUri", self.names.registry_uri),
                            ("DataKeyArn", self.key.key_arn)):
            CfnOutput(self, name, value=value)
