"""An S3 bucket with the project's baseline: KMS (or S3-managed) encryption, TLS only, versioning,
no public access, server access logs, and kept (not deleted) when the stack goes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

NONCURRENT_VERSIONS_KEPT = Duration.days(90)
INCOMPLETE_UPLOADS_KEPT = Duration.days(7)


class SecureBucket(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey | None,
                 access_logs: s3.IBucket | None, bucket_name: str | None = None, log_prefix: str | None = None) -> None:
        """`key` None gives S3-managed encryption (what an access-log target bucket must use)."""
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS if key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=key,
            bucket_key_enabled=bool(key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=NONCURRENT_VERSIONS_KEPT,
                                              abort_incomplete_multipart_upload_after=INCOMPLETE_UPLOADS_KEPT)],
            removal_policy=RemovalPolicy.RETAIN,
        )
