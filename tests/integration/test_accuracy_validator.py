"""The manual's accuracy validator (tests/accuracy/accuracy_validator.py).

The RAG command runs as printed, in a subprocess, on a private copy of the home bootstrapped from
the sample catalogue; the queries are the sample's demo names (not in the catalogue) with their
true brands, one of them (Kleenex) a brand the catalogue does not have.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inference.metrics import mean_reciprocal_rank, precision_at_k, recall_at_k, relevance
from tests.accuracy.accuracy_validator import ValidatorError, app, label_scores, load_cases

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "accuracy" / "accuracy_validator.py"

QUERIES = [
    {"id": "demo-01", "query": "ยาสีฟัน Wonder smile 80g"},
    {"id": "demo-02", "query": "iPhone 15 Pro Max 256GB"},
    {"id": "demo-03", "query": "แชมพูแพนทีน สูตรผมเสีย 300 มล."},
    {"id": "demo-04", "query": "มาม่า รสต้มยำกุ้ง แพ็ค 6"},
    {"id": "demo-05", "query": "Galaxy A35 5G 8/256GB Awesome Lilac"},
    {"id": "demo-07", "query": "Lay's Rock Sour Cream & Onion 48g"},
    {"id": "demo-10", "query": "Nescafe Gold Crema Instant Coffee 200g"},
    {"id": "demo-12", "query": "Kleenex Facial Tissue Soft Pack 130 sheets x4"},
]
TRUTH = {
    "demo-01": {"brand": "Wonder Smile", "category": "Toothpaste"},
    "demo-02": {"brand": "Apple", "category": "Smartphone"},
    "demo-03": {"brand": "Pantene", "category": "Shampoo"},
    "demo-04": {"brand": "Mama", "category": "Instant Noodles"},
    "demo-05": {"brand": "Samsung", "category": "Smartphone"},
    "demo-07": {"brand": "LAYS"},  # another spelling of the catalogue's "Lay's": same brand
    "demo-10": {"brand": "Nescafe"},
    "demo-12": {"brand": "Kleenex", "category": "Tissue Paper"},
}


def _write(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    return _write(tmp_path / "test_queries.json", QUERIES), _write(tmp_path / "ground_truth.json", TRUTH)


def run_validator(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400", "PYTHONIOENCODING": "utf-8"}
    env.pop("PRODUCT_INFERENCE_HOME", None)
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=120)


def show(result) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"


def assert_clean_failure(result, *fragments: str) -> None:
    assert result.returncode == 2, show(result)
    assert "Traceback" not in result.stderr, show(result)
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in stderr\n{show(result)}"


# -- metric functions on hand-computed cases ---------------------------------------------------------

def test_ranking_metrics_by_hand():
    ranks = [relevance(["A", "B", "A"], "a"), relevance(["B", "A", "C"], "A"), relevance(["B", "C"], "A")]
    assert ranks == [[True, False, True], [False, True, False], [False, False]]
    assert recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranks, 2) == recall_at_k(ranks, 3) == pytest.approx(2 / 3)
    assert precision_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert precision_at_k(ranks, 3) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)  # the short list still divides by 3
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_label_scores_by_hand():
    # Truth A, A, B; answers A, B, none. A: P 1, R 1/2; B: P 0 (one wrong B), R 0.
    scores = label_scores(["A", "A", "B"], ["a", "B", None])
    assert scores["accuracy"] == pytest.approx(1 / 3)
    assert scores["precision"] == pytest.approx(0.5) and scores["recall"] == pytest.approx(0.25)
    assert scores["f1"] == pytest.approx((2 / 3 + 0) / 2)


# -- inputs ----------------------------------------------------------------------------------------------

def test_query_files_in_both_formats(tmp_path, files):
    cases = load_cases(*files)
    assert [c.id for c in cases] == [q["id"] for q in QUERIES] and cases[5].brand == "LAYS"
    assert cases[6].category is None and cases[0].script == "mixed"
    plain = _write(tmp_path / "plain.json", ["iPhone 15 Pro Max 256GB", {"query": "มาม่า", "brand": "Mama"}])
    truth = _write(tmp_path / "truth.json", {"q1": "Apple"})
    assert [(c.id, c.brand) for c in load_cases(test_data=plain, ground_truth=truth)] == [("q1", "Apple"), ("q2", "Mama")]


@pytest.mark.parametrize("queries, truth, message", [
    (QUERIES, {k: v for k, v in TRUTH.items() if k != "demo-04"}, "test_queries.json entry 4 (id 'demo-04'): no ground truth"),
    (QUERIES, {**TRUTH, "demo-03": {"category": "Shampoo"}}, "ground_truth.json entry 'demo-03': no 'brand'"),
    ([{"id": "a", "query": "x"}, {"id": "a", "query": "y"}], {"a": "X"}, "entry 2: id 'a' repeats entry 1"),
    ([{"id": "a", "query": "   "}], {"a": "X"}, "entry 1 (id 'a'): no 'query'"),
    ({"a": "x"}, {"a": "X"}, "expected a JSON list of queries"),
])
def test_input_errors_name_the_file_and_entry(tmp_path, queries, truth, message):
    q, t = _write(tmp_path / "test_queries.json", queries), _write(tmp_path / "ground_truth.json", truth)
    with pytest.raises(ValidatorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_cases(q, t)


def test_malformed_json_names_the_file_and_line(tmp_path):
    q = _write(tmp_path / "test_queries.json", QUERIES)
    t = tmp_path / "ground_truth.json"
    t.write_text('{"demo-01": {"brand": "Wonder Smile"},\n "demo-02": {"brand": Apple}}', encoding="utf-8")
    with pytest.raises(ValidatorError, match=r"ground_truth.json:2: malformed JSON"):
        load_cases(q, t)


# -- the command ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_rag_command_as_printed(home_copy, files, tmp_path):
    home = Path(home_copy.location).parent
    result = run_validator(tmp_path, "--agent-type", "rag", "--test-queries", "test_queries.json",
                           "--ground-truth", "ground_truth.json", "--metrics", "recall@k,precision@k,mrr",
                           "--output", "rag_evaluation.json", "--home", home)
    assert result.returncode == 0, show(result)
    report = json.loads((tmp_path / "rag_evaluation.json").read_text(encoding="utf-8"))
    metrics = report["metrics"]
    assert report["queries"] == 8 and report["k"] == [1, 5, 10]
    for name in ("recall@1", "recall@5", "recall@10", "precision@1", "precision@5", "precision@10", "mrr",
                 "brand_accuracy", "category_accuracy"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"]
    assert metrics["precision@1"] == metrics["recall@1"]  # one neighbour: a hit is all of it
    results = {r["id"]: r for r in report["results"]}
    ranks = [r["first_relevant_rank"] for r in report["results"]]
    assert metrics["recall@1"] == round(sum(r == 1 for r in ranks) / 8, 4)
    assert metrics["mrr"] == round(sum(1 / r for r in ranks if r) / 8, 4)
    # Known brands are found near the top (Thai and mixed names included); Kleenex is not in the catalogue.
    for query_id in ("demo-01", "demo-04", "demo-07", "demo-10"):
        assert results[query_id]["first_relevant_rank"] is not None and results[query_id]["first_relevant_rank"] <= 5
    assert results["demo-07"]["correct"] and results["demo-07"]["predicted_brand"] == "Lay's"
    assert results["demo-12"]["first_relevant_rank"] is None and not results["demo-12"]["correct"]
    assert set(report["by_script"]) == {"th", "en", "mixed"}
    assert sum(s["queries"] for s in report["by_script"].values()) == 8
    assert report["agent"]["search_depth"] == 10 and report["agent"]["search"]["top_k"] == 5
    assert "recall@k" in report["definitions"]
    runs = list(tmp_path.glob("runs/*-accuracy-validation-rag"))
    assert runs and json.loads((runs[0] / "metrics.json").read_text())["metrics"]["mrr"] == metrics["mrr"]
    assert "recall@5" in result.stdout and "Wrote rag_evaluation.json" in result.stdout


@pytest.mark.parametrize("args, fragments", [
    (["--metrics", "recall@k,ndcg"], ["unknown metric 'ndcg'", "recall@k"]),
    (["--metrics", "recall@0"], ["bad metric 'recall@0'"]),
    (["--agent-type", "ner", "--metrics", "mrr"], ["metric 'mrr' ranks retrieved neighbours", "'ner'"]),
    (["--agent-type", "llm", "--metrics", "accuracy"], ["no LLM to evaluate: give --model-id"]),
    (["--agent-type", "oracle"], ["unknown agent type 'oracle'", "rag, ner, hybrid"]),
    (["--full-evaluation"], ["--full-evaluation runs every agent in --agents; leave out --agent-type"]),
    (["--agents", "ner,rag"], ["--agents goes with --full-evaluation"]),
    (["--k", "1,x"], ["--k '1,x'"]),
])
def test_option_errors_exit_2_with_a_message(files, tmp_path, args, fragments):
    base = ["--agent-type", "rag", "--test-queries", files[0], "--ground-truth", files[1], "--home", tmp_path]
    result = run_validator(tmp_path, *base, *args)
    assert_clean_failure(result, *fragments)
    assert not list(tmp_path.glob("*_evaluation.json"))


def test_missing_ground_truth_entry_exits_2(files, tmp_path):
    _write(files[1], {k: v for k, v in TRUTH.items() if k != "demo-05"})
    result = run_validator(tmp_path, "--agent-type", "rag", "--test-queries", files[0], "--ground-truth", files[1],
                           "--home", tmp_path)
    assert_clean_failure(result, f"{files[0]} entry 5 (id 'demo-05'): no ground truth", f"{files[1]} has no entry")


@pytest.mark.slow
@pytest.mark.parametrize("agent_type, metrics", [
    ("ner", ["--metrics", "accuracy,precision,recall,f1,confidence_calibration"]),
    ("hybrid", []),  # the default metrics of a label agent
])
def test_label_agents_on_records(home_copy, tmp_path, agent_type, metrics):
    data = tmp_path / "test_dataset.txt"
    data.write_text("name\tbrand\tcategory\n" + "".join(
        f"{q['query']}\t{TRUTH[q['id']]['brand']}\t{TRUTH[q['id']].get('category', '')}\n" for q in QUERIES),
        encoding="utf-8")
    output = tmp_path / f"{agent_type}.json"
    result = CliRunner().invoke(app, ["--agent-type", agent_type, "--test-data", str(data), *metrics,
                                      "--output", str(output), "--home", str(Path(home_copy.location).parent)])
    assert result.exit_code == 0, result.output
    report = json.loads(output.read_text(encoding="utf-8"))
    metrics = report["metrics"]
    correct = [r["correct"] for r in report["results"]]
    assert metrics["accuracy"] == metrics["brand_accuracy"] == round(sum(correct) / 8, 4)
    assert all(0.0 <= metrics[m] <= 1.0 for m in ("precision", "recall", "f1"))
    if agent_type == "ner":
        assert 0.0 <= metrics["confidence_calibration"]["ece"] <= 1.0
    else:
        assert set(metrics) == {"accuracy", "precision", "recall", "f1", "brand_accuracy", "category_accuracy"}
    assert sum(s["queries"] for s in report["by_script"].values()) == 8
    assert "first_relevant_rank" not in report["results"][0] and "evidence_metrics" not in report
    if agent_type == "hybrid":
        assert sum(report["agent"]["decided_by"].values()) == 8
