"""The CloudWatch names shared by the Lambdas, the monitoring stack, the accuracy monitor and the drift detector.

One place, because an alarm on a metric name or dimension that nothing publishes never fires.
Every metric is published with the single dimension ``service=SERVICE`` (Powertools' default dimension).
"""

NAMESPACE = "MultilingualInference"
SERVICE = "multilingual-product-inference"
SERVICE_DIMENSION = {"service": SERVICE}

# Per stage ("Ner", "Rag", "Llm") and for the whole pipeline: milliseconds.
PIPELINE_LATENCY = "PipelineLatency"
STAGES = ("Ner", "Rag", "Llm")


def stage_latency(stage: str) -> str:
    """``NerLatency``, ``RagLatency``, ``LlmLatency``: one stage's wall time in milliseconds."""
    return f"{_stage(stage)}Latency"


def stage_confidence(stage: str) -> str:
    """``NerConfidence``...: the calibrated confidence a stage gave (0..1)."""
    return f"{_stage(stage)}Confidence"


def _stage(stage: str) -> str:
    name = stage.capitalize()
    if name not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(s.lower() for s in STAGES)}")
    return name


FINAL_CONFIDENCE = "FinalConfidence"
EARLY_STOP = "EarlyStop"              # count: a run ended before the last configured stage
LLM_ESCALATION = "LlmEscalation"      # count: a run reached the LLM stage
NEEDS_REVIEW = "NeedsReview"          # count: the final confidence was below the review threshold
INVALID_INPUT = "InvalidInput"        # count: a record was rejected with an error row
STAGE_FAILURE = "StageFailure"        # count: a stage failed and the item degraded to earlier answers
ACCURACY = "Accuracy"                 # 0..1, published by evaluation runs (accuracy_monitor)
DRIFT_SCORE = "DriftScore"            # the largest drift statistic of a check (drift_detection)
DRIFT_DETECTED = "DriftDetected"      # 1 when a drift check crossed its threshold, else 0
