"""The pure parts of the RAG tuning tools: retrieval scores, vector cleaning, index plans,
multilingual settings, brand-spread batching, transliteration discovery, file validation."""

import json
import random
import time

import numpy as np
import pytest

from inference.agents.rag_agent import validate_multilingual
from training.pipelines.train_rag_pipeline import brand_spread, load_pairs
from training.preprocessing.milvus_collection_manager import exact_top_k, plan_index
from training.preprocessing.rag_data_preparation import (build_expansions, clean_embeddings,
                                                         discover_transliterations, make_training_pairs,
                                                         read_embeddings, retrieval_scores, sounds_like,
                                                         vector_problem)

MANUAL_MULTILINGUAL = {"translate_query": True, "target_languages": ["en", "th"], "translation_service": "aws_translate",
                       "combine_results": True, "language_weights": {"en": 0.6, "th": 0.4}}


def unit(*rows):
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# -- leave-one-out retrieval ------------------------------------------------------------------------
def test_retrieval_scores_rank_the_first_same_brand_neighbour():
    vectors = unit([1, 0, 0], [0.9, 0.1, 0], [0.95, 0, 0.05], [0, 1, 0], [0, 0.9, 0.2])
    brands = ["A", "B", "A", "C", "C"]
    # item 0: nearest others are 2 (A, rank 1); item 2: nearest is 0 (A, rank 1);
    # item 3: nearest is 4 (C, rank 1); item 4: nearest is 3 (rank 1). Item 1 (B) has no partner.
    assert retrieval_scores(vectors, brands, [0, 2, 3, 4], ks=(1,)) == {"recall@1": 1.0, "mrr": 1.0}
    brands = ["A", "A", "B", "C", "C"]  # item 0: 2 (B) ranks first, then 1 (A): rank 2
    scores = retrieval_scores(vectors, brands, [0], ks=(1, 2))
    assert scores == {"recall@1": 0.0, "recall@2": 1.0, "mrr": 0.5}


def test_exact_top_k_is_sorted_by_similarity():
    vectors = unit([1, 0], [0.8, 0.6], [0, 1], [-1, 0])
    assert exact_top_k(unit([1, 0.1]), vectors, 3).tolist() == [[0, 1, 2]]


# -- cleaning --------------------------------------------------------------------------------------
def _item(i, name, brand, vector):
    return {"id": f"p{i}", "name": name, "brand": brand, "category": None, "vector": vector}


def test_clean_embeddings_removes_invalid_and_same_brand_duplicates_but_keeps_brand_conflicts():
    items = [
        _item(0, "Colgate Total 150g", "Colgate", [1.0, 0.0, 0.0]),
        _item(1, "colgate total 150g", "COLGATE", [0.9, 0.1, 0.0]),        # same name, same brand
        _item(2, "Colgate Total 150 g", "Colgate", [0.999, 0.02, 0.0]),    # near duplicate, same brand
        _item(3, "Total 150g", "Other Brand", [0.998, 0.0, 0.03]),         # near duplicate, other brand
        _item(4, "Galaxy S23", "Samsung", [0.0, 1.0, 0.0]),
        _item(5, "Galaxy S23", "Apple", [0.0, 0.0, 1.0]),                  # same name, other brand
        _item(6, "bad dim", "X", [1.0, 0.0]),
        _item(7, "nan", "X", [float("nan"), 0.0, 0.0]),
        _item(8, "zero", "X", [0.0, 0.0, 0.0]),
        _item(9, "text", "X", ["a", 0.0, 0.0]),
    ]
    cleaned, report = clean_embeddings({"embedder": {"backend": "x"}, "dim": 3, "items": items}, 0.95, True)
    assert [i["id"] for i in cleaned["items"]] == ["p0", "p3", "p4", "p5"]
    assert report["invalid"] == {"wrong_dim": 1, "not_finite": 1, "zero": 1, "not_numeric": 1}
    assert report["exact_duplicates"] == 1 and report["near_duplicates"] == 1 and report["kept"] == 4
    kinds = sorted((c["kind"], c["a"]["id"], c["b"]["id"]) for c in report["conflict_pairs"])
    assert ("same_name_different_brand", "p4", "p5") in kinds
    assert [(a, b) for k, a, b in kinds if k == "near_duplicate_different_brand"] == [("p0", "p3")]
    assert cleaned["embedder"] == {"backend": "x"}

    kept_all, report = clean_embeddings({"dim": 3, "items": items}, 0.95, remove_duplicates=False)
    assert len(kept_all["items"]) == 6 and report["duplicates_removed"] == 0 and report["near_duplicates"] == 1
    with pytest.raises(ValueError, match="threshold"):
        clean_embeddings({"dim": 3, "items": items}, 1.5)


