"""The synthesized state machines executed locally by aws-local-stepfunctions, every Task running
the real handler of lambdas/ (one Python worker over a home bootstrapped from data/sample; S3 and
SageMaker are moto's).

HybridPipeline runs as synthesized. CatalogueBatch's Distributed Map (ItemReader, ItemBatcher) is
something aws-local-stepfunctions 3.0 does not execute, so sfn_driver.mjs plays it from the
definition (the states before it, the object its JSONL ItemReader names read from moto's S3 line by
line, batch size, ItemSelector, BatchInput, ItemProcessor, the states after the Map).
NovaFineTuning's Bedrock tasks are answered by moto's Bedrock, in the PascalCase Step Functions uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from inference.brands import same_brand
from tests.integration.infrastructure.cdk_helpers import NODE, ROOT, task_states

pytestmark = pytest.mark.slow
DRIVER = ROOT / "tests" / "integration" / "infrastructure" / "sfn_driver.mjs"
WORKER = ROOT / "tests" / "integration" / "infrastructure" / "lambda_worker.py"
# Set, these switch a part of the handlers to AWS (lambdas/README.md); unset, they run from the local home.
AWS_MODE = ("MODEL_REGISTRY_URI", "NER_ENDPOINT_NAME", "EMBEDDING_ENDPOINT_NAME", "MILVUS_SECRET_NAME")

EARLY = "Nescafe Gold Crema Instant Coffee 200g"        # NER alone is confident
FULL = "Kleenex Facial Tissue Soft Pack 130 sheets x4"   # NER and RAG are not: the LLM decides
LLM_DOWN = "Zorblax ultra gizmo 3000"                    # reaches the LLM, which is throttled throughout
LLM_ANSWER = {"brand": "Kleenex", "category": "Tissue", "brand_confidence": 0.97, "category_confidence": 0.95}
LLM_MODEL = "amazon.nova-pro-v1:0"


@pytest.fixture(scope="module")
def worker_home(sample_home, tmp_path_factory):
    """A private copy of the bootstrapped sample home: Milvus Lite lets one process at a time open it."""
    home = tmp_path_factory.mktemp("worker") / "home"
    shutil.copytree(sample_home[0], home, ignore=shutil.ignore_patterns("LOCK"))
    return home


def handlers(synth, stack: str, definition: dict) -> dict[str, str]:
    """Task state -> what the worker runs: the function's handler module, or a service integration."""
    found = {}
    for name, state in task_states(definition):
        resource = state["Resource"]
        found[name] = (f"service:{resource.split(':::', 1)[1]}" if resource.startswith("arn:aws:states:::")
                       else synth.handler_of_function_arn(stack, resource))
    return found


def local_env(base: dict, **extra: str) -> dict:
    """The worker's environment: `base` without the AWS-mode switches, plus `extra`."""
    env = {key: value for key, value in base.items() if key not in AWS_MODE}
    env.update({"PYTHONPATH": str(ROOT), "POWERTOOLS_SERVICE_NAME": "multilingual-product-inference",
                "POWERTOOLS_METRICS_NAMESPACE": "MultilingualInference", "LOG_LEVEL": "WARNING", **extra})
    return env


def run_driver(tmp_path, runs: list[dict], handler_map: dict, worker_env: dict) -> list[dict]:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"worker": {"command": [sys.executable, str(WORKER)], "env": {}},
                                "handlers": handler_map, "runs": runs}, ensure_ascii=False))
    result = subprocess.run([str(NODE), str(DRIVER), str(plan)], capture_output=True, text=True, timeout=600,
                            cwd=ROOT, env=worker_env)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def entered(result: dict) -> list[str]:
    return [e["state"] for e in result["events"] if e["type"] == "StateEntered"]


def count(result: dict, event_type: str, state: str) -> int:
    return sum(1 for e in result["events"] if e["type"] == event_type and e["state"] == state)


