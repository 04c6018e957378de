"""The NER data tools' parts: alignment confidence, duplicates and conflicts, script swaps,
variations, entity statistics and the language filter of the tokenizer."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from inference.records import Record
from inference.tokenization import Tokenizer
from training.preprocessing.ner_data_preparation import (LoadedFile, analyze_entity_distribution, clean,
                                                         generate_variations, multilingual_variants,
                                                         other_script_form, replace_span, select_names,
                                                         variation_candidates)
from training.preprocessing.ner_data_validator import align_rows, label_groups, validate
from training.preprocessing.ner_spans import Aliases

ALIASES = Aliases(brands={"Colgate": ["คอลเกต"], "Darlie": ["ดาร์ลี่"]},
                  categories={"Toothpaste": ["toothpaste", "ยาสีฟัน"],
                              "Headphones": ["wireless headphones", "หูฟังไร้สาย", "headphones", "หูฟัง"]})
TOKENIZER = Tokenizer(["คอลเกต", "ดาร์ลี่", "ยาสีฟัน", "หูฟังไร้สาย", "หูฟัง"])


def _loaded(*rows: tuple[str, str, str | None]) -> LoadedFile:
    records = [Record(name=n, brand=b, category=c, line=i + 2) for i, (n, b, c) in enumerate(rows)]
    loaded = LoadedFile(path=None, aliases_path=None, aliases=ALIASES, tokenizer=TOKENIZER)
    loaded.rows = align_rows(records, [r.name for r in records], ALIASES, TOKENIZER)
    return loaded


def test_alignment_confidence_says_how_the_brand_was_found():
    rows = _loaded(("Colgate Total 150g", "Colgate", "Toothpaste"),
                   ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),
                   ("Optic White 85g", "Colgate", None)).rows
    assert [(r.brand_match, r.confidence) for r in rows] == [("exact", 1.0), ("alias", 0.9), ("missing", 0.0)]
    assert [r.category_match for r in rows] == ["missing", "alias", None]
    assert rows[1].text[slice(*rows[1].span("BRAND"))] == "คอลเกต"


def test_conflicts_ignore_case_and_case_variants_are_not_duplicates():
    rows = _loaded(("Colgate Total 150g", "Colgate", "Toothpaste"),      # 2
                   ("COLGATE TOTAL 150g", "Darlie", "Toothpaste"),       # 3: conflicts with 2
                   ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),  # 4
                   ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", None),          # 5: duplicate of 4
                   ("Colgate Max 80g", "Colgate", "Toothpaste"),         # 6
                   ("COLGATE MAX 80g", "Colgate", "Toothpaste")).rows    # 7: a case variant, kept
    duplicates, conflicts = label_groups(rows)
    assert [[r.record.line for r in g] for g in conflicts] == [[2, 3]]
    assert [[r.record.line for r in g] for g in duplicates] == [[4, 5]]


def test_cleaning_drops_conflicts_duplicates_and_low_confidence_then_adds_other_script_copies():
    loaded = _loaded(("Colgate Total 150g", "Colgate", "Toothpaste"),
                     ("COLGATE TOTAL 150g", "Darlie", "Toothpaste"),
                     ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),
                     ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),
                     ("Optic White 85g", "Colgate", "Toothpaste"))
    records, report = clean(loaded, min_confidence=0.8, augment_multilingual=True)
    names = [r.name for r in records]
    assert names[0] == "ยาสีฟันคอลเกต 150 กรัม" and names.count("ยาสีฟันคอลเกต 150 กรัม") == 1
    assert "ยาสีฟัน Colgate 150 กรัม" in names and "toothpaste คอลเกต 150 กรัม" in names
    assert (report["dropped_conflicts"], report["dropped_duplicates"], report["dropped_low_confidence"]) == (2, 1, 1)
    assert report["kept"] + report["added_multilingual"] == report["written"] == len(records) == 3
    assert all((r.brand, r.category) == ("Colgate", "Toothpaste") for r in records)
    assert report["conflicts"][0]["lines"] == [2, 3]


def test_other_script_form_takes_the_translation_listed_beside_it():
    forms = ALIASES.forms("categories", "Headphones")
    assert other_script_form(forms, "หูฟังไร้สาย") == "wireless headphones"
    assert other_script_form(forms, "HEADPHONES") == "หูฟังไร้สาย"  # the label itself: the first Thai form
    assert other_script_form(forms, "หูฟัง") == "headphones"
    assert other_script_form(forms, "earbuds") is None


def test_swapped_forms_are_spaced_where_scripts_meet():
    text = "ยาสีฟันคอลเกตโททอล 150 กรัม"
    assert replace_span(text, (7, 13), "Colgate") == "ยาสีฟัน Colgate โททอล 150 กรัม"
    (row,) = _loaded(("Colgate Total 150g", "Colgate", "Toothpaste")).rows
    assert multilingual_variants(row, ALIASES) == ["คอลเกต Total 150g"]  # "Total" is no category form


def test_variation_candidates_cover_case_units_packs_and_size_order():
    (row,) = _loaded(("Colgate Total 150g", "Colgate", "Toothpaste")).rows
    kinds = variation_candidates(row)
    assert kinds["case"] == ["COLGATE Total 150g"]  # the title form is the name itself
    assert kinds["unit"] == ["Colgate Total 150 กรัม", "Colgate Total 150 g."]
    assert kinds["order"] == ["150g Colgate Total"]
    assert kinds["pack"] == ["Colgate Total 150g แพ็ค 3", "Colgate Total 150g x6", "Colgate Total 150g Value Pack"]
    (thai,) = _loaded(("น้ำยาล้างจาน 500 มล. แพ็ค 3", "Sunlight", None)).rows
    kinds = variation_candidates(thai)
    assert kinds["pack"] == [] and kinds["case"] == []  # already a pack; no brand span to recase
    assert kinds["unit"] == ["น้ำยาล้างจาน 500ml แพ็ค 3", "น้ำยาล้างจาน 500 ML แพ็ค 3"]


def test_variations_are_seeded_unique_and_keep_labels():
    rows = (("Colgate Total 150g", "Colgate", "Toothpaste"), ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),
            ("Darlie Double Action 80g", "Darlie", "Toothpaste"))
    first, report = generate_variations(_loaded(*rows), count=2, seed=7)
    again, _ = generate_variations(_loaded(*rows), count=2, seed=7)
    other, _ = generate_variations(_loaded(*rows), count=2, seed=8)
    names = [r.name for r in first]
    assert names == [r.name for r in again] and names != [r.name for r in other]
    assert names[:3] == [r[0] for r in rows] and len(set(names)) == len(names)
    assert report["added"] == len(names) - 3 <= 6 and report["added"] >= 4
    by_brand = {r.name: r.brand for r in first}
    assert all(by_brand[n] == "Darlie" for n in names if "darlie" in n.lower())
    assert all(r.category == "Toothpaste" for r in first)


def test_validate_reports_jsonl_problems_with_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([
        json.dumps({"name": "Colgate Total 150g", "brand": "Colgate", "category": "Toothpaste"}),
        '{"name": "broken", "brand": ',
        json.dumps({"name": "ยาสีฟัน 150 กรัม", "category": "Toothpaste"}),
        json.dumps({"name": "Optic White 85g", "brand": "Colgate"}),
    ]) + "\n", encoding="utf-8")
    report = validate(path)
    assert report["malformed"][0]["location"] == f"{path}:2" and "malformed JSON" in report["malformed"][0]["problem"]
    assert [(e["line"], e["field"]) for e in report["empty_fields"]] == [(3, "brand")]
    assert report["missing_category"] == {"count": 1, "lines": [4]}
    assert [u["line"] for u in report["unaligned"]["brand"]] == [4]
    assert report["valid"] is False and report["scripts"] == {"th": 0, "en": 2, "mixed": 0, "other": 0}


def test_validate_rejects_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        validate(tmp_path / "absent.txt")


def test_entity_distribution_counts_spans_labels_and_rare_brands(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("name\tbrand\tcategory\n" + "".join(f"{n}\t{b}\t{c}\n" for n, b, c in (
        ("Colgate Total 150g", "Colgate", "Toothpaste"), ("ยาสีฟันคอลเกต 150 กรัม", "Colgate", "Toothpaste"),
        ("Optic White 85g", "Colgate", "Toothpaste"), ("Darlie Double Action 80g", "Darlie", ""))), encoding="utf-8")
    (tmp_path / "aliases.json").write_text(json.dumps({"brands": ALIASES.brands, "categories": ALIASES.categories}),
                                           encoding="utf-8")
    out = Console(record=True, width=120)
    result = analyze_entity_distribution(path, min_examples=2, console=out)
    brand, category = result["entities"]["BRAND"], result["entities"]["CATEGORY"]
    assert (brand["labelled"], brand["with_span"], brand["match"]["alias"]) == (4, 3, 1)
    assert brand["top"][0] == {"label": "Colgate", "count": 3, "with_span": 2}
    assert brand["span_scripts"] == {"th": 1, "en": 2, "mixed": 0, "other": 0}
    assert (category["labelled"], category["with_span"]) == (3, 1)
    assert result["rare_brands"] == [{"brand": "Darlie", "count": 1}]
    printed = out.export_text()
    assert "BRAND" in printed and "CATEGORY" in printed and "Darlie (1)" in printed


def test_language_filter_counts_mixed_names_for_both():
    names = ["Colgate Total 150g", "ยาสีฟันคอลเกต", "ยาสีฟัน Colgate", "12345"]
    assert select_names(names, ["en"]) == ["Colgate Total 150g", "ยาสีฟัน Colgate"]
    assert select_names(names, ["th"]) == ["ยาสีฟันคอลเกต", "ยาสีฟัน Colgate"]
    assert select_names(names, ["en", "th"]) == names[:3]
    with pytest.raises(ValueError, match="unsupported language"):
        select_names(names, ["fr"])


def test_label_counts_merge_spellings_of_one_brand():
    from training.preprocessing.ner_data_preparation import _count_labels

    assert _count_labels(["Lay's", "LAYS", "Lay's", "Oreo"]) == {"Lay's": 3, "Oreo": 1}
