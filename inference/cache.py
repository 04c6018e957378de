"""Result cache: exact hits by normalised name, optionally near-duplicate hits by embedding.

Retail catalogues repeat the same names (and near-copies differing in a size or a promotion
word), so a bounded TTL cache in front of the pipeline saves most of the work on re-runs.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np


class ResultCache:
    """LRU + TTL cache; the similar-query lookup compares unit vectors by cosine similarity."""

    def __init__(self, enabled: bool = False, ttl_seconds: float = 3600, max_size: int = 10000,
                 similar_queries: bool = False, similarity_threshold: float = 0.95,
                 clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.reconfigure(enabled, ttl_seconds, max_size, similar_queries, similarity_threshold)
        self.hits = 0
        self.similar_hits = 0
        self.misses = 0

    def reconfigure(self, enabled: bool, ttl_seconds: float, max_size: int,
                    similar_queries: bool, similarity_threshold: float) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.enabled = enabled
            self.ttl_seconds = ttl_seconds
            self.max_size = max_size
            self.similar_queries = similar_queries
            self.similarity_threshold = similarity_threshold
            self._entries: OrderedDict[str, tuple[float, Any, np.ndarray | None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: str, vector: np.ndarray | None = None) -> Any | None:
        """The cached value for `key`, or for a cached key whose vector is similar enough."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            if entry is not None:
                del self._entries[key]
            if self.similar_queries and vector is not None and self._entries:
                found = self._most_similar(vector, now)
                if found is not None:
                    self._entries.move_to_end(found)
                    self.similar_hits += 1
                    return self._entries[found][1]
            self.misses += 1
            return None

    def put(self, key: str, value: Any, vector: np.ndarray | None = None) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            self._entries[key] = (now + self.ttl_seconds, value, vector)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)

    def _most_similar(self, vector: np.ndarray, now: float) -> str | None:
        keys = [k for k, (deadline, _, v) in self._entries.items() if v is not None and deadline > now]
        if not keys:
            return None
        matrix = np.stack([self._entries[k][2] for k in keys])
        sims = matrix @ vector
        best = int(np.argmax(sims))
        return keys[best] if sims[best] >= self.similarity_threshold else None
