import json

from inference.agents.vector_store import MilvusStore
from inference.records import load_catalog
from training.pipelines.local_bootstrap import SAMPLE_CATALOG


def test_bootstrap_trains_indexes_registers_and_records_the_run(sample_home, registry):
    home, metrics = sample_home
    catalog = load_catalog(SAMPLE_CATALOG)
    assert metrics["records"] == len(catalog) >= 400
    assert metrics["brands"] >= 60
    assert metrics["ner"]["brand_span_coverage"] > 0.8
    assert metrics["rag"]["rows"] == len(catalog)

    ner = registry.get_model_config("ner")
    assert ner["backend"] == "crf" and (home / ner["path"] / "crf.joblib").is_file()
    rag = registry.get_model_config("rag")
    store = MilvusStore(str(home / rag["uri"]), rag["collection"])
    try:
        assert store.count() == len(catalog)
    finally:
        store.close()
    assert registry.get_model_config("embedding")["dim"] == metrics["rag"]["dim"]
    hybrid = registry.get_model_config("hybrid")
    assert hybrid["require_category"] is True and hybrid["early_stopping_threshold"] == 0.8
    assert (home / hybrid["fusion"]).is_file()                      # the learned fusion, fitted out of fold
    assert registry.get_calibration("ner")["method"] == "isotonic"

    (run,) = (home / "runs").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["command"] == "bootstrap" and str(SAMPLE_CATALOG) in record["inputs"]
    assert len(record["inputs"][str(SAMPLE_CATALOG)]) == 64  # sha256
    assert json.loads((run / "metrics.json").read_text())["records"] == len(catalog)


def test_out_of_fold_answers_never_see_their_own_row(sample_home, registry):
    """Each name is tagged by a NER trained without it and searched without its own row, so the
    fusion learns from answers like those on new names."""
    from inference.agents.rag_agent import RAGAgent
    from inference.normalize import normalize_name
    from inference.records import load_catalog
    from training.pipelines.local_bootstrap import SAMPLE_CATALOG, out_of_fold_answers
    from training.preprocessing.ner_spans import Aliases

    records = load_catalog(SAMPLE_CATALOG)[:120]
    texts = [normalize_name(r.name) for r in records]
    rag = RAGAgent(registry)
    try:
        answers = out_of_fold_answers(records, texts, Aliases.load(SAMPLE_CATALOG.parent / "aliases.json"), rag, folds=2)
    finally:
        rag.close()
    assert len(answers) == len(records) and all(set(a) == {"ner", "rag"} for a in answers)
    for record, answer in zip(records, answers):
        assert record.id not in {hit.get("record_id") for hit in answer["rag"].evidence}
    assert sum(bool(a["ner"].brand) for a in answers) > 0.8 * len(records)
