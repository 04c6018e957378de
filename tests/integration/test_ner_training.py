"""The manual's NER training commands, run as printed (paths adapted to temp folders): local
transformer and CRF training, the SageMaker launch against moto_server, the SageMaker entry
point with SM_* folders, the grid search and int8 quantization. Models are tiny XLM-Rs built
from a config, with a WordPiece tokenizer trained here; nothing comes from the hub."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import pytest

from inference.agents.ner_agent import NERAgent
from inference.agents.ner_crf import CRFNERModel
from inference.agents.ner_transformer import TransformerNERModel
from inference.brands import same_brand
from inference.config.model_registry import ModelRegistry
from inference.normalize import normalize_name
from inference.records import load_catalog
from tests.unit.test_ner_transformer import build_tokenizer
from training.pipelines.ner_trainer import NERHyperparameterSearch
from training.pipelines.ner_training import NERTrainingConfig, train_ner

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PIPELINE = ROOT / "training" / "pipelines" / "train_ner_pipeline.py"
QUANTIZE = ROOT / "training" / "pipelines" / "quantize_ner.py"


def write_tsv(path: Path, records) -> Path:
    lines = ["name\tbrand\tcategory"] + [f"{r.name}\t{r.brand}\t{r.category or ''}" for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module", autouse=True)
def _torch_on_one_thread(one_torch_thread):
    """See tests/conftest.py: one_torch_thread."""


@pytest.fixture(scope="module")
def records():
    return load_catalog(SAMPLE / "catalog.jsonl")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, records) -> Path:
    """augmented_training_data.txt (400 sample rows, TSV) and small_training_data.txt (200 others)
    with the sample's aliases.json beside them, and a tokenizer trained on the sample names."""
    folder = tmp_path_factory.mktemp("ner-data")
    write_tsv(folder / "augmented_training_data.txt", records[:400])
    write_tsv(folder / "small_training_data.txt", records[400:600])  # for the tests that train several times
    shutil.copy(SAMPLE / "aliases.json", folder / "aliases.json")
    build_tokenizer(folder / "multilingual_tokenizer", [r.name for r in records])
    return folder


@pytest.fixture(scope="module")
def tiny_model(data_dir, tmp_path_factory) -> Path:
    """A tiny transformer NER folder trained on augmented_training_data.txt (as a job would write it)."""
    folder = tmp_path_factory.mktemp("tiny-model") / "ner_model"
    train_ner(data_dir / "augmented_training_data.txt", folder,
              NERTrainingConfig(tokenizer=str(data_dir / "multilingual_tokenizer"), from_config="tiny", epochs=6),
              log=lambda _: None)
    return folder


def brand_hit_rate(agent: NERAgent, records) -> float:
    """Share of names whose brand label is written in them that the agent answers correctly."""
    named = [r for r in records if r.brand.lower() in r.name.lower()]
    return sum(same_brand(agent.predict(normalize_name(r.name)).brand, r.brand) for r in named) / len(named)


