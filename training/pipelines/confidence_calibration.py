"""Confidence calibration of the manual: a Platt scaler (or isotonic map) per stage, then one for
the fusion, so that a confidence of 0.9 means "right 9 times in 10" whichever stage said it.

    from training.pipelines.confidence_calibration import PlattScaling, predict_for_calibration

    validation_predictions = predict_for_calibration(validation_records)   # every stage answers
    calibrator = PlattScaling()
    calibrator.fit(validation_predictions, validation_ground_truth)
    registry.update_calibration('ner', calibrator.ner_calibrator)          # and rag, llm, hybrid;
    calibrator.save(registry)                                              # or all four at once

What `fit` takes:
- `predictions`: the hybrid's output rows (`stages.{ner,rag,llm}` with `brand`, `brand_confidence`,
  `category`, `category_confidence`), predicted with early stopping OFF so that every stage answers
  every name (`predict_for_calibration` does that, with the registry's calibrators off); or a path
  to a JSONL file of such rows; or `HybridAgent.stage_answers` output (stage -> StageAnswer). Where
  a row carries `raw_brand_confidence` (a calibrator was on), the raw value is used.
- `ground_truth`: records (`inference.records.Record`) or dicts with `brand` (and `category`),
  aligned with the predictions by `id` when both have ids, else by position; a dict keyed by id
  (ground_truth.json); or a path to a records file (JSONL/TSV) or to a ground_truth.json.

Order matters: the hybrid calibrates each stage's confidence BEFORE early stopping and fusion, and
the fused confidence after. So the stage calibrators are fitted first, on the raw stage confidences;
then the `hybrid` calibrator on the fused confidence of the names that reach fusion, replayed by
the hybrid's own rule (`HybridAgent.decide`) WITH the new stage calibrators applied.

A stage with too few answers, or whose answers are all right (or all wrong), gets an identity
calibrator whose `reason` says why (so `update_calibration` still works, e.g. for an LLM stage that
never ran). Calibrators serialise to `{"method": "platt", "a", "b", "n", "correct", "fitted_at"}`
(sigmoid(a * score + b), applied by `inference.calibration`), plus a `category` calibrator of the
same form for the stage's category confidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from inference.agents.base import StageAnswer
from inference.agents.hybrid_agent import STAGES, HybridAgent
from inference.brands import same_brand
from inference.calibration import apply_calibration
from inference.metrics import expected_calibration_error
from inference.normalize import InvalidName, normalize_name
from inference.records import Record

METHODS = ("platt", "isotonic")
MIN_SAMPLES = 10


@dataclass
class Calibrator:
    """One fitted map from a raw confidence to the probability of being right."""

    method: str  # platt, isotonic or identity
    params: dict[str, Any] = field(default_factory=dict)  # a, b (platt) or x, y (isotonic)
    n: int = 0
    correct: int = 0
    reason: str | None = None  # why an identity calibrator was kept
    category: "Calibrator | None" = None
    fitted_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, **self.params, "n": self.n, "correct": self.correct,
                               "fitted_at": self.fitted_at}
        if self.reason:
            out["reason"] = self.reason
        if self.category is not None:
            out["category"] = self.category.to_dict()
        return out

    def __call__(self, score: float) -> float:
        return apply_calibration(self.to_dict(), score)


def fit_calibrator(scores: Sequence[float], correct: Sequence[bool], method: str = "platt",
                   min_samples: int = MIN_SAMPLES, what: str = "answers") -> Calibrator:
    """Fit `method` on (raw score, right?) pairs; identity, with the reason, when it cannot be fitted.

    Platt scaling is scikit-learn's logistic regression on the score, with Platt's smoothed targets
    ((N+ + 1) / (N+ + 2) and 1 / (N- + 2), as sample weights): it stays finite when the scores
    separate right from wrong perfectly, where a plain fit would not."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")
    x = np.asarray(scores, dtype=float)
    y = np.asarray(correct, dtype=bool)
    n, k = int(x.size), int(y.sum())
    if n < min_samples:
        return Calibrator("identity", n=n, correct=k, reason=f"{n} {what}, fewer than the {min_samples} needed to fit")
    if k in (0, n):
        return Calibrator("identity", n=n, correct=k,
                          reason=f"all {n} {what} are {'right' if k else 'wrong'}: nothing to tell apart")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y.astype(float))
        return Calibrator("isotonic", {"x": [float(v) for v in iso.X_thresholds_],
                                       "y": [float(v) for v in iso.y_thresholds_]}, n=n, correct=k)
    from sklearn.linear_model import LogisticRegression

    high, low = (k + 1.0) / (k + 2.0), 1.0 / (n - k + 2.0)
    target = np.where(y, high, low)
    features = np.concatenate([x, x]).reshape(-1, 1)
    labels = np.concatenate([np.ones(n), np.zeros(n)])
    model = LogisticRegression(C=np.inf).fit(features, labels, sample_weight=np.concatenate([target, 1 - target]))
    return Calibrator("platt", {"a": float(model.coef_[0][0]), "b": float(model.intercept_[0])}, n=n, correct=k)


