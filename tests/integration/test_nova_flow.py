"""The manual's LLM fine-tuning section, against a real moto_server.

The commands run as printed (subprocesses from a temporary folder, `--aws-profile ml-sandbox
--region us-east-1`, AWS_ENDPOINT_URL pointing at moto): prepare, upload, submit, monitor. moto has
the Bedrock control plane for jobs and custom models, but its jobs never leave InProgress and it has
no custom model deployments, Provisioned Throughput or Converse: for exactly those calls the command's
main() runs in-process with a client whose other calls still go to moto, the missing ones to a
botocore Stubber with Bedrock's response shapes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from inference.agents.llm_agent import LLMAgent, parse_answer
from inference.config.model_registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PREPARE = ROOT / "training" / "preprocessing" / "llm_data_preparation.py"
SUBMIT = ROOT / "training" / "pipelines" / "train_nova_pipeline.py"
MONITOR = ROOT / "training" / "pipelines" / "nova_fine_tuning.py"
VALIDATOR = ROOT / "tests" / "accuracy" / "accuracy_validator.py"

BUCKET = "ml-sandbox-bedrock-training"
PREFIX = "multilingual-product-inference/training-data/"
KEY = PREFIX + "conversation_format.jsonl"
OUTPUT_BUCKET = "ml-sandbox-bedrock-output"
ROLE = "arn:aws:iam::123456789012:role/multilingual-product-inference-bedrock-customization"
JOB = "multilingual-product-inference-v1"
ENDPOINT = "multilingual-inference-endpoint"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/a1b2c3d4e5f6"
AWS = ["--aws-profile", "ml-sandbox", "--region", "us-east-1"]


class Routed:
    """A boto3 client whose `operations` go to a stubbed client (what moto lacks); the rest to moto."""

    def __init__(self, real, stubbed, operations):
        self._real, self._stubbed, self._operations = real, stubbed, set(operations)

    def __getattr__(self, name):
        return getattr(self._stubbed if name in self._operations else self._real, name)


def stubbed(service: str):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return client, Stubber(client)


def run(cwd: Path, env: dict, script: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**env, "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}, timeout=120)


def clients():
    from inference import aws

    return (aws.client("bedrock", "ml-sandbox", "us-east-1"), aws.client("s3", "ml-sandbox", "us-east-1"))


@pytest.fixture
def account(aws_env):
    """The ml-sandbox account as the CDK app leaves it: buckets, and the settings in SSM."""
    from inference import aws

    s3 = aws.client("s3", "ml-sandbox", "us-east-1")
    for bucket in (BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    ssm = aws.client("ssm", "ml-sandbox", "us-east-1")
    ssm.put_parameter(Name="/multilingual-product-inference/bedrock-customization-role-arn", Value=ROLE, Type="String")
    ssm.put_parameter(Name="/multilingual-product-inference/bedrock-output-bucket", Value=OUTPUT_BUCKET, Type="String")
    return aws_env


def sample_records(folder: Path, count: int = 12) -> Path:
    """training_dataset.txt: the first catalogue rows (so they are in the home's index), aliases beside."""
    rows = [json.loads(line) for line in (SAMPLE / "catalog.jsonl").read_text(encoding="utf-8").splitlines()[:count]]
    path = folder / "training_dataset.txt"
    path.write_text("name\tbrand\tcategory\n" + "".join(f"{r['name']}\t{r['brand']}\t{r['category']}\n" for r in rows),
                    encoding="utf-8")
    shutil.copy(SAMPLE / "aliases.json", folder / "aliases.json")
    return path


def put_metrics(s3, job_name: str, prefix: str, training: list[tuple], validation: list[tuple] | None) -> None:
    """The loss files as Bedrock writes them under the job's output folder."""
    folder = f"{prefix}model-customization-job-{job_name}/"
    body = "step_number,epoch_number,training_loss,perplexity\n" + "".join(",".join(map(str, r)) + "\n" for r in training)
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=folder + "training_artifacts/step_wise_training_metrics.csv", Body=body)
    if validation:
        body = "step_number,epoch_number,validation_loss,perplexity\n" + "".join(",".join(map(str, r)) + "\n" for r in validation)
        s3.put_object(Bucket=OUTPUT_BUCKET, Key=folder + "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                      Body=body)


def job_progress(description: dict, status: str) -> dict:
    """moto's own job description at a later stage (moto's jobs stay InProgress)."""
    stages = ("Completed", "Completed", "InProgress") if status == "InProgress" else (status,) * 3
    done = {**description, "status": status, "validationDataConfig": description.get("validationDataConfig") or {"validators": []},
            "statusDetails": {k: {"status": s} for k, s in zip(("validationDetails", "dataProcessingDetails", "trainingDetails"), stages)}}
    done.pop("ResponseMetadata", None)
    return done


def converse_response(answer: dict | str) -> dict:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 420, "outputTokens": 38, "totalTokens": 458}, "metrics": {"latencyMs": 310}}


