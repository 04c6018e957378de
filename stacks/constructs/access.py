"""Least-privilege S3 access, spelled out action by action (no `s3:GetObject*`-style wildcards).

CDK's `bucket.grant_read` and friends grant action patterns (`s3:GetObject*`, `s3:List*`,
`kms:GenerateDataKey*`); these helpers grant only the actions the code calls: GetObject, PutObject,
ListBucket (under a prefix: it also turns a missing key into NoSuchKey instead of AccessDenied),
and the KMS actions S3 needs for SSE-KMS objects, only through S3. An object pattern with a `*`
must say why it cannot be narrower; that reason becomes the cdk-nag acknowledgement.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from stacks.constructs.nag import acknowledge_wildcard_resource


def grant_objects(role: iam.IRole, bucket: s3.IBucket, key: kms.IKey | None, pattern: str, *, read: bool = False,
                  write: bool = False, why: str | None = None) -> None:
    """GetObject (`read`) and/or PutObject (`write`) on the objects matching `pattern`."""
    actions = (["s3:GetObject"] if read else []) + (["s3:PutObject"] if write else [])
    if not actions:
        raise ValueError("grant_objects needs read and/or write")
    resource = bucket.arn_for_objects(pattern)
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
    if "*" in pattern:
        if not why:
            raise ValueError(f"object pattern {pattern!r} has a wildcard: say why it cannot be narrower")
        acknowledge_wildcard_resource(role, resource, why)
    if key is not None:
        # Decrypt to read (and to complete multipart uploads), GenerateDataKey to write; only via S3.
        key_actions = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if write else [])
        region = Stack.of(role).region
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=key_actions, resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}))


def grant_list(role: iam.IRole, bucket: s3.IBucket, prefix: str = "") -> None:
    """ListBucket, limited to keys under `prefix` when one is given."""
    conditions = {"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}} if prefix else None
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                                                     conditions=conditions))
