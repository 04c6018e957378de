"""Latency summaries, one definition for the benchmark runner and the full evaluation: the same
percentiles (numpy's linear interpolation) whichever tool reports them."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def summarize(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    """n, mean, p50, p95, min and max of latencies in milliseconds (None for an empty list)."""
    values = np.asarray(values_ms, dtype=float)
    if values.size == 0:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "min": None, "max": None}
    return {"n": int(values.size), "mean": round(float(values.mean()), 3),
            "p50": round(float(np.percentile(values, 50)), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "min": round(float(values.min()), 3), "max": round(float(values.max()), 3)}
