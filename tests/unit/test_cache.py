import numpy as np
import pytest

from inference.cache import ResultCache
from inference.config.settings import Settings


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _cache(**kw):
    clock = FakeClock()
    options = dict(enabled=True, ttl_seconds=10, max_size=3, similar_queries=False, similarity_threshold=0.95)
    options.update(kw)
    return ResultCache(clock=clock, **options), clock


def test_exact_hit_and_ttl_expiry():
    cache, clock = _cache()
    cache.put("a", {"brand": "A"})
    assert cache.get("a") == {"brand": "A"}
    clock.now = 10.5
    assert cache.get("a") is None
    assert len(cache) == 0 and cache.hits == 1 and cache.misses == 1


def test_size_bound_evicts_least_recently_used():
    cache, _ = _cache()
    for key in "abc":
        cache.put(key, key)
    cache.get("a")  # a is now the most recent
    cache.put("d", "d")
    assert len(cache) == 3
    assert cache.get("b") is None and cache.get("a") == "a" and cache.get("d") == "d"


def test_similar_query_lookup_respects_the_threshold():
    cache, _ = _cache(similar_queries=True, similarity_threshold=0.95)
    base = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    cache.put("colgate 150g", "hit", base)
    near = np.array([0.99, 0.14, 0.0], dtype=np.float32)
    near /= np.linalg.norm(near)
    far = np.array([0.8, 0.6, 0.0], dtype=np.float32)
    assert cache.get("colgate 160g", near) == "hit" and cache.similar_hits == 1
    assert cache.get("something else", far) is None


def test_disabled_cache_stores_nothing():
    cache, _ = _cache(enabled=False)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0


def test_update_caching_reconfigures_the_shared_cache():
    settings = Settings()
    result = settings.update_caching({"enable_caching": True, "cache_ttl": 3600, "cache_size": 2,
                                      "cache_similar_queries": True, "similarity_threshold": 0.9})
    assert result["cache_size"] == 2
    assert settings.cache.enabled and settings.cache.max_size == 2 and settings.cache.similarity_threshold == 0.9
    with pytest.raises(ValueError, match="unknown caching option"):
        settings.update_caching({"cache_tll": 5})
    with pytest.raises(ValueError, match="cache_size"):
        settings.update_caching({"cache_size": 0})
