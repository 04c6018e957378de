"""register_model: the training state machines' last task writes the model registry JSON in S3 (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from inference.config.model_registry import ModelRegistry
from inference.pipeline_steps import InvalidEvent
from lambdas import register_model

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")  # register_model publishes none
REGISTRY = "s3://mpi-artifacts/registry/model_registry.json"
ARTIFACT = "s3://mpi-artifacts/training-jobs/ner-crf-1/output/ner-crf-1/output/model.tar.gz"
CUSTOM_MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-pro-v1:0:300k/abc123def456"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("MODEL_REGISTRY_URI", REGISTRY)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="mpi-artifacts")
        yield client


def stored(s3) -> dict:
    return json.loads(s3.get_object(Bucket="mpi-artifacts", Key="registry/model_registry.json")["Body"].read())


def test_a_sagemaker_ner_job_is_registered_and_switched_to(s3):
    job = {"TrainingJobName": "ner-crf-1", "TrainingJobStatus": "Completed",
           "FinalMetricDataList": [{"MetricName": "validation:f1", "Value": 0.81}]}
    result = register_model.handler({"model_type": "ner", "name": "ner-crf-1", "artifact": ARTIFACT, "job": job}, None)
    assert result == {"model_type": "ner", "name": "ner-crf-1", "registry": REGISTRY, "active": True}
    entry = stored(s3)["models"]["ner"]
    assert entry["active"] == "ner-crf-1"
    version = entry["versions"]["ner-crf-1"]
    assert (version["model_uri"], version["training_job"], version["metrics"]) == (ARTIFACT, "ner-crf-1", {"validation:f1": 0.81})
    assert ModelRegistry(REGISTRY).get_model_config("ner")["model_uri"] == ARTIFACT  # what NERAgent reads


def test_a_bedrock_custom_model_is_registered_and_an_inactive_one_leaves_the_active(s3):
    job = {"JobArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/x1",
           "BaseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0:300k"}
    register_model.handler({"model_type": "llm", "name": "nova-1", "artifact": CUSTOM_MODEL, "job": job}, None)
    result = register_model.handler({"model_type": "llm", "name": "nova-2", "artifact": CUSTOM_MODEL, "activate": False}, None)
    assert result["active"] is False
    llm = stored(s3)["models"]["llm"]
    assert llm["active"] == "nova-1" and set(llm["versions"]) == {"nova-1", "nova-2"}
    assert llm["versions"]["nova-1"]["custom_model_arn"] == CUSTOM_MODEL
    assert llm["versions"]["nova-1"]["customization_job"] == job["JobArn"]


@pytest.mark.parametrize("event, problem", [
    ({"model_type": "embedding", "name": "x", "artifact": ARTIFACT}, "model_type must be 'ner' or 'llm'"),
    ({"model_type": "ner", "name": " ", "artifact": ARTIFACT}, "name must be a non-empty string"),
    ({"model_type": "ner", "name": "x", "artifact": "/opt/ml/model"}, "s3://.../model.tar.gz"),
    ({"model_type": "llm", "name": "x", "artifact": "amazon.nova-pro-v1:0"}, "Bedrock custom model ARN"),
    ({"model_type": "ner", "name": "x", "artifact": ARTIFACT, "activate": "yes"}, "activate true or false"),
    (["ner"], "expected {'model_type'"),
])
def test_a_bad_event_is_refused_and_nothing_is_written(s3, event, problem):
    with pytest.raises(InvalidEvent, match=problem.replace("(", r"\(").replace(".", r"\.")):
        register_model.handler(event, None)
    assert "Contents" not in s3.list_objects_v2(Bucket="mpi-artifacts")


def test_without_a_registry_location_nothing_is_guessed(s3, monkeypatch):
    monkeypatch.delenv("MODEL_REGISTRY_URI")
    with pytest.raises(InvalidEvent, match="MODEL_REGISTRY_URI is not set"):
        register_model.handler({"model_type": "ner", "name": "x", "artifact": ARTIFACT}, None)
