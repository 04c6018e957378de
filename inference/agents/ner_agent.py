"""The NER stage: finds the BRAND and CATEGORY spans in a name and maps them to catalogue labels.

Backends plug in by the registry's `ner` config `backend`: `crf` (the local default, trained by
`product-infer bootstrap`) and `transformer` (Hugging Face token classification, trained by
training/pipelines/train_ner_pipeline.py; `quantization: int8` quantizes it as it loads).
Every backend returns entities; turning a span into a label ("คอลเกต" -> "Colgate") is the
agent's job, through the span lexicon saved beside the model.

Where the model is, by registry config key: `path` (relative to the registry's folder, the
local home), `model_path` (the manual's key: under the home if it exists there, else relative
to the working directory), or `model_uri` (an S3 model.tar.gz, as a SageMaker training job
writes it: downloaded once into the home's models/cache). A model is a folder with the
ner_model.json manifest, or one `.bin` file written by training/pipelines/quantize_ner.py.
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


def _load_transformer(folder: Path, config: dict) -> NERBackend:
    from inference.agents.ner_transformer import TransformerNERModel

    return TransformerNERModel.load(folder, config)


BACKENDS: dict[str, Callable[[Path, dict], NERBackend]] = {"crf": _load_crf, "transformer": _load_transformer}
MANIFEST = "ner_model.json"
"""Every saved NER model folder holds this manifest: {"backend": ..., plus backend settings}."""


def model_folder(registry: ModelRegistry, config: dict) -> Path:
    """Where the registered model is (see the module docstring); absolute paths are used as they are."""
    home = Path(registry.location).parent
    for key in ("path", "model_path", "model_uri"):
        value = config.get(key)
        if not value:
            continue
        if str(value).startswith("s3://"):
            return fetch_s3_model(str(value), home / "models" / "cache", region=config.get("region"))
        if key == "path":
            return home / value
        relative = Path(value).expanduser()
        return home / relative if (home / relative).exists() else Path.cwd() / relative
    name = config.get("name", "?")
    raise ValueError(f"the registered model {name!r} names no trained model (no path, model_path or model_uri); "
                     f"train one with python training/pipelines/train_ner_pipeline.py --model-name {name}")


def fetch_s3_model(uri: str, cache: Path, region: str | None = None) -> Path:
    """An S3 model.tar.gz (a SageMaker training job's model artifact) unpacked into the cache
    once, keyed by its URI; returns the model folder."""
    import hashlib
    import tarfile
    import tempfile

    from inference.aws import client

    target = cache / hashlib.sha256(uri.encode()).hexdigest()[:16]
    if (target / MANIFEST).is_file():
        return target
    bucket, _, key = uri[5:].partition("/")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        archive = Path(tmp) / "model.tar.gz"
        client("s3", region=region).download_file(bucket, key, str(archive))
        unpacked = Path(tmp) / "model"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        if not (unpacked / MANIFEST).is_file():
            raise FileNotFoundError(f"{uri} holds no NER model ({MANIFEST} missing at the archive's top level)")
        if not target.exists():  # else another process unpacked it meanwhile
            unpacked.replace(target)
    return target


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
        """An agent over a saved model folder (its manifest, model files and lexicon.json), or over
        a quantized model file (.bin), which carries its own lexicon."""
        folder = Path(folder)
        if not folder.exists():
            raise FileNotFoundError(f"NER model {folder} not found (no such folder or file)")
        if folder.is_file():
            from inference.agents.ner_transformer import TransformerNERModel

            backend, lexicon = TransformerNERModel.load_quantized(folder, config)
            return cls(backend=backend, lexicon=lexicon)
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
        """Answers for many names; backends that batch (the transformer) get the whole list."""
        batch = getattr(self.backend, "entities_batch", None)
        if batch is None:
            return [self.predict(t) for t in texts]
        started = time.perf_counter()
        answers = [self.answer_from_entities(found) for found in batch(list(texts))]
        per_item = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
        for answer in answers:
            answer.latency_ms = per_item
        return answers

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
