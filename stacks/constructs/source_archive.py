"""The project's code as a SageMaker script-mode source archive (`sourcedir.tar.gz`), as a CDK asset.

The archive is the one `training.pipelines.sagemaker_launcher.package_source` makes for the
command-line launcher, so a job started by the state machine runs exactly the code a job started
from a laptop runs. Its asset hash is taken over the archive's members (names and contents), not
the gzip bytes, which carry a timestamp: an unchanged source keeps its hash.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
from pathlib import Path

from aws_cdk import AssetHashType, Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from training.pipelines.sagemaker_launcher import package_source


def members_hash(archive: bytes) -> str:
    digest = hashlib.sha256()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if member.isfile():
                digest.update(member.name.encode() + b"\0" + tar.extractfile(member).read() + b"\0")
    return digest.hexdigest()


class SourceArchive(Construct):
    """`sourcedir.tar.gz` uploaded with the app's assets; `s3_url` is what `sagemaker_submit_directory` takes."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        archive = package_source()
        folder = Path(tempfile.mkdtemp(prefix="sagemaker-source-"))
        path = folder / "sourcedir.tar.gz"
        path.write_bytes(archive)
        self.asset = s3_assets.Asset(self, "Asset", path=str(path), asset_hash_type=AssetHashType.CUSTOM,
                                     asset_hash=members_hash(archive))
        self.s3_url = self.asset.s3_object_url
        self.size_bytes = len(archive)

    def grant_read(self, role: iam.IRole) -> None:
        """GetObject on this one archive (the assets bucket uses S3's own key: no KMS grant needed)."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[f"arn:{Aws.PARTITION}:s3:::{self.asset.s3_bucket_name}/{self.asset.s3_object_key}"]))
