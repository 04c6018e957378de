import json

import boto3
import pytest
from botocore.stub import Stubber

from inference.agents.base import StageAnswer
from inference.agents.hybrid_agent import HybridAgent
from inference.agents.llm_agent import LLMAgent
from inference.config.settings import Settings
from inference.records import iter_records

ROW_KEYS = {"id", "name", "brand", "category", "confidence", "category_confidence", "decided_by",
            "needs_review", "stages", "latency_ms"}


@pytest.fixture
def agent(registry):
    hybrid = HybridAgent(registry, settings=Settings())
    yield hybrid
    hybrid.close()


def _converse_response(answer: dict) -> dict:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": json.dumps(answer)}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150},
        "metrics": {"latencyMs": 240},
    }


def _stubbed_llm():
    client = boto3.client("bedrock-runtime", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    return LLMAgent(model_id="amazon.nova-pro-v1:0", client=client, sleep=lambda _: None, max_retries=1), Stubber(client)


def test_row_shape_and_early_stop_after_ner(agent):
    row = agent.predict("น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นใหม่ 500 มล.", record_id="p1")
    assert ROW_KEYS <= set(row)
    assert row["id"] == "p1" and row["brand"] == "Downy" and row["category"] == "Fabric Softener"
    assert row["decided_by"] == "ner" and list(row["stages"]) == ["ner"]  # RAG never ran
    assert row["confidence"] >= agent.pipeline["early_stopping_threshold"] and not row["needs_review"]
    assert "skipped" not in row and "degraded" not in row  # the run ended before the LLM stage


def test_without_early_stopping_every_stage_runs_and_is_fused(agent):
    agent.configure_pipeline({"early_stopping": False})
    row = agent.predict("น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นใหม่ 500 มล.")
    assert row["decided_by"] == "fusion" and set(row["stages"]) == {"ner", "rag"}
    assert row["skipped"]["llm"].startswith("not configured")
    assert row["brand"] == "Downy"
    assert row["stages"]["rag"]["evidence"], "RAG neighbours are kept as evidence"


def test_name_without_brand_is_decided_by_the_neighbours(agent):
    row = agent.predict("Galaxy S23 FE 8/256GB")
    assert row["brand"] == "Samsung" and row["decided_by"] in ("rag", "fusion")
    assert row["stages"]["ner"].get("brand") is None


def test_sequence_and_weights_are_honoured(agent):
    agent.configure_pipeline({"sequence": ["rag"], "rag_weight": 1.0, "early_stopping": False})
    row = agent.predict("Colgate Total 150g")
    assert list(row["stages"]) == ["rag"]
    assert row["confidence"] == pytest.approx(row["stages"]["rag"]["brand_confidence"], abs=1e-4)


def test_fusion_weighs_stage_confidences(agent):
    agent.configure_pipeline({"ner_weight": 0.3, "rag_weight": 0.4, "llm_weight": 0.3})
    answers = {
        "ner": StageAnswer("ner", brand="Colgate", brand_confidence=0.9, category="Toothpaste", category_confidence=0.8),
        "rag": StageAnswer("rag", brand="COLGATE", brand_confidence=0.5, category="Mouthwash", category_confidence=0.7),
        "llm": StageAnswer("llm", brand="Darlie", brand_confidence=0.9, error="outage"),  # errors never vote
    }
    brand, brand_conf, category, category_conf = agent.fuse(answers)
    assert brand == "Colgate" and brand_conf == pytest.approx((0.3 * 0.9 + 0.4 * 0.5) / 0.7)
    assert category == "Mouthwash" and category_conf == pytest.approx(0.4 * 0.7 / 0.7)


def test_confidence_threshold_flags_rows_for_review(agent):
    agent.configure_pipeline({"confidence_threshold": 0.99, "early_stopping": False})
    assert agent.predict("Galaxy S23 FE 8/256GB")["needs_review"] is True
    agent.configure_pipeline({"confidence_threshold": 0.0})
    assert agent.predict("Galaxy S23 FE 8/256GB")["needs_review"] is False


def test_configuration_is_validated(agent):
    with pytest.raises(ValueError, match="distinct stages"):
        agent.configure_pipeline({"sequence": ["ner", "ner"]})
    with pytest.raises(ValueError, match="unknown pipeline option"):
        agent.configure_pipeline({"ner_wieght": 0.3})
    with pytest.raises(ValueError, match="early_stopping_threshold"):
        agent.configure_pipeline({"early_stopping_threshold": 1.5})
    with pytest.raises(ValueError, match="unknown ner_to_rag option"):
        agent.configure_context_passing({"ner_to_rag": {"boost": 2}})
    context = agent.configure_context_passing({"ner_to_rag": {"pass_entities": True, "entity_boost": 1.2,
                                                              "filter_low_confidence": True},
                                               "rag_to_llm": {"pass_similar_products": True, "max_context_products": 5,
                                                              "include_similarity_scores": True}})
    assert context["ner_to_rag"]["entity_boost"] == 1.2


def test_stage_calibration_from_the_registry_is_applied(home_copy):
    # A calibrator that says the NER stage is never sure stops it from deciding alone.
    home_copy.update_calibration("ner", {"method": "platt", "a": 1.0, "b": -5.0})
    agent = HybridAgent(home_copy, settings=Settings())
    try:
        row = agent.predict("น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นใหม่ 500 มล.")
    finally:
        agent.close()
    assert row["decided_by"] != "ner" and "rag" in row["stages"]
    assert row["stages"]["ner"]["brand_confidence"] < 0.02


def test_hybrid_settings_persisted_in_the_registry_are_loaded(home_copy):
    home_copy.update_model_config("hybrid", {"early_stopping_threshold": 0.5, "sequence": ["ner", "rag"]})
    agent = HybridAgent(home_copy, settings=Settings())
    assert agent.pipeline["early_stopping_threshold"] == 0.5 and agent.pipeline["sequence"] == ["ner", "rag"]
    agent.close()


def test_cache_answers_repeats_and_near_duplicates(registry):
    settings = Settings()
    settings.update_caching({"enable_caching": True, "cache_ttl": 3600, "cache_size": 100,
                             "cache_similar_queries": True, "similarity_threshold": 0.95})
    agent = HybridAgent(registry, settings=settings)
    try:
        first = agent.predict("Colgate Total 150g", record_id="a")
        again = agent.predict("Colgate  Total 150g", record_id="b")  # same after normalisation
        near = agent.predict("Colgate Total 150g.", record_id="c")
    finally:
        agent.close()
    assert "cached" not in first and again["cached"] is True and again["id"] == "b"
    assert again["brand"] == first["brand"] and again["name"] == "Colgate  Total 150g"
    assert near["cached"] is True and settings.cache.similar_hits == 1


def test_batch_with_good_and_bad_rows_keeps_every_row_in_order(agent, tmp_path):
    path = tmp_path / "batch.jsonl"
    lines = [
        json.dumps({"id": "1", "name": "ยาสีฟันคอลเกต โททอล 150 กรัม"}, ensure_ascii=False).encode(),
        json.dumps({"id": "2", "name": ""}).encode(),
        b'{"id": "3", "name": "truncated',
        json.dumps({"id": "4", "name": "x" * 501}).encode(),
        json.dumps({"id": "5", "name": "Lay's\u200b Classic\x00 75g"}).encode(),
        b"\xc3\x28 bad utf-8",
        json.dumps({"id": "7", "name": "\u200b\u200c"}).encode(),
        json.dumps({"id": "8", "name": "Galaxy S23 FE 8/256GB"}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    rows = agent.predict_batch(list(iter_records(path, require_brand=False)))
    assert len(rows) == len(lines)
    assert [r.get("id") for r in rows] == ["1", "2", None, "4", "5", None, "7", "8"]
    errors = {i: r["error"] for i, r in enumerate(rows) if "error" in r}
    assert set(errors) == {1, 2, 3, 5, 6}
    assert "line 2: name is empty or blank" in errors[1]
    assert "batch.jsonl:3: malformed JSON" in errors[2]
    assert "limit is 500" in errors[3]
    assert "invalid UTF-8" in errors[5]
    assert "no visible characters" in errors[6]
    assert rows[0]["brand"] == "Colgate" and rows[4]["brand"] == "Lay's" and rows[7]["brand"] == "Samsung"


def test_llm_stage_decides_when_earlier_stages_are_unsure(registry):
    llm, stubber = _stubbed_llm()
    stubber.add_response("converse", _converse_response(
        {"brand": "Samsung", "category": "Smartphone", "brand_confidence": 0.97, "category_confidence": 0.95}))
    agent = HybridAgent(registry, llm=llm, settings=Settings())
    with stubber:
        row = agent.predict("Galaxy S23 FE 8/256GB")
    agent.close()
    stubber.assert_no_pending_responses()
    assert row["decided_by"] == "llm" and row["brand"] == "Samsung"
    assert list(row["stages"]) == ["ner", "rag", "llm"] and "degraded" not in row


def test_llm_context_carries_ner_entities_and_rag_neighbours(registry):
    llm, stubber = _stubbed_llm()
    prompts = []
    llm.client.meta.events.register("before-parameter-build.bedrock-runtime.Converse",
                                    lambda params, **_: prompts.append(params["messages"][0]["content"][0]["text"]))
    stubber.add_response("converse", _converse_response(
        {"brand": "Krungthep", "category": "Shampoo", "brand_confidence": 0.8, "category_confidence": 0.9}))
    agent = HybridAgent(registry, llm=llm, settings=Settings())
    agent.configure_pipeline({"early_stopping": False})
    with stubber:
        row = agent.predict("Krungthep Shampoo 200ml")
    agent.close()
    (prompt,) = prompts
    assert "Krungthep" in prompt and "BRAND" in prompt
    assert row["stages"]["rag"]["evidence"][0]["name"] in prompt
    assert row["decided_by"] == "fusion" and "llm" in row["stages"]


def test_llm_outage_degrades_to_ner_and_rag_with_a_flag(registry):
    llm, stubber = _stubbed_llm()
    for _ in range(2):  # max_retries=1: two attempts, both fail
        stubber.add_client_error("converse", service_error_code="ServiceUnavailableException", http_status_code=503)
    agent = HybridAgent(registry, llm=llm, settings=Settings())
    with stubber:
        row = agent.predict("Galaxy S23 FE 8/256GB")
    agent.close()
    assert row["degraded"] is True and "error" in row["stages"]["llm"]
    assert row["brand"] == "Samsung" and row["decided_by"] == "fusion"


def test_malformed_llm_answer_is_not_used(registry):
    llm, stubber = _stubbed_llm()
    bad = _converse_response({})
    bad["output"]["message"]["content"][0]["text"] = "The brand is probably Apple."
    stubber.add_response("converse", bad)
    agent = HybridAgent(registry, llm=llm, settings=Settings())
    with stubber:
        row = agent.predict("Galaxy S23 FE 8/256GB")
    agent.close()
    assert row["brand"] == "Samsung" and row["degraded"] is True
    assert "JSON" in row["stages"]["llm"]["error"] or "json" in row["stages"]["llm"]["error"]