# -- the whole flow ---------------------------------------------------------------------------------------
def test_full_fine_tuning_flow(account, home_copy, tmp_path, capsys):
    env, home = account, Path(home_copy.location).parent
    records = sample_records(tmp_path)

    # 1. Prepare, as printed (plus --home: the bootstrapped home that gives the prompts their context).
    done = run(tmp_path, env, PREPARE, "--input", "training_dataset.txt", "--output", "conversation_format.jsonl",
               "--format", "bedrock_nova", "--include-reasoning", "--aws-profile", "ml-sandbox", "--home", home)
    assert done.returncode == 0, done.stderr
    assert "Wrote 12 conversation records" in done.stdout and "valid for Bedrock (12 records" in done.stdout
    lines = (tmp_path / "conversation_format.jsonl").read_text(encoding="utf-8").splitlines()
    first, names = json.loads(lines[0]), [l.split("\t")[0] for l in records.read_text(encoding="utf-8").splitlines()[1:]]
    user = first["messages"][0]["content"][0]["text"]
    assert user.startswith(f"Product name: {names[0]}\nEntities detected in the name")
    assert "Similar catalogue products (best first):" in user
    listed = [line for line in user.splitlines() if line[:1].isdigit()]
    assert listed and not any(line.startswith(f"{i}. {names[0]!r} |") for i, line in enumerate(listed, 1))
    answer = first["messages"][1]["content"][0]["text"]
    assert answer.startswith("The name contains 'สมูทอี', the Thai spelling of Smooth E;")
    assert parse_answer(answer)["brand"] == "Smooth E"
    # Left in, the record would be its own best neighbour: the exclusion is what keeps the answer out.
    from training.preprocessing.llm_data_preparation import PipelineContext

    context = PipelineContext(home_copy)
    try:
        assert context.lookup([names[0]])[0][1][0]["name"] == names[0]
    finally:
        context.close()

    # 2. Validate (the manual's Python).
    from training.preprocessing.llm_data_preparation import validate_conversation_format

    validation_results = validate_conversation_format(tmp_path / "conversation_format.jsonl")
    assert validation_results["valid"] and validation_results["records"] == 12

    # 3. Upload, as printed.
    done = run(tmp_path, env, PREPARE, "--upload-to-s3", "--input", "conversation_format.jsonl", "--bucket", BUCKET,
               "--key", KEY, *AWS)
    assert done.returncode == 0, done.stderr
    assert f"Uploaded 12 records to s3://{BUCKET}/{KEY}" in done.stdout
    bedrock, s3 = clients()
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == (tmp_path / "conversation_format.jsonl").read_bytes()

    # 4. Submit, as printed: role and output bucket from SSM, batch_size named and not sent.
    done = run(tmp_path, env, SUBMIT, "--base-model", "amazon.nova-pro-v1:0", "--training-data", f"s3://{BUCKET}/{KEY}",
               "--job-name", JOB, "--hyperparameters", "learning_rate=0.0001,batch_size=4,epochs=3", *AWS)
    assert done.returncode == 0, done.stderr
    job = bedrock.get_model_customization_job(jobIdentifier=JOB)
    assert done.stdout.strip() == job["jobArn"]
    assert "batch_size=4 not sent: Nova understanding models take no batch size" in done.stderr
    assert job["hyperParameters"] == {"epochCount": "3", "learningRate": "0.0001"}
    assert job["baseModelArn"].endswith("foundation-model/amazon.nova-pro-v1:0:300k")
    assert job["roleArn"] == ROLE and job["customizationType"] == "FINE_TUNING"
    assert job["trainingDataConfig"] == {"s3Uri": f"s3://{BUCKET}/{KEY}"}
    output = job["outputDataConfig"]["s3Uri"]
    assert output == f"s3://{OUTPUT_BUCKET}/fine-tuning/{JOB}/"
    runs = list(tmp_path.glob("runs/*-nova-fine-tuning-job/metrics.json"))
    assert runs and json.loads(runs[0].read_text())["job_arn"] == job["jobArn"]

    # 5. Monitor, as printed: moto keeps the job InProgress, so a bounded watch ends with exit 3 ...
    done = run(tmp_path, env, MONITOR, "--monitor-job", JOB, *AWS, "--interval", "0.1", "--timeout", "0.3")
    assert done.returncode == 3, done.stderr
    assert f"{JOB}: InProgress" in done.stdout and "still InProgress (--timeout 0.3 s reached)" in done.stdout
    # ... and the job's progress to Completed (what moto lacks) comes from a Stubber, in-process.
    put_metrics(s3, JOB, f"fine-tuning/{JOB}/", [(0, 1, 1.9, 6.69), (1, 1, 1.2, 3.32), (2, 2, 0.61, 1.84), (3, 3, 0.35, 1.42)],
                [(0, 1, 1.1, 3.0), (1, 2, 0.72, 2.05), (2, 3, 0.48, 1.62)])
    runtime, stubber = stubbed("bedrock")
    real = {k: v for k, v in job.items() if k != "ResponseMetadata"}
    for status in ("InProgress", "Completed"):
        stubber.add_response("get_model_customization_job", job_progress(real, status), {"jobIdentifier": JOB})
    capsys.readouterr()
    with stubber:
        from training.pipelines.nova_fine_tuning import main as monitor_main

        code = monitor_main(["--monitor-job", JOB, *AWS, "--interval", "0"],
                            client=Routed(bedrock, runtime, {"get_model_customization_job"}))
    printed = capsys.readouterr().out
    assert code == 0, printed
    stubber.assert_no_pending_responses()
    assert "validation: Completed | data processing: Completed | training: InProgress" in printed
    assert f"{JOB}: Completed; custom model {job['outputModelArn']}" in printed
    assert "0.3500" in printed and "0.4800" in printed and "1.6200" in printed

    # 6. Deploy, as printed: moto finds the custom model; the deployment calls go to the Stubber.
    model_arn = bedrock.get_custom_model(modelIdentifier=JOB)["modelArn"]
    deployments, stubber = stubbed("bedrock")
    stubber.add_client_error("get_custom_model_deployment", "ResourceNotFoundException",
                             f"Custom model deployment {ENDPOINT} not found", 404, {"customModelDeploymentIdentifier": ENDPOINT})
    stubber.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT_ARN},
                         {"modelDeploymentName": ENDPOINT, "modelArn": model_arn, "description": ANY, "tags": ANY})
    for status in ("Creating", "Active"):
        stubber.add_response("get_custom_model_deployment", {
            "customModelDeploymentArn": DEPLOYMENT_ARN, "modelDeploymentName": ENDPOINT, "modelArn": model_arn,
            "createdAt": job["creationTime"], "status": status}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
    with stubber:
        from training.pipelines.nova_deployment import main as deploy_main

        code = deploy_main(["--model-id", JOB, "--endpoint-name", ENDPOINT, "--instance-type", "ml.g4dn.xlarge", *AWS,
                            "--home", str(home), "--interval", "0"],
                           client=Routed(bedrock, deployments, {"get_custom_model_deployment", "create_custom_model_deployment"}))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stubber.assert_no_pending_responses()
    assert captured.out.strip() == DEPLOYMENT_ARN
    assert "--instance-type ml.g4dn.xlarge is a SageMaker notion" in captured.err
    assert f"deployment {ENDPOINT}: Creating" in captured.err and f"deployment {ENDPOINT}: Active" in captured.err

    # 7. The registry now points the LLM agent at the deployment, also after the manual's own update.
    registry = ModelRegistry(home=home)
    llm = registry.get_model_config("llm")
    assert {k: llm[k] for k in ("model_id", "custom_model_arn", "deployment_arn", "endpoint_name", "deployment_type")} == {
        "model_id": JOB, "custom_model_arn": model_arn, "deployment_arn": DEPLOYMENT_ARN, "endpoint_name": ENDPOINT,
        "deployment_type": "on-demand"}
    registry.update_model_config("llm", {"model_id": JOB, "endpoint_name": ENDPOINT})
    runtime, stubber = stubbed("bedrock-runtime")
    stubber.add_response("converse", converse_response({"brand": "Colgate", "category": "Toothpaste",
                                                        "brand_confidence": 0.9, "category_confidence": 0.9}),
                         {"modelId": DEPLOYMENT_ARN, "system": ANY, "messages": ANY, "inferenceConfig": ANY})
    with stubber:
        answer = LLMAgent(registry=registry, client=runtime).predict("ยาสีฟันคอลเกต 150 กรัม")
    assert answer.brand == "Colgate" and answer.evidence[0]["model_id"] == DEPLOYMENT_ARN


# -- job submission and monitoring --------------------------------------------------------------------------
def test_out_of_range_learning_rate_is_refused_before_anything_is_sent(account, tmp_path):
    done = run(tmp_path, account, SUBMIT, "--base-model", "amazon.nova-pro-v1:0", "--training-data",
               f"s3://{BUCKET}/{KEY}", "--job-name", "too-fast", "--hyperparameters",
               "learning_rate=0.0002,batch_size=2,epochs=2", *AWS)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "learning_rate=0.0002 is outside the range Nova allows for learningRate: 0.000001 to 0.0001" in done.stderr
    assert clients()[0].list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_missing_training_data_is_named(account, tmp_path):
    done = run(tmp_path, account, SUBMIT, "--training-data", f"s3://{BUCKET}/{KEY}", "--job-name", JOB,
               "--hyperparameters", "epochs=2", *AWS)
    assert done.returncode == 2
    assert f"training data s3://{BUCKET}/{KEY} cannot be read" in done.stderr and "--upload-to-s3" in done.stderr


def test_monitor_a_stopped_job_as_printed(account, tmp_path):
    bedrock, s3 = clients()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}\n")
    from training.pipelines.train_nova_pipeline import submit_fine_tuning_job

    submit_fine_tuning_job("amazon.nova-lite-v1:0", f"s3://{BUCKET}/{KEY}", JOB, "epochs=2", profile="ml-sandbox",
                           region="us-east-1", log=lambda _: None)
    bedrock.stop_model_customization_job(jobIdentifier=JOB)
    done = run(tmp_path, account, MONITOR, "--monitor-job", JOB, *AWS)
    assert done.returncode == 1, done.stderr
    assert f"{JOB}: Stopped" in done.stdout
    unknown = run(tmp_path, account, MONITOR, "--monitor-job", "no-such-job", *AWS)
    assert unknown.returncode == 2 and "no fine-tuning job 'no-such-job'" in unknown.stderr


