"""Platt scaling (training.pipelines.confidence_calibration) and the hybrid's replay rule, on
synthetic stage answers: no model is loaded (the hybrid is built on an empty registry)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.agents.base import StageAnswer
from inference.agents.hybrid_agent import HybridAgent
from inference.calibration import apply_calibration
from inference.config.model_registry import ModelRegistry
from inference.metrics import expected_calibration_error
from inference.records import Record
from training.pipelines.confidence_calibration import PlattScaling, fit_calibrator, stage_answers_of, truth_for

BRANDS = ["Colgate", "Downy", "Mama", "Lay's", "Pantene", "Samsung"]


@pytest.fixture
def registry(tmp_path) -> ModelRegistry:
    return ModelRegistry(home=tmp_path / "home")


def _synthetic(n: int = 400, seed: int = 3):
    """Rows whose NER confidence is overconfident (right with probability x**3) and whose RAG
    confidence is underconfident (right with probability sqrt(x)); no LLM stage (not configured)."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for i in range(n):
        brand = BRANDS[i % len(BRANDS)]
        wrong = BRANDS[(i + 1) % len(BRANDS)]
        ner_conf, rag_conf = rng.uniform(0.3, 1.0), rng.uniform(0.05, 0.8)
        ner_ok, rag_ok = rng.random() < ner_conf ** 3, rng.random() < np.sqrt(rag_conf)
        rows.append({"id": f"p{i}", "name": f"name {i}", "decided_by": "fusion", "stages": {
            "ner": {"brand": brand if ner_ok else wrong, "brand_confidence": round(ner_conf, 4),
                    "category": "Toothpaste", "category_confidence": 0.99},
            "rag": {"brand": brand if rag_ok else wrong, "brand_confidence": round(rag_conf, 4),
                    "category": "Toothpaste" if i % 4 else "Mouthwash", "category_confidence": round(rag_conf, 4)},
        }, "skipped": {"llm": "not configured"}})
        truth.append(Record(name=f"name {i}", brand=brand, category="Toothpaste", id=f"p{i}"))
    return rows, truth


def test_platt_recovers_a_known_sigmoid_and_lowers_ece():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 4000)
    right = rng.random(4000) < 1 / (1 + np.exp(-(6 * scores - 3)))
    calibrator = fit_calibrator(scores, right)
    assert calibrator.method == "platt"
    assert calibrator.params["a"] == pytest.approx(6, abs=0.6) and calibrator.params["b"] == pytest.approx(-3, abs=0.4)
    after = [calibrator(s) for s in scores]
    assert expected_calibration_error(after, right) < 0.5 * expected_calibration_error(scores, right)


def test_separable_scores_give_a_finite_platt_fit():
    calibrator = fit_calibrator([0.1] * 10 + [0.9] * 10, [False] * 10 + [True] * 10)
    assert np.isfinite(calibrator.params["a"]) and 0.85 < calibrator(0.9) < 1.0 and 0.0 < calibrator(0.1) < 0.15


def test_isotonic_is_monotone_and_applied_by_the_runtime():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 500)
    right = rng.random(500) < scores ** 2
    calibrator = fit_calibrator(scores, right, method="isotonic")
    params = calibrator.to_dict()
    assert params["method"] == "isotonic" and np.all(np.diff(params["y"]) >= 0)
    assert apply_calibration(params, 0.5) == pytest.approx(calibrator(0.5))
    assert calibrator(0.5) < 0.45  # right with probability 0.25 at 0.5


@pytest.mark.parametrize("scores, right, reason", [
    ([0.9, 0.8, 0.7], [True, False, True], "fewer than the 10 needed"),
    ([0.9] * 12, [True] * 12, "all 12 ner brand answers are right"),
    ([], [], "0 ner brand answers"),
])
def test_unfittable_data_gives_an_identity_calibrator_with_its_reason(scores, right, reason):
    calibrator = fit_calibrator(scores, right, what="ner brand answers")
    assert calibrator.method == "identity" and reason in calibrator.reason
    assert calibrator(0.42) == 0.42 and calibrator.to_dict()["reason"] == calibrator.reason


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        PlattScaling(method="beta")


def test_fit_gives_per_stage_calibrators_in_the_registry_format(registry):
    rows, truth = _synthetic()
    calibrator = PlattScaling(registry=registry).fit(rows, truth)
    ner, rag = calibrator.ner_calibrator.to_dict(), calibrator.rag_calibrator.to_dict()
    assert {"method", "a", "b", "n", "correct", "fitted_at"} <= set(ner) and ner["method"] == "platt"
    assert ner["n"] == rag["n"] == 400
    # NER was overconfident and RAG underconfident: the fitted maps say so.
    assert calibrator.ner_calibrator(0.8) < 0.7 and calibrator.rag_calibrator(0.5) > 0.6
    assert calibrator.report["ner"]["ece_after"] < calibrator.report["ner"]["ece_before"]
    # RAG's category answers get their own calibrator; NER's are all right, so theirs is identity.
    assert rag["category"]["method"] == "platt" and ner["category"]["method"] == "identity"
    assert calibrator.llm_calibrator.method == "identity" and "0 llm brand answers" in calibrator.llm_calibrator.reason
    # The manual's calls: every calibrator, the LLM's identity included, goes into the registry.
    for stage in ("ner", "rag", "llm"):
        registry.update_calibration(stage, getattr(calibrator, f"{stage}_calibrator"))
    assert registry.get_calibration("rag")["a"] == pytest.approx(rag["a"])
    assert registry.get_calibration("llm")["method"] == "identity"