@pytest.fixture(scope="module")
def hybrid_runs(synth, worker_home, tmp_path_factory):
    """The four Express scenarios, in one driver run (the worker loads the models once)."""
    definition = synth.state_machine_asl("Inference", "HybridPipeline")
    inputs = [{"id": "early", "name": EARLY}, {"id": "full", "name": FULL}, {"id": "llm-down", "name": LLM_DOWN},
              {"id": "blank", "name": "   "}]
    env = local_env(dict(os.environ), PRODUCT_INFERENCE_HOME=str(worker_home), LLM_MODEL_ID=LLM_MODEL,
                    LLM_SCRIPT=json.dumps({FULL: {"answer": LLM_ANSWER}, LLM_DOWN: {"error": "ThrottlingException"}}))
    results = run_driver(tmp_path_factory.mktemp("hybrid"),
                         [{"kind": "machine", "definition": definition, "input": i} for i in inputs],
                         handlers(synth, "Inference", definition), env)
    return dict(zip([i["id"] for i in inputs], results))


def test_early_stop_after_ner(hybrid_runs):
    run = hybrid_runs["early"]
    assert entered(run) == ["NerStage", "DecidedAfterNer", "Finalize"]
    row = run["output"]
    assert (row["id"], row["name"], row["decided_by"], row["needs_review"]) == ("early", EARLY, "ner", False)
    assert same_brand(row["brand"], "Nescafe")
    assert set(row["stages"]) == {"ner"}


def test_full_path_ends_with_the_llm(hybrid_runs):
    run = hybrid_runs["full"]
    assert entered(run) == ["NerStage", "DecidedAfterNer", "RagStage", "DecidedAfterRag", "LlmStage", "Finalize"]
    row = run["output"]
    assert row["id"] == "full" and not row.get("degraded")
    assert set(row["stages"]) == {"ner", "rag", "llm"}
    assert row["stages"]["llm"]["brand"] == "Kleenex"
    assert row["stages"]["llm"]["evidence"][0]["model_id"] == LLM_MODEL
    assert same_brand(row["brand"], "Kleenex") and row["decided_by"] == "llm"


def test_llm_failure_is_retried_then_degrades_to_ner_and_rag(hybrid_runs):
    run = hybrid_runs["llm-down"]
    assert count(run, "StateRetried", "LlmStage") == 2  # the States.TaskFailed retrier
    assert count(run, "StateCaught", "LlmStage") == 1
    assert entered(run)[-1] == "Finalize" and "error" not in run
    row = run["output"]
    assert row["id"] == "llm-down" and row["degraded"] is True and row["decided_by"] == "fusion"
    assert "Throttl" in row["stages"]["llm"]["error"]
    assert row["brand"] in (row["stages"]["ner"]["brand"], row["stages"]["rag"]["brand"])
    assert row["needs_review"] is True  # an unknown brand, no LLM: below the review threshold


def test_invalid_name_becomes_an_error_row(hybrid_runs):
    run = hybrid_runs["blank"]
    assert entered(run) == ["NerStage", "DecidedAfterNer", "Finalize"]
    row = run["output"]
    assert row["id"] == "blank" and "brand" not in row
    assert "blank" in row["error"] and "empty" in row["error"]


# -- CatalogueBatch --------------------------------------------------------------------------------
BAD = {  # line number in the catalogue -> (the line's bytes, what its error row must say)
    3: (b'{"id": "bad-empty", "name": ""}', "empty"),
    5: (b'{"id": "bad-missing"}', "field 'name' is missing"),
    7: (b'{"id": "bad-cut", "name": "Colgate Total', "malformed JSON"),
    9: (b'{"id": "bad-type", "name": 42}', "must be a string"),
    11: (b"this is not JSON", "malformed JSON"),
    12: (b'["not", "an", "object"]', "expected a JSON object, got list"),
    14: (b"", "empty line"),
    15: (b'{"id": "bad-invisible", "name": "\\u200b\\u200b\\u200b"}', "name"),
    17: (b'{"id": "bad-utf8", "name": "caf\xe9 latte"}', "invalid UTF-8"),
    19: (b'{"id": "bad-long", "name": "' + b"x" * 600 + b'"}', "500"),
}
UNREADABLE_LINES = {7, 11, 12, 14, 17}  # no JSON object: the check replaces them (the reader fails on 7, 11, 14, 17)


def catalogue_lines() -> list[bytes]:
    """20 lines: 10 labelled names from the sample catalogue, and the bad lines of BAD in between."""
    good = iter((ROOT / "data" / "sample" / "catalog.jsonl").read_bytes().splitlines()[::50])
    return [BAD[n][0] if n in BAD else next(good) for n in range(1, 21)]


