"""End-to-end tests of the `product-infer` CLI, run in subprocesses as a user would run it.

Every subprocess gets its own local home (`--home DIR` or $PRODUCT_INFERENCE_HOME). Milvus Lite
locks its folder, so no home used here is ever opened by this test process itself: the homes are
bootstrapped through the CLI too. One sample home and one small-catalogue home are bootstrapped
per module and only read afterwards.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
CONSOLE_SCRIPT = Path(sys.executable).with_name("product-infer")

WONDER = "ยาสีฟัน Wonder smile 80g"
IPHONE = "iPhone 15 Pro Max 256GB"
PANTENE = "แชมพูแพนทีน สูตรผมเสีย 300 มล."
ZENKRIT = "Zenkrit dishwashing liquid lime 600ml"
KRAFTOON = "บะหมี่ Kraftoon รสต้มยำ 60 กรัม"

ROW_KEYS = {"id", "name", "brand", "category", "confidence", "category_confidence", "decided_by",
            "needs_review", "stages", "latency_ms"}
OPTIONAL_ROW_KEYS = {"skipped", "degraded", "cached"}
STAGE_NAMES = {"ner", "rag", "llm", "fusion"}

SMALL_CATALOG = {
    "Zenkrit": ("Dish Soap", [
        "Zenkrit Dishwashing Liquid Lemon 500ml", "Zenkrit dish soap lime 750 ml", "น้ำยาล้างจาน Zenkrit 400 มล.",
        "Zenkrit Dishwashing Liquid Refill 1L", "Zenkrit น้ำยาล้างจาน กลิ่นมะนาว 800 มล.",
        "Zenkrit Dish Soap Green Tea 500ml", "Zenkrit Ultra Dishwashing Gel 450ml",
        "Zenkrit น้ำยาล้างจาน สูตรเข้มข้น 1 ลิตร"]),
    "Moonbeam": ("Shampoo", [
        "Moonbeam Shampoo Silky Smooth 300ml", "แชมพู Moonbeam สูตรผมนุ่ม 450 มล.",
        "Moonbeam Anti-Dandruff Shampoo 170ml", "Moonbeam Shampoo Argan Oil 400 ml", "Moonbeam แชมพู ขจัดรังแค 200 มล.",
        "Moonbeam Herbal Shampoo 600ml", "Moonbeam Kids Shampoo Strawberry 250ml", "แชมพู Moonbeam สูตรอ่อนโยน 320 มล."]),
    "Kraftoon": ("Instant Noodles", [
        "Kraftoon Instant Noodles Tom Yum 60g", "บะหมี่กึ่งสำเร็จรูป Kraftoon รสต้มยำ 55 กรัม",
        "Kraftoon Noodles Pork Flavour 60g pack 5", "Kraftoon Cup Noodle Seafood 70g", "Kraftoon บะหมี่ รสหมูสับ 60 กรัม",
        "Kraftoon Instant Noodles Green Curry 60g", "Kraftoon Noodles Shrimp Creamy 55g x10"]),
    "Velora": ("Sunscreen", [
        "Velora Sunscreen SPF50 PA++++ 40ml", "กันแดด Velora SPF50 30 มล.", "Velora UV Sun Serum SPF50 50ml",
        "Velora Sunscreen Body Lotion SPF30 150ml", "Velora กันแดด สูตรกันน้ำ 40 มล.",
        "Velora Daily Sunscreen Gel SPF50 30g", "Velora Kids Sunscreen SPF50 100ml"]),
}


# -- helpers -------------------------------------------------------------------------------------

def cli(*args: str, home: Path | None = None, env_home: Path | None = None, script: bool = False,
        timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `product-infer [--home HOME] ARGS` in a fresh process; text output decoded as UTF-8."""
    env = os.environ.copy()
    env.pop("PRODUCT_INFERENCE_HOME", None)
    if env_home is not None:
        env["PRODUCT_INFERENCE_HOME"] = str(env_home)
    # Rich wraps stderr at 80 columns when it is not a terminal, which splits long temp paths
    # across lines; a wide console keeps each message on one line for the assertions.
    env["COLUMNS"] = "400"
    env["PYTHONIOENCODING"] = "utf-8"
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "inference"]
    if home is not None:
        command += ["--home", str(home)]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, encoding="utf-8",
                          env=env, cwd=ROOT, timeout=timeout)


