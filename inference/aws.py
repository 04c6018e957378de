"""The one AWS session factory: every boto3 client in the project comes from here.

It honours the profile (`--aws-profile` / AWS_PROFILE), the region (default us-east-1) and
`AWS_ENDPOINT_URL`, which points the clients at a local moto server on a laptop. botocore reads
AWS_ENDPOINT_URL itself as well; passing it explicitly keeps the rule visible and testable.
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
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return session.client(service, endpoint_url=endpoint, config=config or _CLIENT_CONFIG)
