"""Training task: register the artifact of a finished SageMaker NER job or Bedrock customization job.

Event {"model_type": "ner"|"llm", "name", "artifact", "job"?: {...}, "activate"?: true} ->
{"model_type", "name", "registry", "active"}; the registry is the JSON document at MODEL_REGISTRY_URI."""

import os

from inference.config.model_registry import ModelRegistry
from inference.model_registration import registration
from inference.pipeline_steps import InvalidEvent
from lambdas.observability import lambda_handler, logger


@lambda_handler
def handler(event, context):
    location = os.environ.get("MODEL_REGISTRY_URI")
    if not location:
        raise InvalidEvent("MODEL_REGISTRY_URI is not set (s3://bucket/key of the model registry JSON)")
    model_type, name, config, activate = registration(event)
    registry = ModelRegistry(location)
    registry.register_model(model_type, name, config, activate=activate)
    active = registry.get_model_config(model_type)["name"] == name
    logger.info("model registered", extra={"model_type": model_type, "model_name": name, "active": active})
    return {"model_type": model_type, "name": name, "registry": location, "active": active}
