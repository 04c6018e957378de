"""Labelled queries: the manual's test_queries.json + ground_truth.json, or labelled records.

`test_queries.json` is a JSON list of `{"id", "query"}` objects (or of strings: ids q1, q2, ... by
position), optionally with `brand`/`category` inline; `ground_truth.json` maps a query id to
`{"brand", "category"}`. Any other file is read as labelled records by `inference.records`. One
loader for the accuracy validator, the hybrid optimiser and the calibration analysis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.normalize import InvalidName, normalize_name, script_of


class QueryFileError(ValueError):
    """A problem with a queries, ground-truth or records file; the message names the file and entry."""


@dataclass
class Case:
    """One labelled query; `where` names its file and entry for error messages."""

    id: str
    query: str
    brand: str
    category: str | None
    where: str
    text: str = ""  # the normalised query, what the agents see

    @property
    def script(self) -> str:
        return script_of(self.text)


def _read_json(path: Path, what: str) -> Any:
    from inference.records import read_json

    try:
        return read_json(path)
    except FileNotFoundError:
        raise QueryFileError(f"{what} {path}: no such file") from None
    except ValueError as exc:
        raise QueryFileError(str(exc)) from None


def _text(value: Any, where: str, field_name: str, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise QueryFileError(f"{where}: no '{field_name}'")
        return None
    if not isinstance(value, str):
        raise QueryFileError(f"{where}: '{field_name}' must be a string, got {type(value).__name__}")
    return value.strip()


def load_queries(path: Path) -> list[dict[str, Any]]:
    """[{"id", "query", "brand"?, "category"?, "where"}] from a JSON list of objects or strings."""
    doc = _read_json(path, "test queries")
    if not isinstance(doc, list):
        raise QueryFileError(f"{path}: expected a JSON list of queries, got a JSON {type(doc).__name__}")
    queries, seen = [], {}
    for n, entry in enumerate(doc, start=1):
        where = f"{path} entry {n}"
        if isinstance(entry, str):
            entry = {"query": entry}
        if not isinstance(entry, dict):
            raise QueryFileError(f"{where}: expected an object with 'id' and 'query' (or a string), got {type(entry).__name__}")
        query_id = entry.get("id", f"q{n}")
        if not isinstance(query_id, (str, int)) or isinstance(query_id, bool):
            raise QueryFileError(f"{where}: 'id' must be a string or a number")
        query_id = str(query_id)
        if query_id in seen:
            raise QueryFileError(f"{where}: id {query_id!r} repeats entry {seen[query_id]}")
        seen[query_id] = n
        where = f"{path} entry {n} (id {query_id!r})"
        query = _text(entry.get("query", entry.get("name")), where, "query", required=True)
        queries.append({"id": query_id, "query": query, "where": where,
                        "brand": _text(entry.get("brand"), where, "brand", False),
                        "category": _text(entry.get("category"), where, "category", False)})
    if not queries:
        raise QueryFileError(f"{path}: no queries")
    return queries


def load_ground_truth(path: Path) -> dict[str, dict[str, str | None]]:
    """{query id: {"brand", "category"}}; a plain string value is taken as the brand."""
    doc = _read_json(path, "ground truth")
    if not isinstance(doc, dict):
        raise QueryFileError(f"{path}: expected a JSON object keyed by query id, got a JSON {type(doc).__name__}")
    truth = {}
    for query_id, entry in doc.items():
        where = f"{path} entry {query_id!r}"
        if isinstance(entry, str):
            entry = {"brand": entry}
        if not isinstance(entry, dict):
            raise QueryFileError(f"{where}: expected an object with 'brand' and 'category', got {type(entry).__name__}")
        truth[query_id] = {"brand": _text(entry.get("brand"), where, "brand", True),
                           "category": _text(entry.get("category"), where, "category", False)}
    return truth


def _is_query_list(path: Path) -> bool:
    """A .json file holding one JSON list is a queries file; anything else is read as records."""
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8-sig")), list)
    except (ValueError, UnicodeDecodeError):
        return False


def _records_as_cases(path: Path) -> list[Case]:
    from inference.records import CatalogError, load_catalog

    try:
        records = load_catalog(path)
    except (CatalogError, ValueError, FileNotFoundError) as exc:
        raise QueryFileError(str(exc)) from None
    return [Case(r.id or f"line{r.line}", r.name, r.brand, r.category, f"{path}:{r.line}") for r in records]


def load_cases(test_queries: Path | None = None, ground_truth: Path | None = None,
               test_data: Path | None = None) -> list[Case]:
    """The labelled queries of the command's input files, normalised, in file order."""
    if test_queries and test_data:
        raise QueryFileError("give --test-queries or --test-data, not both")
    source = test_queries or test_data
    if source is None:
        raise QueryFileError("no test data: give --test-queries QUERIES.json --ground-truth TRUTH.json, or --test-data FILE")
    if test_queries or _is_query_list(source):
        truth = load_ground_truth(ground_truth) if ground_truth else {}
        cases = []
        for q in load_queries(source):
            label = truth.get(q["id"]) or {}
            brand = label.get("brand") or q["brand"]
            if not brand:
                hint = f"{ground_truth} has no entry for it" if ground_truth else "give --ground-truth or a 'brand' in the entry"
                raise QueryFileError(f"{q['where']}: no ground truth ({hint})")
            cases.append(Case(q["id"], q["query"], brand, label.get("category") or q["category"], q["where"]))
    else:
        if ground_truth:
            raise QueryFileError(f"--ground-truth goes with a queries file; {source} is read as labelled records")
        cases = _records_as_cases(source)
    for case in cases:
        try:
            case.text = normalize_name(case.query)
        except InvalidName as exc:
            raise QueryFileError(f"{case.where}: {exc}") from None
    return cases