def show(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout ---\n{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-3000:]}"


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_clean_failure(result: subprocess.CompletedProcess, *fragments: str, code: int | None = 2) -> None:
    """Non-zero exit (exactly `code` when given), no traceback, and every fragment in stderr."""
    assert result.returncode != 0, show(result)
    if code is not None:
        assert result.returncode == code, show(result)
    assert "Traceback" not in result.stderr, show(result)
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in stderr\n{show(result)}"


def assert_result_row(row: dict) -> None:
    assert "error" not in row, row
    assert ROW_KEYS <= set(row), f"missing keys {ROW_KEYS - set(row)}"
    assert set(row) - ROW_KEYS <= OPTIONAL_ROW_KEYS, f"unexpected keys {set(row) - ROW_KEYS}"
    assert 0.0 <= row["confidence"] <= 1.0 and 0.0 <= row["category_confidence"] <= 1.0
    assert row["decided_by"] in STAGE_NAMES
    assert isinstance(row["needs_review"], bool)
    assert isinstance(row["stages"], dict) and row["stages"], row["stages"]
    assert row["latency_ms"] >= 0


def registry_doc(home: Path) -> dict:
    return json.loads((home / "registry.json").read_text(encoding="utf-8"))


def active(doc: dict, model_type: str) -> tuple[str, dict]:
    entry = doc["models"][model_type]
    return entry["active"], entry["versions"][entry["active"]]


# -- module-scoped homes, bootstrapped through the CLI ---------------------------------------------

@pytest.fixture(scope="module")
def sample_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli-sample") / "home"
    result = cli("bootstrap", home=home)
    assert result.returncode == 0, show(result)
    metrics = jsonl(result.stdout)[-1]
    assert metrics["records"] == sum(1 for line in (SAMPLE / "catalog.jsonl").open(encoding="utf-8") if line.strip())
    return home


@pytest.fixture(scope="module")
def small_catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-small-catalog") / "small.tsv"
    lines = ["name\tbrand\tcategory"]
    for brand, (category, names) in SMALL_CATALOG.items():
        lines += [f"{name}\t{brand}\t{category}" for name in names]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small_bootstrap(tmp_path_factory, small_catalog) -> tuple[Path, subprocess.CompletedProcess]:
    home = tmp_path_factory.mktemp("cli-small") / "home"
    return home, cli("bootstrap", "--catalog", small_catalog, home=home)


@pytest.fixture(scope="module")
def small_home(small_bootstrap) -> Path:
    home, result = small_bootstrap
    assert result.returncode == 0, show(result)
    return home


@pytest.fixture(scope="module")
def small_predictions(small_home) -> list[dict]:
    result = cli("predict", ZENKRIT, KRAFTOON, WONDER, home=small_home)
    assert result.returncode == 0, show(result)
    return jsonl(result.stdout)


@pytest.fixture(scope="module")
def sample_multi(sample_home) -> subprocess.CompletedProcess:
    """Several names predicted in the sample home, the home given by $PRODUCT_INFERENCE_HOME."""
    return cli("predict", WONDER, IPHONE, ZENKRIT, PANTENE, env_home=sample_home)


# -- predict: names on the command line ------------------------------------------------------------

def test_console_script_predicts_one_name_as_one_json_line(sample_home, tmp_path):
    assert CONSOLE_SCRIPT.is_file(), f"console script missing: {CONSOLE_SCRIPT}"
    # --home wins over $PRODUCT_INFERENCE_HOME (here an empty, never-bootstrapped folder).
    result = cli("predict", WONDER, home=sample_home, env_home=tmp_path / "other-home", script=True)
    assert result.returncode == 0, show(result)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, show(result)
    row = json.loads(lines[0])
    assert_result_row(row)
    assert row["name"] == WONDER
    assert row["id"] is None
    assert row["brand"] == "Wonder Smile"
    assert row["category"] == "Toothpaste"


