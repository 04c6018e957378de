"""The Lambda handlers of lambdas/, served to sfn_driver.mjs: one JSON request per line on stdin
({"module": "lambdas.ner_stage", "event": {...}}), one JSON answer per line ({"result": ...} or
{"error": {"type", "message"}}), in one process, so the local agent (models, Milvus Lite) loads once.

A "module" of the form `service:<integration>` is a Step Functions service integration instead,
answered by the AWS API behind AWS_ENDPOINT_URL (moto): `service:sagemaker:createTrainingJob.sync`
creates the training job with the Task's parameters and returns its description, as the `.sync`
integration does once the job has finished.

Bedrock Converse has no local stand-in (moto lacks it), so the LLM stage's client is wrapped in a
botocore Stubber that answers per product name, as the plan's LLM_SCRIPT says: {"<name>": {"answer":
{...}}} queues one Converse response, {"<name>": {"error": "<code>"}} queues the error for every
attempt the agent makes. Handlers print Powertools' metric lines on stdout; the protocol therefore
has its own copy of stdout and everything else goes to stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdout = sys.stderr

from botocore.stub import Stubber  # noqa: E402

from inference.agent_factory import get_agent  # noqa: E402

LLM_SCRIPT = json.loads(os.environ.get("LLM_SCRIPT", "{}"))
_stubber: Stubber | None = None


def converse_response(answer: dict) -> dict:
    return {"output": {"message": {"role": "assistant", "content": [{"text": json.dumps(answer)}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150},
            "metrics": {"latencyMs": 210}}


def script_llm(event: dict) -> None:
    """Queue the Converse answers (or errors) for the product about to reach the LLM stage."""
    global _stubber
    llm = get_agent().llm
    if _stubber is None:
        _stubber = Stubber(llm.client)
        _stubber.activate()
        llm.sleep = lambda seconds: None  # the agent's own back-off, not waited for here
    plan = LLM_SCRIPT.get(event.get("name"))
    if plan is None:
        return
    if "answer" in plan:
        _stubber.add_response("converse", converse_response(plan["answer"]))
    else:
        for _ in range(llm.max_retries + 1):
            _stubber.add_client_error("converse", service_error_code=plan["error"], service_message="stubbed outage",
                                      http_status_code=429)


def create_training_job_sync(parameters: dict) -> dict:
    from inference.aws import client

    sagemaker = client("sagemaker")
    sagemaker.create_training_job(**parameters)
    description = sagemaker.describe_training_job(TrainingJobName=parameters["TrainingJobName"])
    description.pop("ResponseMetadata", None)
    return json.loads(json.dumps(description, default=str))


SERVICE_INTEGRATIONS = {"service:sagemaker:createTrainingJob.sync": create_training_job_sync}


def call(target: str, event):
    if target in SERVICE_INTEGRATIONS:
        return SERVICE_INTEGRATIONS[target](event)
    if target == "lambdas.llm_stage" and isinstance(event, dict):
        script_llm(event)
    return importlib.import_module(target).handler(event, None)


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        event = request["event"]
        try:
            answer = {"result": call(request["module"], event)}
        except Exception as exc:  # noqa: BLE001  (reported to the state machine like Lambda does)
            answer = {"error": {"type": type(exc).__name__, "message": str(exc)}}
        protocol.write(json.dumps(answer, ensure_ascii=False) + "\n")
        protocol.flush()


if __name__ == "__main__":
    serve()
