"""The Powertools objects every handler shares (module level, as Powertools intends), and the
decorator that wraps a handler with them."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Iterable

from aws_lambda_powertools import Logger, Metrics, Tracer

from inference.monitoring.metric_names import NAMESPACE, SERVICE
from inference.pipeline_metrics import Metric

# A task that passes a decided item on has nothing to publish: expected, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def publish(found: Iterable[Metric]) -> None:
    for name, unit, value in found:
        metrics.add_metric(name=name, unit=unit, value=value)


def lambda_handler(func: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Traced, metrics flushed (EMF) when it returns or raises, and the Lambda context in the logs
    when there is one: a local worker calls handlers with context None."""
    observed = tracer.capture_lambda_handler(metrics.log_metrics(func))
    with_context = logger.inject_lambda_context(observed)

    @functools.wraps(func)
    def handler(event: Any, context: Any = None) -> Any:
        return (observed if context is None else with_context)(event, context)

    return handler