def test_several_names_give_one_line_each_in_order(sample_multi):
    assert sample_multi.returncode == 0, show(sample_multi)
    rows = jsonl(sample_multi.stdout)
    assert [r["name"] for r in rows] == [WONDER, IPHONE, ZENKRIT, PANTENE]
    for row in rows:
        assert_result_row(row)
    assert [r["brand"] for r in rows[:2]] == ["Wonder Smile", "Apple"]
    assert rows[3]["brand"] == "Pantene"


def test_table_output_shows_results_and_errors(sample_home):
    result = cli("predict", "--table", WONDER, "", home=sample_home)
    assert result.returncode == 0, show(result)
    assert not result.stdout.lstrip().startswith("{"), "--table printed JSON"
    for header in ("name", "brand", "category", "confidence", "decided by", "review"):
        assert header in result.stdout, show(result)
    assert "Wonder Smile" in result.stdout
    assert "empty" in result.stdout  # the error row for the blank name


# -- predict: files ---------------------------------------------------------------------------------

def test_predict_file_keeps_one_row_per_line_with_errors_for_bad_lines(sample_home, tmp_path):
    source = tmp_path / "names.jsonl"
    lines = [
        json.dumps({"id": "g1", "name": WONDER}, ensure_ascii=False).encode(),   # 1 good
        json.dumps({"id": "b1", "name": ""}).encode(),                            # 2 empty name
        b'{"id": "b2", "name": "unterminated"',                                    # 3 malformed JSON
        b'{"id": "b3", "name": "bad \xff\xfe bytes"}',                             # 4 invalid UTF-8
        json.dumps({"id": "b4", "name": "x" * 600}).encode(),                     # 5 too long
        json.dumps({"id": "b5", "name": "\u200b\u200b\u2060"}).encode(),          # 6 zero-width only
        json.dumps({"id": "b6", "title": "no name field"}).encode(),              # 7 missing name
        json.dumps({"id": "g2", "name": IPHONE}).encode(),                        # 8 good
        json.dumps({"id": 7, "name": PANTENE}, ensure_ascii=False).encode(),      # 9 good, numeric id
    ]
    source.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "results.jsonl"

    result = cli("predict", "--input", source, "--output", target, home=sample_home)
    assert result.returncode == 0, show(result)
    assert result.stdout.strip() == "", "with --output, results must not go to stdout"
    rows = jsonl(target.read_text(encoding="utf-8"))
    assert len(rows) == len(lines), rows

    good = {1: ("g1", WONDER, "Wonder Smile"), 8: ("g2", IPHONE, "Apple"), 9: ("7", PANTENE, "Pantene")}
    for line, (record_id, name, brand) in good.items():
        row = rows[line - 1]
        assert_result_row(row)
        assert (str(row["id"]), row["name"], row["brand"]) == (record_id, name, brand)

    problems = {2: ("b1", r"empty|blank"), 3: (None, r"malformed JSON"), 4: (None, r"UTF-8"),
                5: ("b4", r"600.*500|limit"), 6: ("b5", r"visible|empty|blank"), 7: ("b6", r"'name'.*missing")}
    for line, (record_id, pattern) in problems.items():
        row = rows[line - 1]
        assert set(row) == {"id", "name", "error"}, row
        assert "brand" not in row
        error = row["error"]
        assert f"line {line}:" in error or f"{source}:{line}:" in error, f"line {line} not named: {error!r}"
        assert re.search(pattern, error), f"line {line}: {error!r} does not match {pattern!r}"
        if record_id is not None:
            assert row["id"] == record_id, row

    assert re.search(rf"Wrote {len(lines)} rows to .*results\.jsonl \(6 error rows\)", result.stderr), show(result)


