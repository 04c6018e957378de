"""The Express pipeline's tasks (ner_stage -> rag_stage -> llm_stage -> finalize) called as the
state machine calls them, in local mode over the bootstrapped sample home: real CRF, Milvus Lite,
Bedrock Converse through the Stubber. Each outcome is compared with HybridAgent.predict (the CLI's
code path) on the same home, and the metrics are read from the EMF Powertools prints."""

from __future__ import annotations

import json

import pytest

from inference import agent_factory
from inference.agents.base import StageUnavailable
from inference.pipeline_steps import InvalidEvent
from lambdas import finalize, llm_stage, ner_stage, rag_stage
from tests.conftest import SAMPLE
from tests.integration.lambdas.conftest import converse_response, metric_values, without_latency

DEMO = [json.loads(line) for line in (SAMPLE / "demo_names.jsonl").read_text(encoding="utf-8").splitlines()]


def catch(exc: Exception) -> dict:
    """What a Step Functions Catch puts at $.stage_error for a Lambda that raised `exc`."""
    cause = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": "r-1", "stackTrace": []}
    return {"Error": type(exc).__name__, "Cause": json.dumps(cause)}


def express(event) -> dict:
    """The state machine's flow: Choice on `decided` after each stage, Catch on the LLM task."""
    state = ner_stage.handler(event, None)
    if not state["decided"]:
        state = rag_stage.handler(state, None)
    if not state["decided"]:
        try:
            state = llm_stage.handler(state, None)
        except StageUnavailable as exc:
            state = {**state, "stage_error": catch(exc)}
    return finalize.handler(state, None)


def first(agent, decided_by: str) -> dict:
    """A demo name that the local pipeline (no LLM) decides with `decided_by`."""
    for item in DEMO:
        if agent.predict(item["name"], item["id"])["decided_by"] == decided_by:
            return item
    pytest.fail(f"no demo name is decided by {decided_by} on the sample home")


def _reaches_llm(agent) -> dict:
    for candidate in DEMO:
        if not rag_stage.handler(ner_stage.handler(candidate, None), None)["decided"]:
            return candidate
    pytest.fail("every demo name stopped early; no item reaches the LLM")


def test_early_stop_after_ner(agent, capsys):
    item = first(agent, "ner")
    capsys.readouterr()
    state = ner_stage.handler(item, None)
    ner_out = capsys.readouterr().out
    assert state["decided"] and state["result"]["decided_by"] == "ner" and list(state["answers"]) == ["ner"]
    assert without_latency(state["result"]) == without_latency(agent.predict(item["name"], item["id"]))
    assert rag_stage.handler(state, None) == state  # a decided item passes untouched
    capsys.readouterr()
    row = finalize.handler(state, None)
    assert row == state["result"]
    stage, outcome = metric_values(ner_out), metric_values(capsys.readouterr().out)
    assert stage["NerConfidence"] == [pytest.approx(state["answers"]["ner"]["brand_confidence"])]
    assert len(stage["NerLatency"]) == 1 and "RagLatency" not in stage
    assert outcome["EarlyStop"] == [1.0] and outcome["LlmEscalation"] == [0.0] and outcome["InvalidInput"] == [0.0]
    assert outcome["FinalConfidence"] == [row["confidence"]] and outcome["NeedsReview"] == [float(row["needs_review"])]


def test_unsure_item_without_llm_is_fused_and_the_llm_skip_recorded(agent, capsys):
    item = first(agent, "fusion")
    capsys.readouterr()
    row = express(item)
    values = metric_values(capsys.readouterr().out)
    assert row["decided_by"] == "fusion" and row["skipped"]["llm"].startswith("not configured")
    assert without_latency(row) == without_latency(agent.predict(item["name"], item["id"]))
    assert len(values["NerLatency"]) == len(values["RagLatency"]) == 1 and "LlmLatency" not in values
    assert values["EarlyStop"] == [0.0] and values["StageFailure"] == [0.0]


def test_full_path_reaches_the_llm(with_llm, capsys):
    agent, stubber = with_llm
    item = _reaches_llm(agent)
    answer = {"brand": "Wonder Smile", "category": "Toothpaste", "brand_confidence": 0.97, "category_confidence": 0.96}
    for _ in range(2):  # the express run, then the local run
        stubber.add_response("converse", converse_response(answer))
    capsys.readouterr()
    row = express(item)
    values = metric_values(capsys.readouterr().out)
    local = agent.predict(item["name"], item["id"])
    stubber.assert_no_pending_responses()
    assert list(row["stages"]) == ["ner", "rag", "llm"] and "skipped" not in row
    assert row["stages"]["llm"]["brand"] == "Wonder Smile"
    assert without_latency(row) == without_latency(local)
    assert values["LlmEscalation"] == [1.0] and len(values["LlmLatency"]) == 1
    assert values["LlmConfidence"] == [pytest.approx(row["stages"]["llm"]["brand_confidence"])]


