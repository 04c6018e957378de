"""One synth of the app per session (cdk.json's context), and one of a variant with every optional
part switched on (SageMaker endpoints, a VPC, an alert e-mail, a smaller batch)."""

from __future__ import annotations

import pytest

from tests.integration.infrastructure.cdk_helpers import Synth, synthesize

VARIANT = {
    "deploy_endpoints": "true",  # as `-c deploy_endpoints=true` gives it
    "alert_email": "oncall@example.com",
    "custom_model_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123",
    "batch_size": 7,
    "accuracy_threshold": 0.9,
    "latency_p95_threshold_ms": 1500,
    "vpc": {"vpc_id": "vpc-0a1b2c3d4e5f60718", "subnet_ids": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            "security_group_ids": ["sg-0a1b2c3d4e5f60003"], "availability_zones": ["us-east-1a", "us-east-1b"]},
}


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="session")
def variant(tmp_path_factory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-out-variant"), **VARIANT)
