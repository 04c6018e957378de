"""The manual's NER evaluation commands (training/pipelines/ner_evaluator.py).

Pure parts (tags from entities, seqeval scores, failure kinds) are checked on hand-made inputs;
the commands run as printed in the manual, in a subprocess whose folder holds a tiny CRF model
trained here (models/ner_model) and a test_dataset.txt with a planted wrong-boundary case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inference.agents.base import Entity
from inference.agents.ner_agent import write_manifest
from inference.agents.ner_crf import CRFNERModel
from inference.records import Record
from inference.tokenization import Token, Tokenizer
from training.pipelines.ner_evaluator import (
    FAILURE_KINDS, classify_failure, evaluate_records, evaluation_report, failure_report, load_agent, span_scores,
    tags_from_entities,
)
from training.preprocessing.ner_spans import Aliases, align_records, gazetteer, span_lexicon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training" / "pipelines" / "ner_evaluator.py"
SAMPLE = ROOT / "data" / "sample" / "catalog.jsonl"

# A small catalogue: each brand written in front, in the middle and in Thai script.
TRAIN = {
    ("Wonder Smile", "Toothpaste"): ["Wonder Smile Toothpaste Mint 80g", "ยาสีฟัน Wonder Smile 160 กรัม",
                                     "Wonder Smile Whitening Toothpaste 100g", "Wonder Smile Kids Toothpaste 60g",
                                     "ยาสีฟัน Wonder Smile สูตรฟันขาว 80 กรัม", "Wonder Smile Herbal Toothpaste 120g"],
    ("Zenkrit", "Dish Soap"): ["Zenkrit Dish Soap Lemon 500ml", "น้ำยาล้างจาน Zenkrit 400 มล.",
                               "Zenkrit Dish Soap Lime 750ml", "Zenkrit น้ำยาล้างจาน กลิ่นมะนาว 800 มล.",
                               "Zenkrit Ultra Dish Soap 450ml", "Zenkrit Dish Soap Refill 1L"],
    ("Moonbeam", "Shampoo"): ["Moonbeam Shampoo Silky 300ml", "แชมพู Moonbeam สูตรผมนุ่ม 450 มล.",
                              "Moonbeam Anti-Dandruff Shampoo 170ml", "Moonbeam แชมพู ขจัดรังแค 200 มล.",
                              "Moonbeam Herbal Shampoo 600ml", "แชมพู Moonbeam สูตรอ่อนโยน 320 มล."],
    ("Kraftoon", "Instant Noodles"): ["Kraftoon Instant Noodles Tom Yum 60g", "บะหมี่ Kraftoon รสต้มยำ 55 กรัม",
                                      "Kraftoon Instant Noodles Pork 60g", "Kraftoon บะหมี่ รสหมูสับ 60 กรัม",
                                      "Kraftoon Instant Noodles Green Curry 60g", "บะหมี่ Kraftoon รสไก่ 60 กรัม"],
}
# Test records: 1 right brand span, 1 planted wrong boundary (labelled "Wonder": the model tags
# "Wonder Smile"), 1 name without its brand (Thai, tagged with nothing). BRAND scores are exact.
TEST_ROWS = [
    ("Zenkrit Lemon Fresh 750ml", "Zenkrit", ""),
    ("Wonder Smile Fresh Mint 90g", "Wonder", ""),
    ("หูฟังไร้สาย สีดำ", "Samsung", ""),
]


def _write_tsv(path: Path, rows) -> Path:
    path.write_text("name\tbrand\tcategory\n" + "".join(f"{n}\t{b}\t{c}\n" for n, b, c in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder as the manual's user has it: models/ner_model (a CRF) and test_dataset.txt."""
    folder = tmp_path_factory.mktemp("ner-eval")
    records = [Record(name=n, brand=b, category=c) for (b, c), names in TRAIN.items() for n in names]
    aliases = Aliases()
    words = {w for r in records for w in (r.brand, r.category)}
    tokenizer = Tokenizer(words)
    aligned = align_records(records, aliases, tokenizer)
    model = CRFNERModel.train([(a.tokens, a.tags) for a in aligned], tokenizer, gazetteer(aligned), max_iterations=60)
    target = folder / "models" / "ner_model"
    model.save(target)
    write_manifest(target, "crf")
    (target / "lexicon.json").write_text(json.dumps(span_lexicon(records, aligned, aliases), ensure_ascii=False),
                                         encoding="utf-8")
    _write_tsv(folder / "test_dataset.txt", TEST_ROWS)
    return folder


def run_evaluator(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=120)


