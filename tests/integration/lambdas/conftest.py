"""Fixtures of the Lambda handler tests: a private copy of the sample home in local mode, the
agent the handlers build (reset around each module), EMF blobs read from stdout, Bedrock stubbed."""

from __future__ import annotations

import json
import shutil

import pytest

from inference import agent_factory

AWS_PARTS = (*agent_factory.AWS_PARTS, agent_factory.LLM_MODEL_ENV, "DATA_BUCKET")
MODEL = "amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def local_home(sample_home, tmp_path_factory):
    """Local mode over a module's own copy of the bootstrapped sample home (Milvus Lite locks its
    folder, and tests here change the registry)."""
    home = tmp_path_factory.mktemp("lambda-home") / "home"
    shutil.copytree(sample_home[0], home, ignore=shutil.ignore_patterns("LOCK"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PRODUCT_INFERENCE_HOME", str(home))
        for name in AWS_PARTS:
            patch.delenv(name, raising=False)
        agent_factory.reset_agent()
        yield home
        agent_factory.reset_agent()


@pytest.fixture
def agent(local_home):
    return agent_factory.get_agent()


@pytest.fixture
def with_llm(local_home, monkeypatch):
    """The LLM configured (LLM_MODEL_ID) and its Bedrock client stubbed; no backoff sleeps."""
    from botocore.stub import Stubber

    monkeypatch.setenv(agent_factory.LLM_MODEL_ENV, MODEL)
    agent_factory.reset_agent()
    built = agent_factory.get_agent()
    built.llm.sleep, built.llm.max_retries = (lambda _: None), 1
    with Stubber(built.llm.client) as stubber:
        yield built, stubber
    agent_factory.reset_agent()


def converse_response(answer: dict | str) -> dict:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
            "usage": {"inputTokens": 300, "outputTokens": 40, "totalTokens": 340}, "metrics": {"latencyMs": 500}}


def emf_blobs(text: str) -> list[dict]:
    """The CloudWatch embedded-metric-format objects Powertools printed."""
    blobs = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_values(text: str) -> dict[str, list[float]]:
    """Every published value by metric name, after checking namespace, dimension and units."""
    from inference.monitoring.metric_names import NAMESPACE, SERVICE

    values: dict[str, list[float]] = {}
    for blob in emf_blobs(text):
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE and directive["Dimensions"] == [["service"]]
        assert blob["service"] == SERVICE
        for metric in directive["Metrics"]:
            found = blob[metric["Name"]]
            values.setdefault(metric["Name"], []).extend(found if isinstance(found, list) else [found])
    return values


def without_latency(row: dict) -> dict:
    """A row without its timings, which differ from run to run."""
    row = {k: v for k, v in row.items() if k != "latency_ms"}
    if "stages" in row:
        row["stages"] = {s: {k: v for k, v in a.items() if k != "latency_ms"} for s, a in row["stages"].items()}
    return row


def pytest_collection_modifyitems(config, items):
    """A task that passes a decided item on publishes nothing, and Powertools warns about that."""
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish"))
