"""The LLM stage: asks a Bedrock model (Converse API) for a product's brand and category.

It sees what the earlier stages found (NER entities, RAG neighbours), so it can resolve names
they could not. Its answer is free text from a model, so it is validated before use; a bad
answer, an outage or throttling past the retries raises StageUnavailable and the hybrid falls
back to the earlier stages.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from typing import Any, Callable, Iterable

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from inference import aws
from inference.agents.base import Entity, StageAnswer, StageUnavailable
from inference.config.model_registry import ModelRegistry, RegistryError

# Transient failures worth another try; anything else (access, validation, missing model) is not.
RETRYABLE_CODES = frozenset({
    "ThrottlingException", "TooManyRequestsException", "ServiceUnavailableException",
    "ModelNotReadyException", "InternalServerException", "ModelTimeoutException",
})
RETRYABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)

# botocore must not retry as well: the agent's own loop owns the backoff and the attempt count.
# (One attempt in all; botocore rewrites a Config's `max_attempts` in place when it builds a
# client, so the setting is given in the form it keeps.)
CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30, connect_timeout=5)

SYSTEM_PROMPT = (
    "You identify the brand and the category of retail products from their names. Names may be "
    "in Thai, English or a mix of both, and may carry sizes, flavours and pack counts.\n"
    "The brand is the manufacturer's or brand owner's label, written in its canonical form (for "
    "example its usual English spelling); it may be absent from the name, in which case infer it "
    "only if you are confident, else use null. The category is the kind of product.\n"
    "Similar catalogue products and detected entities may be given as hints; they can be wrong.\n"
    "Answer with ONLY a JSON object, no other text:\n"
    '{"brand": string or null, "category": string or null, '
    '"brand_confidence": number 0..1, "category_confidence": number 0..1}'
)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class LLMAgent:
    """The LLM stage. Off unless a model id is given or registered, so it never runs by surprise."""

    def __init__(self, model_id: str | None = None, registry: ModelRegistry | None = None, client=None,
                 profile: str | None = None, region: str | None = None, max_retries: int = 4,
                 base_delay: float = 0.5, sleep: Callable[[float], Any] = time.sleep, max_tokens: int = 200):
        self._model_id = model_id
        self._registry = registry
        self._client = client
        self.profile, self.region = profile, region
        self.max_retries, self.base_delay, self.sleep, self.max_tokens = max_retries, base_delay, sleep, max_tokens

    # -- configuration ---------------------------------------------------------------------------
    def _resolve(self) -> tuple[str | None, str]:
        """(model id, why there is none). Re-read each time: the registry can switch models live."""
        if self._model_id:
            return self._model_id, ""
        registry = self._registry or ModelRegistry()
        try:
            settings = registry.get_model_config("llm")
        except RegistryError as exc:
            return None, f"no model id was given and {exc}"
        if settings.get("enabled") is False:
            return None, f"the llm model {settings.get('name')!r} is disabled in the registry"
        found = settings.get("deployment_arn") or settings.get("model_id")
        return (found, "") if found else (None, f"the llm model {settings.get('name')!r} has no model_id")

    @property
    def configured(self) -> bool:
        return self._resolve()[0] is not None

    @property
    def client(self):
        if self._client is None:
            self._client = aws.client("bedrock-runtime", self.profile, self.region, config=CLIENT_CONFIG)
        return self._client

    # -- prompt ----------------------------------------------------------------------------------
    def build_prompt(self, name: str, entities: Iterable[Entity] = (), neighbours: Iterable[dict] = (),
                     context: dict | None = None) -> tuple[str, str]:
        """(system text, user text), honouring the manual's ner_to_rag / rag_to_llm switches."""
        context = context or {}
        lines = [f"Product name: {name}"]
        entities = list(entities) if context.get("pass_entities", True) else []
        if entities:
            lines.append("Entities detected in the name (label, text, confidence):")
            lines += [f"- {e.label}: {e.text!r} ({e.confidence:.2f})" for e in entities]
        limit = max(0, int(context.get("max_context_products", 5)))
        shown = list(neighbours)[:limit] if context.get("pass_similar_products", True) else []
        if shown:
            with_scores = context.get("include_similarity_scores", True)
            lines.append("Similar catalogue products (best first):")
            for i, n in enumerate(shown, 1):
                line = f"{i}. {n.get('name')!r} | brand: {n.get('brand') or 'unknown'} | category: {n.get('category') or 'unknown'}"
                if with_scores and n.get("similarity") is not None:
                    line += f" | similarity: {float(n['similarity']):.3f}"
                lines.append(line)
        lines.append("Answer with the JSON object only.")
        return SYSTEM_PROMPT, "\n".join(lines)

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, name: str, entities: Iterable[Entity] = (), neighbours: Iterable[dict] = (),
                context: dict | None = None) -> StageAnswer:
        model_id, why = self._resolve()
        if model_id is None:
            raise StageUnavailable(f"LLM stage is not configured: {why}")
        started = time.perf_counter()
        system, user = self.build_prompt(name, entities, neighbours, context)
        response = self._converse(
            modelId=model_id,
            system=[{"text": system}],
            messages=[{"role": "user", "content": [{"text": user}]}],
            inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0.0},
        )
        stop_reason = response.get("stopReason")
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        text = next((b["text"] for b in blocks if "text" in b), None)
        if text is None:
            raise StageUnavailable(f"LLM answer has no text (stop reason {stop_reason})")
        answer = parse_answer(text, stop_reason)
        usage = response.get("usage", {})
        return StageAnswer(
            stage="llm",
            **answer,
            evidence=[{
                "model_id": model_id,
                "stop_reason": stop_reason,
                "input_tokens": usage.get("inputTokens"),
                "output_tokens": usage.get("outputTokens"),
                "service_latency_ms": response.get("metrics", {}).get("latencyMs"),
            }],
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    def _converse(self, **request) -> dict:
        """One Converse call with exponential backoff and full jitter on transient failures."""
        attempts = max(0, self.max_retries) + 1
        last = ""
        for attempt in range(attempts):
            try:
                return self.client.converse(**request)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "Unknown")
                if code not in RETRYABLE_CODES:
                    message = exc.response.get("Error", {}).get("Message", "")
                    raise StageUnavailable(f"LLM call failed: {code}: {message}") from exc
                last = code
            except RETRYABLE_ERRORS as exc:
                last = type(exc).__name__
            if attempt + 1 < attempts:
                # 1 - random() lies in (0, 1]: a full-jitter delay that is never zero.
                self.sleep(self.base_delay * 2 ** attempt * (1.0 - random.random()))
        raise StageUnavailable(f"LLM throttled/unavailable after {attempts} attempts (last: {last})")


