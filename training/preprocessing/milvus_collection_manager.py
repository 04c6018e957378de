"""Tune the vector index of a product collection (the manual's `MilvusOptimizer`).

An index trades recall for speed, so every change is measured: before rebuilding, the exact top-k
of a sample of stored vectors is computed by brute force (what a FLAT index returns); after it, the
same queries go through the new index with the new search parameters, and the summary reports the
overlap (recall@k against FLAT) and the search latency. Search parameters are kept in the
registry's `rag` config (`search_params`), which `RAGAgent` passes to every search.

Index types are those Milvus Lite 3.x builds (a Milvus server builds them too):
FLAT, IVF_FLAT, IVF_SQ8 (build `nlist`, search `nprobe`), HNSW, HNSW_SQ (build `M`,
`efConstruction`, search `ef`) and AUTOINDEX. Metrics are COSINE or IP: the RAG vote reads
the score as a similarity, which an L2 distance is not.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from inference.agents.vector_store import MilvusStore
from inference.config.model_registry import ModelRegistry
from training.run_record import write_run_record

INDEX_TYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "FLAT": {"build": (), "search": ()},
    "IVF_FLAT": {"build": ("nlist",), "search": ("nprobe",)},
    "IVF_SQ8": {"build": ("nlist",), "search": ("nprobe",)},
    "HNSW": {"build": ("M", "efConstruction"), "search": ("ef",)},
    "HNSW_SQ": {"build": ("M", "efConstruction"), "search": ("ef",)},
    "AUTOINDEX": {"build": (), "search": ()},
}
METRICS = ("COSINE", "IP")
KNOWN_PARAMS = {"nlist", "nprobe", "M", "efConstruction", "ef"}
POINTS_PER_CENTROID = 39  # faiss's minimum of training points per IVF list; fewer gives poor lists


class IndexPlan(dict):
    """index_type, metric_type, build_params, search_params, ignored, warnings."""


def plan_index(settings: dict[str, Any], rows: int) -> IndexPlan:
    """Validate the manual's settings for a collection of `rows` rows, without touching Milvus."""
    if not isinstance(settings, dict):
        raise TypeError(f"index settings must be a dict, got {type(settings).__name__}")
    unknown = set(settings) - KNOWN_PARAMS - {"index_type", "metric_type"}
    if unknown:
        raise ValueError(f"unknown index setting(s) {sorted(unknown)}; expected index_type, metric_type "
                         f"and some of {sorted(KNOWN_PARAMS)}")
    index_type = str(settings.get("index_type", "FLAT")).upper()
    if index_type not in INDEX_TYPES:
        raise ValueError(f"unknown index_type {settings.get('index_type')!r}; expected one of {', '.join(INDEX_TYPES)}")
    metric = str(settings.get("metric_type", "COSINE")).upper()
    if metric not in METRICS:
        raise ValueError(f"metric_type {settings.get('metric_type')!r} is not supported: the RAG vote needs a "
                         f"similarity (higher is closer); use one of {', '.join(METRICS)}")
    for key in KNOWN_PARAMS & set(settings):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    wanted = INDEX_TYPES[index_type]
    build = {k: int(settings[k]) for k in wanted["build"] if k in settings}
    search = {k: int(settings[k]) for k in wanted["search"] if k in settings}
    ignored = sorted(k for k in KNOWN_PARAMS & set(settings) if k not in build and k not in search)
    notes = []
    if ignored:
        notes.append(f"{', '.join(ignored)} {'does' if len(ignored) == 1 else 'do'} not apply to {index_type}; ignored")
    if "nlist" in wanted["build"]:
        limit = max(1, rows // POINTS_PER_CENTROID)
        build.setdefault("nlist", min(128, limit))
        if build["nlist"] > limit:
            notes.append(f"nlist {build['nlist']} is too large for {rows} rows (an IVF list needs about "
                         f"{POINTS_PER_CENTROID} rows to train); clamped to {limit}")
            build["nlist"] = limit
        search.setdefault("nprobe", min(8, build["nlist"]))
        if search["nprobe"] > build["nlist"]:
            notes.append(f"nprobe {search['nprobe']} is more than nlist {build['nlist']}; clamped to {build['nlist']}")
            search["nprobe"] = build["nlist"]
    if "ef" in wanted["search"]:
        search.setdefault("ef", 64)
    return IndexPlan(index_type=index_type, metric_type=metric, build_params=build, search_params=search,
                     ignored=ignored, warnings=notes)


def exact_top_k(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the k most similar vectors per query (what a FLAT index returns)."""
    scores = queries @ vectors.T
    k = min(k, vectors.shape[0])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


class MilvusOptimizer:
    """Rebuilds a collection's vector index in the home's Milvus (the registry's `rag` uri)."""

    def __init__(self, registry: ModelRegistry | None = None, home: str | Path | None = None,
                 log: Callable[[str], None] = print):
        self.registry = registry or ModelRegistry(home=home)
        self.log = log

    def _store(self, collection: str) -> tuple[MilvusStore, dict[str, Any]]:
        rag = self.registry.get_model_config("rag")
        uri = rag["uri"]
        if "://" not in uri:
            uri = str(Path(self.registry.location).parent / uri)
        store = MilvusStore(uri, collection)
        if not store.exists():
            store.close()
            raise ValueError(f"no collection {collection!r} in {uri} (the active one is {rag['collection']!r})")
        return store, rag

    def optimize_collection(self, collection: str, settings: dict[str, Any], sample_queries: int = 200,
                            top_k: int | None = None, seed: int = 7) -> dict[str, Any]:
        """Rebuild `collection`'s index with `settings` and measure it against exact search.

        The queries are a seeded sample of the stored vectors; recall@k is the share of the exact
        top-k (by row) that the new index returns. When `collection` is the active RAG collection,
        the index and search settings are written to the registry's `rag` config."""
        store, rag = self._store(collection)
        try:
            rows, vectors = store.rows(with_vectors=True)
            plan = plan_index(settings, len(rows))
            for note in plan["warnings"]:
                warnings.warn(note, stacklevel=2)
                self.log(f"warning: {note}")
            k = int(top_k or rag.get("search", {}).get("top_k", 10))
            rng = np.random.default_rng(seed)
            picked = rng.choice(len(rows), size=min(sample_queries, len(rows)), replace=False)
            queries = vectors[picked]
            exact = exact_top_k(queries, vectors, k)
            pks = np.asarray([row["pk"] for row in rows])

            before = store.describe_index()
            started = time.perf_counter()
            after = store.rebuild_index(plan["index_type"], plan["metric_type"], plan["build_params"])
            build_seconds = time.perf_counter() - started
            store.search_params = dict(plan["search_params"])
            store.search(queries[:1], limit=k)  # warm-up: the first search loads the index
            started = time.perf_counter()
            hits = store.search(queries, limit=k, with_pk=True)
            batch_ms = (time.perf_counter() - started) * 1000 / len(queries)
            singles = []
            for query in queries[:20]:
                started = time.perf_counter()
                store.search(query[None, :], limit=k)
                singles.append((time.perf_counter() - started) * 1000)
            found = [{h["pk"] for h in hit_list} for hit_list in hits]
            recall = float(np.mean([len(f & set(pks[e])) / len(e) for f, e in zip(found, exact)]))
        finally:
            store.close()

        active = rag["collection"] == collection
        summary = {
            "collection": collection,
            "rows": len(rows),
            "index_before": _index_view(before),
            "index": _index_view(after),
            "build_params": plan["build_params"],
            "search_params": plan["search_params"],
            "ignored": plan["ignored"],
            "warnings": plan["warnings"],
            "k": k,
            "queries": len(queries),
            "recall_vs_flat": round(recall, 4),
            "latency_ms_per_query_batched": round(batch_ms, 3),
            "latency_ms_single_p50": round(float(np.median(singles)), 3),
            "build_seconds": round(build_seconds, 3),
            "registered": active,
        }
        if active:
            self.registry.update_model_config("rag", {
                "index_type": plan["index_type"], "metric_type": plan["metric_type"],
                "index_params": plan["build_params"], "search_params": plan["search_params"],
            })
        else:
            note = (f"{collection!r} is not the active RAG collection ({rag['collection']!r}): the registry was "
                    f"left as it is; its search params are {plan['search_params']}")
            summary["warnings"].append(note)
            self.log(note)
        summary["run_record"] = str(write_run_record(
            Path(self.registry.location).parent, "optimize-collection",
            {"collection": collection, "settings": settings, "sample_queries": sample_queries, "seed": seed}, [],
            summary))
        self.log(f"{collection}: {summary['index']['index_type']} ({summary['index']['metric_type']}) "
                 f"recall@{k} vs FLAT {summary['recall_vs_flat']:.3f}, "
                 f"{summary['latency_ms_per_query_batched']:.2f} ms/query batched")
        return summary


def _index_view(description: dict[str, Any]) -> dict[str, Any]:
    return {k: description.get(k) for k in ("index_type", "metric_type", "params", "total_rows", "indexed_rows", "state")}
