"""AWS mode: the handlers with every part moved to AWS by the stacks' environment variables, and
the same answers as the local pipeline. The registry is in S3 and the Milvus URI/token in Secrets
Manager (moto); the NER and embedding endpoints are served in-process by the real serving code
(sagemaker_jobs/serve_ner.py, serve_embeddings.py) on the sample home's models, answering the
real sagemaker-runtime client's InvokeEndpoint calls; Milvus is the sample home's Milvus Lite file,
named by the secret's uri as a Milvus server would be."""

from __future__ import annotations

import io
import json
import shutil

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from moto import mock_aws

from inference import agent_factory
from inference.agents.hybrid_agent import HybridAgent
from inference.agents.ner_agent import model_folder
from inference.config.model_registry import ModelRegistry
from inference.config.settings import Settings
from inference.records import parse_record
from inference.sagemaker_endpoints import EndpointEmbedder, EndpointNERAgent
from lambdas import batch_predict, finalize, llm_stage, ner_stage, rag_stage
from sagemaker_jobs import serve_embeddings, serve_ner
from tests.conftest import SAMPLE
from tests.integration.lambdas.conftest import AWS_PARTS, without_latency

BUCKET = "mpi-models"
REGISTRY_URI = f"s3://{BUCKET}/registry/model_registry.json"
NAMES = [json.loads(line) for line in (SAMPLE / "demo_names.jsonl").read_text(encoding="utf-8").splitlines()]


class InProcessEndpoint:
    """Answers InvokeEndpoint for one endpoint with a serving module's model_fn/input_fn/predict_fn/output_fn."""

    def __init__(self, module, model_dir, endpoint_name: str):
        self.module, self.model, self.endpoint_name = module, module.model_fn(str(model_dir)), endpoint_name
        self.calls = 0

    def __call__(self, params, **kwargs):
        assert params["url_path"] == f"/endpoints/{self.endpoint_name}/invocations"
        headers = params["headers"]
        body = self.module.output_fn(self.module.predict_fn(
            self.module.input_fn(params["body"], headers["Content-Type"]), self.model), headers["Accept"]).encode()
        self.calls += 1
        return AWSResponse(params["url"], 200, {}, None), {"Body": StreamingBody(io.BytesIO(body), len(body)),
                                                          "ContentType": "application/json"}

    def client(self):
        runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
        runtime.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", self)
        return runtime


@pytest.fixture
def home(sample_home, tmp_path):
    """A private copy of the sample home."""
    home = tmp_path / "home"
    shutil.copytree(sample_home[0], home, ignore=shutil.ignore_patterns("LOCK"))
    return home


@pytest.fixture
def aws(home, tmp_path, monkeypatch):
    """The account the stacks deploy (moto) and the Lambdas' environment; yields the agent the
    handlers use, its endpoints answered in-process."""
    registry = ModelRegistry(home=home)
    doc = json.loads((home / "registry.json").read_text(encoding="utf-8"))
    rag = doc["models"]["rag"]
    rag_config = rag["versions"][rag["active"]]
    expansions = model_folder(registry, {"path": rag_config["expansions"]})
    rag_config["expansions"] = f"s3://{BUCKET}/registry/query_expansions.json"
    hybrid_config = doc["models"]["hybrid"]["versions"][doc["models"]["hybrid"]["active"]]
    fusion = home / hybrid_config["fusion"]  # the learned fusion, named by URI in an S3 registry
    hybrid_config["fusion"] = f"s3://{BUCKET}/registry/fusion.json"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="registry/model_registry.json", Body=json.dumps(doc).encode())
        s3.upload_file(str(expansions), BUCKET, "registry/query_expansions.json")
        s3.upload_file(str(fusion), BUCKET, "registry/fusion.json")
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="mpi/milvus", SecretString=json.dumps({"uri": str(home / "milvus.db"), "token": ""}))
        for name in AWS_PARTS:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(tmp_path / "empty-home"))  # nothing local to read
        monkeypatch.setenv("MODEL_REGISTRY_URI", REGISTRY_URI)
        monkeypatch.setenv("NER_ENDPOINT_NAME", "mpi-ner")
        monkeypatch.setenv("EMBEDDING_ENDPOINT_NAME", "mpi-embeddings")
        monkeypatch.setenv("MILVUS_SECRET_NAME", "mpi/milvus")
        agent_factory.reset_agent()
        agent = agent_factory.get_agent()
        ner = InProcessEndpoint(serve_ner, model_folder(registry, registry.get_model_config("ner")), "mpi-ner")
        embedding_dir = home / registry.get_model_config("embedding")["path"]
        embeddings = InProcessEndpoint(serve_embeddings, embedding_dir, "mpi-embeddings")
        agent.ner._runtime, agent.rag.embedder._runtime = ner.client(), embeddings.client()
        yield agent, ner, embeddings, s3
        agent_factory.reset_agent()


def local_rows(home, items) -> list[dict]:
    agent = HybridAgent(ModelRegistry(home=home), settings=Settings())
    try:
        return agent.predict_batch(items)
    finally:
        agent.close()


def test_the_environment_moves_each_part_to_aws(aws, home):
    agent, *_ = aws
    assert agent_factory.mode() == "aws" and agent.registry.location == REGISTRY_URI
    assert isinstance(agent.ner, EndpointNERAgent) and agent.ner.endpoint_name == "mpi-ner"
    assert isinstance(agent.rag.embedder, EndpointEmbedder) and agent.rag.embedder.endpoint_name == "mpi-embeddings"
    assert agent.rag.store.uri == str(home / "milvus.db") and agent.rag.store.collection == "product_embeddings"
    assert agent.rag.expansions and agent.rag.search_config["similarity_threshold"] == 0.3
    assert agent.fusion is not None and agent.fusion.weights   # read from its s3:// URI


@pytest.mark.slow
def test_express_and_batch_answers_equal_the_local_pipeline(aws, home):
    agent, ner, embeddings, s3 = aws
    records = [parse_record(n, "x") for n in NAMES]
    agent_factory.reset_agent()  # the local agent below opens the same Milvus Lite file: one at a time
    expected = local_rows(home, records)
    agent = agent_factory.get_agent()
    agent.ner._runtime, agent.rag.embedder._runtime = ner.client(), embeddings.client()
    rows = []
    for item in NAMES:
        state = ner_stage.handler(item, None)
        for task in (rag_stage, llm_stage):
            if not state["decided"]:
                state = task.handler(state, None)
        rows.append(finalize.handler(state, None))
    for got, want in zip(rows, expected, strict=True):
        assert without_latency(got) == without_latency(want)
    assert ner.calls == len(NAMES) and embeddings.calls >= sum(r["decided_by"] != "ner" for r in rows)

    s3.create_bucket(Bucket="mpi-data")
    part = batch_predict.handler({"Items": [{"index": i, "record": n} for i, n in enumerate(NAMES)],
                                  "BatchInput": {"bucket": "mpi-data", "output_prefix": "results/r1/"}}, None)
    body = s3.get_object(Bucket="mpi-data", Key=part["part_key"])["Body"].read().decode()
    batch = [json.loads(line) for line in body.splitlines()]
    assert [without_latency({k: v for k, v in r.items() if k != "index"}) for r in batch] == \
        [without_latency(r) for r in expected]
