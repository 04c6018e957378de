"""The manual's A/B testing framework (tests/framework/ab_testing.py).

Arms are real CRF NER models trained here (training.pipelines.ner_training) on the training half
of the sample catalogue and registered in a home bootstrapped from that half; the replay is the
held-out half. A treatment trained on all of the training half must beat a control trained on 20
of its records; two models trained identically must not be told apart. The AWS mode reads logged
outcomes from S3 on a local moto server.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from inference.config.model_registry import ModelRegistry
from inference.records import load_catalog, write_jsonl
from tests.framework.ab_testing import (ABTestFramework, ExperimentError, assign_arm, compare_arms, outcome_line,
                                        verdict)
from tests.manual.manual_blocks import MANUAL, manual_python_block
from training.pipelines.ner_training import NERTrainingConfig, train_ner


@pytest.fixture(scope="module")
def arms(heldout_home, tmp_path_factory):
    """A private home with four NER models: small (20 records), full, full_again (identical to full),
    and the manual's two names for small and full. Returns (registry, held-out records file)."""
    home, train, test = heldout_home
    folder = tmp_path_factory.mktemp("ab")
    shutil.copytree(home, folder / "home", ignore=shutil.ignore_patterns("LOCK"))
    shutil.copy(train.parent / "aliases.json", folder / "aliases.json")
    small = folder / "small.jsonl"
    write_jsonl(({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category}
                 for r in load_catalog(train)[:20]), small)
    registry = ModelRegistry(home=folder / "home")
    config = NERTrainingConfig(model_type="crf", validation_split=0.0)
    for name, data in (("crf_small", small), ("crf_full", train), ("crf_full_again", train)):
        train_ner(data, folder / name, config, aliases=folder / "aliases.json", log=lambda _: None)
        registry.register_model("ner", name, {"backend": "crf", "path": str(folder / name)})
    for name, model in (("spacy_ner_v1", "crf_small"), ("xlm_roberta_ner_v1", "crf_full")):
        registry.register_model("ner", name, {"backend": "crf", "path": str(folder / model)})
    return registry, test


def experiment(control: str, treatment: str, data: Path, **extra) -> dict:
    return {"name": "ner_model_comparison", "control": control, "treatment": treatment, "traffic_split": 0.5,
            "success_metric": "accuracy", "minimum_sample_size": 100, "evaluation_data": str(data), **extra}


@pytest.mark.slow
def test_treatment_trained_on_more_data_wins(arms):
    registry, test = arms
    active = registry.get_model_config("ner")["name"]
    ab = ABTestFramework(registry=registry)
    ab.setup_experiment(experiment("crf_small", "crf_full", test, scope="stage"))
    results = ab.run_experiment(duration_days=7)
    assert results["verdict"] == "treatment wins", {k: results[k] for k in ("control", "treatment", "p_value")}
    records = load_catalog(test)
    expected = sum(assign_arm("ner_model_comparison", r.id, 0.5) == "treatment" for r in records)
    assert results["treatment"]["n"] == expected and results["control"]["n"] == len(records) - expected
    assert results["control"]["model"] == "crf_small" and results["treatment"]["model"] == "crf_full"
    for arm in ("control", "treatment"):
        assert results[arm]["accuracy"] == round(results[arm]["successes"] / results[arm]["n"], 4)
    assert results["difference"] > 0.05 and results["confidence_interval"][0] > 0 and results["p_value"] < 0.05
    assert results["minimum_sample_size_met"] and results["source"]["mode"] == "replay"
    assert results["source"]["data"].startswith("evaluation_data") and results["source"]["scope"] == "stage"
    assert registry.get_model_config("ner")["name"] == active  # the arms never switch the registry


@pytest.mark.slow
def test_identical_models_show_no_significant_difference(arms):
    registry, test = arms
    ab = ABTestFramework(registry=registry)
    ab.setup_experiment(experiment("crf_full", "crf_full_again", test, scope="stage"))
    results = ab.run_experiment()
    assert results["verdict"] == "no significant difference", results
    assert results["p_value"] >= 0.05 and results["confidence_interval"][0] < 0 < results["confidence_interval"][1]
    assert results["control"]["n"] + results["treatment"]["n"] == len(load_catalog(test))