def test_predict_tsv_file_with_name_header(sample_home, tmp_path):
    source = tmp_path / "names.tsv"
    source.write_text(f"name\n{WONDER}\n\n{IPHONE}\ntoo\tmany fields\n", encoding="utf-8")
    result = cli("predict", "--input", source, home=sample_home)
    assert result.returncode == 0, show(result)
    rows = jsonl(result.stdout)
    assert len(rows) == 4, show(result)
    assert (rows[0]["name"], rows[0]["brand"]) == (WONDER, "Wonder Smile")
    assert (rows[2]["name"], rows[2]["brand"]) == (IPHONE, "Apple")
    assert "error" in rows[1] and f"{source}:3:" in rows[1]["error"]
    assert "error" in rows[3] and f"{source}:5:" in rows[3]["error"] and "field" in rows[3]["error"]


@pytest.mark.parametrize("case", ["neither", "both", "missing file", "csv file"])
def test_predict_argument_errors_fail_cleanly(sample_home, tmp_path, case):
    names = tmp_path / "names.jsonl"
    names.write_text(json.dumps({"name": WONDER}, ensure_ascii=False) + "\n", encoding="utf-8")
    if case == "neither":
        result = cli("predict", home=sample_home)
        assert_clean_failure(result, "give product names or --input")
    elif case == "both":
        result = cli("predict", WONDER, "--input", names, home=sample_home)
        assert_clean_failure(result, "give product names or --input")
    elif case == "missing file":
        missing = tmp_path / "nope.jsonl"
        result = cli("predict", "--input", missing, home=sample_home)
        assert_clean_failure(result, str(missing), "no such file", code=None)
    else:
        csv = tmp_path / "names.csv"
        csv.write_text(f"name\n{WONDER}\n", encoding="utf-8")
        result = cli("predict", "--input", csv, home=sample_home)
        assert_clean_failure(result, str(csv), ".csv", code=None)
        assert "unsupported" in result.stderr or "use .jsonl" in result.stderr, show(result)
    assert result.stdout.strip() == "", show(result)


# -- bootstrap and home isolation -----------------------------------------------------------------

def test_bootstrap_from_small_tsv_rebuilds_models_and_index(small_bootstrap, small_catalog, small_predictions):
    home, result = small_bootstrap
    assert result.returncode == 0, show(result)
    metrics = jsonl(result.stdout)[-1]
    assert metrics["records"] == 30 and metrics["brands"] == 4, metrics
    assert metrics["rag"]["rows"] == 30

    doc = registry_doc(home)
    ner_name, ner = active(doc, "ner")
    assert ner["catalog"] == str(small_catalog)
    assert (home / ner["path"]).is_dir(), ner
    _, embedding = active(doc, "embedding")
    assert (home / embedding["path"]).exists(), embedding
    rag_name, rag = active(doc, "rag")
    assert rag["rows"] == 30
    assert (home / rag["uri"]).exists()
    assert ner_name.startswith("crf-") and rag_name.startswith("milvus-"), (ner_name, rag_name)
    assert str(home / "registry.json") in result.stderr, show(result)

    by_name = {row["name"]: row for row in small_predictions}
    assert by_name[ZENKRIT]["brand"] == "Zenkrit", by_name[ZENKRIT]
    assert by_name[KRAFTOON]["brand"] == "Kraftoon", by_name[KRAFTOON]
    for row in small_predictions:
        assert_result_row(row)


def test_bootstrap_rejects_catalogue_row_without_brand(tmp_path):
    catalog = tmp_path / "bad.tsv"
    catalog.write_text("name\tbrand\tcategory\nZenkrit dish soap 500ml\tZenkrit\tDish Soap\n"
                       "Moonbeam shampoo 300ml\t\tShampoo\nKraftoon noodles 60g\tKraftoon\t\n", encoding="utf-8")
    home = tmp_path / "home"
    result = cli("bootstrap", "--catalog", catalog, home=home)
    assert_clean_failure(result, f"{catalog}:3:", "brand")
    assert "1 invalid row" in result.stderr, show(result)
    assert not (home / "registry.json").exists(), "a failed bootstrap must not register models"


