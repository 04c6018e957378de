"""The Lambda handlers of lambdas/, served to sfn_driver.mjs: one JSON request per line on stdin
({"module": "lambdas.ner_stage", "event": {...}}), one JSON answer per line ({"result": ...} or
{"error": {"type", "message"}}), in one process, so the local agent (models, Milvus Lite) loads once.

A "module" of the form `service:<integration>` is a Step Functions service integration instead,
answered by the AWS API behind AWS_ENDPOINT_URL (moto), the parameters going through botocore's
validation: `service:sagemaker:createTrainingJob.sync` creates the training job and returns its
description, as the `.sync` integration does once the job has finished; the Bedrock ones turn the
Task's PascalCase parameters into the API's camelCase members and the answer back into PascalCase,
as Step Functions does (GetModelCustomizationJob's `outputModelArn` is `OutputModelArn` in the
state). `reader:s3:getObject:JSONL` is the Distributed Map's JSONL ItemReader: the object's lines
as items, failing (as the reader fails the run) on a line that is not JSON.

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

from botocore import xform_name  # noqa: E402
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


def to_api(shape, value):
    """Step Functions' PascalCase parameters as the API's members (structures only; map keys stay)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name[0].upper() + name[1:]: (name, member) for name, member in shape.members.items()}
        return {members.get(key, (key, None))[0]: to_api(members.get(key, (key, None))[1], item)
                for key, item in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_api(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_api(shape.value, item) for key, item in value.items()}
    return value


def to_states(shape, value):
    """An API answer as Step Functions hands it to the state: structure members in PascalCase."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {name[0].upper() + name[1:]: to_states(shape.members[name], item)
                for name, item in value.items() if name in shape.members}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_states(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_states(shape.value, item) for key, item in value.items()}
    return value.isoformat() if hasattr(value, "isoformat") else value


def bedrock_call(operation: str, parameters: dict) -> dict:
    from inference.aws import client

    bedrock = client("bedrock")
    model = bedrock.meta.service_model.operation_model(operation)
    answer = getattr(bedrock, xform_name(operation))(**to_api(model.input_shape, parameters))
    return to_states(model.output_shape, answer)


def create_model_customization_job_sync(parameters: dict) -> dict:
    bedrock_call("CreateModelCustomizationJob", parameters)
    return bedrock_call("GetModelCustomizationJob", {"JobIdentifier": parameters["JobName"]})


def read_jsonl_items(parameters: dict) -> list:
    from inference.aws import client

    body = client("s3").get_object(Bucket=parameters["Bucket"], Key=parameters["Key"])["Body"].read().decode("utf-8")
    lines = body.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    items = []
    for number, line in enumerate(lines, start=1):
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"States.ItemReaderFailed: line {number} of s3://{parameters['Bucket']}/"
                             f"{parameters['Key']} is not JSON ({exc.msg})") from None
    return items


SERVICE_INTEGRATIONS = {
    "service:sagemaker:createTrainingJob.sync": create_training_job_sync,
    "service:bedrock:createModelCustomizationJob.sync": create_model_customization_job_sync,
    "service:aws-sdk:bedrock:getModelCustomizationJob": lambda p: bedrock_call("GetModelCustomizationJob", p),
    "reader:s3:getObject:JSONL": read_jsonl_items,
}


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