def test_hyperparameter_search_picks_the_lowest_validation_loss(account, tmp_path):
    """The manual's experiments: the third (learning rate 0.0002) is rejected, the others run."""
    bedrock, s3 = clients()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}\n")
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "conversation_format_validation.jsonl", Body=b"{}\n")
    losses = {"hp-1": 0.42, "hp-2": 0.31}
    for name, loss in losses.items():
        put_metrics(s3, name, f"fine-tuning/{name}/", [(0, 1, 1.5, 4.4), (1, 2, loss - 0.1, 1.3)], [(0, 2, loss, 1.5)])
    progress, stubber = stubbed("bedrock")
    for name in losses:  # each job, as moto describes it, once Completed
        stubber.add_response("get_model_customization_job", job_progress({
            "jobArn": f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/{name}", "jobName": name,
            "outputModelName": name, "outputModelArn": f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{name}",
            "roleArn": ROLE, "creationTime": "2025-01-01T00:00:00Z", "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0:300k",
            "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/{KEY}"},
            "outputDataConfig": {"s3Uri": f"s3://{OUTPUT_BUCKET}/fine-tuning/{name}/"}}, "Completed"), {"jobIdentifier": name})
    from training.pipelines.nova_fine_tuning import NovaHyperparameterSearch

    logged = []
    with stubber:
        search = NovaHyperparameterSearch(training_data_s3=f"s3://{BUCKET}/{PREFIX}", aws_profile="ml-sandbox",
                                          region="us-east-1", job_prefix="hp", run_dir=tmp_path, poll_seconds=0,
                                          client=Routed(bedrock, progress, {"get_model_customization_job"}),
                                          log=logged.append)
        best_config = search.run_experiments([
            {"learning_rate": 0.0001, "batch_size": 4, "epochs": 3},
            {"learning_rate": 0.00005, "batch_size": 8, "epochs": 5},
            {"learning_rate": 0.0002, "batch_size": 2, "epochs": 2},
        ])
    assert best_config["best_config"] == {"learning_rate": 0.00005, "batch_size": 8, "epochs": 5}
    assert best_config["best_job"] == "hp-2" and best_config["best_validation_loss"] == 0.31
    assert best_config["ranked_by"] == "validation_loss"
    results = {r["experiment"]: r for r in best_config["results"]}
    assert results[3]["status"] == "rejected" and "learning_rate=0.0002" in results[3]["reason"]
    assert [results[n]["validation_loss"] for n in (1, 2)] == [0.42, 0.31]
    second = bedrock.get_model_customization_job(jobIdentifier="hp-2")
    assert second["hyperParameters"] == {"epochCount": "5", "learningRate": "0.00005"}
    assert second["validationDataConfig"] == {"validators": [{"s3Uri": f"s3://{BUCKET}/{PREFIX}conversation_format_validation.jsonl"}]}
    assert second["trainingDataConfig"] == {"s3Uri": f"s3://{BUCKET}/{KEY}"}
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 2
    assert list(tmp_path.glob("runs/*-nova-hyperparameter-search/metrics.json"))