# -- inputs ----------------------------------------------------------------------------------------
def predict_for_calibration(items: Sequence[Record | str], registry=None, agent: HybridAgent | None = None,
                            progress=None) -> list[dict[str, Any]]:
    """The hybrid's rows for `items` with early stopping off and no calibrators: what `fit` needs."""
    from inference.config.settings import Settings

    own = agent is None
    agent = agent or HybridAgent(registry, settings=Settings())
    pipeline, calibrators = dict(agent.pipeline), agent.calibrators
    try:
        agent.configure_pipeline({"early_stopping": False})
        agent.calibrators = {}
        return agent.predict_batch(list(items), progress=progress)
    finally:
        agent.pipeline, agent.calibrators = pipeline, calibrators
        if own:
            agent.close()


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: malformed JSON: {exc.msg} (column {exc.colno})") from None
    return rows


def stage_answers_of(predictions: str | Path | Sequence[Any]) -> tuple[list[dict[str, StageAnswer] | None], list[str | None]]:
    """(raw stage answers per prediction, None for an error row; the predictions' ids)."""
    where = ""
    if isinstance(predictions, (str, Path)):
        path = Path(predictions)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        where, predictions = f"{path} ", _read_jsonl(path)
    answers: list[dict[str, StageAnswer] | None] = []
    ids: list[str | None] = []
    for n, row in enumerate(predictions, start=1):
        if isinstance(row, dict) and row and all(isinstance(v, StageAnswer) for v in row.values()):
            answers.append(dict(row))  # HybridAgent.stage_answers output
            ids.append(None)
            continue
        if isinstance(row, str):  # an error message from stage_answers
            answers.append(None)
            ids.append(None)
            continue
        if not isinstance(row, dict):
            raise ValueError(f"{where}prediction {n}: expected a hybrid output row (dict), got {type(row).__name__}")
        ids.append(None if row.get("id") is None else str(row["id"]))
        if "error" in row:
            answers.append(None)
            continue
        stages = row.get("stages")
        if not isinstance(stages, dict) or not stages:
            raise ValueError(f"{where}prediction {n}: no 'stages'; expected hybrid output rows")
        if row.get("decided_by") not in (None, "fusion"):
            raise ValueError(f"{where}prediction {n} was decided early by {row['decided_by']!r}, so later stages did not "
                             f"answer; predict with early stopping off (predict_for_calibration)")
        answers.append({stage: StageAnswer(
            stage=stage, brand=s.get("brand"), category=s.get("category"), error=s.get("error"),
            brand_confidence=float(s.get("raw_brand_confidence", s.get("brand_confidence", 0.0))),
            category_confidence=float(s.get("raw_category_confidence", s.get("category_confidence", 0.0))),
            evidence=list(s.get("evidence") or []), text=_normalised(row.get("name")))
            for stage, s in stages.items()})
    return answers, ids


