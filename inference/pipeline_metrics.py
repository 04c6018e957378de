"""What the pipeline publishes to CloudWatch about each stage run and each output row.

Pure functions over answers and rows, so the Express tasks and the batch task publish the same
numbers for the same outcome; the Lambdas hand them to Powertools Metrics. Names are
`inference.monitoring.metric_names`'; units are CloudWatch's.
"""

from __future__ import annotations

from typing import Any, Sequence

from inference.monitoring import metric_names as names

Metric = tuple[str, str, float]  # (name, CloudWatch unit, value)


def stage_metrics(stage: str, answer: dict[str, Any]) -> list[Metric]:
    """A stage's wall time, and its calibrated brand confidence unless it failed."""
    found: list[Metric] = [(names.stage_latency(stage), "Milliseconds", float(answer.get("latency_ms", 0.0)))]
    if not answer.get("error"):
        found.append((names.stage_confidence(stage), "None", float(answer.get("brand_confidence", 0.0))))
    return found


def row_metrics(row: dict[str, Any], sequence: Sequence[str]) -> list[Metric]:
    """The outcome of one output row. Counts are 0 or 1 per row, so Sum counts the events and
    Average is their rate. An error row counts as invalid input and nothing else, or as a stage
    failure when it is `degraded` (the pipeline failed before any stage answered)."""
    if "error" in row:
        return [(names.STAGE_FAILURE if row.get("degraded") else names.INVALID_INPUT, "Count", 1.0)]
    decided_by = row.get("decided_by")
    early = decided_by in row.get("stages", {}) and bool(sequence) and decided_by != sequence[-1]
    return [
        (names.INVALID_INPUT, "Count", 0.0),
        (names.FINAL_CONFIDENCE, "None", float(row.get("confidence", 0.0))),
        (names.PIPELINE_LATENCY, "Milliseconds", float(row.get("latency_ms", 0.0))),
        (names.EARLY_STOP, "Count", float(early)),
        (names.LLM_ESCALATION, "Count", float("llm" in row.get("stages", {}))),
        (names.NEEDS_REVIEW, "Count", float(bool(row.get("needs_review")))),
        (names.STAGE_FAILURE, "Count", float(bool(row.get("degraded")))),
    ]


def batch_metrics(rows: Sequence[dict[str, Any]], sequence: Sequence[str]) -> list[Metric]:
    """Every stage run and every row outcome of a batch."""
    found: list[Metric] = []
    for row in rows:
        for stage, answer in row.get("stages", {}).items():
            found += stage_metrics(stage, answer)
        found += row_metrics(row, sequence)
    return found