# -- deployment ---------------------------------------------------------------------------------------------
def test_provisioned_throughput_and_unknown_models(account, tmp_path, capsys):
    bedrock, s3 = clients()
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{}\n")
    from training.pipelines.nova_deployment import main as deploy_main
    from training.pipelines.train_nova_pipeline import submit_fine_tuning_job

    submit_fine_tuning_job("amazon.nova-micro-v1:0", f"s3://{BUCKET}/{KEY}", JOB, "epochs=1", profile="ml-sandbox",
                           region="us-east-1", log=lambda _: None)
    model_arn = bedrock.get_custom_model(modelIdentifier=JOB)["modelArn"]
    provisioned = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/p1q2r3s4t5u6"
    throughput, stubber = stubbed("bedrock")
    stubber.add_response("create_provisioned_model_throughput", {"provisionedModelArn": provisioned},
                         {"modelUnits": 2, "provisionedModelName": ENDPOINT, "modelId": model_arn, "tags": ANY})
    stubber.add_response("get_provisioned_model_throughput", {
        "modelUnits": 2, "desiredModelUnits": 2, "provisionedModelName": ENDPOINT, "provisionedModelArn": provisioned,
        "modelArn": model_arn, "desiredModelArn": model_arn, "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "status": "InService", "creationTime": "2025-01-01T00:00:00Z", "lastModifiedTime": "2025-01-01T00:00:00Z"},
        {"provisionedModelId": provisioned})
    registry = tmp_path / "registry.json"
    with stubber:
        code = deploy_main(["--model-id", model_arn, "--endpoint-name", ENDPOINT, "--provisioned-throughput",
                            "--model-units", "2", "--registry", str(registry), *AWS, "--interval", "0"],
                           client=Routed(bedrock, throughput, {"create_provisioned_model_throughput",
                                                               "get_provisioned_model_throughput"}))
    assert code == 0, capsys.readouterr().err
    llm = ModelRegistry(path=registry).get_model_config("llm")
    assert llm["deployment_arn"] == provisioned and llm["deployment_type"] == "provisioned"
    capsys.readouterr()
    assert deploy_main(["--model-id", "nothing-here", "--endpoint-name", ENDPOINT, *AWS, "--registry", str(registry)]) == 2
    assert "no custom model and no fine-tuning job named 'nothing-here'" in capsys.readouterr().err


# -- evaluating the deployed model ----------------------------------------------------------------------------
QUERIES = [
    {"id": "q1", "query": "ยาสีฟัน Wonder smile 80g", "brand": "Wonder Smile", "category": "Toothpaste"},
    {"id": "q2", "query": "iPhone 15 Pro Max 256GB", "brand": "Apple", "category": "Smartphone"},
    {"id": "q3", "query": "มาม่า รสต้มยำกุ้ง แพ็ค 6", "brand": "Mama", "category": "Instant Noodles"},
    {"id": "q4", "query": "Kleenex Facial Tissue Soft Pack 130 sheets x4", "brand": "Kleenex", "category": "Tissue Paper"},
]


def test_llm_agent_type_scores_the_deployment(home_copy, tmp_path):
    from tests.accuracy.accuracy_validator import Options, evaluate, load_cases

    home_copy.update_model_config("llm", {"model_id": JOB, "deployment_arn": DEPLOYMENT_ARN, "endpoint_name": ENDPOINT})
    (tmp_path / "test_queries.json").write_text(json.dumps(QUERIES, ensure_ascii=False), encoding="utf-8")
    cases = load_cases(test_data=tmp_path / "test_queries.json")
    runtime, stubber = stubbed("bedrock-runtime")
    prompts = []
    runtime.meta.events.register("provide-client-params.bedrock-runtime.Converse",
                                 lambda params, **_: prompts.append(params["messages"][0]["content"][0]["text"]))
    answers = [{"brand": "Wonder Smile", "category": "Toothpaste", "brand_confidence": 0.9, "category_confidence": 0.8},
               "The name contains 'iPhone'; 5 of 5 similar catalogue products are Apple.\n"
               '{"brand": "Apple", "category": "Smartphone", "brand_confidence": 0.95, "category_confidence": 0.9}',
               {"brand": "Nissin", "category": "Instant Noodles", "brand_confidence": 0.6, "category_confidence": 0.9},
               "I am not sure."]
    for answer in answers:
        stubber.add_response("converse", converse_response(answer),
                             {"modelId": DEPLOYMENT_ARN, "system": ANY, "messages": ANY, "inferenceConfig": ANY})
    with stubber:
        report = evaluate("llm", cases, "accuracy,f1,confidence_calibration", [1, 5, 10],
                          Options(registry=home_copy, model_id=JOB, llm_client=runtime))
    stubber.assert_no_pending_responses()
    metrics = report["metrics"]
    assert metrics["accuracy"] == 0.5 and metrics["brand_accuracy"] == 0.5
    assert metrics["f1"] == pytest.approx(0.5)
    assert set(metrics["confidence_calibration"]) == {"ece", "brier"}
    assert [r["predicted_brand"] for r in report["results"]] == ["Wonder Smile", "Apple", "Nissin", None]
    assert report["agent"]["invoked_model_id"] == DEPLOYMENT_ARN
    assert report["agent"]["malformed_answers"][0]["id"] == "q4"
    assert report["agent"]["tokens"] == {"input": 1260, "output": 114}
    assert all("Similar catalogue products (best first):" in p for p in prompts[:3])
    assert prompts[2].startswith("Product name: มาม่า รสต้มยำกุ้ง แพ็ค 6\nEntities detected in the name")


def test_llm_evaluation_as_printed_fails_clearly_when_no_endpoint_answers(account, tmp_path):
    """moto has no Converse: the run stops with a message and no report (issue 6 reports it as skipped)."""
    (tmp_path / "test_queries.json").write_text(json.dumps(QUERIES, ensure_ascii=False), encoding="utf-8")
    done = run(tmp_path, {**account, "PRODUCT_INFERENCE_HOME": str(tmp_path / "home")}, VALIDATOR, "--agent-type", "llm",
               "--model-id", JOB, "--test-data", "test_queries.json", "--metrics", "accuracy,f1,confidence_calibration",
               "--output", "llm_evaluation.json", "--aws-profile", "ml-sandbox")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"the LLM {JOB} could not be reached" in done.stderr and "nothing was scored" in done.stderr
    assert not (tmp_path / "llm_evaluation.json").exists()


def test_llm_agent_type_stops_at_the_first_unreachable_call(tmp_path):
    from tests.accuracy.accuracy_validator import AgentUnavailable, Options, ValidatorError, evaluate, load_cases

    (tmp_path / "test_queries.json").write_text(json.dumps(QUERIES, ensure_ascii=False), encoding="utf-8")
    cases = load_cases(test_data=tmp_path / "test_queries.json")
    registry = ModelRegistry(home=tmp_path / "home")  # nothing bootstrapped: prompts hold the name only
    runtime, stubber = stubbed("bedrock-runtime")
    stubber.add_response("converse", converse_response({"brand": "Wonder Smile", "category": None,
                                                        "brand_confidence": 0.7, "category_confidence": 0.0}))
    stubber.add_client_error("converse", "AccessDeniedException", "You don't have access to the model", 403)
    with stubber, pytest.raises(AgentUnavailable) as caught:
        evaluate("llm", cases, "accuracy", [1], Options(registry=registry, model_id="amazon.nova-lite-v1:0",
                                                         llm_client=runtime))
    assert "the LLM amazon.nova-lite-v1:0 could not be reached (LLM call failed: AccessDeniedException" in str(caught.value)
    with pytest.raises(ValidatorError, match="no LLM to evaluate: give --model-id"):
        evaluate("llm", cases, "accuracy", [1], Options(registry=registry))
