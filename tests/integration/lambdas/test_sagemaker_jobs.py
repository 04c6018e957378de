"""The SageMaker script-mode entry points run as a container runs them: the SM_* variables point at
temporary folders, hyperparameters come as SM_HPS; real training on the sample catalogue, then
the serving functions (model_fn -> input_fn -> predict_fn -> output_fn) called in sequence on
the trained model folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.agents.embeddings import CharNgramEmbedder
from inference.agents.ner_agent import NERAgent
from inference.normalize import normalize_name
from sagemaker_jobs import serve_embeddings, serve_ner
from sagemaker_jobs.serving import RequestError
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
