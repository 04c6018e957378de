"""The one record loader: JSONL or tab-separated product files, validated line by line.

A batch never loses a row: each line of the input yields either a `Record` or a `RecordError`
that names the file, the line and the problem, in input order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TSV_SUFFIXES = {".tsv", ".txt"}
TSV_COLUMNS = ("name", "brand", "category")


@dataclass
class Record:
    name: str
    brand: str | None = None
    category: str | None = None
    id: str | None = None
    line: int | None = None
    extra: dict[str, Any] | None = None


@dataclass
class RecordError:
    """A line that could not be read as a record; `message` says where and what."""

    line: int
    message: str
    id: str | None = None
    name: str | None = None


class CatalogError(ValueError):
    """A catalogue (training input) with invalid rows; the message lists them."""


def _optional_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field '{field}' must be a string or null, got {type(value).__name__}")
    return value.strip() or None


def parse_record(obj: Any, where: str, require_brand: bool = False) -> Record | RecordError:
    """One decoded JSON value as a record, or a RecordError "<where>: <problem>" (events and
    S3 items that arrive already parsed, e.g. a Step Functions Map item)."""
    if not isinstance(obj, dict):
        return RecordError(0, f"{where}: expected a JSON object, got {type(obj).__name__}")
    try:
        return _from_mapping(obj, None, require_brand)
    except ValueError as exc:
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        return RecordError(0, f"{where}: {exc}", id=_id_or_none(obj), name=name)


def _from_mapping(obj: dict[str, Any], line: int | None, require_brand: bool) -> Record:
    if "name" not in obj:
        raise ValueError("field 'name' is missing")
    name = obj["name"]
    if not isinstance(name, str):
        raise ValueError(f"field 'name' must be a string, got {type(name).__name__}")
    brand = _optional_text(obj.get("brand"), "brand")
    if require_brand and not brand:
        raise ValueError("field 'brand' is missing or empty")
    record_id = obj.get("id")
    if record_id is not None and not isinstance(record_id, (str, int)):
        raise ValueError(f"field 'id' must be a string or number, got {type(record_id).__name__}")
    extra = {k: v for k, v in obj.items() if k not in ("name", "brand", "category", "id")} or None
    return Record(name=name, brand=brand, category=_optional_text(obj.get("category"), "category"),
                  id=None if record_id is None else str(record_id), line=line, extra=extra)


def _decode_lines(handle: Iterable[bytes]) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, problem) for each line; the problem is bad UTF-8 or an empty line."""
    for number, raw in enumerate(handle, start=1):
        raw = raw.rstrip(b"\r\n")
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark, as spreadsheet exports write it
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, None, f"invalid UTF-8 at byte {exc.start}"
            continue
        yield number, text, None if text.strip() else "empty line"


def iter_records(path: str | Path, require_brand: bool = True) -> Iterator[Record | RecordError]:
    """Records of a JSONL or tab-separated file, each bad line as a RecordError (in order)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES | TSV_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use .jsonl or tab-separated .tsv/.txt")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open("rb") as handle:
        if suffix in JSONL_SUFFIXES:
            yield from _jsonl(path, handle, require_brand)
        else:
            yield from _tsv(path, _decode_lines(handle), require_brand)


def iter_json_objects(lines: Iterable[bytes]) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, JSON object, problem) for each line of JSONL bytes (a file opened "rb", or
    the lines of a stream): the object, or why the line holds none (invalid UTF-8, empty line,
    malformed JSON, not an object)."""
    for number, text, problem in _decode_lines(lines):
        if problem:
            yield number, None, problem
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield number, None, f"malformed JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(obj, dict):
            yield number, None, f"expected a JSON object, got {type(obj).__name__}"
            continue
        yield number, obj, None


def _jsonl(path: Path, handle: Iterable[bytes], require_brand: bool) -> Iterator[Record | RecordError]:
    for number, obj, problem in iter_json_objects(handle):
        if problem:
            yield RecordError(number, f"{path}:{number}: {problem}")
            continue
        try:
            yield _from_mapping(obj, number, require_brand)
        except ValueError as exc:
            name = obj.get("name") if isinstance(obj.get("name"), str) else None
            yield RecordError(number, f"{path}:{number}: {exc}", id=_id_or_none(obj), name=name)


def _id_or_none(obj: dict[str, Any]) -> str | None:
    value = obj.get("id")
    return str(value) if isinstance(value, (str, int)) else None


def _tsv(path: Path, lines: Iterable, require_brand: bool) -> Iterator[Record | RecordError]:
    lines = iter(lines)
    try:
        _, header_text, problem = next(lines)
    except StopIteration:
        return
    header = [] if problem else [h.strip().lower() for h in header_text.split("\t")]
    needed = ["name", "brand"] if require_brand else ["name"]
    if problem or any(col not in header for col in needed):
        raise ValueError(
            f"{path}:1: tab-separated files start with the header 'name<TAB>brand<TAB>category' "
            f"(got {header_text!r})"
        )
    columns = {col: header.index(col) for col in ("id", *TSV_COLUMNS) if col in header}
    for number, text, problem in lines:
        if problem:
            yield RecordError(number, f"{path}:{number}: {problem}")
            continue
        cells = text.split("\t")
        if len(cells) > len(header):
            yield RecordError(number, f"{path}:{number}: {len(cells)} tab-separated fields, the header has {len(header)}")
            continue
        obj = {col: (cells[i] if i < len(cells) else None) for col, i in columns.items()}
        try:
            yield _from_mapping(obj, number, require_brand)
        except ValueError as exc:
            yield RecordError(number, f"{path}:{number}: {exc}", id=obj.get("id"), name=obj.get("name"))


def load_catalog(path: str | Path) -> list[Record]:
    """A training catalogue: every row must be valid, or CatalogError lists the bad ones."""
    from inference.normalize import InvalidName, normalize_name

    records, errors = [], []
    for item in iter_records(path, require_brand=True):
        if isinstance(item, Record):
            try:
                normalize_name(item.name)
            except InvalidName as exc:
                item = RecordError(item.line, f"{path}:{item.line}: {exc}", id=item.id, name=item.name)
        (errors if isinstance(item, RecordError) else records).append(item)
    if errors:
        shown = "\n".join(f"  {e.message}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise CatalogError(f"{len(errors)} invalid row(s) in catalogue {path}:\n{shown}{more}")
    if not records:
        raise CatalogError(f"catalogue {path} has no records")
    return records


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write rows as JSONL (UTF-8, Thai kept readable); returns the row count."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_json(path: str | Path) -> Any:
    """A whole JSON document, from a file or an `s3://` URI (through the session factory); errors
    name the file and, for bad JSON, the line."""
    try:
        if str(path).startswith("s3://"):
            from inference.aws import client

            bucket, _, key = str(path)[5:].partition("/")
            text = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig")
        else:
            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            text = path.read_text(encoding="utf-8-sig")
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: malformed JSON: {exc.msg} (column {exc.colno})") from None
