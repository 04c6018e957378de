"""The manual's model drift detection: is the pipeline answering the current traffic the way it answered
the baseline's?

    from inference.monitoring.drift_detection import ModelDriftDetector

    detector = ModelDriftDetector()
    detector.configure({'baseline_data': 'baseline_predictions.json', 'drift_threshold': 0.05,
                        'monitoring_window': '7d', 'alert_on_drift': True})
    drift_report = detector.check_drift(current_predictions)

Predictions are the pipeline's output rows (`brand`, `category`, `confidence`, `needs_review`; rows
with `error` are counted, not compared): a list of row dicts, or a file of them (JSON Lines, or a
JSON list). No labels are needed: drift is measured on what the model answers. Four checks compare
the current rows with the baseline rows:

| check                 | size statistic                                  | size threshold (setting)          | significance test   |
| brand_distribution    | population stability index (PSI) of the brands  | 0.2 (`psi_threshold`)             | chi-square          |
| category_distribution | PSI of the categories                           | 0.2 (`psi_threshold`)             | chi-square          |
| confidence            | two-sample Kolmogorov-Smirnov statistic D       | 0.1 (`ks_threshold`)              | KS test             |
| needs_review_share    | change of the share flagged for review          | 0.05 (`review_share_threshold`)   | chi-square / Fisher |

`drift_threshold` (the manual's 0.05) is the significance level of every check: a check reports
drift when the change is both statistically significant (p < drift_threshold), so a small window's
sampling noise is not called drift, and at least its size threshold, so a tiny but certain change
in a large window is not either. `drift_detected` is true when any check reports drift.

PSI = sum over bins of (current share - baseline share) * ln(current share / baseline share). The
bins are the baseline's `top_labels` (10) most frequent labels (by inference.brands.brand_key),
"(other)" for every other label (labels the baseline never produced land here) and "(none)" for
rows without one; 0.5 is added to every bin's count on both sides before the shares are taken, so
a bin empty on one side gives a large but finite term instead of an infinite one.

`monitoring_window` ("7d", "24h", "30m", "2w"): current rows that carry a `timestamp` (ISO 8601)
count only when it falls in the window ending now; rows without one all count (the caller chose
them). With `alert_on_drift`, every check publishes DriftScore (the larger of the two PSI values)
and DriftDetected (1 or 0) to CloudWatch (inference/monitoring/metric_names.py; namespace
`cloudwatch_namespace`, dimension `service`) through the session factory inference.aws, so an alarm
on DriftDetected also returns to OK. Where no AWS credentials are configured, or CloudWatch cannot
be reached, the report's `alert` says so (`published: false` with the reason) and nothing is raised:
drift detection works on a laptop.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from inference.brands import brand_key
from inference.monitoring import metric_names as names

DEFAULTS: dict[str, Any] = {
    "baseline_data": None,
    "drift_threshold": 0.05,
    "monitoring_window": "7d",
    "alert_on_drift": False,
    "psi_threshold": 0.2,
    "ks_threshold": 0.1,
    "review_share_threshold": 0.05,
    "top_labels": 10,
    "cloudwatch_namespace": names.NAMESPACE,
    "aws_profile": None,
    "region": None,
}
SMOOTHING = 0.5
OTHER, NONE = "(other)", "(none)"
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DriftConfigError(ValueError):
    """A setting or a predictions file the detector cannot use; the message names it (file and row)."""


def parse_window(text: str) -> timedelta:
    match = _WINDOW.match(str(text))
    if not match:
        raise DriftConfigError(f"monitoring_window {text!r}: expected a number and a unit m, h, d or w (e.g. '7d')")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


# -- predictions ------------------------------------------------------------------------------------------
def load_predictions(source: str | Path | Sequence[dict[str, Any]], what: str) -> tuple[list[dict[str, Any]], str]:
    """(rows, where they came from) from a list of rows or a JSON Lines / JSON list file; every row checked."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise DriftConfigError(f"{what} {path}: no such file")
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".jsonl" or not text.lstrip().startswith("["):
            rows = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append((f"{path}:{number}", json.loads(line)))
                    except json.JSONDecodeError as exc:
                        raise DriftConfigError(f"{path}:{number}: not JSON ({exc.msg})") from None
        else:
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DriftConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
            rows = [(f"{path} row {n}", row) for n, row in enumerate(doc, start=1)]
        where = str(path)
    elif isinstance(source, Sequence):
        rows = [(f"{what} row {n}", row) for n, row in enumerate(source, start=1)]
        where = f"{len(rows)} rows given in memory"
    else:
        raise DriftConfigError(f"{what}: expected a list of prediction rows or a file path, got {type(source).__name__}")
    for place, row in rows:
        _check_row(place, row)
    if not rows:
        raise DriftConfigError(f"{what} ({where}) holds no predictions")
    return [row for _, row in rows], where


