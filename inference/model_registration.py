"""What a finished training job registers: the registry entry for its artifact.

The training state machines end with this: a SageMaker NER training job leaves a model.tar.gz
(which NERAgent loads through `model_uri`), a Bedrock customization job a custom model ARN (which
the LLM stage invokes through a deployment, see training/pipelines/nova_deployment.py).
"""

from __future__ import annotations

import re
from typing import Any

from inference.pipeline_steps import InvalidEvent

_CUSTOM_MODEL_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:custom-model/\S+$")


def registration(event: Any) -> tuple[str, str, dict[str, Any], bool]:
    """(model type, name, config, activate) for a register_model event; InvalidEvent saying
    which field is wrong."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected {{'model_type', 'name', 'artifact', 'job'}}, got {type(event).__name__}")
    model_type, name, artifact = event.get("model_type"), event.get("name"), event.get("artifact")
    job = event.get("job") or {}
    activate = event.get("activate", True)
    if model_type not in ("ner", "llm"):
        raise InvalidEvent(f"model_type must be 'ner' or 'llm', got {model_type!r}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidEvent(f"name must be a non-empty string, got {name!r}")
    if not isinstance(job, dict) or not isinstance(activate, bool):
        raise InvalidEvent("job must be an object (the job's description) and activate true or false")
    if model_type == "ner":
        if not isinstance(artifact, str) or not artifact.startswith("s3://") or not artifact.endswith(".tar.gz"):
            raise InvalidEvent(f"a ner artifact is the training job's s3://.../model.tar.gz, got {artifact!r}")
        config = {"model_uri": artifact, "source": "sagemaker", "training_job": job.get("TrainingJobName")}
        metrics = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList") or []
                   if isinstance(m, dict) and "MetricName" in m and "Value" in m}
        if metrics:
            config["metrics"] = metrics
    else:
        if not isinstance(artifact, str) or not _CUSTOM_MODEL_ARN.match(artifact):
            raise InvalidEvent(f"an llm artifact is a Bedrock custom model ARN "
                               f"(arn:aws:bedrock:<region>:<account>:custom-model/...), got {artifact!r}")
        config = {"custom_model_arn": artifact, "provider": "bedrock", "customization_job": job.get("JobArn"),
                  "base_model": job.get("BaseModelArn")}
    return model_type, name.strip(), {k: v for k, v in config.items() if v is not None}, activate
