"""Check an NER training file before training on it.

    python training/preprocessing/ner_data_validator.py --input training_dataset.txt --output validation_report.json

NER learns from spans derived from the labels (see ner_spans: the brand, or an alias from
`aliases.json` beside the input, found in the name on token boundaries), so a row whose label
cannot be placed in its name teaches nothing, and a name labelled twice differently teaches
both answers. The JSON report lists, by file:line, what to fix: malformed lines (bad UTF-8,
wrong field count, malformed JSON), empty names and brands, labels not found in their names,
duplicated names and conflicting labels; it counts scripts (th/en/mixed/other) and how spans
were found. `valid` is false when there are malformed lines, empty names or brands, or
conflicting labels; the rest are warnings. The command exits 0 whenever the report is written
(the report says whether the data is fit), 2 when the input cannot be read at all.

The loading, alignment and duplicate/conflict detection here are also what the cleaner
(ner_data_preparation) uses to decide what to drop.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table

from inference.brands import brand_key
from inference.config.settings import MAX_NAME_CHARS
from inference.normalize import InvalidName, normalize_name, script_of
from inference.records import Record, RecordError, iter_records
from inference.tokenization import Tokenizer
from training.preprocessing.ner_spans import AlignedName, Aliases, align_records, dictionary_words

# How a label was placed in its name, and the alignment confidence the cleaner filters on.
CONFIDENCE = {"exact": 1.0, "alias": 0.9, "approximate": 0.7, "missing": 0.0}
SCRIPTS = ("th", "en", "mixed", "other")

console = Console(stderr=True, soft_wrap=True)


@dataclass
class Row:
    """A readable record with its normalised name, its BIO alignment and how each label was found."""

    record: Record
    text: str
    aligned: AlignedName
    brand_match: str  # exact | alias | approximate | missing
    category_match: str | None  # the same, or None when the row has no category

    @property
    def confidence(self) -> float:
        """Alignment confidence of the row: that of its brand span (see CONFIDENCE)."""
        return CONFIDENCE[self.brand_match]

    def span(self, entity: str) -> tuple[int, int] | None:
        """Character offsets of the BRAND or CATEGORY span in `text`, or None."""
        inside = [t for t, tag in zip(self.aligned.tokens, self.aligned.tags) if tag[2:] == entity]
        return (inside[0].start, inside[-1].end) if inside else None

    def location(self, path: Path) -> str:
        return f"{path}:{self.record.line}"


@dataclass
class LoadedFile:
    """A records file split into aligned rows and the lines that could not be used."""

    path: Path
    aliases_path: Path | None
    aliases: Aliases
    tokenizer: Tokenizer
    rows: list[Row] = field(default_factory=list)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    empty_fields: list[dict[str, Any]] = field(default_factory=list)


def aliases_for(path: str | Path, aliases: str | Path | None = None) -> tuple[Aliases, Path | None]:
    """The alias table given, else `aliases.json` beside the input (as bootstrap does), else none."""
    if aliases is None and (Path(path).parent / "aliases.json").is_file():
        aliases = Path(path).parent / "aliases.json"
    return Aliases.load(aliases), Path(aliases) if aliases else None


def span_tokenizer(records: list[Record], aliases: Aliases) -> Tokenizer:
    """The word tokenizer bootstrap trains with: PyThaiNLP plus the catalogue's Thai labels and aliases."""
    return Tokenizer(dictionary_words(records, aliases))


def match_kind(span: str | None, label: str, forms: list[str]) -> str:
    """exact (the label itself), alias (another listed form), approximate (Thai tokens around it) or missing."""
    if span is None:
        return "missing"
    key = brand_key(span)
    if key == brand_key(label):
        return "exact"
    return "alias" if key in {brand_key(f) for f in forms} else "approximate"


def align_rows(records: list[Record], texts: list[str], aliases: Aliases, tokenizer: Tokenizer,
               progress: bool = False) -> list[Row]:
    """Rows for records whose names are already normalised into `texts`."""
    rows = []
    pairs = list(zip(records, texts))
    for record, text in track(pairs, description="aligning spans", console=console, transient=True,
                              disable=not progress or len(pairs) < 500 or not console.is_terminal):
        (aligned,) = align_records([Record(name=text, brand=record.brand, category=record.category)],
                                   aliases, tokenizer)
        brand = match_kind(aligned.brand_span, record.brand, aliases.forms("brands", record.brand))
        category = (match_kind(aligned.category_span, record.category, aliases.forms("categories", record.category))
                    if record.category else None)
        rows.append(Row(record, text, aligned, brand, category))
    return rows


