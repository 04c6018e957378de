import json

import pytest

from inference.records import CatalogError, Record, RecordError, iter_records, load_catalog, write_jsonl


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_jsonl_good_and_bad_lines_keep_their_order(tmp_path):
    path = _write(tmp_path / "names.jsonl", b"\n".join([
        json.dumps({"id": "a", "name": "Colgate Total 150g", "brand": "Colgate"}).encode(),
        b'{"id": "b", "name": "broken',
        b"\xff\xfe not utf-8",
        b"",
        b"[1, 2]",
        json.dumps({"id": 7, "name": "Mama Tom Yum"}).encode(),
        json.dumps({"id": "c", "name": 5}).encode(),
    ]) + b"\n")
    items = list(iter_records(path, require_brand=False))
    assert len(items) == 7
    assert isinstance(items[0], Record) and items[0].brand == "Colgate" and items[0].line == 1
    assert isinstance(items[1], RecordError) and "names.jsonl:2: malformed JSON" in items[1].message
    assert isinstance(items[2], RecordError) and "invalid UTF-8 at byte 0" in items[2].message
    assert isinstance(items[3], RecordError) and ":4: empty line" in items[3].message
    assert isinstance(items[4], RecordError) and "expected a JSON object" in items[4].message
    assert isinstance(items[5], Record) and items[5].id == "7"
    assert isinstance(items[6], RecordError) and "'name' must be a string" in items[6].message and items[6].id == "c"


def test_brand_required_for_training_records(tmp_path):
    path = _write(tmp_path / "c.jsonl", json.dumps({"name": "Mama Tom Yum"}).encode() + b"\n")
    (item,) = iter_records(path, require_brand=True)
    assert isinstance(item, RecordError) and "'brand' is missing" in item.message


def test_tsv_with_header(tmp_path):
    path = _write(tmp_path / "c.tsv", "name\tbrand\tcategory\nมาม่า ต้มยำกุ้ง 55g\tMama\tInstant Noodles\n"
                  "Lay's Classic 75g\tLay's\n".encode())
    first, second = iter_records(path)
    assert (first.name, first.brand, first.category) == ("มาม่า ต้มยำกุ้ง 55g", "Mama", "Instant Noodles")
    assert second.category is None and second.line == 3


def test_tsv_without_header_is_refused_naming_the_file(tmp_path):
    path = _write(tmp_path / "c.txt", b"Lay's Classic\tLay's\n")
    with pytest.raises(ValueError, match=r"c.txt:1: tab-separated files start with the header"):
        list(iter_records(path))


def test_tsv_too_many_fields(tmp_path):
    path = _write(tmp_path / "c.tsv", b"name\tbrand\tcategory\na\tb\tc\td\n")
    (item,) = iter_records(path)
    assert isinstance(item, RecordError) and "4 tab-separated fields, the header has 3" in item.message


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unsupported file type '.csv'"):
        list(iter_records(tmp_path / "x.csv"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(iter_records(tmp_path / "x.jsonl"))


def test_load_catalog_lists_every_bad_row(tmp_path):
    path = _write(tmp_path / "cat.jsonl", b"\n".join([
        json.dumps({"name": "Colgate 150g", "brand": "Colgate"}).encode(),
        json.dumps({"name": "   ", "brand": "Colgate"}).encode(),
        json.dumps({"name": "x" * 600, "brand": "X"}).encode(),
        json.dumps({"name": "no brand"}).encode(),
    ]) + b"\n")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    text = str(err.value)
    assert "3 invalid row(s)" in text
    assert "cat.jsonl:2: name is empty or blank" in text
    assert "cat.jsonl:3: name is 600 characters long" in text
    assert "cat.jsonl:4: field 'brand' is missing" in text


def test_write_jsonl_keeps_thai_readable(tmp_path):
    out = tmp_path / "out.jsonl"
    assert write_jsonl([{"brand": "มาม่า"}, {"error": "x"}], out) == 2
    assert out.read_text(encoding="utf-8").splitlines()[0] == '{"brand": "มาม่า"}'
