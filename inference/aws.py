"""The one AWS session factory: every boto3 client in the project comes from here.

It honours the profile (`--aws-profile` / AWS_PROFILE), the region (default us-east-1) and the
endpoint variables, in botocore's documented order: `AWS_ENDPOINT_URL_<SERVICE_ID>` (for example
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`) for one service, then `AWS_ENDPOINT_URL` for all, then the
profile's `services` section. On a laptop AWS_ENDPOINT_URL points the clients at a local moto
server, and a service moto lacks can be pointed at a local stand-in beside it.
"""

from __future__ import annotations

import os
from functools import lru_cache

import boto3
from botocore.config import Config

DEFAULT_REGION = "us-east-1"

# Adaptive retry mode backs off on throttling for every client; callers add their own retry
# only where an answer must be validated (the LLM stage).
_CLIENT_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)


@lru_cache(maxsize=16)
def get_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session for the profile and region (cached: sessions are expensive to build)."""
    profile = profile or os.environ.get("AWS_PROFILE") or None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return boto3.Session(profile_name=profile, region_name=region)


def client(service: str, profile: str | None = None, region: str | None = None, config: Config | None = None):
    """A boto3 client for `service` through the shared session, endpoint and retry policy."""
    session = get_session(profile, region)
    return session.client(service, endpoint_url=endpoint_url(service), config=config or _CLIENT_CONFIG)


def endpoint_url(service: str) -> str | None:
    """AWS_ENDPOINT_URL_<SERVICE_ID> for `service`, else AWS_ENDPOINT_URL, else None (botocore's
    default endpoint). The service id is botocore's (`bedrock-runtime` -> BEDROCK_RUNTIME,
    `logs` -> CLOUDWATCH_LOGS), as in botocore's own lookup."""
    specific = os.environ.get("AWS_ENDPOINT_URL_" + _service_id(service).replace(" ", "_").upper())
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


@lru_cache(maxsize=64)
def _service_id(service: str) -> str:
    from botocore.session import get_session as botocore_session

    return str(botocore_session().get_service_model(service).service_id)
