"""The synthesized state machines executed locally by aws-local-stepfunctions, every Task running
the real handler of lambdas/ (one Python worker over a home bootstrapped from data/sample; S3 and
SageMaker are moto's).

HybridPipeline runs as synthesized. CatalogueBatch's Distributed Map (ItemReader, ItemBatcher) is
something aws-local-stepfunctions 3.0 does not execute, so sfn_driver.mjs plays it from the
definition (batch size, ItemSelector, BatchInput, ItemProcessor, the states after the Map) with the
records this test reads back from S3 (moto), as the ItemReader would.
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
BAD = {  # position in the catalogue -> (the record, what its error row must say)
    2: ({"id": "bad-empty", "name": ""}, "empty"),
    5: ({"id": "bad-missing"}, "missing"),
    9: ({"id": "bad-type", "name": 42}, "name"),
    12: (["not", "an", "object"], "object"),
    15: ({"id": "bad-invisible", "name": "\u200b\u200b\u200b"}, "name"),
    18: ({"id": "bad-long", "name": "x" * 600}, "500"),
}


def catalogue_records() -> list:
    """20 records: 14 labelled names from the sample catalogue, and the 6 bad ones of BAD in between."""
    good = iter(json.loads(line) for line in (ROOT / "data" / "sample" / "catalog.jsonl").read_text().splitlines()[::50])
    return [BAD[i][0] if i in BAD else next(good) for i in range(20)]


def test_catalogue_batch_writes_one_row_per_record_in_order(variant, worker_home, aws_env, tmp_path):
    from inference.aws import client

    s3 = client("s3")
    bucket, key, prefix = "catalogue-data", "incoming/catalogue.jsonl", "results/run-1/"
    s3.create_bucket(Bucket=bucket)
    records = catalogue_records()
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode())
    # What the ItemReader (JSONL) hands the Map: one item per line of the object.
    items = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]

    definition = variant.state_machine_asl("Inference", "CatalogueBatch")  # batches of 7: three of them
    env = local_env({k: v for k, v in aws_env.items() if k != "LLM_MODEL_ID"},
                    PRODUCT_INFERENCE_HOME=str(worker_home), DATA_BUCKET=bucket)
    [run] = run_driver(tmp_path, [{"kind": "catalogue", "definition": definition, "execution": "run-1",
                                   "input": {"bucket": bucket, "key": key, "output_prefix": prefix}, "items": items}],
                       handlers(variant, "Inference", definition), env)

    assert "error" not in run, run.get("error")
    assert [b["output"]["rows"] for b in run["batches"]] == [7, 7, 6]
    assert run["output"] == {"results_key": f"{prefix}results.jsonl", "rows": 20, "errors": len(BAD)}
    parts = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}parts/")["Contents"])
    assert parts == [f"{prefix}parts/{first:010d}.jsonl" for first in (0, 7, 14)]

    body = s3.get_object(Bucket=bucket, Key=f"{prefix}results.jsonl")["Body"].read().decode()
    rows = [json.loads(line) for line in body.splitlines()]
    assert len(rows) == len(records) == 20
    right = 0
    for position, (record, row) in enumerate(zip(records, rows)):
        assert "index" not in row
        if position in BAD:
            assert "brand" not in row and row["error"].startswith(f"s3://{bucket}/{key} item {position}:"), row
            assert BAD[position][1] in row["error"], (position, row)
            assert row.get("id") == (record.get("id") if isinstance(record, dict) else None)
        else:
            assert "error" not in row, (position, row)
            assert (row["id"], row["name"]) == (record["id"], record["name"])
            assert row["decided_by"] in ("ner", "rag", "fusion")
            right += same_brand(row["brand"], record["brand"])
    assert right >= 12  # of 14 catalogue names (the sample home was bootstrapped on this catalogue)


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
