"""Learned fusion: which brand to believe when the NER and RAG stages disagree, and how sure to be.

A weighted vote cannot tell that a span the NER found at the start of the name, which the
neighbours do not know, is a new brand (trust the NER), from a span cut at the wrong word while
three close neighbours agree on a known brand (trust the RAG). Each candidate brand (the NER's,
and the brands of the RAG neighbours) is described by a few features and scored by a logistic
regression fitted at bootstrap on out-of-fold stage answers, so its score is the probability the
candidate is right: the highest-scoring candidate wins and its score is the fused confidence.
It fuses the NER and RAG stages; an LLM answer (which saw both as context) is compared with it by
calibrated confidence in the hybrid agent.
The weights are plain numbers in a JSON file, so applying them needs no scikit-learn.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from inference.agents.base import StageAnswer
from inference.brands import brand_key, same_brand

FEATURES = (
    "from_ner", "ner_confidence", "rag_share", "rag_similarity", "rag_top", "in_name", "starts_name",
    "agree", "ner_only", "ner_confidence_x_in_name", "rag_share_x_similarity", "top_similarity",
)
MAX_RAG_CANDIDATES = 3


def candidates(text: str, answers: dict[str, StageAnswer]) -> list[tuple[str, list[float]]]:
    """(brand label, feature vector) for each distinct candidate brand in the stages' answers."""
    name_key = brand_key(text)
    ner = answers.get("ner") if answers.get("ner") and not answers["ner"].error else None
    rag = answers.get("rag") if answers.get("rag") and not answers["rag"].error else None
    share: dict[str, float] = defaultdict(float)
    similarity: dict[str, float] = defaultdict(float)
    labels: dict[str, str] = {}
    top_key, top_similarity = None, 0.0
    if rag is not None and rag.evidence:
        total = sum(max(h.get("score", h["similarity"]), 0.0) for h in rag.evidence if h.get("brand")) or 1.0
        for hit in rag.evidence:
            if not hit.get("brand"):
                continue
            key = brand_key(hit["brand"])
            labels.setdefault(key, hit["brand"])
            share[key] += max(hit.get("score", hit["similarity"]), 0.0) / total
            similarity[key] = max(similarity[key], hit["similarity"])
        top_key = brand_key(rag.evidence[0]["brand"]) if rag.evidence[0].get("brand") else None
        top_similarity = max(h["similarity"] for h in rag.evidence)
    keys = sorted(share, key=share.get, reverse=True)[:MAX_RAG_CANDIDATES]
    ner_key = brand_key(ner.brand) if ner is not None and ner.brand else None
    if ner_key and ner_key not in keys:
        keys.insert(0, ner_key)
        labels[ner_key] = ner.brand
    out = []
    for key in keys:
        from_ner = float(key == ner_key)
        ner_confidence = ner.brand_confidence if from_ner else 0.0
        in_name = float(bool(key) and key in name_key)
        features = {
            "from_ner": from_ner, "ner_confidence": ner_confidence,
            "rag_share": share.get(key, 0.0), "rag_similarity": similarity.get(key, 0.0),
            "rag_top": float(key == top_key), "in_name": in_name,
            "starts_name": float(bool(key) and name_key.startswith(key)),
            "agree": float(from_ner and key in share), "ner_only": float(from_ner and key not in share),
            "ner_confidence_x_in_name": ner_confidence * in_name,
            "rag_share_x_similarity": share.get(key, 0.0) * similarity.get(key, 0.0),
            "top_similarity": top_similarity,
        }
        out.append((labels[key], [features[f] for f in FEATURES]))
    return out


class LearnedFusion:
    """Logistic weights over candidate features (see the module docstring)."""

    def __init__(self, weights: Sequence[float], intercept: float, report: dict[str, Any] | None = None):
        if len(weights) != len(FEATURES):
            raise ValueError(f"expected {len(FEATURES)} weights ({', '.join(FEATURES)}), got {len(weights)}")
        self.weights, self.intercept = [float(w) for w in weights], float(intercept)
        self.report = report or {}

    def score(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def choose(self, text: str, answers: dict[str, StageAnswer]) -> tuple[str | None, float]:
        """(brand, probability it is right) of the best candidate; (None, 0.0) when there is none."""
        scored = [(self.score(features), label) for label, features in candidates(text, answers)]
        if not scored:
            return None, 0.0
        probability, label = max(scored, key=lambda pair: pair[0])
        return label, probability

    @classmethod
    def fit(cls, texts: Sequence[str], answers: Sequence[dict[str, StageAnswer]], truth: Sequence[str],
            c: float = 1.0) -> "LearnedFusion":
        """Fit on out-of-fold stage answers: one training row per candidate, labelled right or wrong."""
        from sklearn.linear_model import LogisticRegression

        X, y = [], []
        for text, found, brand in zip(texts, answers, truth):
            for label, features in candidates(text, found):
                X.append(features)
                y.append(same_brand(label, brand))
        if len(set(y)) < 2:
            raise ValueError(f"cannot fit the fusion: {len(y)} candidates, all {'right' if y and y[0] else 'wrong'}")
        model = LogisticRegression(C=c, max_iter=2000).fit(X, y)
        report = {"candidates": len(y), "names": len(texts), "right_share": round(sum(y) / len(y), 4)}
        return cls(model.coef_[0].tolist(), float(model.intercept_[0]), report)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"features": list(FEATURES), "weights": self.weights,
                                    "intercept": self.intercept, "report": self.report}, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LearnedFusion":
        """From a file or an `s3://` URI (the registry in S3 names the fusion by URI)."""
        from inference.records import read_json

        data = read_json(path)
        if data.get("features") != list(FEATURES):
            raise ValueError(f"fusion model {path} was fitted on other features ({data.get('features')}); re-run bootstrap")
        return cls(data["weights"], data["intercept"], data.get("report"))