def test_llm_throttled_raises_and_finalize_degrades_to_ner_and_rag(with_llm, capsys):
    agent, stubber = with_llm
    item = _reaches_llm(agent)
    for _ in range(4):  # two attempts (max_retries=1) in the express run, two in the local run
        stubber.add_client_error("converse", "ThrottlingException", "Too many requests", 429)
    state = rag_stage.handler(ner_stage.handler(item, None), None)
    capsys.readouterr()
    with pytest.raises(StageUnavailable, match="throttled/unavailable after 2 attempts") as raised:
        llm_stage.handler(state, None)
    row = finalize.handler({**state, "stage_error": catch(raised.value)}, None)
    values = metric_values(capsys.readouterr().out)
    local = agent.predict(item["name"], item["id"])
    stubber.assert_no_pending_responses()
    assert row["decided_by"] == "fusion" and row["degraded"] is True
    assert row["stages"]["llm"]["error"].startswith("LLM throttled/unavailable")
    assert row["needs_review"] == (row["brand"] is None or row["confidence"] < agent.pipeline["confidence_threshold"])
    assert without_latency(row) == without_latency(local)  # what the CLI gives when the LLM fails
    assert values["StageFailure"] == [1.0] and values["LlmEscalation"] == [1.0]


def test_an_invalid_llm_answer_raises(with_llm):
    agent, stubber = with_llm
    state = rag_stage.handler(ner_stage.handler(_reaches_llm(agent), None), None)
    stubber.add_response("converse", converse_response("I believe this is a Colgate toothpaste."))
    with pytest.raises(StageUnavailable, match="holds no JSON object"):
        llm_stage.handler(state, None)


def test_a_catch_without_a_lambda_cause_still_degrades(agent):
    state = rag_stage.handler(ner_stage.handler(first(agent, "fusion"), None), None)
    row = finalize.handler({**state, "stage_error": {"Error": "States.Timeout", "Cause": "Task timed out"}}, None)
    # the LLM is not configured here, so the failed stage is the first one without an answer or a skip
    assert row["degraded"] is True and row["decided_by"] == "fusion"
    assert row["stages"]["llm"]["error"] == "States.Timeout: Task timed out"


@pytest.mark.parametrize("event, problem", [
    ({"id": "sku-1", "name": "   "}, "record 'sku-1': name is empty or blank"),
    ({"id": "sku-2"}, "record 'sku-2': field 'name' is missing"),
    ({"id": 3, "name": "x" * 501}, "record '3': name is 501 characters long; the limit is 500"),
    ({"name": 42}, "record without id: field 'name' must be a string, got int"),
    ({"name": "\u200b\u200d"}, "record without id: name has no visible characters"),
    ("ยาสีฟัน", "record without id: expected a JSON object, got str"),
    (None, "record without id: expected a JSON object, got NoneType"),
])
def test_bad_input_becomes_an_error_row_never_an_exception(agent, capsys, event, problem):
    state = ner_stage.handler(event, None)
    assert state["decided"] and state["answers"] == {} and state["result"]["error"] == problem
    capsys.readouterr()
    row = finalize.handler(state, None)
    assert row == state["result"] and set(row) == {"id", "name", "error"}
    assert metric_values(capsys.readouterr().out) == {"InvalidInput": [1.0]}


def test_a_malformed_item_state_is_refused_with_what_is_missing(agent):
    with pytest.raises(InvalidEvent, match=r"item state lacks \['text', 'answers'"):
        rag_stage.handler({"id": "a", "name": "Colgate"}, None)
    with pytest.raises(InvalidEvent, match="expected an item state object, got list"):
        finalize.handler([], None)


def test_the_agent_is_built_once_per_process(agent):
    ner_stage.handler(DEMO[0], None)
    finalize.handler(ner_stage.handler(DEMO[1], None), None)
    assert agent_factory.get_agent() is agent


def test_a_failure_of_the_first_task_gives_an_error_row_not_a_lost_item(agent, capsys):
    failed = {"id": "sku-9", "name": "Colgate Total", "stage_error": {
        "Error": "Lambda.ServiceException", "Cause": "Rate exceeded"}}
    capsys.readouterr()
    row = finalize.handler(failed, None)
    assert row == {"id": "sku-9", "name": "Colgate Total", "degraded": True,
                   "error": "record 'sku-9': no stage answered (Lambda.ServiceException: Rate exceeded)"}
    assert metric_values(capsys.readouterr().out) == {"StageFailure": [1.0]}