def _check_row(place: str, row: Any) -> None:
    if not isinstance(row, dict):
        raise DriftConfigError(f"{place}: expected a prediction row (a JSON object), got {type(row).__name__}")
    if "error" in row:
        return
    confidence = row.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise DriftConfigError(f"{place}: 'confidence' must be a number in [0, 1], got {confidence!r}")
    if not isinstance(row.get("needs_review"), bool):
        raise DriftConfigError(f"{place}: 'needs_review' must be true or false, got {row.get('needs_review')!r}")
    for key in ("brand", "category"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise DriftConfigError(f"{place}: '{key}' must be a string or null, got {row[key]!r}")


# -- the checks ----------------------------------------------------------------------------------------------
def _bins(baseline: Sequence[str | None], top: int) -> tuple[list[str], dict[str, str]]:
    counts = Counter(brand_key(v) for v in baseline if brand_key(v))
    shown: dict[str, str] = {}
    for value in baseline:
        shown.setdefault(brand_key(value), value)
    kept = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    return kept, shown


def _binned(values: Sequence[str | None], kept: Sequence[str]) -> list[int]:
    index = {k: i for i, k in enumerate(kept)}
    out = [0] * (len(kept) + 2)  # kept labels, (other), (none)
    for value in values:
        key = brand_key(value)
        out[index.get(key, len(kept)) if key else len(kept) + 1] += 1
    return out


def psi_check(baseline: Sequence[str | None], current: Sequence[str | None], top: int, psi_threshold: float,
              alpha: float) -> dict[str, Any]:
    """PSI of a label distribution with its chi-square test (see the module docstring)."""
    from scipy.stats import chi2_contingency

    kept, shown = _bins(baseline, top)
    b, c = _binned(baseline, kept), _binned(current, kept)
    b_share = [(n + SMOOTHING) / (sum(b) + SMOOTHING * len(b)) for n in b]
    c_share = [(n + SMOOTHING) / (sum(c) + SMOOTHING * len(c)) for n in c]
    psi = sum((cs - bs) * math.log(cs / bs) for bs, cs in zip(b_share, c_share))
    used = [i for i in range(len(b)) if b[i] + c[i] > 0]
    p_value = float(chi2_contingency([[b[i] for i in used], [c[i] for i in used]])[1]) if len(used) > 1 else 1.0
    labels = [shown[k] for k in kept] + [OTHER, NONE]
    return {"statistic": "psi", "value": round(psi, 4), "threshold": psi_threshold, "p_value": round(p_value, 6),
            "significance_level": alpha, "test": "chi-square test of homogeneity",
            "drifted": bool(psi >= psi_threshold and p_value < alpha),
            "bins": [{"label": label, "baseline_share": round(bn / sum(b), 4), "current_share": round(cn / sum(c), 4)}
                     for label, bn, cn in zip(labels, b, c)]}


def confidence_check(baseline: Sequence[float], current: Sequence[float], ks_threshold: float,
                     alpha: float) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    result = ks_2samp(baseline, current)
    return {"statistic": "ks", "value": round(float(result.statistic), 4), "threshold": ks_threshold,
            "p_value": round(float(result.pvalue), 6), "significance_level": alpha,
            "test": "two-sample Kolmogorov-Smirnov", "drifted": bool(result.statistic >= ks_threshold and result.pvalue < alpha),
            "baseline_mean": round(sum(baseline) / len(baseline), 4), "current_mean": round(sum(current) / len(current), 4)}


def review_share_check(baseline: Sequence[bool], current: Sequence[bool], threshold: float, alpha: float) -> dict[str, Any]:
    from scipy.stats import chi2_contingency, fisher_exact

    table = [[sum(baseline), len(baseline) - sum(baseline)], [sum(current), len(current) - sum(current)]]
    total, flagged = len(baseline) + len(current), sum(baseline) + sum(current)
    expected = [side * col / total for side in (len(baseline), len(current)) for col in (flagged, total - flagged)]
    if flagged in (0, total):  # nobody (or everybody) flagged on both sides: nothing changed
        p_value, test = 1.0, "none needed (the same on both sides)"
    elif min(expected) < 5:
        p_value, test = float(fisher_exact(table)[1]), "Fisher's exact test"
    else:
        p_value, test = float(chi2_contingency(table)[1]), "chi-square test (2x2, Yates)"
    b_share, c_share = sum(baseline) / len(baseline), sum(current) / len(current)
    change = c_share - b_share
    return {"statistic": "share_change", "value": round(change, 4), "threshold": threshold,
            "p_value": round(p_value, 6), "significance_level": alpha, "test": test,
            "drifted": bool(abs(change) >= threshold and p_value < alpha),
            "baseline_share": round(b_share, 4), "current_share": round(c_share, 4)}


# -- the detector ---------------------------------------------------------------------------------------------
class ModelDriftDetector:
    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.now = now
        self.settings: dict[str, Any] = dict(DEFAULTS)
        self._baseline: list[dict[str, Any]] | None = None
        self._baseline_source = ""

    def configure(self, options: dict[str, Any]) -> dict[str, Any]:
        """Merge settings (see the module docstring) and read the baseline; returns the settings."""
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise DriftConfigError(f"unknown drift setting(s) {sorted(unknown)}; expected some of {sorted(DEFAULTS)}")
        merged = {**self.settings, **options}
        for key in ("drift_threshold", "review_share_threshold"):
            if not isinstance(merged[key], (int, float)) or not 0 < merged[key] < 1:
                raise DriftConfigError(f"{key} must be a number between 0 and 1, got {merged[key]!r}")
        for key in ("psi_threshold", "ks_threshold"):
            if not isinstance(merged[key], (int, float)) or merged[key] <= 0:
                raise DriftConfigError(f"{key} must be a positive number, got {merged[key]!r}")
        if not isinstance(merged["top_labels"], int) or merged["top_labels"] < 1:
            raise DriftConfigError(f"top_labels must be a positive whole number, got {merged['top_labels']!r}")
        parse_window(merged["monitoring_window"])
        if merged["baseline_data"] is None:
            raise DriftConfigError("baseline_data is missing: a file of prediction rows (or a list of them)")
        self._baseline, self._baseline_source = load_predictions(merged["baseline_data"], "baseline_data")
        if not [r for r in self._baseline if "error" not in r]:
            raise DriftConfigError(f"baseline_data ({self._baseline_source}) holds only error rows")
        merged["alert_on_drift"] = bool(merged["alert_on_drift"])
        self.settings = merged
        return {k: v for k, v in merged.items() if not (k == "baseline_data" and not isinstance(v, (str, Path)))}

    def check_drift(self, current_predictions: str | Path | Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Compare the current predictions with the baseline: every check, `drift_detected`, the alert."""
        if self._baseline is None:
            raise DriftConfigError("no baseline: call configure({'baseline_data': ...}) first")
        s = self.settings
        rows, source = load_predictions(current_predictions, "current_predictions")
        end = self.now()
        start = end - parse_window(s["monitoring_window"])
        in_window = [r for r in rows if _in_window(r, start, end)]
        base = [r for r in self._baseline if "error" not in r]
        current = [r for r in in_window if "error" not in r]
        if not current:
            raise DriftConfigError(f"current_predictions ({source}): no prediction rows without error in the window "
                                   f"{start.isoformat(timespec='seconds')} .. {end.isoformat(timespec='seconds')}")
        alpha = float(s["drift_threshold"])
        checks = {
            "brand_distribution": psi_check([r.get("brand") for r in base], [r.get("brand") for r in current],
                                            s["top_labels"], s["psi_threshold"], alpha),
            "category_distribution": psi_check([r.get("category") for r in base], [r.get("category") for r in current],
                                               s["top_labels"], s["psi_threshold"], alpha),
            "confidence": confidence_check([float(r["confidence"]) for r in base], [float(r["confidence"]) for r in current],
                                           s["ks_threshold"], alpha),
            "needs_review_share": review_share_check([r["needs_review"] for r in base], [r["needs_review"] for r in current],
                                                     s["review_share_threshold"], alpha),
        }
        detected = any(c["drifted"] for c in checks.values())
        score = max(checks["brand_distribution"]["value"], checks["category_distribution"]["value"])
        report = {
            "drift_detected": detected,
            "drift_score": score,
            "drifted_checks": [name for name, c in checks.items() if c["drifted"]],
            "checks": checks,
            "baseline": {"source": self._baseline_source, "rows": len(base),
                         "error_rows": len(self._baseline) - len(base)},
            "current": {"source": source, "rows": len(current), "error_rows": len(in_window) - len(current),
                        "outside_window": len(rows) - len(in_window)},
            "window": {"monitoring_window": s["monitoring_window"], "start": start.isoformat(timespec="seconds"),
                       "end": end.isoformat(timespec="seconds"),
                       "applies_to": "current rows with a timestamp; rows without one all count"},
            "drift_threshold": {"value": alpha, "meaning": "significance level of every check: drift needs p < "
                                                           "drift_threshold and a change of at least the check's threshold"},
        }
        report["alert"] = self._alert(score, detected) if s["alert_on_drift"] else {"enabled": False}
        return report

    def _alert(self, score: float, detected: bool) -> dict[str, Any]:
        """Publish DriftScore and DriftDetected, or say why they were not published."""
        import os

        from botocore.exceptions import BotoCoreError, ClientError

        from inference import aws

        s = self.settings
        out: dict[str, Any] = {"enabled": True, "namespace": s["cloudwatch_namespace"],
                               "metrics": {names.DRIFT_SCORE: score, names.DRIFT_DETECTED: int(detected)}}
        try:
            if not os.environ.get("AWS_ENDPOINT_URL") and aws.get_session(s["aws_profile"], s["region"]).get_credentials() is None:
                return {**out, "published": False,
                        "reason": "no AWS credentials are configured (no profile, environment keys or role): the "
                                  "drift metrics were not published to CloudWatch"}
            dims = [{"Name": k, "Value": v} for k, v in names.SERVICE_DIMENSION.items()]
            aws.client("cloudwatch", s["aws_profile"], s["region"]).put_metric_data(
                Namespace=s["cloudwatch_namespace"],
                MetricData=[{"MetricName": names.DRIFT_SCORE, "Dimensions": dims, "Value": float(score), "Unit": "None"},
                            {"MetricName": names.DRIFT_DETECTED, "Dimensions": dims, "Value": float(detected),
                             "Unit": "Count"}])
        except (BotoCoreError, ClientError) as exc:
            return {**out, "published": False, "reason": f"CloudWatch could not be reached ({type(exc).__name__}: {exc})"}
        return {**out, "published": True}


def _in_window(row: dict[str, Any], start: datetime, end: datetime) -> bool:
    from inference.monitoring.timestamps import parse_timestamp

    if row.get("timestamp") is None:
        return True
    try:
        return start <= parse_timestamp(row["timestamp"]) <= end
    except ValueError as exc:
        raise DriftConfigError(f"prediction row {row.get('id')!r}: {exc}") from None
