"""Distributed Map task of CatalogueBatch: the hybrid on one batch of catalogue records, written to S3.

Event {"Items": [{"index", "record"}], "BatchInput": {"bucket", "output_prefix", "key"?, "execution"?}}
-> {"part_key", "rows", "errors", "first_index", "last_index"}; one row per item, bad records as error rows."""

import os

from inference.agent_factory import get_agent
from inference.batch_results import write_part
from inference.pipeline_metrics import batch_metrics
from inference.pipeline_steps import InvalidEvent, predict_items
from lambdas.observability import lambda_handler, logger, publish


@lambda_handler
def handler(event, context):
    if not isinstance(event, dict) or not isinstance(event.get("BatchInput"), dict):
        raise InvalidEvent("expected {'Items': [...], 'BatchInput': {'bucket', 'output_prefix'}} (Map ItemBatcher)")
    batch = event["BatchInput"]
    bucket, prefix = batch.get("bucket") or os.environ.get("DATA_BUCKET"), batch.get("output_prefix")
    if not bucket or not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidEvent(f"BatchInput needs a bucket and an output_prefix ending in '/', got {batch!r}")
    if not event.get("Items"):
        raise InvalidEvent("Items is missing or empty")
    source = f"s3://{bucket}/{batch['key']}" if batch.get("key") else "catalogue"
    agent = get_agent()
    rows = predict_items(agent, event["Items"], source)
    publish(batch_metrics(rows, agent.pipeline["sequence"]))
    part = write_part(bucket, prefix, rows)
    logger.info("batch written", extra={**part, "execution": batch.get("execution")})
    return part
