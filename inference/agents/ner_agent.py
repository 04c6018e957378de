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
MANIFEST = "ner_model.json"
"""Every saved NER model folder holds this manifest: {"backend": ..., plus backend settings}."""


def model_folder(registry: ModelRegistry, config: dict) -> Path:
    """Model paths in the registry are relative to the registry's folder (the local home);
    absolute paths are used as they are."""
    return Path(registry.location).parent / config["path"]


def write_manifest(folder: str | Path, backend: str, **settings) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps({"backend": backend, **settings}, indent=2), encoding="utf-8")
    return path


def load_ner_backend(folder: str | Path, config: dict | None = None) -> NERBackend:
    """The NER model saved in `folder`, whatever its backend (read from its manifest)."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{folder} is not a saved NER model (no {MANIFEST})")
    settings = {**json.loads(manifest.read_text(encoding="utf-8")), **(config or {})}
    kind = settings.get("backend", "crf")
    if kind not in BACKENDS:
        raise ValueError(f"unknown NER backend {kind!r} in {manifest}; registered backends: {', '.join(BACKENDS)}")
    return BACKENDS[kind](folder, settings)


class NERAgent:
    def __init__(self, registry: ModelRegistry | None = None, backend: NERBackend | None = None,
                 lexicon: dict[str, dict[str, str]] | None = None):
        if backend is None:
            registry = registry or ModelRegistry()
            config = registry.get_model_config("ner")
            loaded = self.from_folder(model_folder(registry, config),
                                      {k: v for k, v in config.items() if k not in ("name", "path")})
            backend, lexicon = loaded.backend, lexicon or loaded.lexicon
        self.backend = backend
        self.lexicon = lexicon or {"BRAND": {}, "CATEGORY": {}}

    @classmethod
    def from_folder(cls, folder: str | Path, config: dict | None = None) -> "NERAgent":
        """An agent over a saved model folder (its manifest, model files and lexicon.json)."""
        folder = Path(folder)
        lexicon_path = folder / "lexicon.json"
        lexicon = json.loads(lexicon_path.read_text(encoding="utf-8")) if lexicon_path.is_file() else None
        return cls(backend=load_ner_backend(folder, config), lexicon=lexicon)

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