def test_catalogue_batch_writes_one_row_per_line_in_order(variant, worker_home, aws_env, tmp_path):
    from inference.aws import client

    s3 = client("s3")
    bucket, key, prefix = "catalogue-data", "incoming/catalogue.jsonl", "results/run-1/"
    s3.create_bucket(Bucket=bucket)
    lines = catalogue_lines()
    s3.put_object(Bucket=bucket, Key=key, Body=b"\n".join(lines) + b"\n")

    definition = variant.state_machine_asl("Inference", "CatalogueBatch")  # batches of 7: three of them
    env = local_env({k: v for k, v in aws_env.items() if k != "LLM_MODEL_ID"},
                    PRODUCT_INFERENCE_HOME=str(worker_home), DATA_BUCKET=bucket)
    [run] = run_driver(tmp_path, [{"kind": "catalogue", "definition": definition, "execution": "run-1",
                                   "input": {"bucket": bucket, "key": key, "output_prefix": prefix}}],
                       handlers(variant, "Inference", definition), env)

    assert "error" not in run, run.get("error")
    assert entered(run) == ["CheckCatalogue", "MergeResults"]  # around the Map the driver plays
    assert run["mapInput"]["checked"] == {"checked_key": f"{prefix}checked.jsonl", "rows": 20,
                                          "unreadable": len(UNREADABLE_LINES)}
    checked = s3.get_object(Bucket=bucket, Key=f"{prefix}checked.jsonl")["Body"].read().decode().splitlines()
    assert len(checked) == 20 and all(isinstance(json.loads(line), dict) for line in checked)
    assert [b["output"]["rows"] for b in run["batches"]] == [7, 7, 6]
    assert run["output"] == {"results_key": f"{prefix}results.jsonl", "rows": 20, "errors": len(BAD)}

    body = s3.get_object(Bucket=bucket, Key=f"{prefix}results.jsonl")["Body"].read().decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert len(rows) == len(lines) == 20
    right = 0
    for number, (line, row) in enumerate(zip(lines, rows), start=1):
        assert "index" not in row
        if number in BAD:
            assert "brand" not in row and row["error"].startswith(f"s3://{bucket}/{key} line {number}: "), row
            assert BAD[number][1] in row["error"], (number, row)
            if number in UNREADABLE_LINES:
                assert row.get("id") is None
            else:
                assert row.get("id") == json.loads(line)["id"]
        else:
            record = json.loads(line)
            assert "error" not in row, (number, row)
            assert (row["id"], row["name"]) == (record["id"], record["name"])
            assert row["decided_by"] in ("ner", "rag", "fusion")
            right += same_brand(row["brand"], record["brand"])
    assert right >= 8  # of 10 catalogue names (the sample home was bootstrapped on this catalogue)


def test_a_missing_catalogue_fails_the_run_at_the_check_without_retrying(variant, worker_home, aws_env, tmp_path):
    from inference.aws import client

    client("s3").create_bucket(Bucket="catalogue-data")
    definition = variant.state_machine_asl("Inference", "CatalogueBatch")
    env = local_env(aws_env, PRODUCT_INFERENCE_HOME=str(worker_home), DATA_BUCKET="catalogue-data")
    [run] = run_driver(tmp_path, [{"kind": "catalogue", "definition": definition, "execution": "run-2",
                                   "input": {"bucket": "catalogue-data", "key": "incoming/none.jsonl",
                                             "output_prefix": "results/run-2/"}}],
                       handlers(variant, "Inference", definition), env)
    assert '"errorType":"InvalidEvent"' in run["error"]["message"]  # the execution fails with the task's error
    assert "s3://catalogue-data/incoming/none.jsonl: no such object" in run["error"]["message"]
    assert count(run, "StateRetried", "CheckCatalogue") == 0 and run["batches"] == []


