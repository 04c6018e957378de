import pytest

from inference.agents.ner_agent import NERAgent
from inference.agents.rag_agent import RAGAgent
from inference.normalize import normalize_name


@pytest.fixture(scope="module")
def ner(registry):
    return NERAgent(registry)


@pytest.fixture
def rag(registry):
    agent = RAGAgent(registry)
    yield agent
    agent.close()


def test_ner_finds_brand_and_category_in_unspaced_thai(ner):
    answer = ner.predict(normalize_name("น้ำยาปรับผ้านุ่มดาวน์นี่ กลิ่นใหม่ 500 มล."))
    spans = {e.label: e.text for e in answer.entities}
    assert spans == {"CATEGORY": "น้ำยาปรับผ้านุ่ม", "BRAND": "ดาวน์นี่"}
    assert answer.brand == "Downy" and answer.category == "Fabric Softener"  # mapped to catalogue labels
    assert 0.5 < answer.brand_confidence <= 1.0


def test_ner_maps_transliteration_and_case_to_the_catalogue_label(ner):
    assert ner.predict("ยาสีฟันคอลเกต โททอล 150 กรัม").brand == "Colgate"
    assert ner.predict("COLGATE Total 150g").brand == "Colgate"


def test_ner_extracts_a_brand_it_has_never_seen(ner):
    answer = ner.predict("ยาสีฟัน Zonda สมุนไพร 150 กรัม")
    assert answer.brand == "Zonda" and answer.category == "Toothpaste"


def test_ner_without_brand_in_name_answers_none(ner):
    answer = ner.predict("iPhone 15 Pro Max 256GB")
    assert answer.brand is None and answer.brand_confidence == 0.0


def test_rag_votes_from_neighbours_and_keeps_them_as_evidence(rag):
    answer = rag.predict("Galaxy S23 FE 8/256GB")
    assert answer.brand == "Samsung" and answer.category == "Smartphone"
    assert 0 < len(answer.evidence) <= rag.search_config["rerank_top_k"]
    assert all({"name", "brand", "similarity", "score"} <= set(hit) for hit in answer.evidence)
    sims = [hit["similarity"] for hit in answer.evidence]
    assert all(s >= rag.search_config["similarity_threshold"] for s in sims)
    assert 0 < answer.brand_confidence <= 1


def test_configure_search_keys_of_the_manual(rag):
    config = rag.configure_search({"top_k": 10, "similarity_threshold": 0.2, "rerank_top_k": 3,
                                   "use_query_expansion": True, "expansion_terms": 3})
    assert config["top_k"] == 10
    assert len(rag.predict("Colgate Total 150g").evidence) == 3
    rag.configure_search({"similarity_threshold": 0.999})
    nothing = rag.predict("Galaxy S23 FE 8/256GB")
    assert nothing.brand is None and nothing.evidence == []
    with pytest.raises(ValueError, match="unknown search option"):
        rag.configure_search({"topk": 3})
    with pytest.raises(ValueError, match="at least 1"):
        rag.configure_search({"top_k": 0})


def test_query_expansion_adds_other_surface_forms(rag):
    rag.configure_search({"use_query_expansion": True, "expansion_terms": 2})
    assert rag.expand("ยาสีฟันคอลเกต โททอล") == "ยาสีฟันคอลเกต โททอล Colgate Toothpaste"
    rag.configure_search({"expansion_terms": 1})
    assert rag.expand("ยาสีฟันคอลเกต โททอล") == "ยาสีฟันคอลเกต โททอล Colgate"
    rag.configure_search({"use_query_expansion": False})
    assert rag.expand("ยาสีฟันคอลเกต โททอล") == "ยาสีฟันคอลเกต โททอล"


def test_batch_search_equals_single_searches(rag):
    names = ["Galaxy S23 FE 8/256GB", "มาม่า รสต้มยำกุ้ง แพ็ค 6", "Lay's Classic 75g"]
    batch = rag.predict_batch(names, [[], [], []])
    single = [rag.predict(n) for n in names]
    assert [(a.brand, a.category, round(a.brand_confidence, 5)) for a in batch] == \
           [(a.brand, a.category, round(a.brand_confidence, 5)) for a in single]


def test_entity_boost_pulls_the_query_towards_the_brand(rag, ner):
    name = "Krungthep Shampoo 200ml"
    entities = ner.predict(name).entities
    plain = rag.query_vectors([name])[0]
    boosted = rag.query_vectors([name], [entities], {"entity_boost": 2.0})[0]
    brand_vector = rag.embedder.encode(["Krungthep"])[0]
    assert boosted @ brand_vector > plain @ brand_vector
    off = rag.query_vectors([name], [entities], {"pass_entities": False, "entity_boost": 2.0})[0]
    assert off == pytest.approx(plain)
