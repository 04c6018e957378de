"""The manual's two Python blocks of "Performance vs Accuracy Trade-offs", run as printed.

Quantized model registration adds `ner-quantized` beside the active NER model (without switching to
it); the caching block turns on the process-wide result cache, after which a repeated name is
answered from the cache by the pipeline.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.agents.hybrid_agent import HybridAgent
from inference.config.model_registry import ModelRegistry
from inference.config.settings import config
from tests.manual.manual_blocks import MANUAL, manual_python_block

pytestmark = pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")


def run_block(subsection: str) -> dict:
    namespace: dict = {}
    exec(compile(manual_python_block(subsection), "manual", "exec"), namespace)
    return namespace


def test_quantized_model_registration_as_printed(home_copy, monkeypatch):
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(Path(home_copy.location).parent))
    active = home_copy.get_model_config("ner")["name"]
    namespace = run_block("1. Model Size Optimization")
    assert namespace["registry"].location == home_copy.location
    registry = ModelRegistry(home=Path(home_copy.location).parent)
    assert "ner-quantized" in registry.list_models("ner")
    assert registry.get_model_config("ner")["name"] == active  # registered, not switched to
    registry.switch_model("ner", "ner-quantized")
    stored = registry.get_model_config("ner")
    assert {k: stored[k] for k in ("model_path", "quantization", "performance_boost", "accuracy_loss")} == {
        "model_path": "models/ner_model_quantized.bin", "quantization": "int8", "performance_boost": 2.5,
        "accuracy_loss": 0.02}


def test_caching_as_printed(home_copy, monkeypatch):
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(Path(home_copy.location).parent))
    before = dict(config.caching)
    try:
        run_block("2. Caching Strategies")
        assert config.caching == {"enable_caching": True, "cache_ttl": 3600, "cache_size": 10000,
                                  "cache_similar_queries": True, "similarity_threshold": 0.95}
        cache = config.cache
        assert cache.enabled and cache.max_size == 10000 and cache.similar_queries
        agent = HybridAgent(home_copy)  # the process-wide settings: the manual's `config`
        try:
            first = agent.predict("ยาสีฟัน Wonder smile 80g", "a")
            again = agent.predict("ยาสีฟัน  Wonder smile 80g", "b")  # the same name after normalisation
        finally:
            agent.close()
        assert "cached" not in first and again["cached"] is True and again["id"] == "b"
        assert again["brand"] == first["brand"] and cache.hits == 1 and len(cache) == 1
    finally:
        config.update_caching(before)
    assert not config.cache.enabled and len(config.cache) == 0
