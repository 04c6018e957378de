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
    assert registry.get_model_config("hybrid")["require_category"] is True

    (run,) = (home / "runs").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["command"] == "bootstrap" and str(SAMPLE_CATALOG) in record["inputs"]
    assert len(record["inputs"][str(SAMPLE_CATALOG)]) == 64  # sha256
    assert json.loads((run / "metrics.json").read_text())["records"] == len(catalog)
