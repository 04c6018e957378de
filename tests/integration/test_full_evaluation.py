"""The manual's full evaluation (`accuracy_validator.py --full-evaluation`), run as printed.

The queries are the held-out half of the sample catalogue; the home is bootstrapped from the other
half, so every agent answers names it never saw. The command runs in a subprocess with the
`ml-sandbox` profile pointed at a local moto server: the LLM is not configured there, so it is
reported as skipped; a configured LLM that cannot be reached is skipped too, and the hybrid then
runs without it. Every number the report gives is recomputed here from its per-query results.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry
from inference.metrics import expected_calibration_error
from inference.records import load_catalog
from tests.accuracy.accuracy_validator import Options, app, evaluate, load_cases
from tests.accuracy.full_evaluation import confusions, run_full_evaluation
from tests.manual.manual_blocks import MANUAL, ROOT, manual_command

SCRIPT = "tests/accuracy/accuracy_validator.py"
AGENTS = ["ner", "rag", "llm", "hybrid"]
REQUESTED = ["accuracy", "precision", "recall", "f1", "confidence_calibration"]


def write_queries(records, folder: Path) -> tuple[Path, Path]:
    queries = folder / "test_queries.json"
    truth = folder / "ground_truth.json"
    queries.write_text(json.dumps([{"id": r.id, "query": r.name} for r in records], ensure_ascii=False), encoding="utf-8")
    truth.write_text(json.dumps({r.id: {"brand": r.brand, "category": r.category} for r in records}, ensure_ascii=False),
                     encoding="utf-8")
    return queries, truth


def sandbox_env(endpoint: str, folder: Path, home: Path) -> dict:
    """A user's environment: the ml-sandbox profile on the moto server, the local home."""
    (folder / "aws-config").write_text("[profile ml-sandbox]\nregion = us-east-1\n")
    (folder / "aws-credentials").write_text("[ml-sandbox]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_CONFIG_FILE": str(folder / "aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(folder / "aws-credentials"), "PRODUCT_INFERENCE_HOME": str(home),
           "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        env.pop(key, None)
    return env


@pytest.fixture(scope="module")
def printed_run(heldout_home, moto_endpoint, tmp_path_factory):
    """The manual's command, as printed, in a fresh folder holding the two query files."""
    if not MANUAL.is_file():
        pytest.skip(f"the manual is not at {MANUAL}")
    home, _, test = heldout_home
    folder = tmp_path_factory.mktemp("full-evaluation")
    shutil.copytree(home, folder / "home", ignore=shutil.ignore_patterns("LOCK"))
    write_queries(load_catalog(test), folder)
    argv = manual_command(SCRIPT, "--full-evaluation")
    done = subprocess.run([sys.executable, str(ROOT / argv[1]), *argv[2:]], cwd=folder, capture_output=True, text=True,
                          encoding="utf-8", env=sandbox_env(moto_endpoint, folder, folder / "home"), timeout=300)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    report = json.loads((folder / "full_evaluation_report.json").read_text(encoding="utf-8"))
    return folder, report, done


@pytest.mark.slow
def test_full_evaluation_as_printed_scores_every_agent(printed_run):
    folder, report, done = printed_run
    queries = json.loads((folder / "test_queries.json").read_text(encoding="utf-8"))
    assert report["queries"] == len(queries) > 300
    assert list(report["agents"]) == AGENTS and [row["agent"] for row in report["summary"]] == AGENTS
    llm = report["agents"]["llm"]
    assert llm["status"] == "skipped" and "no LLM is configured" in llm["reason"]
    assert "llm skipped: no LLM is configured" in done.stdout
    assert set(report["by_script"]) == {"th", "en", "mixed"} and sum(report["by_script"].values()) == len(queries)
    for name in ("ner", "rag", "hybrid"):
        part = report["agents"][name]
        assert part["status"] == "evaluated", name
        results = part["results"]
        assert [r["id"] for r in results] == [q["id"] for q in queries]
        metrics = part["metrics"]
        assert set(REQUESTED) <= set(metrics)
        assert metrics["accuracy"] == round(sum(r["correct"] for r in results) / len(results), 4)
        for script, group in part["by_script"].items():
            rows = [r for r in results if r["script"] == script]
            assert group["queries"] == len(rows) == report["by_script"][script]
            assert group["metrics"]["accuracy"] == round(sum(r["correct"] for r in rows) / len(rows), 4)
        calibration = part["calibration"]
        assert sum(calibration["reliability"]["bin_counts"]) == len(results)
        assert calibration["ece"] == round(expected_calibration_error([r["confidence"] for r in results],
                                                                      [r["correct"] for r in results]), 4)
        assert metrics["confidence_calibration"]["ece"] == calibration["ece"]
        wrong = Counter((brand_key(r["brand"]), brand_key(r["predicted_brand"]) or "(no brand)")
                        for r in results if not r["correct"])
        top = part["confusions"]["pairs"][0]
        assert top["count"] == max(wrong.values())
        assert sum(p["count"] for p in part["confusions"]["pairs"]) <= len(results) - sum(r["correct"] for r in results)
        latency = part["latency_ms"]
        assert latency["end_to_end"]["n"] == 100 and 0 < latency["end_to_end"]["p50"] <= latency["end_to_end"]["p95"]
    assert set(report["agents"]["hybrid"]["latency_ms"]) >= {"ner", "end_to_end"}
    # The hybrid's answers are at least as good as either stage alone on unseen names.
    accuracy = {n: report["agents"][n]["metrics"]["accuracy"] for n in ("ner", "rag", "hybrid")}
    assert accuracy["hybrid"] >= max(accuracy["ner"], accuracy["rag"]) - 0.02 and accuracy["hybrid"] > 0.75


@pytest.mark.slow
def test_full_evaluation_numbers_are_the_agent_type_numbers(printed_run):
    """One runner and one scoring: --agent-type ner on the same queries gives the same metrics."""
    folder, report, _ = printed_run
    cases = load_cases(test_data=folder / "test_queries.json", ground_truth=folder / "ground_truth.json")
    alone = evaluate("ner", cases, ",".join(REQUESTED), [1, 5, 10], Options(registry=ModelRegistry(home=folder / "home")))
    assert alone["metrics"] == report["agents"]["ner"]["metrics"]


@pytest.mark.slow
def test_full_evaluation_writes_html_and_run_record(printed_run):
    folder, report, _ = printed_run
    html = (folder / "full_evaluation_report.html").read_text(encoding="utf-8")
    assert report["html_report"] == "full_evaluation_report.html"
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 5  # accuracy per agent, per script, reliability, confusions, latency
    from PIL import Image

    for encoded in images:
        picture = Image.open(io.BytesIO(base64.b64decode(encoded)))
        assert picture.format == "PNG" and picture.width > 400 and len(picture.convert("RGB").getcolors(1 << 20)) > 20
    assert "no LLM is configured" in html and "<script" not in html and "http" not in html.split("<body>")[1]
    runs = list(folder.glob("runs/*-full-evaluation"))
    assert len(runs) == 1
    run = json.loads((runs[0] / "run.json").read_text(encoding="utf-8"))
    assert run["params"]["agents"] == AGENTS and run["params"]["aws_profile"] == "ml-sandbox"
    assert set(run["inputs"]) == {"test_queries.json", "ground_truth.json"}
    metrics = json.loads((runs[0] / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["agents"]["hybrid"]["metrics"] == report["agents"]["hybrid"]["metrics"]
    assert metrics["agents"]["llm"]["status"] == "skipped"


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)")
def test_html_report_renders_in_headless_chromium(printed_run, tmp_path):
    folder, _, _ = printed_run
    shot = tmp_path / "report.png"
    done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1280,2400",
                           (folder / "full_evaluation_report.html").as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.is_file(), done.stderr[-2000:]
    from PIL import Image

    picture = Image.open(shot).convert("RGB")
    assert picture.size == (1280, 2400)
    colours = picture.getcolors(1 << 24)
    assert len(colours) > 500, "the screenshot is nearly uniform"
    white = sum(count for count, rgb in colours if min(rgb) >= 250)
    assert white / (picture.width * picture.height) < 0.9, "the screenshot is nearly blank"
    # the plots are drawn: the bar colours of matplotlib's palette appear in the page's upper part
    top = Image.open(shot).convert("RGB").crop((0, 0, 1280, 1600))
    assert any(count > 2000 for count, rgb in top.getcolors(1 << 24) if rgb in {(31, 119, 180), (255, 127, 14)})


def test_confusions_by_hand():
    results = [{"brand": "Apple", "predicted_brand": "Samsung", "correct": False},
               {"brand": "apple", "predicted_brand": "SAMSUNG", "correct": False},
               {"brand": "Apple", "predicted_brand": "Apple", "correct": True},
               {"brand": "Lay's", "predicted_brand": None, "correct": False},
               {"brand": "Mama", "predicted_brand": "Mama", "correct": True}]
    found = confusions(results)
    assert found["pairs"] == [{"true": "Apple", "predicted": "Samsung", "count": 2},
                              {"true": "Lay's", "predicted": "(no brand)", "count": 1}]
    assert found["brands"][0] == {"brand": "Apple", "queries": 3, "wrong": 2, "accuracy": round(1 / 3, 4)}


@pytest.mark.slow
def test_unreachable_llm_is_skipped_and_the_hybrid_runs_without_it(heldout_home, aws_env, tmp_path):
    """A configured LLM on an account where Bedrock does not answer (moto has no Converse)."""
    home, _, test = heldout_home
    shutil.copytree(home, tmp_path / "home", ignore=shutil.ignore_patterns("LOCK"))
    registry = ModelRegistry(home=tmp_path / "home")
    registry.update_model_config("llm", {"model_id": "amazon.nova-lite-v1:0"})
    queries, truth = write_queries(load_catalog(test)[:30], tmp_path)
    cases = load_cases(test_data=queries, ground_truth=truth)
    report = run_full_evaluation(cases, ["hybrid", "llm"], ",".join(REQUESTED), [1], Options(
        registry=registry, aws_profile="ml-sandbox"), latency_samples=10)
    assert list(report["agents"]) == ["hybrid", "llm"]
    llm = report["agents"]["llm"]
    assert llm["status"] == "skipped" and "could not be reached" in llm["reason"]
    hybrid = report["agents"]["hybrid"]
    assert hybrid["status"] == "evaluated" and "llm" in hybrid["agent"]["stages_left_out"]
    assert "llm" not in hybrid["agent"]["pipeline"]["sequence"] and hybrid["agent"]["degraded_rows"] == 0
    assert hybrid["latency_ms"]["end_to_end"]["n"] == 10


@pytest.mark.slow
def test_a_reachable_llm_is_scored_with_its_own_latency(heldout_home, tmp_path):
    from tests.integration.test_nova_flow import converse_response, stubbed

    home, _, test = heldout_home
    records = load_catalog(test)[:3]
    queries, truth = write_queries(records, tmp_path)
    cases = load_cases(test_data=queries, ground_truth=truth)
    runtime, stubber = stubbed("bedrock-runtime")
    for record, confidence in zip(records, (0.9, 0.8, 0.3)):
        answer = record.brand if confidence > 0.5 else "Nobody"
        stubber.add_response("converse", converse_response({"brand": answer, "category": record.category,
                                                            "brand_confidence": confidence, "category_confidence": 0.9}))
    with stubber:
        report = run_full_evaluation(cases, ["llm"], "accuracy,confidence_calibration", [1],
                                     Options(registry=ModelRegistry(home=home), model_id="amazon.nova-lite-v1:0",
                                             llm_client=runtime))
    llm = report["agents"]["llm"]
    assert llm["status"] == "evaluated" and llm["metrics"]["accuracy"] == round(2 / 3, 4)
    assert llm["latency_ms"]["llm"]["n"] == 3 and "as the accuracy run called them" in llm["latency_method"]
    assert llm["confusions"]["pairs"] == [{"true": records[2].brand, "predicted": "Nobody", "count": 1}]


@pytest.mark.parametrize("args, message", [
    (["--agents", "ner"], "--agents goes with --full-evaluation"),
    (["--full-evaluation", "--agents", "ner,oracle"], "unknown agent type(s) 'oracle'"),
    (["--full-evaluation", "--agents", "ner,ner"], "names an agent type twice"),
    (["--full-evaluation", "--agents", "ner,hybrid", "--metrics", "accuracy,mrr"], "metric 'mrr' ranks retrieved neighbours"),
    (["--full-evaluation", "--agent-type", "ner"], "leave out --agent-type"),
    (["--full-evaluation", "--metrics", "accuracy,ndcg"], "unknown metric 'ndcg'"),
    (["--full-evaluation", "--latency-samples", "0"], "--latency-samples must be at least 1"),
    (["--full-evaluation", "--agents", "ner,hybrid", "--model-id", "amazon.nova-lite-v1:0"],
     "--model-id applies to the llm agent, which --agents leaves out"),
    (["--full-evaluation", "--agents", "rag"], "no embedding model is registered"),
])
def test_option_errors_exit_2_with_a_message(tmp_path, args, message):
    queries, truth = write_queries(load_catalog(ROOT / "data" / "sample" / "catalog.jsonl")[:5], tmp_path)
    result = CliRunner().invoke(app, [*args, "--test-data", str(queries), "--ground-truth", str(truth),
                                      "--home", str(tmp_path), "--output", str(tmp_path / "report.json")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "report.html").exists()
