"""The manual's NER data commands ("NER Model Tuning": 1. Training Data Quality Improvement and
4. Multilingual Optimization), run as printed from the repository root on a training file made
from the sample catalogue plus planted problems."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inference.records import Record, iter_records

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"

CONFLICT = "ยาสีฟันคอลเกต เฟรชคูลมินท์ 150 กรัม"
NOT_IN_NAME = "iPhone 15 Pro Max 256GB"

pytestmark = pytest.mark.slow  # subprocesses


def _run(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRODUCT_INFERENCE_HOME": str(env_home), "COLUMNS": "160"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """training_dataset.txt (TSV): 80 sample rows + every Colgate row + planted problems, with the
    sample's aliases.json beside it. Returns the folder and the planted lines' numbers."""
    folder = tmp_path_factory.mktemp("ner-data")
    shutil.copy(SAMPLE / "aliases.json", folder / "aliases.json")
    rows = [json.loads(line) for line in (SAMPLE / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    chosen = rows[:80] + [r for r in rows[80:] if r["brand"] == "Colgate"]
    lines = [f"{r['name']}\t{r['brand']}\t{r['category']}".encode() for r in chosen]
    planted = {}
    for key, line in (("conflict_a", f"{CONFLICT}\tColgate\tToothpaste".encode()),
                      ("conflict_b", f"{CONFLICT}\tDarlie\tToothpaste".encode()),
                      ("duplicate", lines[0]),
                      ("bad_utf8", b"Colgate \xff\xfe Total\tColgate\tToothpaste"),
                      ("too_many_fields", b"Colgate Total\tColgate\tToothpaste\textra"),
                      ("empty_name", b" \tColgate\tToothpaste"),
                      ("empty_brand", "Colgate Total 150g\t\tToothpaste".encode()),
                      ("not_in_name", f"{NOT_IN_NAME}\tApple\tSmartphone".encode())):
        lines.append(line)
        planted[key] = len(lines) + 1  # the header is line 1
    (folder / "training_dataset.txt").write_bytes(b"name\tbrand\tcategory\n" + b"\n".join(lines) + b"\n")
    return {"dir": folder, "lines": planted, "data_rows": len(lines), "home": folder / "home"}


def _records(path: Path) -> list[Record]:
    items = list(iter_records(path))
    assert all(isinstance(i, Record) for i in items), items
    return items


def _run_record(folder: Path, command: str) -> dict:
    (run,) = sorted((folder / "runs").glob(f"*-{command}"))
    assert json.loads((run / "run.json").read_text())["command"] == command
    return json.loads((run / "metrics.json").read_text())


def test_validator_reports_planted_problems_by_line(data):
    src, out = data["dir"] / "training_dataset.txt", data["dir"] / "validation_report.json"
    done = _run("training/preprocessing/ner_data_validator.py", "--input", str(src), "--output", str(out),
                env_home=data["home"])
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    lines = data["lines"]
    assert report["valid"] is False and report["aliases"] == str(data["dir"] / "aliases.json")
    (conflict,) = report["conflicts"]
    assert conflict["lines"] == [lines["conflict_a"], lines["conflict_b"]]
    assert {c["brand"] for c in conflict["labels"]} == {"Colgate", "Darlie"}
    assert [(m["line"], m["location"]) for m in report["malformed"]] == [
        (lines["bad_utf8"], f"{src}:{lines['bad_utf8']}"), (lines["too_many_fields"], f"{src}:{lines['too_many_fields']}")]
    assert "UTF-8" in report["malformed"][0]["problem"] and "fields" in report["malformed"][1]["problem"]
    assert [(e["line"], e["field"]) for e in report["empty_fields"]] == [
        (lines["empty_name"], "name"), (lines["empty_brand"], "brand")]
    assert [d["lines"] for d in report["duplicates"]] == [[2, lines["duplicate"]]]
    assert lines["not_in_name"] in [u["line"] for u in report["unaligned"]["brand"]]
    counts = report["counts"]
    assert counts["rows"] == data["data_rows"] and counts["usable_rows"] == data["data_rows"] - 4
    assert sum(report["scripts"].values()) == sum(counts["brand_spans"].values()) == counts["usable_rows"]
    assert counts["brand_spans"]["alias"] > 0  # Thai brand forms were found through aliases.json
    assert any(i.startswith("error") and str(lines["conflict_a"]) in i for i in report["issues"])
    assert _run_record(data["dir"], "ner-data-validation")["conflicting_names"] == 1


def test_validator_missing_input_exits_2_with_one_line(data, tmp_path):
    done = _run("training/preprocessing/ner_data_validator.py", "--input", str(tmp_path / "training_dataset.txt"),
                "--output", str(tmp_path / "validation_report.json"), env_home=data["home"])
    assert done.returncode == 2
    assert "no such file" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "validation_report.json").exists()


def test_entity_distribution_as_the_manual_calls_it(data):
    code = ("from training.preprocessing.ner_data_preparation import analyze_entity_distribution\n"
            f"analyze_entity_distribution({str(data['dir'] / 'training_dataset.txt')!r})\n")
    done = _run("-c", code, env_home=data["home"])
    assert done.returncode == 0, done.stderr
    assert "BRAND" in done.stdout and "CATEGORY" in done.stdout and "Colgate" in done.stdout
    assert "with fewer than 5 examples" in done.stdout


@pytest.fixture(scope="module")
def cleaned(data) -> tuple[subprocess.CompletedProcess, Path]:
    src, out = data["dir"] / "training_dataset.txt", data["dir"] / "cleaned_training_data.txt"
    done = _run("training/preprocessing/ner_data_preparation.py", "--input", str(src), "--output", str(out),
                "--augment-multilingual", "--min-confidence", "0.8", env_home=data["home"])
    return done, out


def test_cleaning_with_multilingual_augmentation(data, cleaned):
    done, out = cleaned
    assert done.returncode == 0, done.stderr
    records = _records(out)
    names = [r.name for r in records]
    metrics = _run_record(data["dir"], "ner-data-cleaning")
    assert metrics["written"] == len(records) == metrics["kept"] + metrics["added_multilingual"]
    assert metrics["read"] == data["data_rows"] and metrics["unreadable"] == 4
    assert metrics["read"] - metrics["unreadable"] - metrics["dropped_duplicates"] - metrics["dropped_conflicts"] \
        - metrics["dropped_low_confidence"] == metrics["kept"]
    assert (metrics["dropped_duplicates"], metrics["dropped_conflicts"]) == (1, 2)
    assert CONFLICT not in names and NOT_IN_NAME not in names and len(set(names)) == len(names)
    assert "conflicting labels" in done.stderr and "Darlie" in done.stderr
    (run,) = (data["dir"] / "runs").glob("*-ner-data-cleaning")
    dropped = [json.loads(line) for line in (run / "dropped.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {(d["line"], d["reason"]) for d in dropped} >= {
        (data["lines"]["conflict_a"], "conflicting labels"), (data["lines"]["conflict_b"], "conflicting labels"),
        (data["lines"]["duplicate"], "duplicate"), (data["lines"]["not_in_name"], "low confidence")}
    assert all(d["confidence"] < 0.8 for d in dropped if d["reason"] == "low confidence")
    # Colgate rows written in Latin script gained a Thai copy, and the other way round; labels unchanged.
    assert "คอลเกต Charcoal Clean 35g แพ็คคู่" in names
    assert "ยาสีฟัน Colgate Fresh Cool Mint 35G" in names
    assert "COLGATE toothpaste สูตรเกลือสมุนไพร 150g แพ็คคู่" in names  # the category swapped
    colgate = [r for r in records if "คอลเกต" in r.name or "colgate" in r.name.lower()]
    assert colgate and all(r.brand == "Colgate" for r in colgate)


def test_variations_of_the_cleaned_file(data, cleaned):
    src, out = cleaned[1], data["dir"] / "augmented_training_data.txt"
    assert cleaned[0].returncode == 0, cleaned[0].stderr
    originals = _records(src)
    done = _run("training/preprocessing/ner_data_preparation.py", "--generate-variations", "--input", str(src),
                "--output", str(out), "--variation-count", "3", env_home=data["home"])
    assert done.returncode == 0, done.stderr
    records = _records(out)
    names = [r.name for r in records]
    metrics = _run_record(data["dir"], "ner-data-variations")
    assert names[:len(originals)] == [r.name for r in originals]  # originals kept, first
    assert len(set(names)) == len(names) == metrics["written"] == len(originals) + metrics["added"]
    assert len(originals) < metrics["added"] <= 3 * len(originals)
    labels = {(r.brand, r.category or None) for r in originals}
    assert all((r.brand, r.category or None) in labels for r in records)
    variants = set(names[len(originals):])
    assert any("กรัม" in n for n in variants) and any(" g." in n or "g " in n + " " for n in variants)
    assert any(n.endswith(("แพ็ค 3", "x6", "Value Pack")) for n in variants)
    assert any("COLGATE" in n for n in variants)


def test_multilingual_tokenizer_loads_with_autotokenizer(data, tmp_path):
    output = tmp_path / "models" / "multilingual_tokenizer"
    done = _run("training/preprocessing/ner_data_preparation.py", "--create-multilingual-tokenizer",
                "--languages", "en,th", "--output", str(output), env_home=data["home"])
    assert done.returncode == 0, done.stderr
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(output))
    assert tokenizer.is_fast and json.loads((output / "tokenizer_config.json").read_text())["tokenizer_class"]
    assert [tokenizer.pad_token, tokenizer.unk_token, tokenizer.cls_token, tokenizer.sep_token,
            tokenizer.mask_token] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    name = "ยาสีฟันคอลเกต Total Fresh 150 กรัม"
    encoded = tokenizer(name, return_offsets_mapping=True)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and "[UNK]" not in pieces
    assert 6 <= len(pieces) - 2 <= 12  # subwords, neither characters nor one piece per name
    assert tokenizer.decode(encoded["input_ids"], skip_special_tokens=True) == name
    assert "".join(name[s:e] for s, e in encoded["offset_mapping"][1:-1]) == name.replace(" ", "")
    # A character never seen in training (obsolete Thai letters) still gets a piece, not a whole-word [UNK].
    assert "[UNK]" not in tokenizer.tokenize("ฅนฃวด Colgate-Zx")
    words = ["ยาสีฟัน", "คอลเกต", "Total", "150", "กรัม"]
    split = tokenizer([words], is_split_into_words=True, return_offsets_mapping=True, padding="max_length",
                      max_length=16)
    assert [i for i in split.word_ids(0) if i is not None] == sorted(i for i in split.word_ids(0) if i is not None)
    assert set(i for i in split.word_ids(0) if i is not None) == set(range(len(words)))
    metrics = _run_record(output.parent, "multilingual-tokenizer")
    assert metrics["names"] == 754 and metrics["unk_rate"] == 0 and metrics["vocab_size"] == len(tokenizer)
