"""The SageMaker script-mode entry points run as a container runs them: the SM_* variables point at
temporary folders, hyperparameters come as SM_HPS; real training on the sample catalogue, then
the serving functions (model_fn -> input_fn -> predict_fn -> output_fn) called in sequence on
the trained model folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from inference.agents.embeddings import CharNgramEmbedder
from inference.agents.ner_agent import NERAgent
from inference.normalize import normalize_name
from sagemaker_jobs import serve_embeddings, serve_ner
from sagemaker_jobs.serving import RequestError
from stacks.constructs.sagemaker_endpoint import serving_environment
from stacks.serving_model import add_serving_code
from tests.conftest import ROOT, SAMPLE
from tests.integration.test_rag_tuning import tiny_model  # noqa: F401  (the fixture: a tiny sentence-transformers model)

CATALOG = SAMPLE / "catalog.jsonl"
QUERIES = ["ยาสีฟัน Wonder smile 80g", "iPhone 15 Pro Max 256GB", "แชมพูแพนทีน สูตรผมเสีย 300 มล."]


def sm_env(tmp_path: Path, hyperparameters: dict, **channels: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SM_", "MPI_"))}
    env.update(SM_MODEL_DIR=str(tmp_path / "model"), SM_OUTPUT_DATA_DIR=str(tmp_path / "output"),
               SM_HPS=json.dumps(hyperparameters), PRODUCT_INFERENCE_HOME=str(tmp_path / "home"),
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.update({f"SM_CHANNEL_{name.upper()}": str(folder) for name, folder in channels.items()})
    return env


def run_job(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def serve(module, model_dir: Path, body: bytes, content_type: str = "application/json", accept: str = "application/json"):
    """One invocation as the SageMaker inference toolkit makes it."""
    model = module.model_fn(str(model_dir))
    return json.loads(module.output_fn(module.predict_fn(module.input_fn(body, content_type), model), accept))


@pytest.fixture(scope="module")
def ner_job(tmp_path_factory):
    """The NER training job on the sample catalogue: training and validation channels, CRF."""
    tmp = tmp_path_factory.mktemp("ner-job")
    lines = CATALOG.read_text(encoding="utf-8").splitlines()
    training, validation = tmp / "training", tmp / "validation"
    training.mkdir()
    validation.mkdir()
    (training / "catalog.jsonl").write_text("\n".join(lines[:600]) + "\n", encoding="utf-8")
    (training / "aliases.json").write_text((SAMPLE / "aliases.json").read_text(encoding="utf-8"), encoding="utf-8")
    (validation / "heldout.jsonl").write_text("\n".join(lines[600:]) + "\n", encoding="utf-8")
    env = sm_env(tmp, {"model_type": "crf", "validation_split": 0.1, "seed": 3}, training=training, validation=validation)
    run_job("sagemaker_jobs/train_ner.py", env)
    return tmp


@pytest.mark.slow
def test_ner_training_job_writes_the_model_and_scores_the_validation_channel(ner_job):
    model_dir, output = ner_job / "model", ner_job / "output"
    assert {"ner_model.json", "lexicon.json", "metrics.json"} <= {p.name for p in model_dir.iterdir()}
    assert json.loads((model_dir / "ner_model.json").read_text())["backend"] == "crf"  # SM_HPS model_type
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["records"] == 600 and metrics["validation_names"] == 60  # SM_HPS validation_split 0.1
    heldout = metrics["validation_channel"]
    assert heldout["records"] == 154 and 0.5 < heldout["entities"]["micro"]["f1"] <= 1.0
    assert list((output / "runs").glob("*-train-ner/run.json"))


@pytest.mark.slow
def test_ner_endpoint_answers_what_the_local_stage_answers(ner_job):
    model_dir = ner_job / "model"
    answer = serve(serve_ner, model_dir, json.dumps({"texts": [*QUERIES, "\u200b"]}).encode())
    local = NERAgent.from_folder(model_dir)
    for text, got in zip(QUERIES, answer["predictions"]):
        want = local.predict(normalize_name(text)).to_dict(rounded=False)
        assert {k: v for k, v in got.items() if k != "latency_ms"} == \
            {k: v for k, v in want.items() if k not in ("stage", "latency_ms")}
    assert answer["predictions"][0]["brand"] and answer["predictions"][0]["entities"]  # not an empty model
    assert answer["predictions"][3] == {"error": "texts[3]: name has no visible characters"}
    with pytest.raises(RequestError, match="not supported"):
        serve(serve_ner, model_dir, b'{"texts": ["a"]}', content_type="text/plain")


def test_embedding_endpoint_serves_the_character_ngram_embedder(sample_home):
    from inference.config.model_registry import ModelRegistry

    home = sample_home[0]
    folder = home / ModelRegistry(home=home).get_model_config("embedding")["path"]
    answer = serve(serve_embeddings, folder, json.dumps({"texts": QUERIES}, ensure_ascii=False).encode())
    vectors = np.asarray(answer["vectors"], dtype=np.float32)
    assert answer["embedder"] == "char-ngram" and answer["dim"] == vectors.shape[1] == 384
    assert np.allclose(vectors, CharNgramEmbedder.load(folder).encode(QUERIES), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="holds no embedder"):
        serve_embeddings.model_fn(str(home))


@pytest.mark.slow
def test_embedding_fine_tuning_job_then_its_endpoint(tmp_path, tiny_model):  # noqa: F811
    from sentence_transformers import SentenceTransformer

    from inference.records import load_catalog
    from training.preprocessing.rag_data_preparation import catalog_items, make_training_pairs

    channel = tmp_path / "training"
    channel.mkdir()
    pairs = make_training_pairs(catalog_items(CATALOG)[0])[:24]
    (channel / "pairs.json").write_text(json.dumps(pairs, ensure_ascii=False), encoding="utf-8")
    env = sm_env(tmp_path, {"base_model": str(tiny_model), "pairs_file": "pairs.json", "epochs": 1, "batch_size": 8},
                 training=channel)
    run_job("sagemaker_jobs/train_embeddings.py", env)
    metrics = json.loads((tmp_path / "output" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["training_pairs"] + metrics["heldout_pairs"] == 24
    model_dir = tmp_path / "model"
    names = [r.name for r in load_catalog(CATALOG)[:5]]
    answer = serve(serve_embeddings, model_dir, json.dumps({"texts": names}, ensure_ascii=False).encode())
    expected = SentenceTransformer(str(model_dir), device="cpu").encode(names, normalize_embeddings=True)
    assert answer["embedder"] == "sentence-transformers" and answer["dim"] == 32
    assert np.allclose(np.asarray(answer["vectors"]), expected, atol=1e-5)
    tuned = SentenceTransformer(str(model_dir), device="cpu").encode(names)
    base = SentenceTransformer(str(tiny_model), device="cpu").encode(names)
    assert not np.allclose(tuned, base)  # the job trained: the weights moved


# -- the serving archive, loaded as the framework inference toolkit loads it ----------------------
# sagemaker_inference / sagemaker_huggingface_inference_toolkit: /opt/ml/model/code goes first on
# sys.path, the module SAGEMAKER_PROGRAM names ("x.py" -> "x") is imported, its four functions serve.
TOOLKIT = """
import importlib, json, os, sys
model_dir = sys.argv[1]
sys.path.insert(0, os.path.join(model_dir, "code"))
program = os.environ.get("SAGEMAKER_PROGRAM", "inference.py")
module = importlib.import_module(program[:-3] if program.endswith(".py") else program)
import inference
found = {"module": module.__file__, "inference": inference.__file__,
         "functions": [f for f in ("model_fn", "input_fn", "predict_fn", "output_fn") if hasattr(module, f)]}
