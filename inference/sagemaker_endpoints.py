"""The NER stage and the query embedder on SageMaker endpoints (the AWS side of the pipeline).

The endpoints run sagemaker_jobs/serve_ner.py and serve_embeddings.py over the same `inference/`
code as the laptop, so the Lambdas need no model libraries. JSON in and out:

- NER:        {"texts": [...]} -> {"predictions": [StageAnswer.to_dict(rounded=False) without "stage", or {"error"}]}
- embeddings: {"texts": [...]} -> {"vectors": [[float, ...], ...], "dim": int, "embedder": str}
"""

from __future__ import annotations

import json
import time
from typing import Any, Sequence

import numpy as np

from inference.agents.base import StageAnswer
from inference.aws import client

BATCH_SIZE = 64  # names per request: well under the endpoints' 6 MB payload limit


class EndpointError(RuntimeError):
    """An endpoint answered something that does not follow the JSON contract."""


def invoke_json(endpoint_name: str, payload: dict[str, Any], runtime=None) -> dict[str, Any]:
    """One invoke_endpoint call with a JSON body; the decoded JSON object it answered."""
    runtime = runtime or client("sagemaker-runtime")
    response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json",
                                       Accept="application/json", Body=json.dumps(payload, ensure_ascii=False).encode())
    raw = response["Body"].read()
    try:
        answer = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EndpointError(f"endpoint {endpoint_name} answered non-JSON ({exc}): {raw[:120]!r}") from None
    if not isinstance(answer, dict):
        raise EndpointError(f"endpoint {endpoint_name} answered a {type(answer).__name__}, expected a JSON object")
    return answer


def _batches(texts: Sequence[str], size: int):
    for start in range(0, len(texts), size):
        yield list(texts[start:start + size])


class EndpointNERAgent:
    """The NER stage (NERAgent's interface) answered by a SageMaker endpoint running serve_ner.py."""

    def __init__(self, endpoint_name: str, runtime=None, batch_size: int = BATCH_SIZE):
        self.endpoint_name, self._runtime, self.batch_size = endpoint_name, runtime, batch_size

    @property
    def runtime(self):
        if self._runtime is None:
            self._runtime = client("sagemaker-runtime")
        return self._runtime

    def predict(self, text: str) -> StageAnswer:
        return self.predict_batch([text])[0]

    def predict_batch(self, texts: Sequence[str]) -> list[StageAnswer]:
        answers: list[StageAnswer] = []
        for batch in _batches(texts, self.batch_size):
            started = time.perf_counter()
            found = invoke_json(self.endpoint_name, {"texts": batch}, self.runtime).get("predictions")
            if not isinstance(found, list) or len(found) != len(batch):
                raise EndpointError(f"endpoint {self.endpoint_name} returned {_count(found)} predictions "
                                    f"for {len(batch)} names")
            per_item = (time.perf_counter() - started) * 1000 / len(batch)
            answers += [_answer(self.endpoint_name, p, per_item) for p in found]
        return answers


def _count(found: Any) -> str:
    return str(len(found)) if isinstance(found, list) else "no list of"


def _answer(endpoint_name: str, prediction: Any, latency_ms: float) -> StageAnswer:
    if not isinstance(prediction, dict):
        raise EndpointError(f"endpoint {endpoint_name} returned a {type(prediction).__name__} prediction")
    if prediction.get("error"):
        return StageAnswer(stage="ner", error=str(prediction["error"]), latency_ms=latency_ms)
    try:
        answer = StageAnswer.from_dict({**prediction, "stage": "ner", "latency_ms": latency_ms})
        answer.brand_confidence, answer.category_confidence = float(answer.brand_confidence), float(answer.category_confidence)
    except (TypeError, ValueError) as exc:
        raise EndpointError(f"endpoint {endpoint_name} returned a malformed prediction ({exc}): {prediction!r:.200}") from None
    return answer


class EndpointEmbedder:
    """An Embedder (embeddings.Embedder) answered by a SageMaker endpoint running serve_embeddings.py;
    it must serve the model the Milvus collection was filled with."""

    name = "sagemaker-endpoint"

    def __init__(self, endpoint_name: str, runtime=None, batch_size: int = BATCH_SIZE):
        self.endpoint_name, self._runtime, self.batch_size = endpoint_name, runtime, batch_size
        self._dim: int | None = None

    @property
    def runtime(self):
        if self._runtime is None:
            self._runtime = client("sagemaker-runtime")
        return self._runtime

    @property
    def dim(self) -> int:
        if self._dim is None:
            self.encode(["dimension probe"])
        return int(self._dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        parts = []
        for batch in _batches(texts, self.batch_size):
            answer = invoke_json(self.endpoint_name, {"texts": batch}, self.runtime)
            try:
                vectors = np.asarray(answer["vectors"], dtype=np.float32)
            except (KeyError, TypeError, ValueError) as exc:
                raise EndpointError(f"endpoint {self.endpoint_name} returned no usable vectors ({exc})") from None
            if vectors.ndim != 2 or len(vectors) != len(batch):
                raise EndpointError(f"endpoint {self.endpoint_name} returned vectors of shape {vectors.shape} "
                                    f"for {len(batch)} names")
            self._dim = vectors.shape[1]
            parts.append(vectors)
        if not parts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        return np.vstack(parts)  # unit length already: every Embedder's encode returns unit vectors
