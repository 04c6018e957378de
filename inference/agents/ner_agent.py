"""The NER stage: finds the BRAND and CATEGORY spans in a name and maps them to catalogue labels.

Backends plug in by the registry's `ner` config `backend`: `crf` (the local default, trained by
`product-infer bootstrap`); the transformer and SageMaker-endpoint backends register the same way.
Every backend returns entities; turning a span into a label ("คอลเกต" -> "Colgate") is the
agent's job, through the span lexicon saved beside the model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Protocol, Sequence

from inference.agents.base import Entity, StageAnswer
from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry


class NERBackend(Protocol):
    def entities(self, text: str) -> list[Entity]: ...


def _load_crf(folder: Path, config: dict) -> NERBackend:
    from inference.agents.ner_crf import CRFNERModel

    return CRFNERModel.load(folder)


BACKENDS: dict[str, Callable[[Path, dict], NERBackend]] = {"crf": _load_crf}


def model_folder(registry: ModelRegistry, config: dict) -> Path:
    """Model paths in the registry are relative to the registry's folder (the local home)."""
    return Path(registry.location).parent / config["path"]


class NERAgent:
    def __init__(self, registry: ModelRegistry | None = None, backend: NERBackend | None = None,
                 lexicon: dict[str, dict[str, str]] | None = None):
        self.registry = registry or ModelRegistry()
        if backend is None:
            config = self.registry.get_model_config("ner")
            kind = config.get("backend", "crf")
            if kind not in BACKENDS:
                raise ValueError(f"unknown NER backend {kind!r}; registered backends: {', '.join(BACKENDS)}")
            folder = model_folder(self.registry, config)
            backend = BACKENDS[kind](folder, config)
            if lexicon is None and (folder / "lexicon.json").is_file():
                lexicon = json.loads((folder / "lexicon.json").read_text(encoding="utf-8"))
        self.backend = backend
        self.lexicon = lexicon or {"BRAND": {}, "CATEGORY": {}}

    def predict(self, text: str) -> StageAnswer:
        """Answer for one normalised name."""
        started = time.perf_counter()
        entities = self.backend.entities(text)
        answer = self.answer_from_entities(entities)
        answer.latency_ms = (time.perf_counter() - started) * 1000
        return answer

    def predict_batch(self, texts: Sequence[str]) -> list[StageAnswer]:
        return [self.predict(t) for t in texts]

    def answer_from_entities(self, entities: list[Entity]) -> StageAnswer:
        """The most confident BRAND span names the brand (its catalogue label when known, else the
        span itself: a brand never seen is still extracted); a CATEGORY span counts only when it
        maps to a known category label."""
        answer = StageAnswer(stage="ner", entities=entities)
        brands = [e for e in entities if e.label == "BRAND"]
        if brands:
            best = max(brands, key=lambda e: e.confidence)
            answer.brand = self.lexicon["BRAND"].get(brand_key(best.text), best.text)
            answer.brand_confidence = best.confidence
        categories = [e for e in entities if e.label == "CATEGORY" and brand_key(e.text) in self.lexicon["CATEGORY"]]
        if categories:
            best = max(categories, key=lambda e: e.confidence)
            answer.category = self.lexicon["CATEGORY"][brand_key(best.text)]
            answer.category_confidence = best.confidence
        return answer
