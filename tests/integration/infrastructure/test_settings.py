"""The context the app reads: cdk.json's values, `-c key=value` strings, and clear errors for bad ones."""

from __future__ import annotations

import pytest

from stacks.application import cdk_json_context
from stacks.settings import DeploySettings, SettingError
from tests.integration.infrastructure.cdk_helpers import App


def settings(**overrides) -> DeploySettings:
    return DeploySettings.from_context(App(context={**cdk_json_context(), **overrides}).node)


def test_cdk_json_holds_every_tunable_with_the_issue_defaults():
    s = settings()
    assert (s.region, s.accuracy_threshold, s.latency_p95_threshold_ms) == ("us-east-1", 0.85, 2000)
    assert s.deploy_endpoints is False and s.alert_email is None and s.vpc is None
    assert s.llm_model_id == s.nova_base_model_id == "amazon.nova-pro-v1:0"
    assert s.batch_size == 20


def test_command_line_strings_are_converted():
    s = settings(deploy_endpoints="true", accuracy_threshold="0.9", batch_size="50", alert_email="a@b.example",
                 custom_model_arn="arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/x")
    assert (s.deploy_endpoints, s.accuracy_threshold, s.batch_size, s.alert_email) == (True, 0.9, 50, "a@b.example")
    assert s.llm_model_id.endswith("custom-model-deployment/x")


@pytest.mark.parametrize("key,value,message", [
    ("accuracy_threshold", "high", "'accuracy_threshold' must be a number"),
    ("accuracy_threshold", 1.5, "outside"),
    ("deploy_endpoints", "maybe", "true or false"),
    ("batch_size", 2.5, "whole number"),
    ("ner_instance_type", "m5.xlarge", "SageMaker instance type"),
    ("alert_email", "on call", "e-mail"),
    ("log_level", "LOUD", "one of"),
    ("milvus_secret_name", "", "'milvus_secret_name' is missing"),
    ("vpc", {"vpc_id": "vpc-0a1b2c3d", "subnet_ids": ["subnet-1"], "security_group_ids": ["sg-0a1b2c3d"],
             "availability_zones": ["us-east-1a"]}, "subnet_ids"),
    ("vpc", {"vpc_id": "vpc-0a1b2c3d"}, "lacks subnet_ids"),
])
def test_bad_values_name_the_key_and_the_problem(key, value, message):
    with pytest.raises(SettingError, match=message):
        settings(**{key: value})
