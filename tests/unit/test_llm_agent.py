"""The LLM stage against a stubbed Bedrock Converse API: parsing, validation, retries, config."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from inference.agents.base import Entity, StageUnavailable
from inference.agents.llm_agent import LLMAgent
from inference.config.model_registry import ModelRegistry

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
GOOD = {"brand": " Lay's ", "category": "Snacks", "brand_confidence": 0.92, "category_confidence": 0.88}


def converse_response(text: str, stop_reason: str = "end_turn") -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": stop_reason,
        "usage": {"inputTokens": 312, "outputTokens": 41, "totalTokens": 353},
        "metrics": {"latencyMs": 640},
    }


def expected(model_id: str = MODEL) -> dict:
    return {
        "modelId": model_id,
        "system": [{"text": ANY}],
        "messages": [{"role": "user", "content": [{"text": ANY}]}],
        "inferenceConfig": {"maxTokens": 200, "temperature": 0.0},
    }


@pytest.fixture
def bedrock():
    client = boto3.client("bedrock-runtime", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def sleeps():
    return []


def make_agent(client, sleeps, **kwargs) -> LLMAgent:
    kwargs.setdefault("model_id", MODEL)
    return LLMAgent(client=client, sleep=sleeps.append, **kwargs)


# -- success ---------------------------------------------------------------------------------------
def test_success_parses_brand_category_and_evidence(bedrock, sleeps):
    client, stubber = bedrock
    stubber.add_response("converse", converse_response(json.dumps(GOOD)), expected())
    answer = make_agent(client, sleeps).predict("เลย์ มันฝรั่งทอด รสโนริสาหร่าย 50g")
    stubber.assert_no_pending_responses()
    assert answer.stage == "llm"
    assert (answer.brand, answer.category) == ("Lay's", "Snacks")
    assert answer.brand_confidence == pytest.approx(0.92)
    assert answer.category_confidence == pytest.approx(0.88)
    assert answer.evidence[0]["model_id"] == MODEL
    assert answer.evidence[0]["stop_reason"] == "end_turn"
    assert (answer.evidence[0]["input_tokens"], answer.evidence[0]["output_tokens"]) == (312, 41)
    assert answer.latency_ms > 0
    assert answer.error is None
    assert sleeps == []


def test_fenced_json_with_prose_is_parsed(bedrock, sleeps):
    client, stubber = bedrock
    text = ('Here is the answer:\n```json\n{"brand": "Mama", "category": "Instant Noodles", '
            '"brand_confidence": 0.8, "category_confidence": 1}\n```\nHope this helps.')
    stubber.add_response("converse", converse_response(text), expected())
    answer = make_agent(client, sleeps).predict("มาม่า รสต้มยำกุ้ง")
    assert (answer.brand, answer.category) == ("Mama", "Instant Noodles")
    assert answer.category_confidence == 1.0


def test_empty_brand_becomes_none_with_zero_confidence(bedrock, sleeps):
    client, stubber = bedrock
    body = {"brand": "  ", "category": "Rice", "brand_confidence": 0.4, "category_confidence": 0.7}
    stubber.add_response("converse", converse_response(json.dumps(body)), expected())
    answer = make_agent(client, sleeps).predict("ข้าวหอมมะลิ 5kg")
    assert answer.brand is None and answer.brand_confidence == 0.0
    assert answer.category == "Rice"


# -- retries ---------------------------------------------------------------------------------------
def test_throttling_then_success_retries_once_with_backoff(bedrock, sleeps):
    client, stubber = bedrock
    stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    stubber.add_response("converse", converse_response(json.dumps(GOOD)), expected())
    answer = make_agent(client, sleeps, base_delay=0.5).predict("Lay's Classic 75g")
    stubber.assert_no_pending_responses()
    assert answer.brand == "Lay's"
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 0.5


def test_throttling_every_time_gives_up_after_max_retries(bedrock, sleeps):
    client, stubber = bedrock
    for _ in range(3):  # max_retries=2 -> 3 calls
        stubber.add_client_error("converse", service_error_code="ThrottlingException", http_status_code=429)
    with pytest.raises(StageUnavailable, match=r"throttled/unavailable after 3 attempts.*ThrottlingException"):
        make_agent(client, sleeps, max_retries=2, base_delay=1.0).predict("Lay's Classic 75g")
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 1.0 and 0 < sleeps[1] <= 2.0  # exponential cap, full jitter


def test_service_unavailable_until_retries_exhausted(bedrock, sleeps):
    client, stubber = bedrock
    for _ in range(5):  # default max_retries=4
        stubber.add_client_error("converse", service_error_code="ServiceUnavailableException",
                                 http_status_code=503)
    with pytest.raises(StageUnavailable, match=r"after 5 attempts.*ServiceUnavailableException"):
        make_agent(client, sleeps).predict("Lay's Classic 75g")
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 4


def test_access_denied_fails_at_once_without_retry(bedrock, sleeps):
    client, stubber = bedrock
    stubber.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403,
                             service_message="You don't have access to the model")
    stubber.add_response("converse", converse_response(json.dumps(GOOD)))  # must stay unused
    with pytest.raises(StageUnavailable, match=r"AccessDeniedException: You don't have access"):
        make_agent(client, sleeps).predict("Lay's Classic 75g")
    assert sleeps == []
    with pytest.raises(AssertionError):  # the second, good response was never consumed
        stubber.assert_no_pending_responses()


# -- malformed answers -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, problem", [
    ("I think it is Lay's potato chips.", "no JSON object"),
    ('{"brand": "Lay\'s", "category": "Snacks"', "not valid JSON"),
    ('["Lay\'s", "Snacks"]', "no JSON object"),
    (json.dumps({"brand": "Lay's", "category": "Snacks", "category_confidence": 0.9}), "missing brand_confidence"),
    (json.dumps({**GOOD, "brand_confidence": 1.7}), "brand_confidence 1.7"),
    (json.dumps({**GOOD, "category_confidence": "high"}), "category_confidence 'high'"),
    (json.dumps({**GOOD, "brand": 42}), "non-string brand"),
    (json.dumps({"category": "Snacks", "brand_confidence": 0.5, "category_confidence": 0.5}), "missing brand"),
])
def test_malformed_answer_is_rejected_naming_the_problem(bedrock, sleeps, text, problem):
    client, stubber = bedrock
    stubber.add_response("converse", converse_response(text), expected())
    with pytest.raises(StageUnavailable, match="LLM answer") as raised:
        make_agent(client, sleeps).predict("Lay's Classic 75g")
    assert problem in str(raised.value)
    stubber.assert_no_pending_responses()


# -- configuration ---------------------------------------------------------------------------------
def test_configured_follows_the_registry(tmp_path, bedrock, sleeps):
    client, stubber = bedrock
    registry = ModelRegistry(path=tmp_path / "registry.json")
    agent = LLMAgent(registry=registry, client=client, sleep=sleeps.append)
    assert agent.configured is False
    with pytest.raises(StageUnavailable, match="LLM stage is not configured"):
        agent.predict("Lay's Classic 75g")

    registry.update_model_config("llm", {"model_id": "amazon.nova-pro-v1:0"})
    assert agent.configured is True
    stubber.add_response("converse", converse_response(json.dumps(GOOD)), expected("amazon.nova-pro-v1:0"))
    answer = agent.predict("Lay's Classic 75g")
    stubber.assert_no_pending_responses()
    assert answer.evidence[0]["model_id"] == "amazon.nova-pro-v1:0"


def test_deployment_arn_wins_over_model_id(tmp_path, bedrock, sleeps):
    client, stubber = bedrock
    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123"
    registry = ModelRegistry(path=tmp_path / "registry.json")
    registry.update_model_config("llm", {"model_id": "amazon.nova-pro-v1:0", "deployment_arn": arn})
    stubber.add_response("converse", converse_response(json.dumps(GOOD)), expected(arn))
    answer = LLMAgent(registry=registry, client=client, sleep=sleeps.append).predict("Lay's Classic 75g")
    stubber.assert_no_pending_responses()
    assert answer.evidence[0]["model_id"] == arn


def test_disabled_in_registry_turns_the_stage_off(tmp_path):
    registry = ModelRegistry(path=tmp_path / "registry.json")
    registry.update_model_config("llm", {"model_id": "amazon.nova-pro-v1:0", "enabled": False})
    agent = LLMAgent(registry=registry)
    assert agent.configured is False
    with pytest.raises(StageUnavailable, match="disabled"):
        agent.predict("Lay's Classic 75g")


def test_argument_model_id_needs_no_registry(tmp_path):
    agent = LLMAgent(model_id=MODEL, registry=ModelRegistry(path=tmp_path / "registry.json"))
    assert agent.configured is True


def test_lazy_client_uses_session_factory_without_botocore_retries(monkeypatch):
    calls = []
    monkeypatch.setattr("inference.aws.client", lambda *args, **kwargs: calls.append((args, kwargs)) or "C")
    agent = LLMAgent(model_id=MODEL, profile="dev", region="ap-southeast-1")
    assert calls == []  # nothing built until first use
    assert agent.client == "C" and agent.client == "C"
    assert len(calls) == 1
    (service, profile, region), kwargs = calls[0]
    assert (service, profile, region) == ("bedrock-runtime", "dev", "ap-southeast-1")
    assert kwargs["config"].retries == {"total_max_attempts": 1, "mode": "standard"}  # no botocore retry


# -- prompt ----------------------------------------------------------------------------------------
ENTITIES = [Entity("BRAND", "เลย์", 0, 4, 0.93), Entity("CATEGORY", "มันฝรั่งทอด", 5, 16, 0.81)]
NEIGHBOURS = [{"name": f"Product {i}", "brand": f"Brand{i}", "category": "Snacks", "similarity": 0.9 - i / 100}
              for i in range(8)]


def test_prompt_lists_entities_and_at_most_max_neighbours_with_scores():
    system, user = LLMAgent(model_id=MODEL).build_prompt(
        "เลย์ มันฝรั่งทอด", ENTITIES, NEIGHBOURS, {"max_context_products": 3})
    assert '"brand_confidence"' in system and "ONLY a JSON object" in system
    assert "เลย์ มันฝรั่งทอด" in user
    assert "BRAND: 'เลย์' (0.93)" in user and "CATEGORY: 'มันฝรั่งทอด' (0.81)" in user
    assert all(f"Product {i}" in user for i in range(3))
    assert "Product 3" not in user
    assert "similarity: 0.900" in user and user.count("similarity:") == 3


def test_prompt_without_similarity_scores():
    _, user = LLMAgent(model_id=MODEL).build_prompt(
        "Lay's", ENTITIES, NEIGHBOURS, {"include_similarity_scores": False})
    assert "Product 4" in user and "Product 5" not in user  # default max_context_products=5
    assert "similarity" not in user and "Brand0" in user


def test_prompt_without_neighbours_or_entities():
    _, user = LLMAgent(model_id=MODEL).build_prompt(
        "Lay's", ENTITIES, NEIGHBOURS, {"pass_similar_products": False, "pass_entities": False})
    assert "Product 0" not in user and "Similar catalogue products" not in user
    assert "เลย์" not in user and "Entities" not in user
    assert "Lay's" in user
