"""The Bedrock stand-in the manual runner puts beside moto: botocore parses its answers with the
real service models, so a wrong shape fails here. Runs against the session's real moto_server."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.manual.aws_standin import StandinServer, answer_from_prompt, loss_curves

PROMPT = """Product name: ยาสีฟันคอลเกต 150 กรัม
Entities detected in the name (label, text, confidence):
- BRAND: 'คอลเกต' (0.91)
Similar catalogue products (best first):
1. 'Colgate Total 150g' | brand: Colgate | category: Toothpaste | similarity: 0.812
2. 'Darlie 160g' | brand: Darlie | category: Toothpaste | similarity: 0.500
Answer with the JSON object only."""


def test_the_answer_comes_from_the_prompts_first_neighbour_else_its_brand_entity():
    assert answer_from_prompt(PROMPT) == {"brand": "Colgate", "category": "Toothpaste",
                                          "brand_confidence": 0.812, "category_confidence": 0.812}
    only_entities = "\n".join(line for line in PROMPT.splitlines() if not line[:2] in ("1.", "2."))
    assert answer_from_prompt(only_entities) == {"brand": "คอลเกต", "category": None, "brand_confidence": 0.91,
                                                 "category_confidence": 0.0}
    assert answer_from_prompt("Product name: x")["brand"] is None


def test_loss_curves_have_bedrocks_columns_and_fall_with_training():
    curves = loss_curves({"epochCount": "3", "learningRate": "0.0001"}, with_validation=True)
    rows = list(csv.DictReader(io.StringIO(curves["training"])))
    assert list(rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert int(rows[-1]["epoch_number"]) == 3 and float(rows[-1]["training_loss"]) < float(rows[0]["training_loss"])
    assert "validation_loss" in curves["validation"].splitlines()[0]
    assert "validation" not in loss_curves({"epochCount": "1"}, with_validation=False)


@pytest.fixture
def standin(aws_env, moto_endpoint):
    with StandinServer(moto_endpoint) as server:
        yield server


def _client(service, url):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1")


def test_converse_refuses_unknown_models_and_answers_known_ones_in_the_real_shape(standin):
    runtime = _client("bedrock-runtime", standin.url)
    with pytest.raises(ClientError) as refused:
        runtime.converse(modelId="arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/nope",
                         messages=[{"role": "user", "content": [{"text": PROMPT}]}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    answer = runtime.converse(modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": PROMPT}]}],
                              system=[{"text": "answer with JSON"}], inferenceConfig={"maxTokens": 200})
    assert answer["stopReason"] == "end_turn" and answer["usage"]["inputTokens"] > 0
    assert json.loads(answer["output"]["message"]["content"][0]["text"])["brand"] == "Colgate"
    assert standin.calls() == {"Converse": 1}


def test_a_fine_tuning_job_completes_and_its_model_deploys_and_answers(standin, moto_endpoint):
    s3, bedrock = _client("s3", moto_endpoint), _client("bedrock", standin.url)
    s3.create_bucket(Bucket="training")
    s3.create_bucket(Bucket="output")
    bedrock.create_model_customization_job(  # proxied to moto
        jobName="job-1", customModelName="model-1", roleArn="arn:aws:iam::123456789012:role/r",
        baseModelIdentifier="amazon.nova-pro-v1:0:300k", hyperParameters={"epochCount": "2", "learningRate": "0.00001"},
        trainingDataConfig={"s3Uri": "s3://training/data.jsonl"}, outputDataConfig={"s3Uri": "s3://output/jobs/"},
        validationDataConfig={"validators": [{"s3Uri": "s3://training/validation.jsonl"}]})
    job = bedrock.get_model_customization_job(jobIdentifier="job-1")
    assert job["status"] == "Completed" and "failureMessage" not in job
    assert job["trainingMetrics"]["trainingLoss"] > 0 and job["validationMetrics"][0]["validationLoss"] > 0
    model = bedrock.get_custom_model(modelIdentifier="model-1")
    assert job["outputModelArn"] == model["modelArn"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="output", Prefix="jobs/")["Contents"])
    assert keys == ["jobs/model-customization-job-job-1/training_artifacts/step_wise_training_metrics.csv",
                    "jobs/model-customization-job-job-1/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"]

    with pytest.raises(ClientError) as missing:
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="endpoint")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError):
        bedrock.create_custom_model_deployment(modelDeploymentName="x", modelArn=model["modelArn"] + "-unknown")
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="endpoint",
                                                 modelArn=model["modelArn"])["customModelDeploymentArn"]
    described = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert described["status"] == "Active" and described["modelArn"] == model["modelArn"]
    assert [d["customModelDeploymentArn"] for d in bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]] == [arn]
    throughput = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt",
                                                             modelId=model["modelArn"])["provisionedModelArn"]
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=throughput)["status"] == "InService"


def test_the_llm_agent_reaches_the_stand_in_through_the_session_factory(standin, monkeypatch):
    """AWS_ENDPOINT_URL_BEDROCK_RUNTIME sends the LLM stage to the stand-in; other services stay on moto."""
    from inference import aws
    from inference.agents.llm_agent import LLMAgent

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", standin.url)
    assert aws.client("s3").meta.endpoint_url != standin.url
    neighbours = [{"name": "Colgate Total 150g", "brand": "Colgate", "category": "Toothpaste", "similarity": 0.8}]
    answer = LLMAgent(model_id="amazon.nova-pro-v1:0").predict("ยาสีฟันคอลเกต 150 กรัม", neighbours=neighbours)
    assert (answer.brand, answer.category, answer.brand_confidence) == ("Colgate", "Toothpaste", 0.8)
    assert standin.calls()["Converse"] == 1
