"""The hybrid pipeline one stage at a time, for the Step Functions tasks (lambdas/).

A state machine runs each stage in its own Lambda, so what one stage learnt travels to the next as
JSON: the *item state* (see lambdas/README.md). Every rule here is HybridAgent's own (prepare,
run_stage, calibrate, stops_early, finish_row), so an item run through the state machine gets the
row `HybridAgent.predict` gives; `predict_items` runs a whole batch in-process with `predict_batch`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Sequence

from inference.agents.base import StageAnswer, StageUnavailable
from inference.agents.hybrid_agent import HybridAgent
from inference.batch_results import unreadable_line
from inference.records import Record, RecordError, parse_record

STATE_KEYS = ("id", "name", "text", "answers", "raw", "skipped", "decided", "result")


class InvalidEvent(ValueError):
    """An event that is not what the task expects (a wiring error, not a bad product name)."""


def record_label(record_id: Any) -> str:
    """How error messages name an item of the Express pipeline."""
    return f"record {str(record_id)!r}" if isinstance(record_id, (str, int)) and not isinstance(record_id, bool) \
        else "record without id"


def start_item(agent: HybridAgent, event: Any) -> dict[str, Any]:
    """The item state for an execution input {"id"?, "name"}: normalised, or decided with an
    error row naming the record and the problem (bad input never raises)."""
    where = record_label(event.get("id") if isinstance(event, dict) else None)
    item = parse_record(event, where)
    rows, texts = agent.prepare([item])
    state: dict[str, Any] = {"id": getattr(item, "id", None), "name": item.name, "text": texts.get(0),
                             "answers": {}, "raw": {}, "skipped": {}, "decided": rows[0] is not None, "result": None}
    if rows[0] is not None:
        error = rows[0]["error"] if not isinstance(item, Record) else f"{where}: {rows[0]['error']}"
        state["result"] = {**rows[0], "error": error}
    return state


def run_stage(agent: HybridAgent, state: dict[str, Any], stage: str) -> dict[str, Any]:
    """The state after `stage`: its calibrated answer added, and decided when it stops the run.
    A stage not in the pipeline's sequence passes the state on; an LLM stage that is not
    configured is recorded in `skipped`. NER and RAG failures become error answers (as in
    `predict_batch`); an LLM failure raises StageUnavailable, for the state machine to retry."""
    check_state(state)
    if state["decided"] or stage in state["answers"] or stage in state["skipped"] \
            or stage not in agent.pipeline["sequence"]:
        return state
    if reason := agent.skip_reason(stage):
        return {**state, "skipped": {**state["skipped"], stage: reason}}
    raw = agent.run_stage(stage, [state["text"]], [answers_of(state)])[0]
    if raw.error and stage == "llm":
        raise StageUnavailable(raw.error)
    calibrated = agent.calibrate(stage, raw)
    state = {**state, "answers": {**state["answers"], stage: calibrated.to_dict(rounded=False)},
             "raw": {**state["raw"], stage: {"brand_confidence": raw.brand_confidence,
                                             "category_confidence": raw.category_confidence}}}
    if agent.stops_early(agent.run_answer(state["text"], answers_of(state))):  # the fused answer, with a learned fusion
        state.update(decided=True, result=_row(agent, state, answers_of(state), decided_by=stage))
    return state


def finish(agent: HybridAgent, state: dict[str, Any]) -> dict[str, Any]:
    """The output row: `result` when decided, else the fusion of the answers present. With a
    `stage_error` (a Catch), the stage that failed gets an error answer, so the row degrades to
    the earlier stages exactly as `predict_batch` degrades when a stage fails; when the first
    task failed (no item state yet), the row is an error row marked `degraded`."""
    if isinstance(state, dict) and state.get("stage_error") is not None and "answers" not in state:
        name = state.get("name") if isinstance(state.get("name"), str) else None
        record_id = state.get("id") if isinstance(state.get("id"), (str, int)) else None
        return {"id": None if record_id is None else str(record_id), "name": name, "degraded": True,
                "error": f"{record_label(record_id)}: no stage answered "
                         f"({describe_stage_error(state['stage_error'])})"}
    check_state(state)
    if state["decided"]:
        return state["result"]
    answers = answers_of(state)
    if state.get("stage_error") is not None:
        failed = next((s for s in agent.pipeline["sequence"] if s not in answers and s not in state["skipped"]), None)
        message = describe_stage_error(state["stage_error"])
        answers[failed or "llm"] = StageAnswer(stage=failed or "llm", error=message)
    return _row(agent, state, answers, decided_by="fusion")


def predict_items(agent: HybridAgent, items: Sequence[Any], source: str) -> list[dict[str, Any]]:
    """One row per Map item {"index", "record"}, in order, each with its `index`: the hybrid's
    result, or an error row "<source> line <index + 1>: <problem>" (the Map reads the checked
    copy, one line per input line; an unreadable line's marker already names its line)."""
    if not isinstance(items, (list, tuple)):
        raise InvalidEvent(f"Items must be a list of {{'index', 'record'}} objects, got {type(items).__name__}")
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "record" not in item:
            raise InvalidEvent(f"Items[{position}] must be an object with 'index' and 'record'")
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidEvent(f"Items[{position}] has index {index!r}; expected a whole number >= 0 ($$.Map.Item.Index)")
    wheres = [f"{source} line {item['index'] + 1}" for item in items]
    records = [_item_record(item["record"], where) for item, where in zip(items, wheres)]
    rows = agent.predict_batch(records)
    out = []
    for item, where, record, row in zip(items, wheres, records, rows):
        if "error" in row and isinstance(record, Record):
            row = {**row, "error": f"{where}: {row['error']}"}
        out.append({"index": item["index"], **row})
    return out


def _item_record(value: Any, where: str) -> Record | RecordError:
    problem = unreadable_line(value)
    return RecordError(0, problem) if problem is not None else parse_record(value, where)


def describe_stage_error(error: Any) -> str:
    """The message of a Step Functions Catch ({"Error", "Cause"}); a Lambda's Cause is the JSON
    of the exception, whose errorMessage is what the local pipeline would have said."""
    if not isinstance(error, dict):
        return str(error)
    cause = error.get("Cause")
    try:
        details = json.loads(cause) if isinstance(cause, str) else None
    except json.JSONDecodeError:
        details = None
    if isinstance(details, dict) and details.get("errorMessage"):
        return str(details["errorMessage"])
    return f"{error.get('Error', 'Error')}: {cause}" if cause else str(error.get("Error", "stage failed"))


def answers_of(state: dict[str, Any]) -> dict[str, StageAnswer]:
    return {stage: StageAnswer.from_dict(found) for stage, found in state["answers"].items()}


def check_state(state: Any) -> None:
    if not isinstance(state, dict):
        raise InvalidEvent(f"expected an item state object, got {type(state).__name__}")
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise InvalidEvent(f"item state lacks {missing}; the first task (ner_stage) makes the state from "
                           f"{{'id', 'name'}}")
    if not state["decided"] and not isinstance(state["text"], str):
        raise InvalidEvent(f"item state of {record_label(state['id'])} is undecided but has no normalised text")


def _row(agent: HybridAgent, state: dict[str, Any], answers: dict[str, StageAnswer], decided_by: str) -> dict[str, Any]:
    raw = {stage: dataclasses.replace(answer, **state["raw"][stage])
           for stage, answer in answers.items() if stage in state["raw"]}
    return agent.finish_row(Record(name=state["name"], id=state["id"]), answers, dict(state["skipped"]),
                            decided_by, raw, text=state["text"])