def test_vector_problem_names_the_problem():
    assert vector_problem([1.0, 2.0], 2) is None
    assert vector_problem([1.0], 2) == "wrong_dim"
    assert vector_problem([float("inf"), 1.0], 2) == "not_finite"
    assert vector_problem([True, 1.0], 2) == "not_numeric"
    assert vector_problem(None, 2) == "not_numeric"


def test_read_embeddings_errors_name_the_file_and_item(tmp_path):
    path = tmp_path / "e.json"
    path.write_text('{"items": [\n{"name": "a", "vector": [1]},\n{"vector": [1]}]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"e.json: item 1: field 'name'"):
        read_embeddings(path)
    path.write_text('{"items": [\n{"name": "a" "vector": [1]}]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r"e.json:2: malformed JSON"):
        read_embeddings(path)


# -- index plans -----------------------------------------------------------------------------------
def test_plan_index_for_the_manuals_settings_clamps_and_reports_ignored_params():
    plan = plan_index({"index_type": "IVF_FLAT", "metric_type": "COSINE", "nlist": 1024, "nprobe": 16, "ef": 64}, 754)
    assert plan["index_type"] == "IVF_FLAT" and plan["build_params"] == {"nlist": 19}
    assert plan["search_params"] == {"nprobe": 16} and plan["ignored"] == ["ef"]
    assert any("clamped to 19" in w for w in plan["warnings"])
    big = plan_index({"index_type": "IVF_FLAT", "nlist": 1024, "nprobe": 16}, 100_000)
    assert big["build_params"] == {"nlist": 1024} and not big["warnings"]
    hnsw = plan_index({"index_type": "hnsw", "M": 16, "efConstruction": 200, "ef": 64, "nprobe": 8}, 754)
    assert hnsw["build_params"] == {"M": 16, "efConstruction": 200} and hnsw["search_params"] == {"ef": 64}
    assert hnsw["ignored"] == ["nprobe"]
    few = plan_index({"index_type": "IVF_SQ8", "nlist": 4, "nprobe": 16}, 1000)
    assert few["search_params"] == {"nprobe": 4}


@pytest.mark.parametrize("settings, message", [
    ({"index_type": "DISKANN"}, "unknown index_type"),
    ({"index_type": "FLAT", "metric_type": "L2"}, "similarity"),
    ({"index_type": "IVF_FLAT", "nlist": 0}, "positive integer"),
    ({"index_type": "IVF_FLAT", "nlist": "many"}, "positive integer"),
    ({"index_type": "FLAT", "nlists": 3}, "unknown index setting"),
])
def test_plan_index_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        plan_index(settings, 754)


# -- multilingual settings -------------------------------------------------------------------------
def test_validate_multilingual_accepts_the_manuals_settings():
    merged = validate_multilingual(MANUAL_MULTILINGUAL)
    assert merged == MANUAL_MULTILINGUAL
    assert validate_multilingual({"combine_results": False}, merged)["language_weights"] == {"en": 0.6, "th": 0.4}


@pytest.mark.parametrize("change, message", [
    ({"translate": True}, "unknown multilingual option"),
    ({"translate_query": "yes"}, "true or false"),
    ({"translation_service": "google"}, "not supported"),
    ({"target_languages": []}, "non-empty"),
    ({"target_languages": ["english"]}, "not a language code"),
    ({"language_weights": {"en": 0.6, "fr": 0.4}}, "not one of target_languages"),
    ({"language_weights": {"en": 0.6}}, "no weight for"),
    ({"language_weights": {"en": -1, "th": 0.4}}, r"in \[0, 1\]"),
    ({"language_weights": {"en": 0, "th": 0}}, "all be zero"),
])
def test_validate_multilingual_rejects_bad_settings(change, message):
    with pytest.raises(ValueError, match=message):
        validate_multilingual({**MANUAL_MULTILINGUAL, **change})


# -- training pairs --------------------------------------------------------------------------------
def test_brand_spread_keeps_brands_apart_within_a_batch():
    brands = [b for b in "ABCDEFGH" for _ in range(4)]
    order = brand_spread(brands, 8, random.Random(1))
    assert sorted(order) == list(range(len(brands)))
    for start in range(0, len(order), 8):
        batch = [brands[i] for i in order[start:start + 8]]
        assert len(set(batch)) == len(batch)


def test_make_training_pairs_prefers_the_other_script():
    items = [{"name": "Colgate Total 150g", "brand": "Colgate"}, {"name": "ยาสีฟันคอลเกต 150 กรัม", "brand": "Colgate"},
             {"name": "Colgate Optic White", "brand": "Colgate"}, {"name": "Lonely Brand", "brand": "Solo"}]
    pairs = make_training_pairs(items, per_item=1)
    assert {p["anchor"]: p["positive"] for p in pairs}["Colgate Total 150g"] == "ยาสีฟันคอลเกต 150 กรัม"
    assert all(p["brand"] == "Colgate" for p in pairs) and len(pairs) == 3


def test_load_pairs_errors_name_the_file_and_item(tmp_path):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps([{"anchor": "a b", "positive": "c", "brand": "X"}, {"anchor": " ", "positive": "d"}]))
    with pytest.raises(ValueError, match=r"pairs.json: item 1: anchor/positive: name is empty"):
        load_pairs(path)
    path.write_text(json.dumps({"anchor": "a"}))
    with pytest.raises(ValueError, match="expected a JSON list"):
        load_pairs(path)


# -- query expansion -------------------------------------------------------------------------------
def test_sounds_like_prefers_the_transliteration():
    assert sounds_like("คอลเกต", "Colgate") > 0.5 > sounds_like("ยาสีฟัน", "Colgate")
    assert sounds_like("ไฮเนเก้น", "Heineken") > 0.8


def test_transliterations_are_learnt_from_labelled_names_across_scripts():
    items = [{"name": n, "brand": b} for n, b in [
        ("ยาสีฟันคอลเกต โททอล 150 กรัม", "Colgate"), ("แปรงสีฟันคอลเกต ซิกแซก", "Colgate"),
        ("Colgate Total 150g", "Colgate"), ("ยาสีฟันดาร์ลี่ 160 กรัม", "Darlie"), ("ยาสีฟันดาร์ลี่ ดับเบิ้ล", "Darlie"),
        ("Darlie Double Action", "Darlie"), ("ยาสีฟัน สมุนไพร 100 กรัม", "Herbal Co")]]
    found = discover_transliterations(items)
    assert found["Colgate"] == "คอลเกต" and found["Darlie"] == "ดาร์ลี่"
    assert "Herbal Co" not in found  # its only Thai words are shared with other brands
    table, report = build_expansions([i["name"] for i in items], items)
    assert table["คอลเกต"] == ["Colgate"] and "คอลเกต" in table["colgate"]
    assert "toothpaste" in [t.lower() for t in table["ยาสีฟัน"]]  # built-in synonyms
    assert report["labelled_names"] == 7 and report["brand_forms"] == 2
    with pytest.raises(ValueError, match="unknown expansion method"):
        build_expansions([], items, method="word2vec")


# -- hub models fail fast --------------------------------------------------------------------------
def test_a_hub_model_that_cannot_be_downloaded_fails_at_once(monkeypatch):
    from huggingface_hub import constants

    from inference.agents.embeddings import EmbeddingModelUnavailable, load_sentence_transformer

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    started = time.perf_counter()
    with pytest.raises(EmbeddingModelUnavailable, match="neither a local folder nor in the local Hugging Face cache.*unreachable"):
        load_sentence_transformer("sentence-transformers/not-a-cached-model-xyz")
    assert time.perf_counter() - started < 10