def _normalised(name: Any) -> str | None:
    """The name as the stages saw it (the learned fusion reads it); None when it cannot be read."""
    try:
        return normalize_name(name) if isinstance(name, str) else None
    except InvalidName:
        return None


def _label(entry: Any, where: str) -> tuple[str | None, str | None]:
    if isinstance(entry, Record):
        return entry.brand, entry.category
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict):
        return entry.get("brand"), entry.get("category")
    if hasattr(entry, "brand"):  # e.g. the accuracy validator's Case
        return entry.brand, getattr(entry, "category", None)
    raise ValueError(f"{where}: expected a record or a dict with 'brand', got {type(entry).__name__}")


def _entry_id(entry: Any) -> str | None:
    value = entry.get("id") if isinstance(entry, dict) else getattr(entry, "id", None)
    return None if value is None else str(value)


def truth_for(ground_truth: Any, ids: Sequence[str | None]) -> list[tuple[str | None, str | None]]:
    """(brand, category) per prediction, from any of the ground-truth forms `fit` accepts."""
    if isinstance(ground_truth, (str, Path)):
        path = Path(ground_truth)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        doc = None
        if path.suffix.lower() == ".json":
            try:
                doc = json.loads(path.read_text(encoding="utf-8-sig"))
            except json.JSONDecodeError:
                doc = None  # JSON lines in a .json file: read as records below
        if isinstance(doc, dict):
            ground_truth = doc
        else:
            from inference.records import load_catalog

            ground_truth = load_catalog(path)
    if isinstance(ground_truth, dict):
        missing = [i for i in ids if i not in ground_truth]
        if missing:
            raise ValueError(f"ground truth has no entry for prediction id(s) {missing[:5]}"
                             f"{' ...' if len(missing) > 5 else ''}")
        return [_label(ground_truth[i], f"ground truth {i!r}") for i in ids]
    entries = list(ground_truth)
    truth_ids = [_entry_id(e) for e in entries]
    if all(ids) and all(truth_ids) and set(ids) <= set(truth_ids):
        by_id = dict(zip(truth_ids, entries))
        return [_label(by_id[i], f"ground truth {i!r}") for i in ids]
    if len(entries) != len(ids):
        raise ValueError(f"{len(ids)} predictions but {len(entries)} ground-truth entries, and no ids to match them by")
    return [_label(e, f"ground truth entry {n}") for n, e in enumerate(entries, start=1)]


