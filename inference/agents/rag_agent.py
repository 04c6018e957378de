"""The RAG stage: retrieve similar known products and vote their brand and category.

The query is the name's embedding, pulled towards the NER brand span when NER is confident
(`entity_boost`), optionally expanded with other surface forms of words it contains (a Thai
transliteration brings its Latin spelling). Neighbours above `similarity_threshold` vote,
weighted by similarity; they are kept as evidence.

Cross-lingual search (`configure_multilingual`): the name is also translated by Amazon Translate
into the other target languages; every version is searched in one batch, each version's hits are
weighted by its language's weight, and the merged hits vote. A failed translation leaves the
original query alone, with a note on the evidence.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from inference.agents.base import Entity, StageAnswer
from inference.agents.embeddings import Embedder, load_embedder
from inference.agents.ner_agent import model_folder
from inference.agents.vector_store import MilvusStore
from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry
from inference.normalize import InvalidName, normalize_name, script_of

DEFAULT_SEARCH = {
    "top_k": 5,
    "similarity_threshold": 0.3,
    "rerank_top_k": 5,
    "use_query_expansion": True,
    "expansion_terms": 3,
}
DEFAULT_NER_TO_RAG = {"pass_entities": True, "entity_boost": 1.2, "filter_low_confidence": True,
                      "min_entity_confidence": 0.5}
DEFAULT_MULTILINGUAL = {
    "translate_query": False,
    "target_languages": ["en", "th"],
    "translation_service": "aws_translate",
    "combine_results": True,
    "language_weights": {"en": 0.5, "th": 0.5},
}
TRANSLATION_SERVICES = ("aws_translate",)
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")  # Amazon Translate codes: en, th, zh-TW, fa-AF
_SCRIPT_LANGUAGE = {"th": "th", "en": "en"}  # a name's script -> its language ("mixed" has none)
TRANSLATION_CACHE_SIZE = 10000


def validate_multilingual(options: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged multilingual settings, or ValueError saying which key or value is wrong."""
    if not isinstance(options, dict):
        raise TypeError(f"multilingual options must be a dict, got {type(options).__name__}")
    unknown = set(options) - set(DEFAULT_MULTILINGUAL)
    if unknown:
        raise ValueError(f"unknown multilingual option(s) {sorted(unknown)}; expected some of {sorted(DEFAULT_MULTILINGUAL)}")
    merged = {**(current or DEFAULT_MULTILINGUAL), **options}
    for key in ("translate_query", "combine_results"):
        if not isinstance(merged[key], bool):
            raise ValueError(f"{key} must be true or false, got {merged[key]!r}")
    languages = merged["target_languages"]
    if not isinstance(languages, (list, tuple)) or not languages:
        raise ValueError("target_languages must be a non-empty list of language codes such as ['en', 'th']")
    for code in languages:
        if not isinstance(code, str) or not _LANGUAGE_CODE.match(code):
            raise ValueError(f"target_languages: {code!r} is not a language code (Amazon Translate codes: 'en', 'th', 'zh-TW')")
    if len(set(languages)) != len(languages):
        raise ValueError(f"target_languages lists a language twice: {list(languages)}")
    if merged["translation_service"] not in TRANSLATION_SERVICES:
        raise ValueError(f"translation_service {merged['translation_service']!r} is not supported; "
                         f"expected one of {', '.join(TRANSLATION_SERVICES)}")
    weights = merged["language_weights"]
    if not isinstance(weights, dict):
        raise ValueError("language_weights must map a language code to a weight, e.g. {'en': 0.6, 'th': 0.4}")
    for code, weight in weights.items():
        if code not in languages:
            raise ValueError(f"language_weights has {code!r}, which is not one of target_languages {list(languages)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise ValueError(f"language_weights[{code!r}] must be a number in [0, 1], got {weight!r}")
    missing = [code for code in languages if code not in weights]
    if missing:
        raise ValueError(f"language_weights has no weight for {missing}")
    if sum(weights.values()) <= 0:
        raise ValueError("language_weights must not all be zero")
    return {**merged, "target_languages": list(languages), "language_weights": dict(weights)}


def _trigrams(text: str) -> set[str]:
    key = f"  {brand_key(text)} "
    return {key[i:i + 3] for i in range(len(key) - 2)}


class RAGAgent:
    def __init__(self, registry: ModelRegistry | None = None, embedder: Embedder | None = None,
                 store: MilvusStore | None = None, expansions: dict[str, list[str]] | None = None,
                 translator=None):
        self.registry = registry or ModelRegistry()
        rag_config = self.registry.get_model_config("rag") if (store is None or expansions is None) else {}
        self.search_config = {**DEFAULT_SEARCH, **rag_config.get("search", {})}
        self.multilingual = validate_multilingual(rag_config.get("multilingual", {}))
        self._translator = translator  # an Amazon Translate client; made on first use
        self._translations: OrderedDict[tuple[str, str], str | None] = OrderedDict()
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

    def configure_multilingual(self, options: dict[str, Any]) -> dict[str, Any]:
        """Cross-lingual search (the manual's keys): translate the query into `target_languages`
        with `translation_service`, search every version, and with `combine_results` merge their
        hits weighting each by `language_weights` (the original query weighs as the language of
        its script; a mixed-script name as the heaviest language); without it, the version with
        the best weighted hit decides alone."""
        self.multilingual = validate_multilingual(options, self.multilingual)
        return {**self.multilingual, "target_languages": list(self.multilingual["target_languages"]),
                "language_weights": dict(self.multilingual["language_weights"])}

    @property
    def translator(self):
        if self._translator is None:
            from inference import aws

            self._translator = aws.client("translate")
        return self._translator

    def translate(self, text: str, target: str) -> tuple[str | None, str | None]:
        """(translation, None); (None, None) when the text already is in `target` or reads the
        same; (None, note) when the service failed. Answers are cached: translation is paid per
        character."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = (text, target)
        if key in self._translations:
            self._translations.move_to_end(key)
            return self._translations[key], None
        try:
            response = self.translator.translate_text(Text=text, SourceLanguageCode="auto", TargetLanguageCode=target)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            return None, f"translation to {target} failed ({error.get('Code', 'error')}: {error.get('Message', '')}); searched without it"
        except BotoCoreError as exc:
            return None, f"translation to {target} failed ({type(exc).__name__}: {exc}); searched without it"
        translated = None
        if response.get("SourceLanguageCode") != target:
            try:
                translated = normalize_name(response.get("TranslatedText", ""))
            except InvalidName:
                translated = None
            if translated is not None and brand_key(translated) == brand_key(text):
                translated = None
        self._translations[key] = translated
        if len(self._translations) > TRANSLATION_CACHE_SIZE:
            self._translations.popitem(last=False)
        return translated, None

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

    def search(self, texts: Sequence[str], limit: int | None = None, entities: Sequence[Sequence[Entity]] | None = None,
               ner_to_rag: dict[str, Any] | None = None) -> list[list[dict[str, Any]]]:
        """The raw neighbours of each name, best first, without a vote (for evaluation)."""
        return self.store.search(self.query_vectors(texts, entities, ner_to_rag),
                                 limit=int(limit or self.search_config["top_k"]))

    def predict_batch(self, texts: Sequence[str], entities: Sequence[Sequence[Entity]] | None = None,
                      ner_to_rag: dict[str, Any] | None = None, vectors: np.ndarray | None = None) -> list[StageAnswer]:
        """One batched vector search for all names."""
        if not texts:
            return []
        started = time.perf_counter()
        if vectors is None:
            vectors = self.query_vectors(texts, entities, ner_to_rag)
        if self.multilingual["translate_query"]:
            answers = self._predict_multilingual(texts, vectors)
        else:
            hits = self.store.search(vectors, limit=int(self.search_config["top_k"]))
            answers = [self.vote(text, found) for text, found in zip(texts, hits)]
        per_item = (time.perf_counter() - started) * 1000 / len(texts)
        for answer in answers:
            answer.latency_ms = per_item
        return answers

    def _predict_multilingual(self, texts: Sequence[str], vectors: np.ndarray) -> list[StageAnswer]:
        """Search each name and its translations in one batch, then merge and vote."""
        options = self.multilingual
        weights = options["language_weights"]
        heaviest = max(weights.values())
        queries: list[tuple[int, str, str, float, bool]] = []  # (name index, language, text, weight, original?)
        notes: dict[int, list[str]] = defaultdict(list)
        for i, text in enumerate(texts):
            language = _SCRIPT_LANGUAGE.get(script_of(text))
            own = weights.get(language, heaviest) if language else heaviest
            queries.append((i, language or "mixed", text, own / heaviest, True))
            for target in options["target_languages"]:
                if target == language:
                    continue
                translated, note = self.translate(text, target)
                if note:
                    notes[i].append(note)
                elif translated:
                    queries.append((i, target, translated, weights[target] / heaviest, False))
        originals = [q for q in queries if q[4]]
        extra = [q for q in queries if not q[4]]
        all_vectors = vectors if not extra else np.vstack([vectors, self.query_vectors([q[2] for q in extra])])
        found = self.store.search(all_vectors, limit=int(self.search_config["top_k"]))
        per_name: dict[int, list[tuple[tuple, list[dict[str, Any]]]]] = defaultdict(list)
        for query, hits in zip([*originals, *extra], found):
            per_name[query[0]].append((query, hits))
        answers = []
        threshold = float(self.search_config["similarity_threshold"])
        for i, text in enumerate(texts):
            lists = []
            for (_, language, query_text, weight, original), hits in per_name[i]:
                kept = self._score(query_text, [h for h in hits if h["similarity"] >= threshold])
                for hit in kept:
                    hit.update(score=round(hit["score"] * weight, 6), query_language=language)
                    if not original:
                        hit["query"] = query_text
                lists.append(kept)
            if options["combine_results"]:
                merged: dict[tuple[str, str], dict[str, Any]] = {}
                for hit in (h for kept in lists for h in kept):
                    key = (str(hit.get("record_id")), hit["name"])
                    if key not in merged or hit["score"] > merged[key]["score"]:
                        merged[key] = hit
                chosen = list(merged.values())
            else:
                chosen = max(lists, key=lambda kept: max((h["score"] for h in kept), default=-1.0))
            chosen.sort(key=lambda h: h["score"], reverse=True)
            answer = self._tally(chosen[: int(self.search_config["rerank_top_k"])])
            for hit in answer.evidence:
                if notes.get(i):
                    hit["translation_notes"] = list(notes[i])
            answers.append(answer)
        return answers

    def _score(self, text: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        query = _trigrams(text)
        for hit in hits:
            other = _trigrams(hit["name"])
            overlap = len(query & other) / max(len(query | other), 1)
            hit["score"] = round(0.7 * hit["similarity"] + 0.3 * overlap, 6)
        return hits

    def rerank(self, text: str, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Blend the vector similarity with character-trigram overlap, keep `rerank_top_k`."""
        hits = self._score(text, hits)
        hits.sort(key=lambda h: h["score"], reverse=True)
        return hits[: int(self.search_config["rerank_top_k"])]

    def vote(self, text: str, hits: list[dict[str, Any]]) -> StageAnswer:
        """Similarity-weighted vote. Confidence = the winner's share of the vote times its best
        similarity, so unanimous but distant neighbours do not look certain."""
        threshold = float(self.search_config["similarity_threshold"])
        return self._tally(self.rerank(text, [h for h in hits if h["similarity"] >= threshold]))

    def _tally(self, kept: list[dict[str, Any]]) -> StageAnswer:
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
