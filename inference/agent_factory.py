"""The HybridAgent a Lambda process runs: each part local (the home) or in AWS (named by env).

NER_ENDPOINT_NAME, EMBEDDING_ENDPOINT_NAME and MILVUS_SECRET_NAME each move one part to AWS;
MODEL_REGISTRY_URI puts the registry in S3; LLM_MODEL_ID names the Bedrock model. With none of
them set the agent is exactly the CLI's, over $PRODUCT_INFERENCE_HOME (local mode). The agent is
built on first use and kept for the life of the process, because building it loads models and
opens Milvus, and Milvus Lite allows one opener per home.
"""

from __future__ import annotations

import os
import threading
from typing import Mapping

from inference.agents.hybrid_agent import HybridAgent
from inference.agents.llm_agent import LLMAgent
from inference.config.model_registry import ModelRegistry
from inference.records import read_json

REGISTRY_ENV = "MODEL_REGISTRY_URI"
NER_ENDPOINT_ENV = "NER_ENDPOINT_NAME"
EMBEDDING_ENDPOINT_ENV = "EMBEDDING_ENDPOINT_NAME"
MILVUS_SECRET_ENV = "MILVUS_SECRET_NAME"
LLM_MODEL_ENV = "LLM_MODEL_ID"
AWS_PARTS = (REGISTRY_ENV, NER_ENDPOINT_ENV, EMBEDDING_ENDPOINT_ENV, MILVUS_SECRET_ENV)

_lock = threading.Lock()
_agent: HybridAgent | None = None


def mode(env: Mapping[str, str] = os.environ) -> str:
    """"local" when no part is moved to AWS, else "aws" (some parts may still be local)."""
    return "aws" if any(env.get(name) for name in AWS_PARTS) else "local"


def build_agent(env: Mapping[str, str] = os.environ) -> HybridAgent:
    registry = ModelRegistry(env[REGISTRY_ENV]) if env.get(REGISTRY_ENV) else ModelRegistry()
    ner = None
    if env.get(NER_ENDPOINT_ENV):
        from inference.sagemaker_endpoints import EndpointNERAgent

        ner = EndpointNERAgent(env[NER_ENDPOINT_ENV])
    rag = _aws_rag(registry, env) if env.get(EMBEDDING_ENDPOINT_ENV) or env.get(MILVUS_SECRET_ENV) else None
    llm = LLMAgent(model_id=env.get(LLM_MODEL_ENV) or None, registry=registry)
    return HybridAgent(registry, ner=ner, rag=rag, llm=llm)


def _aws_rag(registry: ModelRegistry, env: Mapping[str, str]):
    """The RAG stage with the embedding endpoint and/or the Milvus server of the secret; search
    settings, expansions and the collection from the registry's `rag` config."""
    from inference.agents.rag_agent import RAGAgent
    from inference.agents.vector_store import MilvusStore

    config = registry.get_model_config("rag")
    embedder = store = None
    if env.get(EMBEDDING_ENDPOINT_ENV):
        from inference.sagemaker_endpoints import EndpointEmbedder

        embedder = EndpointEmbedder(env[EMBEDDING_ENDPOINT_ENV])
    if env.get(MILVUS_SECRET_ENV):
        from inference.milvus_secret import milvus_connection

        uri, token = milvus_connection(env[MILVUS_SECRET_ENV])
        store = MilvusStore(uri, config["collection"], token)
        store.metric_type = config.get("metric_type", "COSINE")
        store.search_params = config.get("search_params", {})
    expansions = None
    if str(config.get("expansions", "")).startswith("s3://"):  # a local path resolves against the home
        expansions = read_json(config["expansions"])
    rag = RAGAgent(registry, embedder=embedder, store=store, expansions=expansions)
    if expansions is not None:  # RAGAgent reads the registry's settings only when it builds a part itself
        rag.configure_search(config.get("search", {}))
        rag.configure_multilingual(config.get("multilingual", {}))
    return rag


def get_agent() -> HybridAgent:
    """The process's agent, built on the first call from the environment of that moment."""
    global _agent
    with _lock:
        if _agent is None:
            _agent = build_agent()
        return _agent


def reset_agent() -> None:
    """Close and forget the agent (Milvus included): the next get_agent() builds a new one."""
    global _agent
    with _lock:
        if _agent is not None:
            _agent.close()
        _agent = None