def load_rows(path: str | Path, aliases: str | Path | None = None, progress: bool = False) -> LoadedFile:
    """Read, normalise and align a records file; unusable lines are kept aside with file:line.

    Raises FileNotFoundError / ValueError when the file cannot be read at all (missing, unsupported
    type, a TSV without its header)."""
    path = Path(path)
    alias_table, alias_path = aliases_for(path, aliases)
    malformed, empty, usable, texts = [], [], [], []
    for item in iter_records(path, require_brand=False):
        if isinstance(item, RecordError):
            malformed.append({"line": item.line, "location": f"{path}:{item.line}",
                              "problem": item.message.removeprefix(f"{path}:{item.line}: ")})
            continue
        where = {"line": item.line, "location": f"{path}:{item.line}"}
        try:
            text = normalize_name(item.name)
        except InvalidName as exc:
            # Normalising never lengthens a name much, so a short invalid name is an empty one.
            target = malformed if len(item.name) > MAX_NAME_CHARS else empty
            target.append({**where, "field": "name", "problem": str(exc)})
            continue
        if not item.brand:
            empty.append({**where, "field": "brand", "problem": "brand is missing or empty", "name": text})
            continue
        usable.append(item)
        texts.append(text)
    tokenizer = span_tokenizer(usable, alias_table)
    loaded = LoadedFile(path, alias_path, alias_table, tokenizer, malformed=malformed, empty_fields=empty)
    loaded.rows = align_rows(usable, texts, alias_table, tokenizer, progress)
    return loaded


def label_groups(rows: list[Row]) -> tuple[list[list[Row]], list[list[Row]]]:
    """(duplicates, conflicts) among rows, each a list of groups in input order.

    Conflict: the same normalised name ignoring case, labelled with different brands (by
    brand_key) or different categories (where both rows have one). Duplicate: the same
    normalised name, exactly, with the same labels (case-only variants are distinct examples).
    """
    by_name: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_name[row.text.casefold()].append(row)
    duplicates, conflicts = [], []
    for group in by_name.values():
        if len(group) < 2:
            continue
        brands = {brand_key(r.record.brand) for r in group}
        categories = {brand_key(r.record.category) for r in group if r.record.category}
        if len(brands) > 1 or len(categories) > 1:
            conflicts.append(group)
            continue
        exact: dict[str, list[Row]] = defaultdict(list)
        for row in group:
            exact[row.text].append(row)
        duplicates.extend(g for g in exact.values() if len(g) > 1)
    return duplicates, conflicts


def validate(path: str | Path, aliases: str | Path | None = None, progress: bool = False) -> dict[str, Any]:
    """The validation report of a records file (see the module docstring)."""
    loaded = load_rows(path, aliases, progress)
    path, rows = loaded.path, loaded.rows
    duplicates, conflicts = label_groups(rows)
    brand_matches = Counter(r.brand_match for r in rows)
    category_matches = Counter(r.category_match for r in rows if r.category_match)
    missing_category = [r.record.line for r in rows if not r.record.category]
    unaligned = {
        "brand": [{"line": r.record.line, "location": r.location(path), "name": r.text, "brand": r.record.brand}
                  for r in rows if r.brand_match == "missing"],
        "category": [{"line": r.record.line, "location": r.location(path), "name": r.text,
                      "category": r.record.category} for r in rows if r.category_match == "missing"],
    }
    scripts = Counter(script_of(r.text) for r in rows)
    counts = {
        "rows": len(rows) + len(loaded.malformed) + len(loaded.empty_fields),
        "usable_rows": len(rows),
        "malformed": len(loaded.malformed),
        "empty_fields": len(loaded.empty_fields),
        "missing_category": len(missing_category),
        "brands": len({brand_key(r.record.brand) for r in rows}),
        "categories": len({brand_key(r.record.category) for r in rows if r.record.category}),
        "brand_spans": {kind: brand_matches.get(kind, 0) for kind in CONFIDENCE},
        "category_spans": {kind: category_matches.get(kind, 0) for kind in CONFIDENCE},
        "duplicate_rows": sum(len(g) - 1 for g in duplicates),
        "conflicting_names": len(conflicts),
    }
    issues = _issues(counts, loaded, unaligned, duplicates, conflicts)
    return {
        "input": str(path),
        "aliases": str(loaded.aliases_path) if loaded.aliases_path else None,
        "valid": not any(i.startswith("error") for i in issues),
        "issues": issues,
        "counts": counts,
        "malformed": loaded.malformed,
        "empty_fields": loaded.empty_fields,
        "missing_category": {"count": len(missing_category), "lines": missing_category},
        "unaligned": unaligned,
        "duplicates": [{"name": g[0].text, "lines": [r.record.line for r in g]} for g in duplicates],
        "conflicts": [{"name": g[0].text, "lines": [r.record.line for r in g],
                       "labels": [{"line": r.record.line, "location": r.location(path), "name": r.text,
                                   "brand": r.record.brand, "category": r.record.category} for r in g]}
                      for g in conflicts],
        "scripts": {s: scripts.get(s, 0) for s in SCRIPTS},
    }


