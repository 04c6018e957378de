"""What each output row and stage run publishes (inference.pipeline_metrics)."""

from __future__ import annotations

from inference.pipeline_metrics import batch_metrics, row_metrics, stage_metrics

SEQUENCE = ["ner", "rag", "llm"]


def as_dict(found):
    return {name: (unit, value) for name, unit, value in found}


def test_an_error_row_counts_as_invalid_input_only():
    assert row_metrics({"id": "a", "name": "", "error": "record 'a': name is empty or blank"}, SEQUENCE) == [
        ("InvalidInput", "Count", 1.0)]


def test_an_error_row_of_a_failed_pipeline_counts_as_a_stage_failure():
    assert row_metrics({"id": "a", "name": "x", "degraded": True, "error": "no stage answered"}, SEQUENCE) == [
        ("StageFailure", "Count", 1.0)]


def test_an_early_stop_after_ner():
    row = {"confidence": 0.93, "decided_by": "ner", "needs_review": False, "latency_ms": 2.5,
           "stages": {"ner": {"brand_confidence": 0.93, "latency_ms": 2.5}}}
    found = as_dict(row_metrics(row, SEQUENCE))
    assert found == {"InvalidInput": ("Count", 0.0), "FinalConfidence": ("None", 0.93),
                     "PipelineLatency": ("Milliseconds", 2.5), "EarlyStop": ("Count", 1.0),
                     "LlmEscalation": ("Count", 0.0), "NeedsReview": ("Count", 0.0), "StageFailure": ("Count", 0.0)}


def test_a_degraded_row_after_an_llm_failure():
    row = {"confidence": 0.41, "decided_by": "fusion", "needs_review": True, "degraded": True, "latency_ms": 9.0,
           "stages": {"ner": {}, "rag": {}, "llm": {"error": "throttled"}}}
    found = as_dict(row_metrics(row, SEQUENCE))
    assert found["StageFailure"] == found["LlmEscalation"] == found["NeedsReview"] == ("Count", 1.0)
    assert found["EarlyStop"] == ("Count", 0.0)


def test_the_last_stage_deciding_is_no_early_stop():
    row = {"confidence": 0.95, "decided_by": "llm", "needs_review": False, "stages": {"llm": {}}}
    assert as_dict(row_metrics(row, SEQUENCE))["EarlyStop"] == ("Count", 0.0)
    assert as_dict(row_metrics(row, ["ner", "llm", "rag"]))["EarlyStop"] == ("Count", 1.0)


def test_a_failed_stage_publishes_its_latency_but_no_confidence():
    assert stage_metrics("rag", {"latency_ms": 12.0, "brand_confidence": 0.0, "error": "Milvus down"}) == [
        ("RagLatency", "Milliseconds", 12.0)]
    assert stage_metrics("llm", {"latency_ms": 800.0, "brand_confidence": 0.7}) == [
        ("LlmLatency", "Milliseconds", 800.0), ("LlmConfidence", "None", 0.7)]


def test_a_batch_publishes_every_stage_run_and_every_row():
    rows = [{"error": "bad"},
            {"confidence": 0.9, "decided_by": "fusion", "needs_review": False,
             "stages": {"ner": {"brand_confidence": 0.5, "latency_ms": 1.0}, "rag": {"brand_confidence": 0.8, "latency_ms": 3.0}}}]
    names = [name for name, _, _ in batch_metrics(rows, SEQUENCE)]
    assert names.count("InvalidInput") == 2 and names.count("FinalConfidence") == 1
    assert names.count("NerLatency") == names.count("RagConfidence") == 1 and "LlmLatency" not in names
