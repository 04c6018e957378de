"""`product-infer export-sample DIR`: every file the manual reads, in the format its tools read."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inference.queries import load_cases, load_ground_truth, load_queries
from inference.records import load_catalog
from inference.sample_export import SAMPLE_DIR, split_sample
from tests.manual.manual_blocks import MANUAL, ROOT

pytestmark = pytest.mark.slow  # bootstraps a home (CRF + Milvus Lite)

FILES = ("training_dataset.txt", "validation_dataset.txt", "test_dataset.txt", "aliases.json", "test_queries.json",
         "ground_truth.json", "product_names.txt", "product_brand_pairs.json", "product_embeddings.json",
         "baseline_predictions.json")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "PRODUCT_INFERENCE_HOME": str(base / "home")}
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "product-infer") if (ROOT / ".venv").is_dir() else "product-infer",
                           "export-sample", str(base / "data")], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    again = subprocess.run([sys.executable, "-m", "inference", "export-sample", str(base / "again")],
                           capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    return base / "data", json.loads(done.stdout.strip().splitlines()[-1]), json.loads(again.stdout.strip().splitlines()[-1])


def test_it_writes_every_file_and_bootstraps_a_home_only_when_it_has_no_models(exported):
    folder, summary, again = exported
    assert all((folder / name).is_file() and (folder / name).stat().st_size for name in FILES)
    assert summary["bootstrapped"] is True and again["bootstrapped"] is False
    assert summary["index_source"] == str(folder / "training_dataset.txt")


@pytest.mark.skipif(not MANUAL.is_file(), reason="the manual is not beside the repository")
def test_it_writes_every_input_file_the_manual_names():
    text = MANUAL.read_text(encoding="utf-8")
    inputs = {"training_dataset.txt", "test_dataset.txt", "test_queries.json", "ground_truth.json",
              "product_brand_pairs.json", "product_names.txt", "product_embeddings.json", "baseline_predictions.json"}
    assert all(name in text for name in inputs) and inputs <= set(FILES)


def test_the_splits_are_disjoint_stratified_and_cover_the_sample(exported):
    folder, summary, _ = exported
    splits = {name: load_catalog(folder / f"{name}_dataset.txt") for name in ("training", "validation", "test")}
    ids = [r.id for records in splits.values() for r in records]
    assert len(ids) == len(set(ids)) == len(load_catalog(SAMPLE_DIR / "catalog.jsonl"))
    assert {k: len(v) for k, v in splits.items()} == {"training": 527, "validation": 75, "test": 152}
    assert summary["files"]["training_dataset.txt"] == 527
    # the same seed gives the same split; another seed another
    again = split_sample(load_catalog(SAMPLE_DIR / "catalog.jsonl"))
    assert [r.id for r in again["test"]] == [r.id for r in splits["test"]]
    assert [r.id for r in split_sample(load_catalog(SAMPLE_DIR / "catalog.jsonl"), seed=7)["test"]] != [
        r.id for r in splits["test"]]


def test_the_query_files_are_the_test_split_in_the_accuracy_tools_format(exported):
    folder, _, _ = exported
    test = {r.id: r for r in load_catalog(folder / "test_dataset.txt")}
    queries = load_queries(folder / "test_queries.json")
    truth = load_ground_truth(folder / "ground_truth.json")
    assert [q["id"] for q in queries] == list(test) == list(truth)
    assert all(q["query"] == test[q["id"]].name and truth[q["id"]]["brand"] == test[q["id"]].brand for q in queries)
    # inline labels: the LLM evaluation passes only --test-data test_queries.json
    cases = load_cases(test_data=folder / "test_queries.json")
    assert [(c.brand, c.category) for c in cases] == [(test[c.id].brand, test[c.id].category) for c in cases]


def test_pairs_names_and_embeddings_come_from_the_training_split(exported):
    from training.pipelines.train_rag_pipeline import load_pairs
    from training.preprocessing.rag_data_preparation import read_embeddings, read_names

    folder, _, _ = exported
    training = load_catalog(folder / "training_dataset.txt")
    assert read_names(folder / "product_names.txt") == [r.name for r in training]
    pairs = load_pairs(folder / "product_brand_pairs.json")
    assert len(pairs) > 400 and all(p["anchor"] != p["positive"] for p in pairs)
    embeddings = read_embeddings(folder / "product_embeddings.json")
    assert len(embeddings["items"]) == len(training) and embeddings["dim"] == len(embeddings["items"][0]["vector"])
    assert {i["id"] for i in embeddings["items"]} == {r.id for r in training}


def test_baseline_predictions_are_the_pipelines_rows_for_the_validation_split(exported):
    folder, _, _ = exported
    rows = json.loads((folder / "baseline_predictions.json").read_text(encoding="utf-8"))
    validation = load_catalog(folder / "validation_dataset.txt")
    assert [row["id"] for row in rows] == [r.id for r in validation]
    assert all(row["decided_by"] in ("ner", "rag", "llm", "fusion") and 0 <= row["confidence"] <= 1 for row in rows)
    right = sum(row["brand"] == r.brand for row, r in zip(rows, validation))
    assert right / len(rows) > 0.5  # real predictions of a trained pipeline, not a copy of the labels
