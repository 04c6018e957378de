"""Express task RagStage: search the known products with the NER entities, stop early when sure.

Event and result: the item state."""

from lambdas.express import express_stage
from lambdas.observability import lambda_handler


@lambda_handler
def handler(event, context):
    return express_stage(event, "rag")
