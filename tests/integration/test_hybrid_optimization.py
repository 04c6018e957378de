"""The manual's weight optimisation (training/pipelines/hybrid_optimization.py).

A home is trained on 70% of the sample catalogue (the benchmark's split by id); the queries are
held-out names and names of brands the catalogue lacks. The optimiser replays the hybrid's rule on
cached stage answers; the first test checks that the replay gives what `predict_batch` gives, so a
trial's accuracy is the accuracy the pipeline would have. The command runs as printed (subprocess,
`--aws-profile ml-sandbox` against moto_server), and in-process for the other samplers, the
registry write, the LLM trade-off (Bedrock Converse stubbed) and the errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from inference.agents.hybrid_agent import HybridAgent
from inference.agents.llm_agent import LLMAgent
from inference.config.model_registry import ModelRegistry
from inference.config.settings import Settings
from inference.records import Record, load_catalog, write_jsonl
from tests.performance.benchmark_local_pipeline import split_by_id
from training.pipelines.hybrid_optimization import app, collect, grid_size, load_test_cases, optimize, pareto_front
from training.pipelines.local_bootstrap import bootstrap

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
SCRIPT = ROOT / "training" / "pipelines" / "hybrid_optimization.py"
UNSEEN = [  # brands the catalogue does not have: NER and RAG often miss them, the (stubbed) LLM does not
    ("new-01", "Dettol Antibacterial Hand Wash 250ml", "Dettol", "Hand Wash"),
    ("new-02", "นมถั่วเหลือง แลคตาซอย 300 มล.", "Lactasoy", "Soy Milk"),
    ("new-03", "Vitamilk Double Black Soy Milk 300ml", "Vitamilk", "Soy Milk"),
    ("new-04", "Ovaltine Malt Drink 3in1 30 sachets", "Ovaltine", "Malt Drink"),
    ("new-05", "Huawei nova 12 SE 8/256GB", "Huawei", "Smartphone"),
    ("new-06", "Logitech M331 Silent Plus Mouse", "Logitech", "Mouse"),
    ("new-07", "Philips Hair Dryer BHD308", "Philips", "Hair Dryer"),
    ("new-08", "Tefal Non-stick Frying Pan 28cm", "Tefal", "Cookware"),
    ("new-09", "Bear Brand Sterilized Milk 140ml", "Bear Brand", "Milk"),
    ("new-10", "Nongshim Shin Ramyun 120g", "Nongshim", "Instant Noodles"),
]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """(home trained on 70% of the sample catalogue, 120 held-out records)."""
    train, held = split_by_id(load_catalog(SAMPLE / "catalog.jsonl"), 0.3, seed=21)
    work = tmp_path_factory.mktemp("optimization-split")
    write_jsonl(({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category} for r in train), work / "train.jsonl")
    shutil.copy(SAMPLE / "aliases.json", work / "aliases.json")
    bootstrap(work / "train.jsonl", home=work / "home", log=lambda _: None)
    return work / "home", held[:120]


@pytest.fixture
def registry(split, tmp_path) -> ModelRegistry:
    """A private copy of the split's home: tests here store calibrators and settings."""
    target = tmp_path / "home"
    shutil.copytree(split[0], target, ignore=shutil.ignore_patterns("LOCK"))
    return ModelRegistry(home=target)


@pytest.fixture
def files(split, tmp_path) -> tuple[Path, Path]:
    """test_queries.json and ground_truth.json: 120 held-out names and 10 names of unseen brands."""
    queries = [{"id": r.id, "query": r.name} for r in split[1]] + [{"id": i, "query": q} for i, q, _, _ in UNSEEN]
    truth = {r.id: {"brand": r.brand, "category": r.category} for r in split[1]}
    truth.update({i: {"brand": b, "category": c} for i, _, b, c in UNSEEN})
    (tmp_path / "test_queries.json").write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    return tmp_path / "test_queries.json", tmp_path / "ground_truth.json"


