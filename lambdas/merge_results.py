"""Last task of CatalogueBatch: the part files merged into <output_prefix>results.jsonl, in input order.

Event {"bucket", "output_prefix", "parts"?: [Map results], "expected_rows"?} -> {"results_key", "rows",
"errors"}; raises MissingRows naming the indices when a row is missing or repeated."""

import os

from inference.batch_results import merge_parts
from inference.pipeline_steps import InvalidEvent
from lambdas.observability import lambda_handler, logger


@lambda_handler
def handler(event, context):
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected {{'bucket', 'output_prefix', 'parts'?}}, got {type(event).__name__}")
    bucket, prefix = event.get("bucket") or os.environ.get("DATA_BUCKET"), event.get("output_prefix")
    if not bucket or not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidEvent(f"merge needs a bucket and an output_prefix ending in '/', got {event!r:.300}")
    parts, expected = event.get("parts"), event.get("expected_rows")
    if parts is not None:
        if not isinstance(parts, list) or not all(isinstance(p, dict) and p.get("part_key") for p in parts):
            raise InvalidEvent("parts must be the Map's results: a list of {'part_key', 'rows', ...}")
        if expected is None and all(isinstance(p.get("rows"), int) for p in parts):
            expected = sum(p["rows"] for p in parts)
    merged = merge_parts(bucket, prefix, [p["part_key"] for p in parts] if parts is not None else None, expected)
    logger.info("results merged", extra=merged)
    return merged