@pytest.mark.slow
@pytest.mark.skipif(not MANUAL.is_file(), reason=f"the manual is not at {MANUAL}")
def test_manual_block_as_printed(arms, tmp_path, monkeypatch, capsys):
    """The block as printed: the registry of the home, the query files of the working directory.
    Its minimum of 1000 outcomes per arm is more than the sample's held-out half gives."""
    registry, test = arms
    records = load_catalog(test)
    (tmp_path / "test_queries.json").write_text(json.dumps([{"id": r.id, "query": r.name} for r in records],
                                                           ensure_ascii=False), encoding="utf-8")
    (tmp_path / "ground_truth.json").write_text(json.dumps({r.id: {"brand": r.brand} for r in records},
                                                           ensure_ascii=False), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(Path(registry.location).parent))
    namespace: dict = {}
    exec(compile(manual_python_block("2. A/B Testing Framework"), "manual", "exec"), namespace)
    results = namespace["results"]
    assert capsys.readouterr().out.startswith("A/B test results: {'verdict': 'not enough data'")
    assert results["verdict"] == "not enough data" and not results["minimum_sample_size_met"]
    assert results["minimum_sample_size"] == 1000 and results["control"]["n"] + results["treatment"]["n"] == len(records)
    assert results["source"]["scope"] == "pipeline" and 0 < results["control"]["accuracy"] <= 1
    assert results["source"]["degraded_rows"] == {"control": 0, "treatment": 0}
    assert "test_queries.json" in results["source"]["data"] and "(the working directory)" in results["source"]["data"]


def _upload(s3, bucket: str, key: str, lines: list[str]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode("utf-8"))


def test_logged_outcomes_of_the_window_are_read_from_s3(aws_env, tmp_path):
    from inference import aws

    now = datetime(2025, 6, 30, 12, 0, tzinfo=timezone.utc)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="outcomes")
    day = timedelta(days=1)
    inside = [outcome_line("ner_model_comparison", "control", i % 10 < 6, now - day * (i % 6)) for i in range(400)]
    inside += [outcome_line("ner_model_comparison", "treatment", i % 10 < 8, now - day * (i % 6)) for i in range(400)]
    old = [outcome_line("ner_model_comparison", "treatment", False, now - day * 9) for _ in range(50)]
    other = [outcome_line("another_test", "control", True, now - day) for _ in range(30)]
    by_model = [json.dumps({"experiment": "ner_model_comparison", "model": "crf_full", "timestamp": "2025-06-29T08:00:00Z",
                            "brand": "LAYS", "true_brand": "Lay's"})]
    _upload(s3, "outcomes", "ab/2025/06/part-1.jsonl", inside[:500] + old)
    _upload(s3, "outcomes", "ab/2025/06/part-2.jsonl", inside[500:] + other + by_model + ["{not json", ""])
    _upload(s3, "outcomes", "elsewhere/part.jsonl", inside)  # not under the prefix
    ab = ABTestFramework(registry=ModelRegistry(home=tmp_path / "home"), now=lambda: now)
    ab.setup_experiment({"name": "ner_model_comparison", "control": "crf_small", "treatment": "crf_full",
                         "traffic_split": 0.5, "success_metric": "accuracy", "minimum_sample_size": 300,
                         "logged_outcomes": "s3://outcomes/ab/"})
    results = ab.run_experiment(duration_days=7)
    assert results["control"]["n"] == 400 and results["control"]["successes"] == 240
    assert results["treatment"]["n"] == 401 and results["treatment"]["successes"] == 321  # + the by-model line
    assert results["verdict"] == "treatment wins" and results["p_value"] < 0.001
    source = results["source"]
    assert source["mode"] == "logged_outcomes" and source["objects_read"] == 2
    assert source["outcomes_outside_window"] == 50 and source["outcomes_of_other_experiments"] == 30
    assert source["invalid_outcomes"]["count"] == 1
    assert source["invalid_outcomes"]["examples"][0].startswith("s3://outcomes/ab/2025/06/part-2.jsonl:")
    assert "not JSON" in source["invalid_outcomes"]["examples"][0]
    short = ab.run_experiment(duration_days=2)  # outcomes of the last two days only
    assert short["control"]["n"] < 400 and short["source"]["window"]["days"] == 2


