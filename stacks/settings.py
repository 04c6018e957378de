"""Every tunable of the CDK app, read once from the context (cdk.json, or `cdk synth -c key=value`).

Stacks receive a `DeploySettings` and read no context themselves, so a value has one name and one
parser. Values given with `-c` arrive as strings; they are converted and checked here, and a bad
value fails the synth with a message naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from constructs import Node


class SettingError(ValueError):
    """A context value the app cannot use; the message names the key and what was wrong."""


@dataclass(frozen=True)
class VpcSettings:
    """An existing VPC for the Lambdas and the SageMaker models (no lookup: synth stays offline)."""

    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    availability_zones: tuple[str, ...]


@dataclass(frozen=True)
class EndpointSettings:
    """One SageMaker real-time endpoint: its name, serving image, instance and model artifact."""

    name: str
    image: str
    instance_type: str
    model_data_key: str  # key of model.tar.gz in the model-artifact bucket
    entry_point: str     # serving script in sagemaker_jobs/


@dataclass(frozen=True)
class DeploySettings:
    account: str | None
    region: str
    data_bucket_name: str | None
    artifact_bucket_name: str | None
    bedrock_training_bucket_name: str | None
    access_log_bucket_name: str | None
    nova_base_model_id: str
    custom_model_arn: str | None
    nova_hyperparameters: Mapping[str, Any]
    ner_training_image: str
    ner_training_instance_type: str
    ner_training_max_runtime_hours: int
    ner_training: Mapping[str, Any]
    deploy_endpoints: bool
    ner_endpoint: EndpointSettings
    embedding_endpoint: EndpointSettings
    milvus_secret_name: str
    accuracy_threshold: float
    latency_p95_threshold_ms: float
    endpoint_latency_threshold_ms: float
    lambda_error_threshold: int
    alert_email: str | None
    vpc: VpcSettings | None
    batch_size: int
    map_max_concurrency: int
    lambda_memory_mb: int
    log_level: str
    log_retention_days: int
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def llm_model_id(self) -> str:
        """What the LLM stage calls: the custom model (deployment) ARN once there is one, else the base model."""
        return self.custom_model_arn or self.nova_base_model_id

    @classmethod
    def from_context(cls, node: Node) -> "DeploySettings":
        read = _Reader(node)
        return cls(
            account=read.text("account", required=False),
            region=read.text("region"),
            data_bucket_name=read.text("data_bucket_name", required=False),
            artifact_bucket_name=read.text("artifact_bucket_name", required=False),
            bedrock_training_bucket_name=read.text("bedrock_training_bucket_name", required=False),
            access_log_bucket_name=read.text("access_log_bucket_name", required=False),
            nova_base_model_id=read.text("nova_base_model_id"),
            custom_model_arn=read.text("custom_model_arn", required=False),
            nova_hyperparameters=read.mapping("nova_hyperparameters"),
            ner_training_image=read.text("ner_training_image"),
            ner_training_instance_type=read.instance_type("ner_training_instance_type"),
            ner_training_max_runtime_hours=read.integer("ner_training_max_runtime_hours", low=1, high=120),
            ner_training=read.mapping("ner_training"),
            deploy_endpoints=read.boolean("deploy_endpoints"),
            ner_endpoint=EndpointSettings(
                name=read.text("ner_endpoint_name"), image=read.text("ner_inference_image"),
                instance_type=read.instance_type("ner_instance_type"),
                model_data_key=read.text("ner_model_data_key"), entry_point="serve_ner.py"),
            embedding_endpoint=EndpointSettings(
                name=read.text("embedding_endpoint_name"), image=read.text("embedding_inference_image"),
                instance_type=read.instance_type("embedding_instance_type"),
                model_data_key=read.text("embedding_model_data_key"), entry_point="serve_embeddings.py"),
            milvus_secret_name=read.text("milvus_secret_name"),
            accuracy_threshold=read.number("accuracy_threshold", low=0.0, high=1.0),
            latency_p95_threshold_ms=read.number("latency_p95_threshold_ms", low=1.0),
            endpoint_latency_threshold_ms=read.number("endpoint_latency_threshold_ms", low=1.0),
            lambda_error_threshold=read.integer("lambda_error_threshold", low=1),
            alert_email=read.email("alert_email"),
            vpc=read.vpc("vpc"),
            batch_size=read.integer("batch_size", low=1, high=10_000),
            map_max_concurrency=read.integer("map_max_concurrency", low=1, high=10_000),
            lambda_memory_mb=read.integer("lambda_memory_mb", low=128, high=10_240),
            log_level=read.choice("log_level", ("DEBUG", "INFO", "WARNING", "ERROR")),
            log_retention_days=read.integer("log_retention_days", low=1),
            tags={str(k): str(v) for k, v in read.mapping("tags", required=False).items()},
        )


class _Reader:
    """Typed access to context values; '' and null mean 'not set'."""

    def __init__(self, node: Node):
        self.node = node

    def _raw(self, key: str, required: bool = True) -> Any:
        value = self.node.try_get_context(key)
        if value is None or value == "":
            if required:
                raise SettingError(f"context key {key!r} is missing (set it in cdk.json or with -c {key}=...)")
            return None
        return value

    def text(self, key: str, required: bool = True) -> str | None:
        value = self._raw(key, required)
        if value is not None and not isinstance(value, str):
            raise SettingError(f"context key {key!r} must be a string, not {value!r}")
        return value

    def number(self, key: str, low: float | None = None, high: float | None = None) -> float:
        value = self._raw(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingError(f"context key {key!r} must be a number, not {value!r}") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise SettingError(f"context key {key!r} = {number} is outside {low}..{high}")
        return number

    def integer(self, key: str, low: int | None = None, high: int | None = None) -> int:
        number = self.number(key, low, high)
        if number != int(number):
            raise SettingError(f"context key {key!r} must be a whole number, not {number}")
        return int(number)

    def boolean(self, key: str) -> bool:
        value = self._raw(key)
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "1", "yes"):
            return True
        if str(value).strip().lower() in ("false", "0", "no"):
            return False
        raise SettingError(f"context key {key!r} must be true or false, not {value!r}")

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = str(self._raw(key)).upper()
        if value not in choices:
            raise SettingError(f"context key {key!r} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def mapping(self, key: str, required: bool = True) -> Mapping[str, Any]:
        value = self._raw(key, required)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise SettingError(f"context key {key!r} must be an object (set it in cdk.json), not {value!r}")
        return value

    def instance_type(self, key: str) -> str:
        value = self.text(key)
        if not value.startswith("ml."):
            raise SettingError(f"context key {key!r} must be a SageMaker instance type such as ml.m5.xlarge, "
                               f"not {value!r}")
        return value

    def email(self, key: str) -> str | None:
        value = self.text(key, required=False)
        if value is not None and ("@" not in value or " " in value.strip()):
            raise SettingError(f"context key {key!r} must be an e-mail address, not {value!r}")
        return value.strip() if value else None

    def vpc(self, key: str) -> VpcSettings | None:
        value = self._raw(key, required=False)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise SettingError(f"context key {key!r} must be an object with vpc_id, subnet_ids, "
                               f"security_group_ids and availability_zones, or null")
        missing = [k for k in ("vpc_id", "subnet_ids", "security_group_ids", "availability_zones") if not value.get(k)]
        if missing:
            raise SettingError(f"context key {key!r} lacks {', '.join(missing)}")
        if len(value["subnet_ids"]) != len(value["availability_zones"]):
            raise SettingError(f"context key {key!r}: give one availability zone per subnet")
        for field_name, prefix in (("vpc_id", "vpc"), ("subnet_ids", "subnet"), ("security_group_ids", "sg")):
            ids = value[field_name] if isinstance(value[field_name], list) else [value[field_name]]
            bad = [i for i in ids if not re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", str(i))]
            if bad:
                raise SettingError(f"context key {key!r}: {field_name} {bad} are not {prefix}-<8 to 17 hex digits> ids")
        return VpcSettings(vpc_id=value["vpc_id"], subnet_ids=tuple(value["subnet_ids"]),
                           security_group_ids=tuple(value["security_group_ids"]),
                           availability_zones=tuple(value["availability_zones"]))
