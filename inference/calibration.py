"""Applying a stored confidence calibrator: raw stage score in, probability of being right out.

Calibrators are fitted by `training.pipelines.confidence_calibration` and kept in the registry as
plain parameters, so the runtime needs no scikit-learn objects to apply them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def apply_calibration(params: dict[str, Any] | None, score: float) -> float:
    """Calibrated confidence for `score`; the identity when there is no calibrator."""
    if not params:
        return float(score)
    method = params.get("method")
    if method == "platt":
        z = float(params["a"]) * float(score) + float(params["b"])
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    if method == "isotonic":
        return float(np.interp(score, params["x"], params["y"]))
    if method == "identity":
        return float(score)
    raise ValueError(f"unknown calibration method {method!r}; expected platt, isotonic or identity")
