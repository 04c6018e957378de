"""First task of CatalogueBatch: the catalogue copied to <output_prefix>checked.jsonl, one JSON object
per input line, so that the Distributed Map's JSONL reader never meets a line it cannot parse.

Event {"bucket", "key", "output_prefix"} (the execution input) -> {"checked_key", "rows", "unreadable"};
each unreadable line becomes a marker that batch_predict turns into that line's error row."""

import os

from inference.batch_results import MissingInput, check_catalogue
from inference.pipeline_steps import InvalidEvent
from lambdas.observability import lambda_handler, logger


@lambda_handler
def handler(event, context):
    if not isinstance(event, dict):
        raise InvalidEvent(f"expected {{'bucket', 'key', 'output_prefix'}}, got {type(event).__name__}")
    bucket, key, prefix = event.get("bucket") or os.environ.get("DATA_BUCKET"), event.get("key"), event.get("output_prefix")
    if not bucket or not isinstance(key, str) or not key or not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidEvent(f"the check needs a bucket, a key and an output_prefix ending in '/', got {event!r:.300}")
    try:
        checked = check_catalogue(bucket, key, prefix)
    except MissingInput as exc:  # not worth retrying: the input names an object that is not there
        raise InvalidEvent(str(exc)) from None
    logger.info("catalogue checked", extra={**checked, "source": f"s3://{bucket}/{key}"})
    return checked
