"""The learned fusion: candidates and their features, fitting, choosing, saving."""

import json
import random

import pytest

from inference.agents.base import StageAnswer
from inference.agents.fusion import FEATURES, LearnedFusion, candidates


def _rag(*hits):
    return StageAnswer(stage="rag", brand=hits[0][0], brand_confidence=0.5,
                       evidence=[{"name": f"n{i}", "brand": b, "similarity": s, "score": s} for i, (b, s) in enumerate(hits)])


def test_candidates_describe_each_distinct_brand():
    ner = StageAnswer(stage="ner", brand="Woodman", brand_confidence=0.8)
    found = candidates("Woodman Steel Car Bumper Guard", {"ner": ner, "rag": _rag(("Speedwav", 0.6), ("speedwav", 0.5), ("EON", 0.4))})
    labels = [label for label, _ in found]
    assert labels == ["Woodman", "Speedwav", "EON"]              # NER first; RAG brands compared by key
    woodman = dict(zip(FEATURES, found[0][1]))
    speedwav = dict(zip(FEATURES, found[1][1]))
    assert woodman["from_ner"] == 1 and woodman["in_name"] == 1 and woodman["starts_name"] == 1
    assert woodman["ner_only"] == 1 and woodman["rag_share"] == 0
    assert speedwav["from_ner"] == 0 and speedwav["rag_top"] == 1 and speedwav["rag_share"] == pytest.approx(1.1 / 1.5)
    assert speedwav["rag_similarity"] == 0.6 and speedwav["in_name"] == 0


def test_an_errored_stage_gives_no_candidates():
    broken = StageAnswer(stage="ner", brand="X", brand_confidence=0.9, error="boom")
    assert candidates("X soap", {"ner": broken}) == []


def synthetic(n=400, seed=3):
    """Names whose brand starts the name when the NER is right; otherwise close neighbours know it."""
    rng = random.Random(seed)
    texts, answers, truth = [], [], []
    for i in range(n):
        brand = f"brand{i % 40}"
        if rng.random() < 0.5:   # the NER found it at the start; the neighbours are far and wrong
            texts.append(f"{brand} soap 80g")
            answers.append({"ner": StageAnswer("ner", brand, rng.uniform(0.6, 1.0)),
                            "rag": _rag((f"other{i}", rng.uniform(0.2, 0.4)))})
        else:                     # the NER cut a wrong span; close neighbours agree on the brand
            texts.append(f"super soap {brand[:3]} 80g")
            answers.append({"ner": StageAnswer("ner", "super soap", rng.uniform(0.3, 0.7)),
                            "rag": _rag((brand, rng.uniform(0.8, 0.95)), (brand, 0.8))})
        truth.append(brand)
    return texts, answers, truth


def test_fitted_fusion_picks_the_right_stage_and_its_score_is_a_probability(tmp_path):
    texts, answers, truth = synthetic()
    fusion = LearnedFusion.fit(texts, answers, truth)
    test_texts, test_answers, test_truth = synthetic(seed=4)
    chosen = [fusion.choose(t, a) for t, a in zip(test_texts, test_answers)]
    right = sum(label == brand for (label, _), brand in zip(chosen, test_truth))
    assert right / len(test_truth) > 0.95
    assert all(0.0 < p < 1.0 for _, p in chosen)
    path = fusion.save(tmp_path / "fusion.json")
    again = LearnedFusion.load(path)
    assert again.choose(test_texts[0], test_answers[0]) == fusion.choose(test_texts[0], test_answers[0])
    data = json.loads(path.read_text())
    data["features"] = data["features"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="other features"):
        LearnedFusion.load(path)


def test_fit_refuses_data_with_one_outcome():
    with pytest.raises(ValueError, match="all right"):
        LearnedFusion.fit(["acme soap"], [{"ner": StageAnswer("ner", "acme", 0.9)}], ["acme"])
