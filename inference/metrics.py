"""The one metrics module: accuracy and calibration of prediction rows against labelled records.

Used by `product-infer evaluate`, the benchmarks and the manual's accuracy tools alike.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Sequence

import numpy as np

from inference.brands import same_brand
from inference.normalize import script_of
from inference.records import Record


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE over equal-width bins: sum of |accuracy - mean confidence| weighted by bin size.

    Written out because scikit-learn offers the reliability curve but not the ECE itself, and its
    curve drops the bin counts that the weighting needs.
    """
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(hits[mask].mean() - conf[mask].mean())
    return float(total)


def _accuracy(pairs: list[tuple[bool, Any]]) -> float | None:
    return round(sum(ok for ok, _ in pairs) / len(pairs), 4) if pairs else None


def evaluation_report(rows: Sequence[dict[str, Any]], truth: Sequence[Record | None],
                      known_brands: Iterable[str] | None = None) -> dict[str, Any]:
    """Brand/category accuracy overall and per script, ECE and Brier of the confidence, stage shares.

    Error rows count as wrong answers. `known_brands` (the training brands) adds accuracy on rows
    whose brand was never seen in training: extraction rather than lookup.
    """
    from sklearn.metrics import brier_score_loss

    from inference.brands import brand_key

    known = {brand_key(b) for b in known_brands} if known_brands is not None else None
    brand_hits, category_hits, unseen_hits = [], [], []
    per_script: dict[str, list] = defaultdict(list)
    confidences, correct = [], []
    decided = Counter()
    reviewed = 0
    for row, record in zip(rows, truth):
        if record is None or not record.brand:
            continue
        ok = "error" not in row and same_brand(row.get("brand"), record.brand)
        brand_hits.append((ok, row))
        per_script[script_of(record.name)].append((ok, row))
        if known is not None and brand_key(record.brand) not in known:
            unseen_hits.append((ok, row))
        if record.category:
            category_hits.append(("error" not in row and same_brand(row.get("category"), record.category), row))
        if "error" not in row:
            confidences.append(float(row["confidence"]))
            correct.append(ok)
            decided[row["decided_by"]] += 1
            reviewed += bool(row["needs_review"])
    answered = len(confidences)
    report = {
        "rows": len(rows),
        "labelled": len(brand_hits),
        "errors": sum("error" in r for r in rows),
        "brand_accuracy": _accuracy(brand_hits),
        "category_accuracy": _accuracy(category_hits),
        "category_labelled": len(category_hits),
        "by_script": {s: {"rows": len(v), "brand_accuracy": _accuracy(v)} for s, v in sorted(per_script.items())},
        "ece": round(expected_calibration_error(confidences, correct), 4) if answered else None,
        "brier": round(float(brier_score_loss(correct, confidences)), 4) if answered and len(set(correct)) > 1 else None,
        "decided_by": {k: round(v / answered, 4) for k, v in sorted(decided.items())} if answered else {},
        "needs_review_share": round(reviewed / answered, 4) if answered else None,
    }
    if known is not None:
        report["unseen_brand_rows"] = len(unseen_hits)
        report["unseen_brand_accuracy"] = _accuracy(unseen_hits)
    return report


# -- retrieval: relevance is "same brand as the truth" -------------------------------------------------

def relevance(ranked_brands: Sequence[str | None], brand: str) -> list[bool]:
    """Which neighbours, in rank order, are relevant: same brand as the truth."""
    return [same_brand(b, brand) for b in ranked_brands]


def recall_at_k(relevances: Sequence[Sequence[bool]], k: int) -> float:
    """Hit rate: the share of queries with at least one relevant neighbour in the top k."""
    return sum(any(r[:k]) for r in relevances) / len(relevances) if relevances else 0.0


def precision_at_k(relevances: Sequence[Sequence[bool]], k: int) -> float:
    """Mean share of relevant neighbours in the top k (missing ranks count as irrelevant: / k)."""
    return sum(sum(r[:k]) / k for r in relevances) / len(relevances) if relevances else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    return next((1.0 / (i + 1) for i, ok in enumerate(relevant) if ok), 0.0)


def mean_reciprocal_rank(relevances: Sequence[Sequence[bool]]) -> float:
    """Mean of 1/rank of the first relevant neighbour (0 when none is retrieved)."""
    return sum(map(reciprocal_rank, relevances)) / len(relevances) if relevances else 0.0
