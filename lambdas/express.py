"""What the Express stage tasks share: run one stage on the item state, publish its metrics."""

from __future__ import annotations

from typing import Any

from inference.agent_factory import get_agent
from inference.pipeline_metrics import stage_metrics
from inference.pipeline_steps import run_stage
from lambdas.observability import logger, publish, tracer


@tracer.capture_method
def express_stage(state: Any, stage: str) -> dict[str, Any]:
    """The item state after `stage` (inference.pipeline_steps.run_stage), with the stage's
    latency and confidence published when it ran."""
    after = run_stage(get_agent(), state, stage)
    if stage in after["answers"] and stage not in state["answers"]:
        publish(stage_metrics(stage, after["answers"][stage]))
    logger.info(f"{stage} stage done", extra={"record_id": after["id"], "decided": after["decided"],
                                               "skipped": after["skipped"].get(stage),
                                               "error": (after["result"] or {}).get("error")})
    return after
