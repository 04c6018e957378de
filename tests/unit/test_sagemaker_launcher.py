import io
import json
import tarfile

import boto3
import pytest
from moto import mock_aws

from training.pipelines.sagemaker_launcher import (DeploymentSettingMissing, deployment_setting,
                                                   launch_training_job, package_source)


def test_source_package_holds_the_project_code_without_caches():
    with tarfile.open(fileobj=io.BytesIO(package_source()), mode="r:gz") as tar:
        names = tar.getnames()
    assert "inference/agents/hybrid_agent.py" in names and "training/pipelines/sagemaker_launcher.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


@mock_aws
def test_deployment_settings_come_from_argument_env_or_ssm(monkeypatch):
    monkeypatch.delenv("MPI_SAGEMAKER_ROLE_ARN", raising=False)
    with pytest.raises(DeploymentSettingMissing, match="/multilingual-product-inference/sagemaker-role-arn"):
        deployment_setting("sagemaker-role-arn")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/multilingual-product-inference/sagemaker-role-arn", Value="arn:aws:iam::123456789012:role/ssm", Type="String")
    assert deployment_setting("sagemaker-role-arn").endswith("role/ssm")
    monkeypatch.setenv("MPI_SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/env")
    assert deployment_setting("sagemaker-role-arn").endswith("role/env")
    assert deployment_setting("sagemaker-role-arn", "explicit") == "explicit"


@mock_aws
def test_training_job_is_created_in_script_mode():
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="artifacts")
    logs = []
    job = launch_training_job("ner-test-1", "train_ner.py", {"epochs": 3, "learning_rate": 2e-5},
                              {"training": "s3://artifacts/data/train.txt"}, bucket="artifacts",
                              role_arn="arn:aws:iam::123456789012:role/sm", poll_seconds=0, log=logs.append)
    assert job["TrainingJobStatus"] == "Completed"
    described = boto3.client("sagemaker", region_name="us-east-1").describe_training_job(TrainingJobName="ner-test-1")
    params = described["HyperParameters"]
    assert json.loads(params["sagemaker_program"]) == "train_ner.py"
    assert json.loads(params["epochs"]) == 3 and json.loads(params["learning_rate"]) == 2e-5
    assert json.loads(params["sagemaker_submit_directory"]) == "s3://artifacts/training-jobs/ner-test-1/source/sourcedir.tar.gz"
    assert described["InputDataConfig"][0]["ChannelName"] == "training"
    source = boto3.client("s3", region_name="us-east-1").get_object(
        Bucket="artifacts", Key="training-jobs/ner-test-1/source/sourcedir.tar.gz")
    assert source["ContentLength"] > 1000
    assert logs and "ner-test-1" in logs[0]