def parse_answer(text: str, stop_reason: str | None = None) -> dict[str, Any]:
    """Brand, category and confidences from the model's text; StageUnavailable if it is malformed."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start = body.find("{")
    if start < 0:
        raise StageUnavailable(f"LLM answer holds no JSON object (stop reason {stop_reason}): {text[:80]!r}")
    try:
        data, _ = json.JSONDecoder().raw_decode(body, start)
    except json.JSONDecodeError as exc:
        raise StageUnavailable(f"LLM answer is not valid JSON (stop reason {stop_reason}): {exc.msg}") from exc
    out: dict[str, Any] = {}
    for field in ("brand", "category"):
        if field not in data:
            raise StageUnavailable(f"LLM answer is missing {field}")
        value = data[field]
        if value is not None and not isinstance(value, str):
            raise StageUnavailable(f"LLM answer has a non-string {field}: {value!r}")
        value = value.strip() if value else None
        confidence = data.get(f"{field}_confidence")
        if f"{field}_confidence" not in data:
            raise StageUnavailable(f"LLM answer is missing {field}_confidence")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
                or not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
            raise StageUnavailable(f"LLM answer has {field}_confidence {confidence!r}, not a number in [0, 1]")
        out[field] = value or None
        out[f"{field}_confidence"] = float(confidence) if value else 0.0
    return out
