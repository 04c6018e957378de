"""Express task LlmStage: ask Bedrock (Converse) with the name, the entities and the neighbours.

Event and result: the item state. Raises StageUnavailable when Bedrock fails, throttles past the
client's retries or answers something invalid: the state machine retries, then Catches to Finalize."""

from lambdas.express import express_stage
from lambdas.observability import lambda_handler


@lambda_handler
def handler(event, context):
    return express_stage(event, "llm")
