"""Where the Milvus server is: its URI and token, kept in a Secrets Manager secret in AWS.

The secret's value is JSON {"uri": "https://...", "token": "user:password or API key"}; the
stacks name it in MILVUS_SECRET_NAME. Read once per process (the Lambdas reuse their agent).
"""

from __future__ import annotations

import json

from inference.aws import client


class MilvusSecretError(ValueError):
    """The secret exists but does not hold what the pipeline needs."""


def milvus_connection(secret_name: str, secrets=None) -> tuple[str, str]:
    """(uri, token) from the secret; MilvusSecretError naming the secret and what is wrong."""
    secrets = secrets or client("secretsmanager")
    value = secrets.get_secret_value(SecretId=secret_name).get("SecretString")
    try:
        found = json.loads(value) if value else None
    except json.JSONDecodeError as exc:
        raise MilvusSecretError(f"secret {secret_name}: not JSON ({exc.msg}); expected "
                                '{"uri": ..., "token": ...}') from None
    if not isinstance(found, dict) or not isinstance(found.get("uri"), str) or not found["uri"].strip():
        raise MilvusSecretError(f'secret {secret_name}: expected a JSON object {{"uri": ..., "token": ...}} '
                                "with a non-empty uri")
    token = found.get("token") or ""
    if not isinstance(token, str):
        raise MilvusSecretError(f"secret {secret_name}: token must be a string")
    return found["uri"].strip(), token