def test_homes_do_not_share_state(sample_multi, small_predictions):
    sample = {row["name"]: row for row in jsonl(sample_multi.stdout)}
    small = {row["name"]: row for row in small_predictions}
    # A brand only the small catalogue knows, and one only the sample knows.
    assert small[ZENKRIT]["brand"] == "Zenkrit"
    assert sample[ZENKRIT]["brand"] != "Zenkrit", sample[ZENKRIT]
    assert sample[WONDER]["brand"] == "Wonder Smile"
    assert small[WONDER]["brand"] != "Wonder Smile", small[WONDER]


@pytest.mark.parametrize("command", [["predict", WONDER], ["demo"],
                                     ["evaluate", "--test-data", str(SAMPLE / "catalog.jsonl")]])
def test_never_bootstrapped_home_asks_for_bootstrap(tmp_path, command):
    home = tmp_path / "empty-home"
    result = cli(*command, home=home)
    assert_clean_failure(result, "product-infer bootstrap")
    assert str(home) in result.stderr, show(result)
    assert result.stdout.strip() == "", show(result)


# -- demo and evaluate --------------------------------------------------------------------------------

def test_demo_prints_a_table_of_the_demo_names(sample_home):
    result = cli("demo", home=sample_home)
    assert result.returncode == 0, show(result)
    for header in ("name", "brand", "category", "confidence", "decided by"):
        assert header in result.stdout, show(result)
    for brand in ("Wonder Smile", "Apple", "Pantene", "Samsung"):
        assert brand in result.stdout, show(result)
    demo_names = [json.loads(line)["name"] for line in (SAMPLE / "demo_names.jsonl").read_text(encoding="utf-8").splitlines()
                  if line.strip()]
    for name in demo_names:  # the wide console keeps every name on one line
        assert name in result.stdout, f"{name!r} missing from the demo table"


def test_evaluate_writes_a_report(sample_home, tmp_path):
    catalog = SAMPLE / "catalog.jsonl"
    report_path = tmp_path / "report.json"
    result = cli("evaluate", "--test-data", catalog, "--output", report_path, home=sample_home)
    assert result.returncode == 0, show(result)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == report
    total = sum(1 for line in catalog.open(encoding="utf-8") if line.strip())
    assert report["rows"] == report["labelled"] == total and report["errors"] == 0, report
    assert report["brand_accuracy"] > 0.8, report
    assert 0.8 < report["category_accuracy"] <= 1.0, report
    assert isinstance(report["ece"], float) and 0.0 <= report["ece"] < 0.25, report
    shares = report["decided_by"]
    assert shares and set(shares) <= STAGE_NAMES, shares
    assert math.isclose(sum(shares.values()), 1.0, abs_tol=0.005), shares
    assert {"th", "en", "mixed"} <= set(report["by_script"]), report["by_script"]
    assert sum(v["rows"] for v in report["by_script"].values()) == total
    assert str(report_path) in result.stderr, show(result)


# -- regressions: bugs found and fixed --------------------------------------------------------------

def test_output_into_missing_folder_fails_cleanly(sample_home, tmp_path):
    target = tmp_path / "no-such-dir" / "out.jsonl"
    result = cli("predict", WONDER, "--output", target, home=sample_home)
    assert_clean_failure(result, str(target), code=None)


def test_unknown_embedder_is_rejected_before_anything_is_registered(tmp_path, small_catalog):
    home = tmp_path / "home"
    result = cli("bootstrap", "--catalog", small_catalog, "--embedder", "nope", home=home)
    assert_clean_failure(result, "nope")
    assert not (home / "registry.json").exists() or not registry_doc(home)["models"], registry_doc(home)


def test_tsv_with_utf8_bom_is_read(sample_home, tmp_path):
    source = tmp_path / "bom.tsv"
    source.write_bytes("\ufeffname\n".encode() + f"{WONDER}\n".encode())
    result = cli("predict", "--input", source, home=sample_home)
    assert result.returncode == 0, show(result)
    assert [row.get("brand") for row in jsonl(result.stdout)] == ["Wonder Smile"]
