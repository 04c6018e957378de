"""The catalogue batch tasks: check_catalogue copying the input with its unreadable lines marked,
batch_predict over Map item batches (real local pipeline) writing part files to S3 (moto),
merge_results putting them back in input order and refusing to lose a row."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from inference import batch_results
from inference.batch_results import MissingRows
from inference.pipeline_steps import InvalidEvent
from inference.records import parse_record
from lambdas import batch_predict, check_catalogue, merge_results
from tests.conftest import SAMPLE
from tests.integration.lambdas.conftest import metric_values, without_latency

BUCKET, KEY, PREFIX = "data", "incoming/catalogue.jsonl", "results/run-1/"
DEMO = [json.loads(line) for line in (SAMPLE / "demo_names.jsonl").read_text(encoding="utf-8").splitlines()]
BAD = {3: {"id": "b1", "name": "  "}, 7: {"id": "b2"}, 11: ["not", "an", "object"], 14: {"id": "b4", "name": 12},
       18: {"id": "b5", "name": "ก" * 501}}
PROBLEMS = {3: "name is empty or blank", 7: "field 'name' is missing", 11: "expected a JSON object, got list",
            14: "field 'name' must be a string, got int", 18: "name is 501 characters long; the limit is 500"}


def catalogue() -> list:
    """20 records, the bad ones at the BAD indices, in file order."""
    good = iter(DEMO + [{"id": f"c{i}", "name": n} for i, n in enumerate(["COLGATE Total 150g", "มาม่า รสต้มยำกุ้ง",
                                                                            "Lay's Classic 75g", "Sony WH-1000XM5",
                                                                            "Downy Sunrise Fresh 500ml"])])
    return [BAD[i] if i in BAD else next(good) for i in range(20)]


def batch_event(records: list, first: int, size: int) -> dict:
    items = [{"index": i, "record": records[i]} for i in range(first, min(first + size, len(records)))]
    return {"Items": items, "BatchInput": {"bucket": BUCKET, "output_prefix": PREFIX, "key": KEY,
                                           "execution": "run-1"}}


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def read_jsonl(s3, key: str) -> list[dict]:
    return [json.loads(line) for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()]


def test_a_batch_writes_one_row_per_item_with_bad_records_as_error_rows(agent, s3, capsys):
    records = catalogue()
    capsys.readouterr()
    result = batch_predict.handler(batch_event(records, 0, 20), None)
    values = metric_values(capsys.readouterr().out)
    assert result == {"part_key": f"{PREFIX}parts/0000000000.jsonl", "rows": 20, "errors": len(BAD),
                      "first_index": 0, "last_index": 19}
    rows = read_jsonl(s3, result["part_key"])
    assert [r["index"] for r in rows] == list(range(20))
    local = agent.predict_batch([parse_record(r, "x") for r in records])
    for i, (row, expected) in enumerate(zip(rows, local)):
        if i in BAD:
            assert row["error"] == f"s3://{BUCKET}/{KEY} line {i + 1}: {PROBLEMS[i]}" and set(row) == {"index", "id", "name", "error"}
        else:
            assert "error" not in row and row["id"] == records[i]["id"] and row["name"] == records[i]["name"]
            assert without_latency({k: v for k, v in row.items() if k != "index"}) == without_latency(expected)
    assert sum(values["InvalidInput"]) == len(BAD) and len(values["InvalidInput"]) == 20
    assert len(values["NerLatency"]) == 20 - len(BAD) and len(values["FinalConfidence"]) == 20 - len(BAD)
    assert sum(values["EarlyStop"]) == sum(r.get("decided_by") in ("ner", "rag") for r in rows)


def test_merge_puts_the_parts_back_in_input_order(agent, s3):
    records = catalogue()
    parts = [batch_predict.handler(batch_event(records, first, 6), None) for first in (18, 6, 0, 12)]
    assert [p["part_key"] for p in parts][0] == f"{PREFIX}parts/0000000018.jsonl"
    merged = merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "parts": parts}, None)
    assert merged == {"results_key": f"{PREFIX}results.jsonl", "rows": 20, "errors": len(BAD)}
    rows = read_jsonl(s3, merged["results_key"])
    assert len(rows) == 20 and all("index" not in r for r in rows)
    assert [r["id"] for r in rows] == [r.get("id") if isinstance(r, dict) else None for r in records]
    assert [i for i, r in enumerate(rows) if "error" in r] == sorted(BAD)
    # without the Map's results, the parts are listed under the prefix
    again = merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX}, None)
    assert again == merged and read_jsonl(s3, merged["results_key"]) == rows


def test_a_missing_part_is_an_error_naming_the_indices_and_nothing_is_written(agent, s3):
    records = catalogue()
    parts = [batch_predict.handler(batch_event(records, first, 5), None) for first in (0, 5, 10, 15)]
    s3.delete_object(Bucket=BUCKET, Key=parts[1]["part_key"])
    with pytest.raises(MissingRows, match="rows missing at indices 5-9; results not written"):
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX}, None)
    with pytest.raises(MissingRows, match="rows missing at indices 5-9"):  # the Map said 4 parts of 5 rows
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "parts": [parts[0], *parts[2:]]}, None)
    s3.delete_object(Bucket=BUCKET, Key=parts[3]["part_key"])
    with pytest.raises(MissingRows, match="rows missing at indices 5-9, 15-19"):
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "expected_rows": 20}, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}results")


def test_a_repeated_index_is_refused(agent, s3):
    records = catalogue()
    batch_predict.handler(batch_event(records, 0, 4), None)
    batch_predict.handler(batch_event(records, 2, 4), None)  # overlaps 2-3
    with pytest.raises(MissingRows, match="rows repeated at indices 2, 3"):
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX}, None)


@pytest.mark.parametrize("event, problem", [
    ({"Items": [{"index": 0, "record": {"name": "x"}}]}, "BatchInput"),
    ({"Items": [], "BatchInput": {"bucket": BUCKET, "output_prefix": PREFIX}}, "Items is missing or empty"),
    ({"Items": [{"index": 0, "record": {}}], "BatchInput": {"bucket": BUCKET, "output_prefix": "no-slash"}},
     "output_prefix ending in '/'"),
    ({"Items": [{"record": {"name": "x"}}], "BatchInput": {"bucket": BUCKET, "output_prefix": PREFIX}},
     r"Items\[0\] has index None"),
    ({"Items": [{"index": 0}], "BatchInput": {"bucket": BUCKET, "output_prefix": PREFIX}},
     r"Items\[0\] must be an object with 'index' and 'record'"),
])
def test_a_malformed_batch_event_is_refused_before_anything_is_written(agent, s3, event, problem):
    with pytest.raises(InvalidEvent, match=problem):
        batch_predict.handler(event, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_merge_refuses_a_malformed_event(s3):
    with pytest.raises(InvalidEvent, match="parts must be the Map's results"):
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "parts": [{"Error": "States.TaskFailed"}]}, None)
    with pytest.raises(InvalidEvent, match="output_prefix ending in '/'"):
        merge_results.handler({"bucket": BUCKET}, None)


# -- the checked copy ----------------------------------------------------------------------------
RAW = [  # (line bytes, what the checked copy holds: the object, or the marker's problem)
    (b"\xef\xbb\xbf" + json.dumps({"id": "a", "name": "COLGATE Total 150g"}).encode(), {"id": "a", "name": "COLGATE Total 150g"}),
    (json.dumps({"id": "b", "name": "มาม่า รสต้มยำกุ้ง", "extra": [1, 2]}, ensure_ascii=False).encode() + b"\r",
     {"id": "b", "name": "มาม่า รสต้มยำกุ้ง", "extra": [1, 2]}),
    (b'{"id": "c", "name": "Lay\\u0027s 75g"', "malformed JSON: Expecting ',' delimiter (column 37)"),
    (b"   ", "empty line"),
    (b'"just a string"', "expected a JSON object, got str"),
    (b'{"id": "d", "name": "caf\xe9"}', "invalid UTF-8 at byte 24"),
    (b'{"id": "e"}', {"id": "e"}),  # a bad record, but an object: batch_predict names its problem
    (b'{"id": "f", "name": "' + b"x" * 70000 + b'"}',
     f"the record is {len(json.dumps({'id': 'f', 'name': 'x' * 70000}))} bytes of JSON; the limit is 65536"),
    (b'{"id": "g", "name": "Sony WH-1000XM5"}', {"id": "g", "name": "Sony WH-1000XM5"}),  # no final newline
]


def put_raw(s3, lines: list[bytes]) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"\n".join(lines))


@pytest.mark.parametrize("chunk_bytes", [batch_results.CHUNK_BYTES, 7])  # 7: lines split across reads
def test_check_copies_every_line_as_one_object_marking_the_unreadable_ones(s3, monkeypatch, chunk_bytes):
    monkeypatch.setattr(batch_results, "CHUNK_BYTES", chunk_bytes)
    put_raw(s3, [line for line, _ in RAW])
    result = check_catalogue.handler({"bucket": BUCKET, "key": KEY, "output_prefix": PREFIX}, None)
    assert result == {"checked_key": f"{PREFIX}checked.jsonl", "rows": len(RAW), "unreadable": 5}
    checked = read_jsonl(s3, result["checked_key"])
    assert len(checked) == len(RAW)
    for number, ((_, expected), found) in enumerate(zip(RAW, checked), start=1):
        if isinstance(expected, dict):
            assert found == expected, number
        else:
            assert found == {"_error": f"s3://{BUCKET}/{KEY} line {number}: {expected}"}, number


def test_check_keeps_a_blank_last_line_as_an_error_row_as_the_local_loader_does(s3, tmp_path):
    from inference.records import RecordError, iter_records

    body = b'{"id": "a", "name": "x"}\n\n'  # a trailing newline ends line 1; the empty line 2 is a line
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=body)
    result = check_catalogue.handler({"bucket": BUCKET, "key": KEY, "output_prefix": PREFIX}, None)
    (tmp_path / "c.jsonl").write_bytes(body)
    local = list(iter_records(tmp_path / "c.jsonl", require_brand=False))
    assert result["rows"] == len(local) == 2 and isinstance(local[1], RecordError)
    assert read_jsonl(s3, result["checked_key"])[1] == {"_error": f"s3://{BUCKET}/{KEY} line 2: empty line"}


def test_check_refuses_a_missing_catalogue_and_a_malformed_event(s3):
    with pytest.raises(InvalidEvent, match=f"s3://{BUCKET}/missing.jsonl: no such object"):
        check_catalogue.handler({"bucket": BUCKET, "key": "missing.jsonl", "output_prefix": PREFIX}, None)
    with pytest.raises(InvalidEvent, match="output_prefix ending in '/'"):
        check_catalogue.handler({"bucket": BUCKET, "key": KEY, "output_prefix": "no-slash"}, None)
    with pytest.raises(InvalidEvent, match="a bucket, a key"):
        check_catalogue.handler({"bucket": BUCKET, "output_prefix": PREFIX}, None)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])] == []


def map_items(s3, key: str) -> list[dict]:
    """What the Map's ItemSelector makes of the checked copy's lines: {"index", "record"}."""
    return [{"index": i, "record": r} for i, r in enumerate(read_jsonl(s3, key))]


def test_check_predict_merge_give_one_row_per_input_line_in_order(agent, s3):
    put_raw(s3, [line for line, _ in RAW])
    checked = check_catalogue.handler({"bucket": BUCKET, "key": KEY, "output_prefix": PREFIX}, None)
    items = map_items(s3, checked["checked_key"])
    batch_input = {"bucket": BUCKET, "output_prefix": PREFIX, "key": KEY}
    parts = [batch_predict.handler({"Items": items[first:first + 4], "BatchInput": batch_input}, None)
             for first in (8, 4, 0)]
    merged = merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "expected_rows": checked["rows"]}, None)
    assert merged == {"results_key": f"{PREFIX}results.jsonl", "rows": len(RAW), "errors": 6}
    rows = read_jsonl(s3, merged["results_key"])
    for number, ((_, expected), row) in enumerate(zip(RAW, rows), start=1):
        if isinstance(expected, dict) and "name" in expected:
            assert row["id"] == expected["id"] and "error" not in row, number
        elif isinstance(expected, dict):
            assert row["error"] == f"s3://{BUCKET}/{KEY} line {number}: field 'name' is missing", number
        else:
            assert row == {"id": None, "name": None, "error": f"s3://{BUCKET}/{KEY} line {number}: {expected}"}, number
    assert sum(p["rows"] for p in parts) == len(RAW)


def test_a_missing_last_batch_is_caught_by_the_checked_row_count(agent, s3):
    put_raw(s3, [line for line, _ in RAW])
    checked = check_catalogue.handler({"bucket": BUCKET, "key": KEY, "output_prefix": PREFIX}, None)
    items = map_items(s3, checked["checked_key"])
    batch_input = {"bucket": BUCKET, "output_prefix": PREFIX, "key": KEY}
    for first in (0, 4):  # the batch of lines 9 (index 8) onwards never ran
        batch_predict.handler({"Items": items[first:first + 4], "BatchInput": batch_input}, None)
    with pytest.raises(MissingRows, match="rows missing at indices 8; results not written"):
        merge_results.handler({"bucket": BUCKET, "output_prefix": PREFIX, "expected_rows": checked["rows"]}, None)