# -- the manual's class ------------------------------------------------------------------------------
class PlattScaling:
    """Fits `ner_calibrator`, `rag_calibrator`, `llm_calibrator` and `hybrid_calibrator`.

    `method="isotonic"` fits isotonic maps instead (more flexible, needs more data). The fusion is
    replayed with the pipeline of `registry` (default: the local home's), overridden by `pipeline`."""

    def __init__(self, method: str = "platt", min_samples: int = MIN_SAMPLES, registry=None,
                 pipeline: dict[str, Any] | None = None):
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")
        self.method, self.min_samples = method, min_samples
        self.registry, self.pipeline = registry, pipeline
        self.ner_calibrator: Calibrator | None = None
        self.rag_calibrator: Calibrator | None = None
        self.llm_calibrator: Calibrator | None = None
        self.hybrid_calibrator: Calibrator | None = None
        self.report: dict[str, Any] = {}

    def fit(self, predictions: str | Path | Sequence[Any], ground_truth: Any) -> "PlattScaling":
        answers, ids = stage_answers_of(predictions)
        return self.fit_answers(answers, truth_for(ground_truth, ids))

    def fit_answers(self, answers: Sequence[dict[str, StageAnswer] | None],
                    truth: Sequence[tuple[str | None, str | None]]) -> "PlattScaling":
        """Fit on raw stage answers (None: an error row, skipped) and their (brand, category)."""
        if len(answers) != len(truth):
            raise ValueError(f"{len(answers)} predictions but {len(truth)} ground-truth entries")
        pairs = [(a, t) for a, t in zip(answers, truth) if a is not None and t[0]]
        if not pairs:
            raise ValueError("no labelled predictions to fit on")
        for stage in STAGES:
            brand_scores, brand_ok, cat_scores, cat_ok = [], [], [], []
            for raw, (brand, category) in pairs:
                answer = raw.get(stage)
                if answer is None or answer.error:
                    continue
                if answer.brand:
                    brand_scores.append(answer.brand_confidence)
                    brand_ok.append(same_brand(answer.brand, brand))
                if answer.category and category:
                    cat_scores.append(answer.category_confidence)
                    cat_ok.append(same_brand(answer.category, category))
            calibrator = fit_calibrator(brand_scores, brand_ok, self.method, self.min_samples, f"{stage} brand answers")
            if cat_scores:
                calibrator.category = fit_calibrator(cat_scores, cat_ok, self.method, self.min_samples,
                                                     f"{stage} category answers")
            setattr(self, f"{stage}_calibrator", calibrator)
            self.report[stage] = _scores(brand_scores, brand_ok, calibrator)

        agent = HybridAgent(self.registry)  # loads no model: only its pipeline settings and rule are used
        if self.pipeline:
            agent.configure_pipeline(self.pipeline)
        agent.calibrators = {stage: getattr(self, f"{stage}_calibrator").to_dict() for stage in STAGES}
        fused, fused_ok = [], []
        for raw, (brand, _) in pairs:
            decided_by, calibrated = agent.decide(raw)
            if decided_by == "fusion":
                label, confidence, _, _ = agent.fuse(calibrated)
                if label:
                    fused.append(confidence)
                    fused_ok.append(same_brand(label, brand))
        self.hybrid_calibrator = fit_calibrator(fused, fused_ok, self.method, self.min_samples,
                                                "fused answers (names that reach fusion)")
        self.report["hybrid"] = _scores(fused, fused_ok, self.hybrid_calibrator)
        self.report["pipeline"] = {k: agent.pipeline[k] for k in ("sequence", "ner_weight", "rag_weight", "llm_weight",
                                                                  "early_stopping", "early_stopping_threshold")}
        return self

    def calibrators(self) -> dict[str, Calibrator]:
        fitted = {s: getattr(self, f"{s}_calibrator") for s in (*STAGES, "hybrid")}
        if any(c is None for c in fitted.values()):
            raise RuntimeError("PlattScaling is not fitted yet: call fit(predictions, ground_truth) first")
        return fitted

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {stage: c.to_dict() for stage, c in self.calibrators().items()}

    def save(self, registry=None) -> None:
        """Write the four calibrators to the registry (the one given, else the one fitted with)."""
        from inference.config.model_registry import ModelRegistry

        registry = registry or self.registry or ModelRegistry()
        for stage, calibrator in self.calibrators().items():
            registry.update_calibration(stage, calibrator)


def _scores(scores: Sequence[float], correct: Sequence[bool], calibrator: Calibrator) -> dict[str, Any]:
    """Count, accuracy and ECE before/after, on the data fitted (optimistic: see the calibration analysis)."""
    if not scores:
        return {"n": 0, "method": calibrator.method, "reason": calibrator.reason}
    after = [calibrator(s) for s in scores]
    return {"n": len(scores), "accuracy": round(float(np.mean(correct)), 4), "method": calibrator.method,
            "ece_before": round(expected_calibration_error(scores, correct), 4),
            "ece_after": round(expected_calibration_error(after, correct), 4),
            **({"reason": calibrator.reason} if calibrator.reason else {})}


def describe(calibrators: Iterable[tuple[str, Calibrator]]) -> list[str]:
    """One line per calibrator, for logs: stage, method, parameters or the reason it is identity."""
    lines = []
    for stage, c in calibrators:
        detail = (f"a={c.params['a']:.3f} b={c.params['b']:.3f}" if c.method == "platt"
                  else f"{len(c.params['x'])} steps" if c.method == "isotonic" else c.reason or "")
        lines.append(f"{stage}: {c.method} on {c.n} answers ({detail})")
    return lines