# -- NerTraining -----------------------------------------------------------------------------------
def test_ner_training_runs_the_job_and_registers_its_model(synth, aws_env, tmp_path):
    """The SageMaker task is answered by moto's SageMaker (the synthesized parameters go through
    botocore's validation), register_model is the real handler writing the registry to moto's S3."""
    from inference.aws import client

    s3, sagemaker = client("s3"), client("sagemaker")
    registry_bucket = "registry-bucket"
    s3.create_bucket(Bucket=registry_bucket)
    registry_uri = f"s3://{registry_bucket}/registry/model_registry.json"
    definition = synth.state_machine_asl("Training", "NerTraining")
    runs = [{"kind": "machine", "definition": definition, "input": given,
             "context": {"Execution": {"Name": name, "Input": given}}} for name, given in (
        ("ner-run-1", {"training_data": "s3://training-data/ner/", "training_file": "catalog.jsonl"}),
        ("ner-run-2", {"training_data": "s3://training-data/ner/", "job_name": "ner-custom-job",
                       "model_name": "ner-candidate"}))]
    first, second = run_driver(tmp_path, runs, handlers(synth, "Training", definition),
                               local_env(aws_env, MODEL_REGISTRY_URI=registry_uri))

    assert "error" not in first and "error" not in second, (first.get("error"), second.get("error"))
    job = sagemaker.describe_training_job(TrainingJobName="ner-run-1")  # default job name: the execution's
    assert job["HyperParameters"]["training_data"] == '"catalog.jsonl"'
    assert job["HyperParameters"]["sagemaker_program"] == '"sagemaker_jobs/train_ner.py"'
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://training-data/ner/"
    assert first["output"]["registration"] == {"model_type": "ner", "name": "xlm-roberta-ner",
                                               "registry": registry_uri, "active": True}
    assert second["output"]["training"]["TrainingJobName"] == "ner-custom-job"  # the input's names win
    assert sagemaker.describe_training_job(TrainingJobName="ner-custom-job")["HyperParameters"]["training_data"] \
        == '"training.jsonl"'
    ner = json.loads(s3.get_object(Bucket=registry_bucket, Key="registry/model_registry.json")["Body"].read())[
        "models"]["ner"]
    assert set(ner["versions"]) == {"xlm-roberta-ner", "ner-candidate"} and ner["active"] == "ner-candidate"
    assert ner["versions"]["xlm-roberta-ner"]["model_uri"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert ner["versions"]["xlm-roberta-ner"]["training_job"] == "ner-run-1"


# -- NovaFineTuning --------------------------------------------------------------------------------
def test_nova_fine_tuning_registers_the_custom_model_the_job_made(synth, aws_env, tmp_path):
    """The Bedrock tasks are answered by moto's Bedrock (parameters through botocore's validation),
    register_model is the real handler; the register step reads the job's fields by the names the
    AWS SDK integration gives them."""
    from inference.aws import client

    s3, bedrock = client("s3"), client("bedrock")
    s3.create_bucket(Bucket="registry-bucket")
    registry_uri = "s3://registry-bucket/registry/model_registry.json"
    definition = synth.state_machine_asl("Training", "NovaFineTuning")
    given = {"training_data": "s3://bedrock-training/datasets/train.jsonl"}
    [run] = run_driver(tmp_path, [{"kind": "machine", "definition": definition, "input": given,
                                   "context": {"Execution": {"Name": "nova-run-1", "Input": given}}}],
                       handlers(synth, "Training", definition), local_env(aws_env, MODEL_REGISTRY_URI=registry_uri))

    assert "error" not in run, run.get("error")
    assert entered(run)[-3:] == ["FineTuneNova", "DescribeCustomization", "RegisterNovaModel"]
    job = bedrock.get_model_customization_job(jobIdentifier="nova-run-1")  # default job name: the execution's
    assert job["trainingDataConfig"]["s3Uri"] == given["training_data"]
    assert job["hyperParameters"] == definition["States"]["FineTuneNova"]["Parameters"]["HyperParameters"]
    assert run["output"]["customization"]["OutputModelArn"] == job["outputModelArn"]
    assert run["output"]["registration"] == {"model_type": "llm", "name": "nova-run-1", "registry": registry_uri,
                                             "active": True}
    llm = json.loads(s3.get_object(Bucket="registry-bucket", Key="registry/model_registry.json")["Body"].read())[
        "models"]["llm"]["versions"]["nova-run-1"]
    assert llm.pop("registered_at")
    assert llm == {"custom_model_arn": job["outputModelArn"], "provider": "bedrock",
                   "customization_job": job["jobArn"], "base_model": job["baseModelArn"]}
