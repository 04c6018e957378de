"""Process-wide settings: the local home, input limits and the result cache.

`config` is the manual's `from inference.config.settings import config`; `config.update_caching`
reconfigures the one shared result cache in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.cache import ResultCache

HOME_ENV = "PRODUCT_INFERENCE_HOME"
DEFAULT_HOME = Path.home() / ".product-inference"

MAX_NAME_CHARS = 500
"""Longest product name accepted, in characters after normalisation. Real listings stay below
it (the longest seen in the shop data is about 300, the median about 30); anything longer is a
pasted description, not a name."""

_CACHING_KEYS = {"enable_caching", "cache_ttl", "cache_size", "cache_similar_queries", "similarity_threshold"}


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The local state folder: the argument, else $PRODUCT_INFERENCE_HOME, else ~/.product-inference."""
    chosen = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass
class Settings:
    caching: dict[str, Any] = field(
        default_factory=lambda: {
            "enable_caching": False,
            "cache_ttl": 3600,
            "cache_size": 10000,
            "cache_similar_queries": False,
            "similarity_threshold": 0.95,
        }
    )
    cache: ResultCache = field(default_factory=ResultCache)

    @property
    def home(self) -> Path:
        return resolve_home()

    def update_caching(self, options: dict[str, Any]) -> dict[str, Any]:
        """Merge caching options (the manual's keys) and rebuild the cache with them."""
        unknown = set(options) - _CACHING_KEYS
        if unknown:
            raise ValueError(f"unknown caching option(s) {sorted(unknown)}; expected some of {sorted(_CACHING_KEYS)}")
        merged = {**self.caching, **options}
        if int(merged["cache_size"]) < 1:
            raise ValueError("cache_size must be at least 1")
        if float(merged["cache_ttl"]) <= 0:
            raise ValueError("cache_ttl must be positive (seconds)")
        if not 0.0 < float(merged["similarity_threshold"]) <= 1.0:
            raise ValueError("similarity_threshold must be in (0, 1]")
        self.caching = merged
        self.cache.reconfigure(
            enabled=bool(merged["enable_caching"]),
            ttl_seconds=float(merged["cache_ttl"]),
            max_size=int(merged["cache_size"]),
            similar_queries=bool(merged["cache_similar_queries"]),
            similarity_threshold=float(merged["similarity_threshold"]),
        )
        return dict(self.caching)


config = Settings()