def env_for(home: Path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPI_", "AWS_", "SM_"))}
    # One torch thread: on a shared 2-core machine, torch's default threads spin against other
    # processes and train a tiny model ten times slower (measured: 109 s against 10 s).
    env.update(PRODUCT_INFERENCE_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1",
               **extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_manual_multilingual_command_trains_registers_and_serves(data_dir, tmp_path):
    (tmp_path / "models").mkdir()
    shutil.copytree(data_dir / "multilingual_tokenizer", tmp_path / "models" / "multilingual_tokenizer")
    home = tmp_path / "home"
    result = run([str(PIPELINE), "--multilingual", "--tokenizer", "models/multilingual_tokenizer",
                  "--thai-english-mixed", "--character-level-features"], tmp_path, env_for(home))
    assert result.returncode == 0, result.stderr
    assert "hub is unreachable" in result.stdout  # said, not hidden: a tiny model from a config
    folder = tmp_path / "models" / "ner_model"
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["records"] == 754  # the default training data is the sample catalogue
    assert set(metrics["validation"]["by_script"]) == {"th", "en", "mixed"}  # --multilingual
    assert metrics["train_names"] > 603  # --thai-english-mixed repeats mixed-script names
    assert metrics["validation"]["f1"] > 0.7
    manifest = json.loads((folder / "ner_model.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == "transformer" and manifest["character_level_features"] is True
    assert (Path(metrics["run_record"]) / "run.json").is_file()

    registry = ModelRegistry(home=home)
    config = registry.get_model_config("ner")
    assert config["name"] == "xlm-roberta-ner" and Path(config["path"]) == folder.resolve()
    agent = NERAgent(registry)
    assert isinstance(agent.backend, TransformerNERModel) and agent.backend.character_level
    answer = agent.predict(normalize_name("น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นใหม่ 500 มล."))
    assert answer.brand == "Downy" and answer.category == "Fabric Softener"


def test_crf_model_type_writes_the_same_folder_layout(data_dir, tmp_path):
    home = tmp_path / "home"
    result = run([str(PIPELINE), "--model-type", "crf", "--training-data",
                  str(data_dir / "augmented_training_data.txt"), "--output", "models/crf"], tmp_path, env_for(home))
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "models" / "crf"
    assert {"ner_model.json", "lexicon.json", "metrics.json", "crf.joblib"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "metrics.json").read_text())["validation"]["f1"] > 0.8
    registry = ModelRegistry(home=home)
    assert registry.get_model_config("ner")["name"] == "crf-ner"
    agent = NERAgent(registry)
    assert isinstance(agent.backend, CRFNERModel)
    assert agent.predict(normalize_name("ยาสีฟันคอลเกต โททอล 150 กรัม")).brand == "Colgate"


def test_without_the_hub_or_a_tokenizer_the_error_says_how_to_train(tmp_path, data_dir):
    result = run([str(PIPELINE), "--model-type", "transformer", "--base-model", "xlm-roberta-base",
                  "--training-data", str(data_dir / "augmented_training_data.txt")], tmp_path,
                 env_for(tmp_path / "home"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "hub is unreachable" in result.stderr and "--tokenizer" in result.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("name\tbrand\tcategory\nยาสีฟัน\t\tToothpaste\n", encoding="utf-8")
    result = run([str(PIPELINE), "--model-type", "crf", "--training-data", str(bad)], tmp_path,
                 env_for(tmp_path / "home"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{bad}:2: field 'brand' is missing or empty" in result.stderr


@pytest.fixture
def moto_server(tmp_path):
    """moto_server on a free loopback port; yields its endpoint URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ROOT / ".venv" / "bin" / "moto_server"
    command = [str(server)] if server.exists() else [sys.executable, "-m", "moto.server"]
    log = (tmp_path / "moto.log").open("w")
    process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"moto_server did not start: {(tmp_path / 'moto.log').read_text()}")
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_manual_sagemaker_command_launches_the_job_and_registers_its_artifact(data_dir, tiny_model, tmp_path,
                                                                              moto_server, monkeypatch):
    aws = {"AWS_ENDPOINT_URL": moto_server, "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials")}
    (tmp_path / "aws-config").write_text("[profile ml-sandbox]\nregion = us-east-1\n")
    (tmp_path / "aws-credentials").write_text("[ml-sandbox]\naws_access_key_id = testing\n"
                                              "aws_secret_access_key = testing\n")
    clients = {s: boto3.client(s, region_name="us-east-1", endpoint_url=moto_server,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
               for s in ("s3", "ssm", "sagemaker")}
    clients["s3"].create_bucket(Bucket="mpi-artifacts")
    clients["ssm"].put_parameter(Name="/multilingual-product-inference/artifact-bucket", Value="mpi-artifacts",
                                 Type="String")
    clients["ssm"].put_parameter(Name="/multilingual-product-inference/sagemaker-role-arn",
                                 Value="arn:aws:iam::123456789012:role/mpi-sagemaker", Type="String")
    shutil.copy(data_dir / "augmented_training_data.txt", tmp_path / "augmented_training_data.txt")
    home = tmp_path / "home"

    result = run([str(PIPELINE), "--model-type", "transformer", "--base-model", "xlm-roberta-base",
                  "--training-data", "augmented_training_data.txt", "--validation-split", "0.2",
                  "--learning-rate", "2e-5", "--batch-size", "16", "--epochs", "10", "--early-stopping",
                  "--aws-profile", "ml-sandbox", "--region", "us-east-1"], tmp_path, env_for(home, **aws))
    assert result.returncode == 0, result.stderr

    (summary,) = clients["sagemaker"].list_training_jobs()["TrainingJobSummaries"]
    job = clients["sagemaker"].describe_training_job(TrainingJobName=summary["TrainingJobName"])
    params = {k: json.loads(v) for k, v in job["HyperParameters"].items()}
    assert params["sagemaker_program"] == "sagemaker_jobs/train_ner.py"
    assert {k: params[k] for k in ("model_type", "base_model", "training_data", "validation_split", "learning_rate",
                                   "batch_size", "epochs", "early_stopping")} == {
        "model_type": "transformer", "base_model": "xlm-roberta-base", "training_data": "augmented_training_data.txt",
        "validation_split": 0.2, "learning_rate": 2e-5, "batch_size": 16, "epochs": 10, "early_stopping": True}
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/mpi-sagemaker"
    channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    key = channel.split("/", 3)[3] + "augmented_training_data.txt"
    uploaded = clients["s3"].get_object(Bucket="mpi-artifacts", Key=key)["Body"].read()
    assert uploaded == (tmp_path / "augmented_training_data.txt").read_bytes()

    registry = ModelRegistry(home=home)
    config = registry.get_model_config("ner")
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert config["name"] == "xlm-roberta-ner" and config["model_uri"] == artifact
    assert config["backend"] == "transformer" and config["training_job"] == summary["TrainingJobName"]

    # What the job would have written: a model folder as model.tar.gz. The agent fetches and serves it.
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        for path in tiny_model.iterdir():
            tar.add(path, arcname=path.name)
    bucket, key = artifact[5:].split("/", 1)
    clients["s3"].upload_file(str(tmp_path / "model.tar.gz"), bucket, key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    agent = NERAgent(registry)
    assert isinstance(agent.backend, TransformerNERModel)
    names = [normalize_name(r.name) for r in load_catalog(data_dir / "augmented_training_data.txt")[:20]]
    local = NERAgent.from_folder(tiny_model)
    assert [agent.predict(n).entities for n in names] == [local.predict(n).entities for n in names]
    assert agent.predict(normalize_name("COLGATE Total 150g")).brand == "Colgate"


def test_sagemaker_entry_point_trains_into_the_sm_folders(data_dir, tmp_path):
    channel, model_dir, output = tmp_path / "training", tmp_path / "model", tmp_path / "output"
    channel.mkdir()
    shutil.copy(data_dir / "small_training_data.txt", channel)
    shutil.copy(data_dir / "aliases.json", channel)
    shutil.copytree(data_dir / "multilingual_tokenizer", channel / "tokenizer")
    env = env_for(tmp_path / "home", SM_MODEL_DIR=str(model_dir), SM_CHANNEL_TRAINING=str(channel),
                  SM_OUTPUT_DATA_DIR=str(output))
    # As SageMaker's toolkit passes hyperparameters: --key value, booleans as True.
    result = run(["sagemaker_jobs/train_ner.py", "--model_type", "transformer", "--from_config", "tiny",
                  "--tokenizer", "tokenizer", "--epochs", "3", "--early_stopping", "True", "--batch_size", "16"],
                 ROOT, env)
    assert result.returncode == 0, result.stderr
    assert {"ner_model.json", "lexicon.json", "metrics.json", "config.json"} <= {p.name for p in model_dir.iterdir()}
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["records"] == 200 and metrics["validation"]["f1"] > 0.3
    assert list((output / "runs").glob("*-train-ner/run.json"))
    assert isinstance(NERAgent.from_folder(model_dir).backend, TransformerNERModel)


def test_grid_search_trains_every_trial_and_picks_the_best(data_dir, tmp_path):
    search = NERHyperparameterSearch(training_data=str(data_dir / "small_training_data.txt"),
                                     aws_profile="ml-sandbox", region="us-east-1",
                                     tokenizer=str(data_dir / "multilingual_tokenizer"), from_config="tiny",
                                     output=tmp_path / "search", log=lambda _: None)
    best = search.grid_search({"learning_rate": [1e-5, 3e-3], "dropout": [0.1, 0.2]})
    trials = json.loads((tmp_path / "search" / "trials.json").read_text(encoding="utf-8"))
    assert len(trials) == 4 and {(t["learning_rate"], t["dropout"]) for t in trials} == {
        (1e-5, 0.1), (1e-5, 0.2), (3e-3, 0.1), (3e-3, 0.2)}
    top = max(trials, key=lambda t: t["f1"])
    assert best == {"learning_rate": top["learning_rate"], "dropout": top["dropout"]}
    assert best["learning_rate"] == 3e-3  # a tiny model from scratch learns little at 1e-5 in 2 epochs
    assert len((tmp_path / "search" / "trials.csv").read_text().splitlines()) == 5
    assert json.loads((tmp_path / "search" / "best.json").read_text())["best_params"] == best
    assert list((tmp_path / "search" / "runs").glob("*-ner-grid-search/run.json"))
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        search.grid_search({"momentum": [0.9]})
    assert len(NERHyperparameterSearch(max_trials=5).trials({"learning_rate": [1, 2, 3], "dropout": [0.1, 0.2]})) == 5


def test_quantize_measures_registers_and_the_quantized_agent_finds_brands(data_dir, tiny_model, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(tiny_model, tmp_path / "models" / "ner_model")
    result = run([str(QUANTIZE), "--model-path", "models/ner_model", "--output", "models/ner_model_quantized.bin",
                  "--repeats", "1"], tmp_path, env_for(home))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "models" / "ner_model_quantized.bin").is_file()
    registry = ModelRegistry(home=home)
    assert "ner-quantized" in registry.list_models("ner")
    registry.switch_model("ner", "ner-quantized")
    config = registry.get_model_config("ner")
    assert config["quantization"] == "int8" and config["performance_boost"] > 0
    assert f"performance_boost {config['performance_boost']}" in result.stdout
    assert f"accuracy_loss {config['accuracy_loss']}" in result.stdout
    assert abs(config["accuracy_loss"]) < 0.1
    agent = NERAgent(registry)
    assert agent.backend.settings["quantization"] == "int8"
    rows = load_catalog(data_dir / "augmented_training_data.txt")[:60]
    fp32_rate = brand_hit_rate(NERAgent.from_folder(tiny_model), rows)
    assert fp32_rate > 0.8 and brand_hit_rate(agent, rows) >= fp32_rate - 0.05

    # The manual's literal registration, relative to the working directory, also serves.
    monkeypatch.chdir(tmp_path)
    registry.register_model("ner", "ner-quantized", {"model_path": "models/ner_model_quantized.bin",
                                                     "quantization": "int8", "performance_boost": 2.5,
                                                     "accuracy_loss": 0.02})
    assert NERAgent(registry).predict(normalize_name("COLGATE Total 150g")).brand == "Colgate"