def test_hybrid_calibrator_is_fitted_on_fusion_with_the_stage_calibrators_applied(registry):
    rows, truth = _synthetic()
    calibrator = PlattScaling(registry=registry).fit(rows, truth)
    answers, _ = stage_answers_of(rows)
    agent = HybridAgent(registry)
    fused = {}
    for label, stage_calibrators in (("calibrated", {s: calibrator.to_dict()[s] for s in ("ner", "rag", "llm")}),
                                     ("raw", {})):
        agent.calibrators = stage_calibrators
        pairs = []
        for raw, record in zip(answers, truth):
            decided_by, calibrated = agent.decide(raw)
            if decided_by == "fusion":
                brand, confidence, _, _ = agent.fuse(calibrated)
                pairs.append((confidence, brand == record.brand))
        fused[label] = fit_calibrator(*zip(*pairs))
    hybrid = calibrator.hybrid_calibrator
    assert hybrid.n == fused["calibrated"].n != fused["raw"].n  # early stopping saw calibrated confidences
    assert hybrid.params["a"] == pytest.approx(fused["calibrated"].params["a"])
    assert hybrid.params["a"] != pytest.approx(fused["raw"].params["a"], rel=0.05)


def test_ground_truth_forms_are_aligned_by_id_or_position(tmp_path):
    rows, truth = _synthetic(n=12)
    _, ids = stage_answers_of(rows)
    expected = [(r.brand, r.category) for r in truth]
    assert truth_for(truth, ids) == expected  # records, by id
    assert truth_for(list(reversed(truth)), ids) == expected  # order does not matter with ids
    assert truth_for([{"brand": r.brand, "category": r.category} for r in truth], ids) == expected  # by position
    by_id = {r.id: {"brand": r.brand, "category": r.category} for r in truth}
    (tmp_path / "ground_truth.json").write_text(json.dumps(by_id), encoding="utf-8")
    assert truth_for(tmp_path / "ground_truth.json", ids) == expected
    (tmp_path / "truth.jsonl").write_text("".join(json.dumps({"id": r.id, "name": r.name, "brand": r.brand,
                                                              "category": r.category}) + "\n" for r in truth))
    assert truth_for(tmp_path / "truth.jsonl", ids) == expected
    with pytest.raises(ValueError, match="no entry for prediction id"):
        truth_for({k: v for k, v in by_id.items() if k != "p3"}, ids)
    with pytest.raises(ValueError, match="12 predictions but 11 ground-truth entries"):
        truth_for([{"brand": r.brand} for r in truth[:11]], [None] * 12)


def test_predictions_from_a_jsonl_file_and_their_errors(tmp_path, registry):
    rows, truth = _synthetic(n=60)
    rows[5] = {"id": "p5", "name": "", "error": "line 6: name is empty or blank"}  # skipped, not fitted
    rows[6]["stages"]["ner"]["raw_brand_confidence"] = 0.123  # a calibrated row: the raw value is fitted
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    answers, ids = stage_answers_of(path)
    assert answers[5] is None and answers[6]["ner"].brand_confidence == 0.123 and ids[0] == "p0"
    assert PlattScaling(registry=registry).fit(path, truth).ner_calibrator.n == 59
    early = dict(rows[0], decided_by="ner")
    with pytest.raises(ValueError, match="prediction 1 was decided early by 'ner'.*early stopping off"):
        stage_answers_of([early])
    with pytest.raises(ValueError, match="prediction 1: no 'stages'"):
        stage_answers_of([{"id": "x", "brand": "Colgate"}])
    path.write_text('{"id": "p0"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"predictions.jsonl:1: malformed JSON"):
        stage_answers_of(path)


def test_calibrate_uses_the_category_calibrator_when_there_is_one(registry):
    agent = HybridAgent(registry)
    answer = StageAnswer("rag", brand="Colgate", brand_confidence=0.5, category="Toothpaste", category_confidence=0.5)
    agent.calibrators = {"rag": {"method": "platt", "a": 10.0, "b": 0.0}}
    both = agent.calibrate("rag", answer)
    assert both.brand_confidence == both.category_confidence == pytest.approx(1 / (1 + np.exp(-5)))
    agent.calibrators = {"rag": {"method": "platt", "a": 10.0, "b": 0.0,
                                 "category": {"method": "platt", "a": 0.0, "b": 0.0}}}
    split = agent.calibrate("rag", answer)
    assert split.brand_confidence == pytest.approx(both.brand_confidence) and split.category_confidence == pytest.approx(0.5)
    assert answer.brand_confidence == 0.5  # the raw answer is left as it was


def test_decide_replays_early_stopping_and_fusion(registry):
    agent = HybridAgent(registry)
    agent.configure_pipeline({"early_stopping_threshold": 0.9, "require_category": True})
    sure = StageAnswer("ner", brand="Downy", brand_confidence=0.95, category="Fabric Softener", category_confidence=0.93)
    rag = StageAnswer("rag", brand="Downy", brand_confidence=0.6, category="Fabric Softener", category_confidence=0.6)
    assert agent.decide({"ner": sure, "rag": rag})[0] == "ner"
    agent.calibrators = {"ner": {"method": "platt", "a": 1.0, "b": -5.0}}  # NER is never sure any more
    decided_by, answers = agent.decide({"ner": sure, "rag": rag})
    assert decided_by == "fusion" and set(answers) == {"ner", "rag"} and answers["ner"].brand_confidence < 0.02
    agent.calibrators = {}
    agent.configure_pipeline({"early_stopping": False})
    decided_by, answers = agent.decide({"ner": sure, "rag": rag})
    brand, confidence, _, _ = agent.final_answer(answers, decided_by)
    assert decided_by == "fusion"
    assert brand == "Downy" and confidence == pytest.approx((0.3 * 0.95 + 0.4 * 0.6) / 0.7)
