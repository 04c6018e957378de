"""Launch a SageMaker script-mode training job with plain boto3 (through the session factory).

The `sagemaker` SDK weighs about 1 GB and probes AWS when constructed; a training job is one
CreateTrainingJob call, so it is made directly: the project's code is packed as the job's source
(`sagemaker_submit_directory`), the entry point named by `sagemaker_program`, and the framework
container runs it with SM_MODEL_DIR / SM_CHANNEL_* set.

Deployment settings (execution role, artifact bucket) come from the argument, else an environment
variable, else the SSM parameter that the CDK app writes (`/multilingual-product-inference/<name>`).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

from inference.aws import client

ROOT = Path(__file__).resolve().parents[2]
PARAMETER_PREFIX = "/multilingual-product-inference"
DEFAULT_TRAINING_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
    "huggingface-pytorch-training:2.1.0-transformers4.36.0-gpu-py310-cu121-ubuntu20.04"
)
SOURCE_PACKAGES = ("sagemaker_jobs", "inference", "training")
TERMINAL = {"Completed", "Failed", "Stopped"}


class DeploymentSettingMissing(RuntimeError):
    """A setting the AWS path needs (role, bucket) was neither given nor deployed."""


def deployment_setting(name: str, explicit: str | None = None, profile: str | None = None,
                       region: str | None = None) -> str:
    """`explicit`, else $MPI_<NAME>, else SSM parameter /multilingual-product-inference/<name>."""
    if explicit:
        return explicit
    env = os.environ.get("MPI_" + name.upper().replace("-", "_"))
    if env:
        return env
    ssm = client("ssm", profile, region)
    try:
        return ssm.get_parameter(Name=f"{PARAMETER_PREFIX}/{name}")["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise DeploymentSettingMissing(
            f"no {name} given: pass it explicitly, set MPI_{name.upper().replace('-', '_')}, or deploy the CDK app "
            f"(it writes the SSM parameter {PARAMETER_PREFIX}/{name})"
        ) from None


def package_source(packages: tuple[str, ...] = SOURCE_PACKAGES) -> bytes:
    """The project's Python packages as a tar.gz (no caches), the job's source directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for package in packages:
            for path in sorted((ROOT / package).rglob("*.py")):
                if "__pycache__" not in path.parts:
                    tar.add(path, arcname=str(path.relative_to(ROOT)))
        requirements = ROOT / "sagemaker_jobs" / "requirements.txt"
        if requirements.is_file():
            tar.add(requirements, arcname="requirements.txt")  # the container pip-installs it
    return buffer.getvalue()


def launch_training_job(job_name: str, entry_point: str, hyperparameters: dict[str, Any],
                        inputs: dict[str, str], bucket: str, role_arn: str, instance_type: str = "ml.g5.xlarge",
                        image_uri: str = DEFAULT_TRAINING_IMAGE, profile: str | None = None, region: str | None = None,
                        max_runtime_seconds: int = 4 * 3600, wait: bool = True, poll_seconds: float = 30,
                        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Upload the source, create the training job, and (by default) wait for a terminal state."""
    s3 = client("s3", profile, region)
    prefix = f"training-jobs/{job_name}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/source/sourcedir.tar.gz", Body=package_source())
    framework = {
        "sagemaker_program": entry_point,
        "sagemaker_submit_directory": f"s3://{bucket}/{prefix}/source/sourcedir.tar.gz",
        "sagemaker_region": region or "us-east-1",
    }
    # Framework containers read every hyperparameter as a JSON-encoded string.
    encoded = {k: json.dumps(v) for k, v in {**hyperparameters, **framework}.items()}
    sagemaker = client("sagemaker", profile, region)
    sagemaker.create_training_job(
        TrainingJobName=job_name,
        AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
        RoleArn=role_arn,
        HyperParameters=encoded,
        InputDataConfig=[
            {"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for channel, uri in inputs.items()
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{prefix}/output"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": max_runtime_seconds},
        Tags=[{"Key": "project", "Value": "multilingual-product-inference"}],
    )
    log(f"Started SageMaker training job {job_name} ({instance_type})")
    description = sagemaker.describe_training_job(TrainingJobName=job_name)
    while wait and description["TrainingJobStatus"] not in TERMINAL:
        time.sleep(poll_seconds)
        description = sagemaker.describe_training_job(TrainingJobName=job_name)
        log(f"  {job_name}: {description['TrainingJobStatus']} / {description.get('SecondaryStatus', '')}")
    if description["TrainingJobStatus"] == "Failed":
        raise RuntimeError(f"training job {job_name} failed: {description.get('FailureReason', 'no reason given')}")
    return description


def upload_file(path: str | Path, bucket: str, key: str, profile: str | None = None, region: str | None = None) -> str:
    client("s3", profile, region).upload_file(str(path), bucket, key)
    return f"s3://{bucket}/{key}"
