"""Express task NerStage: validate and normalise the name, run NER, stop early when it is sure.

Event {"id"?, "name"} -> item state; a bad name gives a decided state with an error row."""

from inference.agent_factory import get_agent
from inference.pipeline_steps import start_item
from lambdas.express import express_stage
from lambdas.observability import lambda_handler


@lambda_handler
def handler(event, context):
    return express_stage(start_item(get_agent(), event), "ner")