def test_replay_of_cached_stage_answers_matches_predict_batch(registry, files):
    registry.update_calibration("ner", {"method": "platt", "a": 12.0, "b": -9.0})
    registry.update_calibration("rag", {"method": "platt", "a": 8.0, "b": -1.5,
                                         "category": {"method": "platt", "a": 6.0, "b": -1.0}})
    registry.update_calibration("hybrid", {"method": "platt", "a": 5.0, "b": -2.0})
    queries = json.loads(files[0].read_text(encoding="utf-8"))
    items = [Record(name=q["query"], id=q["id"]) for q in queries]
    agent = HybridAgent(registry, settings=Settings())
    try:
        rows = agent.predict_batch(items)
        answers, skipped = agent.stage_answers(items)
    finally:
        agent.close()
    assert skipped == {"llm": "not configured (no llm model_id in the registry)"}
    decided = set()
    for row, raw in zip(rows, answers):
        decided_by, calibrated = agent.decide(raw)
        brand, confidence, category, _ = agent.final_answer(calibrated, decided_by)
        assert (decided_by, brand, category) == (row["decided_by"], row["brand"], row["category"]), row["name"]
        assert round(confidence, 4) == row["confidence"] and list(calibrated) == list(row["stages"])
        decided.add(decided_by)
        ner = row["stages"]["ner"]
        assert ner["raw_brand_confidence"] == round(raw["ner"].brand_confidence, 4)  # what the calibrator saw
    assert {"ner", "rag", "fusion"} <= decided  # every path of the rule was compared


def test_the_manuals_command_as_printed(registry, files, aws_env, tmp_path):
    before = registry.get_model_config("hybrid") if registry.has_model("hybrid") else None
    env = {**aws_env, "PRODUCT_INFERENCE_HOME": str(Path(registry.location).parent), "COLUMNS": "200",
           "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--test-data", "test_queries.json", "--ground-truth",
                             "ground_truth.json", "--optimization-method", "bayesian", "--iterations", "100",
                             "--aws-profile", "ml-sandbox"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "hybrid_optimization.json").read_text(encoding="utf-8"))
    assert report["sampler"] == "TPESampler" and report["trials_run"] == 100 and report["queries"] == 130
    assert report["stages_searched"] == ["ner", "rag"] and "not configured" in report["skipped"]["llm"]
    assert report["winner"]["objective"] >= report["baseline"]["objective"]
    assert report["winner"]["objective"] >= max(t["objective"] for t in report["trials"])
    assert {"ner_weight", "rag_weight", "early_stopping", "early_stopping_threshold",
            "confidence_threshold"} == set(report["best_config"])
    for trial in report["trials"]:
        assert 0.0 <= trial["llm_escalation"] <= 1.0 and abs(sum(trial["decided_by"].values()) - 1) < 1e-3
        if not trial["params"]["early_stopping"]:
            assert trial["llm_escalation"] == 1.0 and trial["decided_by"] == {"fusion": 1.0}
    assert report["pareto_front"] and "trade-off" in result.stdout
    assert (tmp_path / "hybrid_optimization.png").read_bytes()[:4] == b"\x89PNG"
    (run,) = (tmp_path / "runs").glob("*-hybrid-optimization")
    assert json.loads((run / "run.json").read_text())["params"]["aws_profile"] == "ml-sandbox"
    after = registry.get_model_config("hybrid") if registry.has_model("hybrid") else None
    assert after == before  # nothing written without --write-registry