if len(found["functions"]) == 4:
    model = module.model_fn(model_dir)
    body = json.dumps({"texts": json.loads(sys.argv[2])}).encode()
    found["answer"] = json.loads(module.output_fn(module.predict_fn(module.input_fn(body, "application/json"), model),
                                                  "application/json"))
print(json.dumps(found))
"""


def unpacked_serving_archive(model_dir: Path, tmp: Path) -> Path:
    """A training job's model.tar.gz of `model_dir`, repacked with the code, unpacked as /opt/ml/model."""
    with tarfile.open(tmp / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    add_serving_code(tmp / "model.tar.gz", tmp / "serving.tar.gz")
    served = tmp / "opt-ml-model"
    with tarfile.open(tmp / "serving.tar.gz") as tar:
        tar.extractall(served, filter="data")
    return served


def toolkit_load(served: Path, program: str | None, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "PYTHON"))}
    if program:
        env["SAGEMAKER_PROGRAM"] = program
    result = subprocess.run([sys.executable, "-I", "-c", TOOLKIT, str(served), json.dumps(QUERIES)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_endpoint_configuration_serves_serve_ner_from_the_archive_code(ner_job, tmp_path):
    served = unpacked_serving_archive(ner_job / "model", tmp_path)
    code = served / "code"
    assert (code / "sagemaker_jobs" / "serve_ner.py").is_file() and (code / "requirements.txt").is_file()
    program = serving_environment("serve_ner.py", "us-east-1")["SAGEMAKER_PROGRAM"]  # what the stack sets
    found = toolkit_load(served, program, cwd=tmp_path)
    assert found["module"] == str(code / "sagemaker_jobs" / "serve_ner.py")
    assert found["inference"] == str(code / "inference" / "__init__.py")  # the archive's copy, not the repository's
    direct = serve(serve_ner, ner_job / "model", json.dumps({"texts": QUERIES}).encode())
    strip = [{k: v for k, v in p.items() if k != "latency_ms"} for p in direct["predictions"]]
    assert [{k: v for k, v in p.items() if k != "latency_ms"} for p in found["answer"]["predictions"]] == strip
    # The toolkit's default program, inference.py, is the project's `inference` package: nothing to serve.
    default = toolkit_load(served, None, cwd=tmp_path)
    assert default["module"] == str(code / "inference" / "__init__.py") and default["functions"] == []


def test_repacking_replaces_an_old_code_folder_and_keeps_the_model(tmp_path):
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"\0" * 10)
    (model / "code" / "stale.py").write_text("raise SystemExit")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(model, arcname=".")
    add_serving_code(tmp_path / "model.tar.gz", tmp_path / "serving.tar.gz")
    with tarfile.open(tmp_path / "serving.tar.gz") as tar:
        names = set(tar.getnames())
    assert "./weights.bin" in names and not any(n.endswith("stale.py") for n in names)
    assert {"code/sagemaker_jobs/serve_ner.py", "code/sagemaker_jobs/serve_embeddings.py", "code/inference/__init__.py",
            "code/requirements.txt"} <= names


def test_serving_model_command_repacks_the_s3_artifact(tmp_path, monkeypatch):
    import boto3
    import typer
    from moto import mock_aws
    from typer.testing import CliRunner

    from stacks.serving_model import main

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "weights.bin").write_bytes(b"\1" * 100)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "weights.bin", arcname="weights.bin")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        s3.upload_file(str(tmp_path / "model.tar.gz"), "artifacts", "training-jobs/j/output/model.tar.gz")
        app = typer.Typer()
        app.command()(main)
        result = CliRunner().invoke(app, ["--region", "us-east-1", "s3://artifacts/training-jobs/j/output/model.tar.gz",
                                          "s3://artifacts/models/ner/model.tar.gz"])
        assert result.exit_code == 0, result.output
        s3.download_file("artifacts", "models/ner/model.tar.gz", str(tmp_path / "served.tar.gz"))
        bad = CliRunner().invoke(app, ["not-s3", "s3://artifacts/x.tar.gz"])
    assert "s3://artifacts/models/ner/model.tar.gz:" in result.output
    with tarfile.open(tmp_path / "served.tar.gz") as tar:
        names = set(tar.getnames())
    assert "weights.bin" in names and "code/sagemaker_jobs/serve_ner.py" in names
    assert bad.exit_code != 0 and "expected s3://bucket/key" in bad.output
