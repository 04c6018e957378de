"""Express task Finalize: the output row of the item (decided, fused, or degraded after a Catch).

Event: the item state, with "stage_error": {"Error", "Cause"} when a Catch sent it here."""

from inference.agent_factory import get_agent
from inference.pipeline_metrics import row_metrics
from inference.pipeline_steps import finish
from lambdas.observability import lambda_handler, logger, publish


@lambda_handler
def handler(event, context):
    agent = get_agent()
    row = finish(agent, event)
    publish(row_metrics(row, agent.pipeline["sequence"]))
    logger.info("item finished", extra={"record_id": row.get("id"), "decided_by": row.get("decided_by"),
                                        "degraded": row.get("degraded", False), "error": row.get("error")})
    return row