def test_statistics_by_hand():
    # 60/100 vs 80/100: pooled p 0.7, se = sqrt(0.7*0.3*0.02) = 0.0648; z = 3.086; two-sided p = 0.00203
    stats = compare_arms((60, 100), (80, 100))
    assert stats["difference"] == 0.2 and stats["p_value"] == pytest.approx(0.00203, abs=1e-4)
    # Newcombe from the Wilson intervals 60/100: (0.5020, 0.6906), 80/100: (0.7112, 0.8666):
    # 0.2 - sqrt(0.0888^2 + 0.0906^2) = 0.0731; 0.2 + sqrt(0.0666^2 + 0.0980^2) = 0.3185
    assert stats["confidence_interval"] == pytest.approx([0.0731, 0.3185], abs=2e-4)
    assert compare_arms((3, 4), (1, 4))["test"].startswith("Fisher")
    assert verdict(99, 500, 100, 0.2, 0.001, 0.05) == "not enough data"
    assert verdict(100, 100, 100, -0.2, 0.001, 0.05) == "control wins"
    assert verdict(100, 100, 100, 0.01, 0.4, 0.05) == "no significant difference"
    counts = [assign_arm("x", f"id{i}", 0.3) for i in range(2000)]
    assert 0.27 < counts.count("treatment") / 2000 < 0.33 and assign_arm("x", "id7", 0.3) == counts[7]


@pytest.mark.parametrize("change, message", [
    ({"control": "nothing_here"}, "no model named 'nothing_here' is registered"),
    ({"treatment": "crf_small"}, "control and treatment are the same model"),
    ({"traffic_split": 1.0}, "traffic_split must be a number strictly between 0 and 1"),
    ({"success_metric": "f1"}, "success_metric 'f1' is not supported"),
    ({"minimum_sample_size": 0}, "minimum_sample_size must be a positive whole number"),
    ({"colour": "blue"}, "unknown experiment setting(s) ['colour']"),
    ({"logged_outcomes": "outcomes/ab"}, "logged_outcomes must be an S3 prefix"),
])
def test_setup_errors_name_the_setting(tmp_path, change, message):
    registry = ModelRegistry(home=tmp_path / "home")
    registry.register_model("ner", "crf_small", {"backend": "crf", "path": "models/a"})
    registry.register_model("ner", "crf_full", {"backend": "crf", "path": "models/b"})
    ab = ABTestFramework(registry=registry)
    with pytest.raises(ExperimentError) as caught:
        ab.setup_experiment({"name": "t", "control": "crf_small", "treatment": "crf_full", **change})
    assert message in str(caught.value)
    with pytest.raises(ExperimentError, match="call setup_experiment"):
        ab.run_experiment()


def test_an_arm_whose_model_cannot_load_stops_the_run(tmp_path):
    registry = ModelRegistry(home=tmp_path / "home")
    registry.register_model("ner", "crf_small", {"backend": "crf", "path": "models/gone"})
    registry.register_model("ner", "crf_full", {"backend": "crf", "path": "models/gone-too"})
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "name": "Colgate Total 150g", "brand": "Colgate"}\n'
                    '{"id": "b", "name": "iPhone 15 128GB", "brand": "Apple"}\n', encoding="utf-8")
    ab = ABTestFramework(registry=registry)
    ab.setup_experiment(experiment("crf_small", "crf_full", data))
    with pytest.raises(ExperimentError, match="cannot run ner model 'crf_(small|full)': NER model .*gone.* not found"):
        ab.run_experiment()
