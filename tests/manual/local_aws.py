"""The AWS account the manual's commands see when run here: a moto server on loopback, the
`ml-sandbox` profile, and what a deployed stack would have created.

Set-up (`prepare_account`), documented because the manual assumes it exists:
- the S3 buckets the manual names (`s3://BUCKET/...`, `--bucket BUCKET`: ml-sandbox-bedrock-training);
- the deployment settings the CDK app writes as SSM parameters under
  /multilingual-product-inference/ (training.pipelines.sagemaker_launcher.deployment_setting): the
  artifact bucket and SageMaker execution role (NER and embedding training jobs), the Bedrock
  output bucket and customization role (Nova fine-tuning), with those buckets and IAM roles.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PROFILE, REGION = "ml-sandbox", "us-east-1"
PARAMETER_PREFIX = "/multilingual-product-inference"
ARTIFACT_BUCKET = "ml-sandbox-mpi-artifacts"
BEDROCK_OUTPUT_BUCKET = "ml-sandbox-mpi-bedrock-output"
ROLES = {  # SSM setting -> (role name, the service that assumes it)
    "sagemaker-role-arn": ("mpi-sagemaker-execution", "sagemaker.amazonaws.com"),
    "bedrock-customization-role-arn": ("mpi-bedrock-customization", "bedrock.amazonaws.com"),
}
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
_BUCKET_FLAG = re.compile(r"--bucket\s+([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")


def buckets_named(text: str) -> set[str]:
    """Bucket names a text uses: s3:// URIs and --bucket options."""
    return set(_S3_URI.findall(text)) | set(_BUCKET_FLAG.findall(text))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """A real `moto_server` on a free loopback port (the venv's), stopped on exit; yields its URL."""
    port = free_port()
    server = Path(sys.executable).with_name("moto_server")
    with log.open("wb") as out:
        process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    break
                time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}")
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def write_profile(folder: Path) -> dict[str, str]:
    """Config and credentials files defining `ml-sandbox` (us-east-1); the variables naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    config, credentials = folder / "config", folder / "credentials"
    config.write_text(f"[profile {PROFILE}]\nregion = {REGION}\noutput = json\n")
    credentials.write_text(f"[{PROFILE}]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(credentials)}


def prepare_account(endpoint: str, manual_text: str) -> dict[str, list[str]]:
    """Create the manual's buckets and the deployment settings in moto; returns what was made."""
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    s3, iam, ssm = (session.client(s, endpoint_url=endpoint) for s in ("s3", "iam", "ssm"))
    buckets = sorted(buckets_named(manual_text) | {ARTIFACT_BUCKET, BEDROCK_OUTPUT_BUCKET})
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    settings = {"artifact-bucket": ARTIFACT_BUCKET, "bedrock-output-bucket": BEDROCK_OUTPUT_BUCKET}
    for setting, (role, service) in ROLES.items():
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
        settings[setting] = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for setting, value in settings.items():
        ssm.put_parameter(Name=f"{PARAMETER_PREFIX}/{setting}", Value=value, Type="String")
    return {"buckets": buckets, "parameters": sorted(f"{PARAMETER_PREFIX}/{s}" for s in settings)}
