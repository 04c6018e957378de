"""Catalogue batch files in S3: the checked input, one part file per Map batch, then one results
file in input order.

Step Functions' JSONL item reader fails the whole run on a line that is not JSON, so the input is
first copied to `<prefix>checked.jsonl`: one JSON object per input line, in order, each unreadable
line (invalid UTF-8, empty, malformed JSON, not an object: `inference.records`' rules) replaced by
an `{"_error": "s3://bucket/key line 7: malformed JSON: ..."}` marker that becomes that line's
error row. The Distributed Map runs batches in any order and keeps only small references in its
state, so each batch writes `<prefix>parts/<first index>.jsonl` (rows with their `index`), and the
merge streams the parts, in index order, into `<prefix>results.jsonl`, checking that every line
of the input is there exactly once: a batch never loses a row silently.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from inference.aws import client
from inference.records import iter_json_objects, write_jsonl

INDEX_DIGITS = 10  # zero padding: part names sort in index order
UNREADABLE = "_error"  # the one key of a checked-copy line that stands for an unreadable input line
MAX_RECORD_BYTES = 64 * 1024  # a Map item (and a batch of them) must stay well under 256 KiB
CHUNK_BYTES = 1024 * 1024


class MissingRows(RuntimeError):
    """The parts do not hold every input index exactly once."""


class MissingInput(ValueError):
    """The catalogue named in the execution input is not in S3."""


def checked_key(output_prefix: str) -> str:
    return f"{output_prefix}checked.jsonl"


def check_catalogue(bucket: str, key: str, output_prefix: str) -> dict[str, Any]:
    """Copy s3://bucket/key to `<output_prefix>checked.jsonl`, streaming: one JSON object line per
    input line, unreadable lines (and records over MAX_RECORD_BYTES) as `{"_error": ...}` markers
    naming the file and line. Returns {"checked_key", "rows", "unreadable"}."""
    source = f"s3://{bucket}/{key}"
    unreadable = 0

    def checked() -> Iterator[dict[str, Any]]:
        nonlocal unreadable
        for number, obj, problem in iter_json_objects(_lines(bucket, key)):
            size = len(json.dumps(obj, ensure_ascii=False).encode()) if obj is not None else 0
            if problem is None and size > MAX_RECORD_BYTES:
                problem = f"the record is {size} bytes of JSON; the limit is {MAX_RECORD_BYTES}"
            if problem is not None:
                unreadable += 1
                yield {UNREADABLE: f"{source} line {number}: {problem}"}
            else:
                yield obj

    target = checked_key(output_prefix)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checked.jsonl"
        rows = write_jsonl(checked(), path)
        client("s3").upload_file(str(path), bucket, target)
    return {"checked_key": target, "rows": rows, "unreadable": unreadable}


def unreadable_line(record: Any) -> str | None:
    """The problem a checked-copy marker carries (it names the file and line), else None."""
    if isinstance(record, dict) and set(record) == {UNREADABLE} and isinstance(record[UNREADABLE], str):
        return record[UNREADABLE]
    return None


def _lines(bucket: str, key: str) -> Iterator[bytes]:
    """The object's lines, split on "\\n" only (as a file opened "rb" splits them), read in chunks."""
    s3 = client("s3")
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.NoSuchKey:
        raise MissingInput(f"s3://{bucket}/{key}: no such object (the execution input's bucket and key)") from None
    pending = b""
    for chunk in body.iter_chunks(CHUNK_BYTES):
        *lines, pending = (pending + chunk).split(b"\n")
        yield from lines
    if pending:
        yield pending


def parts_prefix(output_prefix: str) -> str:
    return f"{output_prefix}parts/"


def part_key(output_prefix: str, first_index: int) -> str:
    return f"{parts_prefix(output_prefix)}{first_index:0{INDEX_DIGITS}d}.jsonl"


def results_key(output_prefix: str) -> str:
    return f"{output_prefix}results.jsonl"


def write_part(bucket: str, output_prefix: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Upload a batch's rows (each with `index`) as one part file; its reference for the Map result."""
    if not rows:
        raise ValueError("a part needs at least one row")
    rows = sorted(rows, key=lambda r: r["index"])
    key = part_key(output_prefix, rows[0]["index"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part.jsonl"
        write_jsonl(rows, path)
        client("s3").upload_file(str(path), bucket, key)
    return {"part_key": key, "rows": len(rows), "errors": sum("error" in r for r in rows),
            "first_index": rows[0]["index"], "last_index": rows[-1]["index"]}


def list_parts(bucket: str, output_prefix: str) -> list[str]:
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=parts_prefix(output_prefix))
    return [obj["Key"] for page in pages for obj in page.get("Contents", []) if obj["Key"].endswith(".jsonl")]


def merge_parts(bucket: str, output_prefix: str, keys: Iterable[str] | None = None,
                expected_rows: int | None = None) -> dict[str, Any]:
    """Write the results file from the parts (all under the prefix when `keys` is None), in index
    order without `index`; MissingRows, and nothing written, unless the indices are exactly
    0..N-1 (N = `expected_rows`, else the largest index + 1)."""
    keys = sorted(set(keys) if keys is not None else list_parts(bucket, output_prefix))
    tally = _Tally()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.jsonl"
        rows = write_jsonl(tally.check(_rows_of(bucket, keys)), path)
        problems = tally.problems(expected_rows)
        if problems:
            raise MissingRows(f"s3://{bucket}/{parts_prefix(output_prefix)}: {problems}; results not written")
        key = results_key(output_prefix)
        client("s3").upload_file(str(path), bucket, key)
    return {"results_key": key, "rows": rows, "errors": tally.errors}


def _rows_of(bucket: str, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
    s3 = client("s3")
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        rows = [json.loads(line) for line in body.iter_lines() if line.strip()]
        yield from sorted(rows, key=lambda r: r["index"])


class _Tally:
    """Follows the indices as rows stream past: gaps, repeats and error rows."""

    def __init__(self):
        self.next = 0
        self.missing: list[tuple[int, int]] = []
        self.repeated: list[int] = []
        self.errors = 0

    def check(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            index = row.pop("index")
            if index < self.next:
                self.repeated.append(index)
                continue
            if index > self.next:
                self.missing.append((self.next, index - 1))
            self.next = index + 1
            self.errors += "error" in row
            yield row

    def problems(self, expected_rows: int | None) -> str:
        if expected_rows is not None and self.next < expected_rows:
            self.missing.append((self.next, expected_rows - 1))
        found = []
        if self.missing:
            found.append("rows missing at indices " + ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.missing))
        if self.repeated:
            found.append("rows repeated at indices " + ", ".join(map(str, sorted(set(self.repeated)))))
        if expected_rows is not None and self.next > expected_rows:
            found.append(f"{self.next} rows found, {expected_rows} expected")
        return "; ".join(found)
