"""The RAG stage: retrieve similar known products and vote their brand and category.

The query is the name's embedding, pulled towards the NER brand span when NER is confident
(`entity_boost`), optionally expanded with other surface forms of words it contains (a Thai
transliteration brings its Latin spelling). Neighbours above `similarity_threshold` vote,
weighted by similarity; they are kept as evidence.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from inference.agents.base import Entity, StageAnswer
from inference.agents.embeddings import Embedder, load_embedder
from inference.agents.ner_agent import model_folder
from inference.agents.vector_store import MilvusStore
from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry

DEFAULT_SEARCH = {
    "top_k": 5,
    "similarity_threshold": 0.3,
    "rerank_top_k": 5,
    "use_query_expansion": True,
    "expansion_terms": 3,
}
DEFAULT_NER_TO_RAG = {"pass_entities": True, "entity_boost": 1.2, "filter_low_confidence": True,
                      "min_entity_confidence": 0.5}


def _trigrams(text: str) -> set[str]:
    key = f"  {brand_key(text)} "
    return {key[i:i + 3] for i in range(len(key) - 2)}


class RAGAgent:
    def __init__(self, registry: ModelRegistry | None = None, embedder: Embedder | None = None,
                 store: MilvusStore | None = None, expansions: dict[str, list[str]] | None = None):
        self.registry = registry or ModelRegistry()
        rag_config = self.registry.get_model_config("rag") if (store is None or expansions is None) else {}
        self.search_config = {**DEFAULT_SEARCH, **rag_config.get("search", {})}
        if embedder is None:
            embedding_config = self.registry.get_model_config("embedding")
            embedder = load_embedder(embedding_config, Path(self.registry.location).parent)
        self.embedder = embedder
        if store is None:
            uri = rag_config["uri"]
            if "://" not in uri:
                uri = str(Path(self.registry.location).parent / uri)
            store = MilvusStore(uri, rag_config["collection"])
            store.metric_type = rag_config.get("metric_type", "COSINE")
            store.search_params = rag_config.get("search_params", {})
        self.store = store
        if expansions is None and rag_config.get("expansions"):
            path = model_folder(self.registry, {"path": rag_config["expansions"]})
            expansions = json.loads(path.read_text(encoding="utf-8"))
        self.expansions = expansions or {}

    # -- the manual's configuration API ----------------------------------------------------------
    def configure_search(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = set(options) - set(DEFAULT_SEARCH)
        if unknown:
            raise ValueError(f"unknown search option(s) {sorted(unknown)}; expected some of {sorted(DEFAULT_SEARCH)}")
        merged = {**self.search_config, **options}
        if int(merged["top_k"]) < 1 or int(merged["rerank_top_k"]) < 1:
            raise ValueError("top_k and rerank_top_k must be at least 1")
        if not -1.0 <= float(merged["similarity_threshold"]) <= 1.0:
            raise ValueError("similarity_threshold is a cosine similarity, in [-1, 1]")
        if int(merged["expansion_terms"]) < 0:
            raise ValueError("expansion_terms must be 0 or more")
        self.search_config = merged
        return dict(merged)

    # -- queries -----------------------------------------------------------------------------------
    def expand(self, text: str) -> str:
        """The name plus up to `expansion_terms` other surface forms of words found in it."""
        if not self.search_config["use_query_expansion"] or not self.expansions:
            return text
        key = brand_key(text)
        limit = int(self.search_config["expansion_terms"])
        terms: dict[str, str] = {}  # by key, so "Toothpaste" and "toothpaste" count once
        for form, others in self.expansions.items():
            if len(terms) >= limit:
                break
            if len(form) >= 3 and form in key:
                for other in others:
                    other_key = brand_key(other)
                    if other_key not in key and other_key not in terms:
                        terms[other_key] = other
        return " ".join([text, *list(terms.values())[:limit]])

    def query_vectors(self, texts: Sequence[str], entities: Sequence[Sequence[Entity]] | None = None,
                      ner_to_rag: dict[str, Any] | None = None) -> np.ndarray:
        options = {**DEFAULT_NER_TO_RAG, **(ner_to_rag or {})}
        vectors = self.embedder.encode([self.expand(t) for t in texts])
        if not entities or not options["pass_entities"] or float(options["entity_boost"]) == 1.0:
            return vectors
        spans, rows = [], []
        for i, found in enumerate(entities):
            brands = [e for e in found if e.label == "BRAND"
                      and (not options["filter_low_confidence"] or e.confidence >= options["min_entity_confidence"])]
            if brands:
                spans.append(max(brands, key=lambda e: e.confidence).text)
                rows.append(i)
        if rows:
            boost = float(options["entity_boost"]) - 1.0
            vectors = vectors.copy()
            vectors[rows] += boost * self.embedder.encode(spans)
            vectors[rows] /= np.linalg.norm(vectors[rows], axis=1, keepdims=True)
        return vectors

    # -- answers -----------------------------------------------------------------------------------
    def predict(self, text: str, entities: Sequence[Entity] = (), ner_to_rag: dict[str, Any] | None = None) -> StageAnswer:
        return self.predict_batch([text], [list(entities)], ner_to_rag)[0]

    def predict_batch(self, texts: Sequence[str], entities: Sequence[Sequence[Entity]] | None = None,
                      ner_to_rag: dict[str, Any] | None = None, vectors: np.ndarray | None = None) -> list[StageAnswer]:
        """One batched vector search for all names."""
        if not texts:
            return []
        started = time.perf_counter()
        if vectors is None:
            vectors = self.query_vectors(texts, entities, ner_to_rag)
        hits = self.store.search(vectors, limit=int(self.search_config["top_k"]))
        answers = [self.vote(text, found) for text, found in zip(texts, hits)]
        per_item = (time.perf_counter() - started) * 1000 / len(texts)
        for answer in answers:
            answer.latency_ms = per_item
        return answers

    def rerank(self, text: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Blend the vector similarity with character-trigram overlap, keep `rerank_top_k`."""
        query = _trigrams(text)
        for hit in hits:
            other = _trigrams(hit["name"])
            overlap = len(query & other) / max(len(query | other), 1)
            hit["score"] = round(0.7 * hit["similarity"] + 0.3 * overlap, 6)
        hits.sort(key=lambda h: h["score"], reverse=True)
        return hits[: int(self.search_config["rerank_top_k"])]

    def vote(self, text: str, hits: list[dict[str, Any]]) -> StageAnswer:
        """Similarity-weighted vote. Confidence = the winner's share of the vote times its best
        similarity, so unanimous but distant neighbours do not look certain."""
        threshold = float(self.search_config["similarity_threshold"])
        kept = self.rerank(text, [h for h in hits if h["similarity"] >= threshold])
        answer = StageAnswer(stage="rag", evidence=[
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in h.items()} for h in kept
        ])
        for field in ("brand", "category"):
            weights: dict[str, float] = defaultdict(float)
            best_sim: dict[str, float] = defaultdict(float)
            label_of: dict[str, str] = {}
            for hit in kept:
                label = hit.get(field)
                if not label:
                    continue
                key = brand_key(label)
                label_of.setdefault(key, label)
                weights[key] += max(hit["score"], 0.0)
                best_sim[key] = max(best_sim[key], hit["similarity"])
            total = sum(weights.values())
            if total > 0:
                winner = max(weights, key=weights.get)
                setattr(answer, field, label_of[winner])
                setattr(answer, f"{field}_confidence", float(weights[winner] / total * max(best_sim[winner], 0.0)))
        return answer

    def close(self) -> None:
        self.store.close()
