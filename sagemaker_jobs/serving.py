"""The JSON request and response of the project's SageMaker endpoints (serve_ner, serve_embeddings).

Request  {"texts": ["name", ...]} (a bare JSON list of strings is accepted too), UTF-8 JSON.
Response a JSON object. Anything else is refused with a message saying what was expected.
"""

from __future__ import annotations

import json
from typing import Any

JSON = "application/json"
MAX_TEXTS = 256  # per request: keeps a request well under the 6 MB invocation payload limit


class RequestError(ValueError):
    """A request the endpoint cannot read; the message says what it expected."""


def read_texts(body: bytes | str, content_type: str | None) -> list[str]:
    if (content_type or JSON).split(";")[0].strip().lower() != JSON:
        raise RequestError(f"content type {content_type!r} is not supported; send {JSON}")
    try:
        payload = json.loads(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"request body is not UTF-8 JSON: {exc}") from None
    texts = payload.get("texts") if isinstance(payload, dict) else payload
    if not isinstance(texts, list) or not texts:
        raise RequestError('expected {"texts": ["name", ...]} with at least one name')
    if len(texts) > MAX_TEXTS:
        raise RequestError(f"{len(texts)} texts in one request; the limit is {MAX_TEXTS}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise RequestError(f"texts[{bad[0]}] is a {type(texts[bad[0]]).__name__}, not a string")
    return texts


def write_json(answer: Any, accept: str | None) -> str:
    accepted = [a.split(";")[0].strip().lower() for a in (accept or JSON).split(",")]
    if not any(a in (JSON, "*/*", "application/*") for a in accepted):
        raise RequestError(f"accept {accept!r} is not supported; the endpoint answers {JSON}")
    return json.dumps(answer, ensure_ascii=False)