def test_grid_search_writes_the_winner_to_the_registry(registry, files, tmp_path):
    home = Path(registry.location).parent
    result = CliRunner().invoke(app, ["--test-data", str(files[0]), "--ground-truth", str(files[1]),
                                      "--optimization-method", "grid", "--iterations", "1000", "--write-registry",
                                      "--home", str(home), "--output", str(tmp_path / "grid.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "grid.json").read_text(encoding="utf-8"))
    assert report["sampler"] == "GridSampler" and report["trials_run"] == grid_size(["ner", "rag"]) == 90
    assert len({json.dumps(t["params"], sort_keys=True) for t in report["trials"]}) == 90  # every grid point once
    agent = HybridAgent(registry, settings=Settings())  # loads the hybrid settings from the registry
    assert {k: agent.pipeline[k] for k in report["best_config"]} == report["best_config"]
    assert registry.get_model_config("hybrid")["optimized"]["method"] == "grid"


def test_random_search_and_the_objective_options(registry, files):
    cases = load_test_cases(files[0], files[1])
    agent = HybridAgent(registry, settings=Settings())
    try:
        random = optimize(cases, method="random", iterations=15, seed=3, agent=agent)
        joint = optimize(cases, method="random", iterations=15, seed=3, objective="brand+category", agent=agent)
    finally:
        agent.close()
    assert random["sampler"] == "RandomSampler" and random["trials_run"] == 15
    assert [t["params"] for t in random["trials"]] == [t["params"] for t in joint["trials"]]  # same seed, same draws
    for trial in joint["trials"]:
        assert trial["objective"] == pytest.approx((trial["brand_accuracy"] + trial["category_accuracy"]) / 2, abs=1e-4)
    for trial in random["trials"]:  # the review threshold flags wrong answers at least as well as flagging none
        assert trial["review_accuracy"] >= trial["brand_accuracy"] - 1e-9


def _stubbed_llm(cases):
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for case in cases:  # every query reaches the LLM once, early stopping off; it knows every brand
        answer = {"brand": case.brand, "category": case.category, "brand_confidence": 0.97, "category_confidence": 0.9}
        stubber.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": json.dumps(answer)}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 100, "outputTokens": 30, "totalTokens": 130},
            "metrics": {"latencyMs": 200}})
    return LLMAgent(model_id="amazon.nova-pro-v1:0", client=client, sleep=lambda _: None, max_retries=1), stubber


def test_llm_escalation_is_traded_against_accuracy(registry, files):
    cases = load_test_cases(files[0], files[1])
    llm, stubber = _stubbed_llm(cases)
    agent = HybridAgent(registry, llm=llm, settings=Settings())
    try:
        with stubber:
            run = collect(agent, cases)
        stubber.assert_no_pending_responses()  # one LLM call per query; the trials call no model
        free = optimize(cases, method="bayesian", iterations=30, seed=5, agent=agent, run=run)
        costly = optimize(cases, method="bayesian", iterations=30, seed=5, escalation_cost=0.5, agent=agent, run=run)
    finally:
        agent.close()
    assert free["stages_searched"] == ["ner", "rag", "llm"] and not free["skipped"]
    for trial in costly["trials"]:
        assert trial["objective"] == pytest.approx(trial["brand_accuracy"] - 0.5 * trial["llm_escalation"], abs=1e-4)
        if not trial["params"]["early_stopping"]:
            assert trial["llm_escalation"] == 1.0
    assert costly["winner"]["llm_escalation"] < free["winner"]["llm_escalation"]
    front = pareto_front(free["trials"])
    escalations = [t["llm_escalation"] for t in front]
    accuracies = [t["brand_accuracy"] for t in front]
    assert escalations == sorted(escalations) and accuracies == sorted(accuracies)  # more LLM calls buy accuracy
    assert len(front) >= 2, front


@pytest.mark.parametrize("args, message", [
    (["--optimization-method", "annealing"], "--optimization-method 'annealing': expected one of bayesian, random, grid"),
    (["--iterations", "0"], "--iterations must be at least 1"),
    (["--objective", "speed"], "--objective 'speed'"),
])
def test_option_errors_are_one_line(files, registry, args, message):
    result = CliRunner().invoke(app, ["--test-data", str(files[0]), "--ground-truth", str(files[1]),
                                      "--home", str(Path(registry.location).parent), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_input_errors_name_the_file(files, registry, tmp_path):
    truth = json.loads(files[1].read_text(encoding="utf-8"))
    del truth["new-03"]
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(truth), encoding="utf-8")
    result = CliRunner().invoke(app, ["--test-data", str(files[0]), "--ground-truth", str(partial),
                                      "--home", str(Path(registry.location).parent)])
    assert result.exit_code == 2 and "test_queries.json entry 123 (id 'new-03'): no ground truth" in result.output