def _issues(counts, loaded: LoadedFile, unaligned, duplicates, conflicts) -> list[str]:
    issues = []
    if not loaded.rows:
        issues.append("error: no usable rows")
    if loaded.malformed:
        issues.append(f"error: {len(loaded.malformed)} malformed line(s), first {loaded.malformed[0]['location']}: "
                      f"{loaded.malformed[0]['problem']}")
    if loaded.empty_fields:
        first = loaded.empty_fields[0]
        issues.append(f"error: {len(loaded.empty_fields)} row(s) with an empty name or brand, first "
                      f"{first['location']}: {first['problem']}")
    if conflicts:
        first = conflicts[0]
        issues.append(f"error: {len(conflicts)} name(s) labelled differently on different lines, first "
                      f"{first[0].text!r} on lines {', '.join(str(r.record.line) for r in first)}")
    if unaligned["brand"]:
        issues.append(f"warning: {len(unaligned['brand'])} brand label(s) not found in their names "
                      f"(no BRAND span to learn from), first {unaligned['brand'][0]['location']}")
    if unaligned["category"]:
        issues.append(f"warning: {len(unaligned['category'])} category label(s) not found in their names")
    if duplicates:
        issues.append(f"warning: {counts['duplicate_rows']} duplicate row(s) of {len(duplicates)} name(s)")
    if counts["missing_category"]:
        issues.append(f"warning: {counts['missing_category']} row(s) without a category")
    return issues


app = typer.Typer(add_completion=False, help="Validate NER training data and write a JSON report.")


@app.command()
def main(input: Path = typer.Option(..., "--input", help="Records file: TSV (name<TAB>brand<TAB>category) or JSONL."),
         output: Path = typer.Option(..., "--output", help="Where to write the JSON report."),
         aliases: Optional[Path] = typer.Option(None, help="Alias table (JSON); default: aliases.json beside the input.")):
    """Validate a training file: malformed lines, empty fields, unplaceable labels, duplicates, conflicts."""
    from training.run_record import write_run_record

    try:
        report = validate(input, aliases, progress=True)
    except (FileNotFoundError, ValueError) as exc:  # missing, unsupported, or not a records file at all
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    _print_summary(report)
    run = write_run_record(output.parent, "ner-data-validation",
                           {"input": str(input), "output": str(output), "aliases": report["aliases"]},
                           [input, Path(report["aliases"]) if report["aliases"] else None],
                           {"valid": report["valid"], **report["counts"], "scripts": report["scripts"]})
    console.print(f"Report written to {output}; run record in {run}")


def _print_summary(report: dict[str, Any]) -> None:
    counts = report["counts"]
    table = Table(title=f"NER data validation: {report['input']}")
    table.add_column("check")
    table.add_column("count", justify="right")
    for label, value in (("rows", counts["rows"]), ("usable rows", counts["usable_rows"]),
                         ("malformed lines", counts["malformed"]), ("empty name/brand", counts["empty_fields"]),
                         ("without category", counts["missing_category"]),
                         ("brand not found in name", counts["brand_spans"]["missing"]),
                         ("duplicate rows", counts["duplicate_rows"]),
                         ("conflicting names", counts["conflicting_names"])):
        table.add_row(label, str(value))
    table.add_row("scripts", ", ".join(f"{k} {v}" for k, v in report["scripts"].items()))
    console.print(table)
    console.print("[green]valid[/green]" if report["valid"] else "[red]not valid[/red]")
    for issue in report["issues"]:
        console.print(f"  {issue}")


if __name__ == "__main__":
    app()