def show(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"


# -- pure parts ---------------------------------------------------------------------------------------

TOKENS = [Token("Wonder", 0, 6, "latin"), Token("Smile", 7, 12, "latin"), Token("Mint", 13, 17, "latin")]
TEXT = "Wonder Smile Mint"


def test_tags_from_entities_widen_partial_spans_to_words():
    # A subword model's span "Wonder Sm" ends inside "Smile": the whole word is tagged.
    tags, spans = tags_from_entities(TEXT, TOKENS, [Entity("BRAND", "Wonder Sm", 0, 9, 0.8)])
    assert tags == ["B-BRAND", "I-BRAND", "O"]
    assert [(s.text, s.start, s.end) for s in spans] == [("Wonder Smile", 0, 12)]


def test_tags_from_entities_more_confident_entity_keeps_the_token():
    entities = [Entity("CATEGORY", "Smile Mint", 7, 17, 0.4), Entity("BRAND", "Wonder Smile", 0, 12, 0.9)]
    tags, spans = tags_from_entities(TEXT, TOKENS, entities)
    assert tags == ["B-BRAND", "I-BRAND", "B-CATEGORY"]
    assert [(s.label, s.text) for s in spans] == [("BRAND", "Wonder Smile"), ("CATEGORY", "Mint")]
    assert tags_from_entities(TEXT, TOKENS, [Entity("BRAND", "", 40, 45, 0.9)])[0] == ["O", "O", "O"]


def test_span_scores_match_a_hand_computed_case():
    # BRAND: 1 of 2 gold spans found, 1 wrong predicted -> P = R = F1 = 0.5; CATEGORY perfect (1 of 1).
    gold = [["B-BRAND", "I-BRAND", "O", "B-CATEGORY"], ["B-BRAND", "O"]]
    pred = [["B-BRAND", "O", "O", "B-CATEGORY"], ["B-BRAND", "O"]]
    scores = span_scores(gold, pred)
    assert scores["per_type"]["BRAND"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert scores["per_type"]["CATEGORY"]["f1"] == 1.0
    assert scores["micro"]["precision"] == scores["micro"]["recall"] == round(2 / 3, 4)  # 2 of 3 spans right
    assert scores["macro"]["f1"] == 0.75  # mean of 0.5 and 1.0


def _e(label, start, end, confidence=0.9):
    return Entity(label, "", start, end, confidence)


@pytest.mark.parametrize("gold_brand, gold_category, predicted, label_ok, kind", [
    ((0, 6), None, [_e("BRAND", 0, 6)], True, None),
    ((0, 6), None, [], False, "missed_brand"),
    ((0, 6), None, [_e("BRAND", 0, 12)], False, "wrong_boundary"),
    ((0, 6), None, [_e("CATEGORY", 0, 6)], False, "wrong_type"),
    ((0, 6), (13, 17), [_e("BRAND", 13, 17)], False, "wrong_type"),
    ((0, 6), None, [_e("BRAND", 13, 17)], False, "spurious_brand"),
    ((0, 6), None, [_e("BRAND", 0, 6), _e("BRAND", 13, 17, 0.3)], True, "spurious_brand"),
    ((0, 6), None, [_e("BRAND", 0, 6)], False, "mislabelled"),
    (None, None, [], False, "brand_not_in_name"),
    (None, None, [_e("BRAND", 0, 6)], True, None),
])
def test_failure_kinds(gold_brand, gold_category, predicted, label_ok, kind):
    assert classify_failure(gold_brand, gold_category, predicted, label_ok) == kind
    assert kind is None or kind in FAILURE_KINDS


def test_evaluation_in_process_scores_the_planted_cases(workdir):
    agent = load_agent(workdir / "models" / "ner_model")
    records = [Record(name=n, brand=b, category=c or None, line=i + 2) for i, (n, b, c) in enumerate(TEST_ROWS)]
    items = evaluate_records(agent, records, Aliases())
    assert [i.brand for i in items][:2] == ["Zenkrit", "Wonder Smile"]
    report = evaluation_report(items, detailed=True)
    # Gold BRAND spans: "Zenkrit" and "Wonder" (none for the Samsung name); predicted "Zenkrit",
    # "Wonder Smile" and, for the Thai name where no token is tagged, the CRF's low-confidence
    # likeliest span: 1 of 3 predicted right, 1 of 2 gold found.
    assert report["entities"]["per_type"]["BRAND"] == {"precision": 0.3333, "recall": 0.5, "f1": 0.4, "support": 2}
    assert report["boundary_errors"]["BRAND"] == 1
    assert report["label"]["brand_accuracy"] == round(1 / 3, 4)
    assert report["bio_confusion"]["BRAND"]["O"]["I"] == 1  # "Smile" tagged I-BRAND, gold O
    failures = failure_report(items)
    assert failures["counts"]["wrong_boundary"] == 1 and failures["counts"]["brand_not_in_name"] == 1
    assert failures["cases"]["wrong_boundary"][0]["name"] == "Wonder Smile Fresh Mint 90g"


# -- the commands as printed in the manual ---------------------------------------------------------------

@pytest.mark.slow
def test_evaluation_command_as_printed(workdir):
    result = run_evaluator(workdir, "--model-path", "models/ner_model", "--test-data", "test_dataset.txt",
                           "--output", "evaluation_report.json", "--detailed-analysis")
    assert result.returncode == 0, show(result)
    report = json.loads((workdir / "evaluation_report.json").read_text(encoding="utf-8"))
    assert report["records"] == 3
    assert report["entities"]["per_type"]["BRAND"]["f1"] == 0.4   # see the in-process test
    assert report["by_script"]["en"]["records"] == 2 and report["by_script"]["th"]["records"] == 1
    assert report["by_script"]["en"]["entities"]["per_type"]["BRAND"]["f1"] == 0.5
    assert "BRAND" in report["classification_report"] and report["per_brand"][0]["records"] == 1
    assert report["boundary_errors"] == {"BRAND": 1, "CATEGORY": 0}
    runs = list((workdir / "runs").glob("*-ner-evaluation"))
    assert runs and json.loads((runs[-1] / "metrics.json").read_text())["records"] == 3
    assert "BRAND" in result.stdout and "Brand label accuracy" in result.stdout


@pytest.mark.slow
def test_failure_analysis_command_as_printed(workdir):
    result = run_evaluator(workdir, "--analyze-failures", "--model-path", "models/ner_model",
                           "--failure-output", "ner_failures.json")
    assert result.returncode == 0, show(result)
    failures = json.loads((workdir / "ner_failures.json").read_text(encoding="utf-8"))
    assert failures["dataset"]["path"] == "test_dataset.txt" and "current folder" in failures["dataset"]["source"]
    assert failures["counts"]["wrong_boundary"] == 1
    case = failures["cases"]["wrong_boundary"][0]
    assert [s["text"] for s in case["gold_spans"]] == ["Wonder"]
    assert [s["text"] for s in case["predicted_spans"]] == ["Wonder Smile"]
    assert failures["cases"]["brand_not_in_name"][0]["brand"] == "Samsung"
    assert failures["failures"] == 2 and failures["by_script"]["en"]["wrong_boundary"] == 1
    assert failures["by_script"]["th"] == {"records": 1, "failures": 1, **dict.fromkeys(FAILURE_KINDS, 0),
                                           "brand_not_in_name": 1}
    assert "test_dataset.txt" in result.stdout and "wrong_boundary" in result.stdout


@pytest.mark.slow
def test_failure_analysis_defaults_to_the_sample_catalogue(workdir, tmp_path):
    result = run_evaluator(tmp_path, "--analyze-failures", "--model-path", str(workdir / "models" / "ner_model"),
                           "--failure-output", "ner_failures.json")
    assert result.returncode == 0, show(result)
    failures = json.loads((tmp_path / "ner_failures.json").read_text(encoding="utf-8"))
    assert failures["dataset"]["path"] == str(SAMPLE) and "sample catalogue" in failures["dataset"]["source"]
    assert failures["records"] == 754 and failures["dataset"]["aliases"].endswith("aliases.json")
    assert sum(failures["counts"].values()) == failures["failures"] > 0
    assert set(failures["by_script"]) == {"th", "en", "mixed"}
    assert "sample catalogue" in result.stdout


@pytest.mark.slow
def test_bad_inputs_fail_with_one_line(workdir, tmp_path):
    missing = run_evaluator(tmp_path, "--model-path", "models/ner_model", "--test-data", str(workdir / "test_dataset.txt"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr, show(missing)
    assert "--model-path" in missing.stderr and "models/ner_model" in missing.stderr
    (tmp_path / "empty_model").mkdir()
    empty = run_evaluator(tmp_path, "--model-path", "empty_model", "--test-data", str(workdir / "test_dataset.txt"))
    assert empty.returncode == 2 and "empty_model" in empty.stderr and "Traceback" not in empty.stderr, show(empty)
    bad = _write_tsv(tmp_path / "bad.txt", [("", "Zenkrit", ""), ("Zenkrit Lime", "", "")])
    result = run_evaluator(workdir, "--model-path", "models/ner_model", "--test-data", str(bad), "--output", str(tmp_path / "r.json"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, show(result)
    assert f"{bad}:2" in result.stderr and f"{bad}:3" in result.stderr
