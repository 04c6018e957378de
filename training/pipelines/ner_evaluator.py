"""NER evaluation and failure analysis of the manual ("NER Model Tuning -> 5. Evaluation and Validation").

    python training/pipelines/ner_evaluator.py --model-path models/ner_model --test-data test_dataset.txt \
        --output evaluation_report.json --detailed-analysis
    python training/pipelines/ner_evaluator.py --analyze-failures --model-path models/ner_model \
        --failure-output ner_failures.json

Gold tags are derived from the test records' labels exactly as training derives them
(`training.preprocessing.ner_spans.align_records`, with `aliases.json` beside the test file when
there is one). Predictions are the saved model's entities, whatever its backend, put back onto the
same word tokens as BIO tags (`tags_from_entities`), so every backend is scored the same way.
Entity-level scores come from seqeval; the end-to-end score is the NER agent's brand label (the
span mapped through the model's lexicon) compared with the record's brand by
`inference.brands.same_brand`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inference.agents.base import Entity
from inference.agents.ner_agent import NERAgent
from inference.agents.ner_crf import spans_from_tags
from inference.brands import brand_key, same_brand
from inference.normalize import script_of
from inference.records import CatalogError, Record, load_catalog
from inference.tokenization import Token, Tokenizer
from training.pipelines.local_bootstrap import SAMPLE_CATALOG
from training.preprocessing.ner_spans import Aliases, align_records
from training.run_record import write_run_record

DEFAULT_MODEL_PATH = Path("models/ner_model")
DEFAULT_TEST_DATA = Path("test_dataset.txt")
"""`--analyze-failures` without `--test-data` uses this file in the current folder if it exists,
else the project's sample catalogue (`data/sample/catalog.jsonl`)."""
ENTITY_TYPES = ("BRAND", "CATEGORY")
BATCH = 64
FAILURE_KINDS = {
    "missed_brand": "the name contains the brand but no span was predicted",
    "spurious_brand": "a BRAND span where the name has none (or an extra one beside the right one)",
    "wrong_boundary": "the predicted BRAND span overlaps the brand but does not match it",
    "wrong_type": "the brand was tagged as another type, or the category was tagged as BRAND",
    "brand_not_in_name": "the name does not contain the brand or an alias: its label cannot be extracted",
    "mislabelled": "the BRAND span is right but the lexicon maps it to a different label",
}


# -- evaluating one record ----------------------------------------------------------------------

@dataclass
class Evaluated:
    """One test record: its gold and predicted tags over the same word tokens, and the agent's labels."""

    record: Record
    text: str
    script: str
    tokens: list[Token]
    gold: list[str]
    pred: list[str]
    gold_spans: list[Entity]
    pred_spans: list[Entity]  # the model's entities snapped to the word tokens (with confidences)
    brand: str | None  # the NER agent's brand label (span mapped through the lexicon)
    category: str | None

    @property
    def brand_ok(self) -> bool:
        return same_brand(self.brand, self.record.brand)


def load_agent(model_path: str | Path) -> NERAgent:
    """The NER agent over a saved model folder, for any backend (its manifest names it)."""
    return NERAgent.from_folder(Path(model_path))


def word_tokenizer(agent: NERAgent, records: Sequence[Record], aliases: Aliases) -> Tokenizer:
    """The model's own word tokenizer when its backend has one (the CRF's, with the training
    catalogue's words), so gold spans sit on the tokens the model was trained on; otherwise a
    tokenizer built as training builds it (the labels' and aliases' Thai words)."""
    for attribute in ("tokenizer", "word_tokenizer"):
        found = getattr(agent.backend, attribute, None)
        if isinstance(found, Tokenizer):
            return found
    words = set(aliases.all_words())
    for record in records:
        words.update(w for w in (record.brand, record.category) if w)
    return Tokenizer(words)


def snap(entity: Entity, tokens: Sequence[Token]) -> Entity | None:
    """The entity widened to the word tokens it overlaps (a subword model's span can end inside a
    word), or None when it covers no token."""
    covered = [t for t in tokens if t.start < entity.end and t.end > entity.start]
    if not covered:
        return None
    start, end = covered[0].start, covered[-1].end
    return Entity(entity.label, entity.text if (start, end) == (entity.start, entity.end) else "",
                  start, end, entity.confidence)


def tags_from_entities(text: str, tokens: Sequence[Token], entities: Sequence[Entity]) -> tuple[list[str], list[Entity]]:
    """BIO tags over `tokens` from a backend's entities (character spans), and the snapped spans.

    Written once for every backend: a token overlapped by an entity gets its label (B- on the
    first token, I- after); where entities overlap, the more confident one keeps the token.
    """
    tags = ["O"] * len(tokens)
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: -e.confidence):
        snapped = snap(entity, tokens)
        if snapped is None:
            continue
        inside = [i for i, t in enumerate(tokens) if t.start >= snapped.start and t.end <= snapped.end and tags[i] == "O"]
        if not inside:
            continue
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + entity.label
        first, last = tokens[inside[0]], tokens[inside[-1]]
        kept.append(Entity(entity.label, text[first.start:last.end], first.start, last.end, entity.confidence))
    return tags, sorted(kept, key=lambda e: e.start)


def evaluate_records(agent: NERAgent, records: Sequence[Record], aliases: Aliases,
                     progress: Callable[[int], None] | None = None) -> list[Evaluated]:
    """Gold tags (as training derives them) and the model's tags for each record."""
    tokenizer = word_tokenizer(agent, records, aliases)
    aligned = align_records(list(records), aliases, tokenizer)
    batched = getattr(agent.backend, "entities_batch", None)  # transformer backends batch their forward passes
    items = []
    for start in range(0, len(aligned), BATCH):
        chunk = aligned[start:start + BATCH]
        found = batched([a.text for a in chunk]) if batched else [agent.backend.entities(a.text) for a in chunk]
        for record, gold, entities in zip(records[start:start + BATCH], chunk, found):
            pred, pred_spans = tags_from_entities(gold.text, gold.tokens, entities)
            answer = agent.answer_from_entities(entities)
            gold_spans = spans_from_tags(gold.text, gold.tokens, gold.tags, [1.0] * len(gold.tags))
            items.append(Evaluated(record, gold.text, script_of(gold.text), gold.tokens, gold.tags, pred,
                                   gold_spans, pred_spans, answer.brand, answer.category))
        if progress:
            progress(len(chunk))
    return items


# -- scores ---------------------------------------------------------------------------------------

def _r(value: Any) -> float:
    return round(float(value), 4)


def span_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval): micro and macro over types, and per type.
    With no entity in gold or predicted tags the scores are undefined: None."""
    from seqeval.metrics import classification_report

    if all(t == "O" for tags in (*gold, *pred) for t in tags):
        undefined = {"precision": None, "recall": None, "f1": None, "support": 0}
        return {"micro": dict(undefined), "macro": dict(undefined), "per_type": {}}
    report = classification_report(list(map(list, gold)), list(map(list, pred)), output_dict=True, zero_division=0)
    out: dict[str, Any] = {}
    for key, name in (("micro avg", "micro"), ("macro avg", "macro")):
        row = report.get(key, {"precision": 0, "recall": 0, "f1-score": 0, "support": 0})
        out[name] = {"precision": _r(row["precision"]), "recall": _r(row["recall"]), "f1": _r(row["f1-score"]),
                     "support": int(row["support"])}
    out["per_type"] = {t: {"precision": _r(row["precision"]), "recall": _r(row["recall"]),
                           "f1": _r(row["f1-score"]), "support": int(row["support"])}
                       for t, row in report.items() if t in ENTITY_TYPES}
    return out


def _only(tags: Sequence[str], label: str) -> list[str]:
    return [t if t.endswith("-" + label) else "O" for t in tags]


def _accuracy(hits: Sequence[bool]) -> float | None:
    return _r(sum(hits) / len(hits)) if hits else None


def label_accuracy(items: Sequence[Evaluated]) -> dict[str, Any]:
    """End-to-end: the agent's brand (and category) label against the record's, by same_brand."""
    extractable = [i for i in items if any(s.label == "BRAND" for s in i.gold_spans)]
    with_category = [i for i in items if i.record.category]
    return {
        "brand_accuracy": _accuracy([i.brand_ok for i in items]),
        "brand_accuracy_when_in_name": _accuracy([i.brand_ok for i in extractable]),
        "records_with_brand_in_name": len(extractable),
        "category_accuracy": _accuracy([same_brand(i.category, i.record.category) for i in with_category]),
    }


def boundary_errors(items: Sequence[Evaluated]) -> dict[str, int]:
    """Predicted spans that overlap a gold span of the same type without matching it, per type."""
    counts = {t: 0 for t in ENTITY_TYPES}
    for item in items:
        for p in item.pred_spans:
            for g in item.gold_spans:
                if p.label == g.label and p.start < g.end and g.start < p.end and (p.start, p.end) != (g.start, g.end):
                    counts[p.label] = counts.get(p.label, 0) + 1
                    break
    return counts


def bio_confusion(items: Sequence[Evaluated]) -> dict[str, dict[str, dict[str, int]]]:
    """Token-level confusion of B/I/O per entity type: {type: {gold: {predicted: count}}}
    (tags of the other type count as O)."""
    from sklearn.metrics import confusion_matrix

    out = {}
    for label in ENTITY_TYPES:
        gold = [t[0] for i in items for t in _only(i.gold, label)]
        pred = [t[0] for i in items for t in _only(i.pred, label)]
        matrix = confusion_matrix(gold, pred, labels=["B", "I", "O"]) if gold else [[0] * 3] * 3
        out[label] = {g: {p: int(matrix[a][b]) for b, p in enumerate("BIO")} for a, g in enumerate("BIO")}
    return out


def per_brand(items: Sequence[Evaluated], top: int = 10) -> list[dict[str, Any]]:
    """The `top` most frequent brands of the test set: BRAND span scores and label accuracy."""
    groups: dict[str, list[Evaluated]] = defaultdict(list)
    labels: dict[str, Counter] = defaultdict(Counter)
    for item in items:
        key = brand_key(item.record.brand)
        groups[key].append(item)
        labels[key][item.record.brand] += 1
    rows = []
    for key, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]:
        gold = [_only(i.gold, "BRAND") for i in group]
        pred = [_only(i.pred, "BRAND") for i in group]
        spans = span_scores(gold, pred)["micro"]  # only BRAND tags are left: micro = BRAND
        rows.append({"brand": labels[key].most_common(1)[0][0], "records": len(group),
                     "span_precision": spans["precision"], "span_recall": spans["recall"], "span_f1": spans["f1"],
                     "label_accuracy": _accuracy([i.brand_ok for i in group])})
    return rows


def evaluation_report(items: Sequence[Evaluated], detailed: bool = False, top_brands: int = 10) -> dict[str, Any]:
    """Span scores overall and per script, label accuracy; with `detailed`, seqeval's report,
    B/I/O confusion, per-brand results and boundary errors."""
    gold, pred = [i.gold for i in items], [i.pred for i in items]
    by_script: dict[str, list[Evaluated]] = defaultdict(list)
    for item in items:
        by_script[item.script].append(item)
    report: dict[str, Any] = {
        "records": len(items),
        "entities": span_scores(gold, pred),
        "label": label_accuracy(items),
        "by_script": {
            script: {"records": len(group), "entities": span_scores([i.gold for i in group], [i.pred for i in group]),
                     "label": label_accuracy(group)}
            for script, group in sorted(by_script.items())
        },
    }
    if detailed:
        from seqeval.metrics import classification_report

        report["classification_report"] = classification_report(gold, pred, digits=4, zero_division=0)
        report["bio_confusion"] = bio_confusion(items)
        report["per_brand"] = per_brand(items, top_brands)
        report["boundary_errors"] = boundary_errors(items)
    return report


# -- failures -------------------------------------------------------------------------------------

def _overlaps(a: Entity, span: tuple[int, int]) -> bool:
    return a.start < span[1] and span[0] < a.end


def classify_failure(gold_brand: tuple[int, int] | None, gold_category: tuple[int, int] | None,
                     predicted: Sequence[Entity], label_ok: bool) -> str | None:
    """The kind of brand failure (a key of FAILURE_KINDS), or None when brand span and label are right.

    The agent answers with its most confident BRAND span, so that span decides between a wrong
    boundary, a wrong type and a spurious brand.
    """
    brands = [e for e in predicted if e.label == "BRAND"]
    if gold_brand is None:
        return None if label_ok else "brand_not_in_name"
    if label_ok and {(e.start, e.end) for e in brands} == {gold_brand}:
        return None
    if not brands:
        return "wrong_type" if any(_overlaps(e, gold_brand) for e in predicted) else "missed_brand"
    best = max(brands, key=lambda e: e.confidence)
    if (best.start, best.end) == gold_brand:
        return "spurious_brand" if label_ok else "mislabelled"
    if _overlaps(best, gold_brand):
        return "wrong_boundary"
    if gold_category is not None and _overlaps(best, gold_category):
        return "wrong_type"
    return "spurious_brand"


def _span_dict(e: Entity, with_confidence: bool) -> dict[str, Any]:
    out = {"label": e.label, "text": e.text, "start": e.start, "end": e.end}
    if with_confidence:
        out["confidence"] = _r(e.confidence)
    return out


def failure_kind(item: Evaluated) -> str | None:
    span = {s.label: (s.start, s.end) for s in reversed(item.gold_spans)}
    return classify_failure(span.get("BRAND"), span.get("CATEGORY"), item.pred_spans, item.brand_ok)


def failure_report(items: Sequence[Evaluated], examples: int = 5) -> dict[str, Any]:
    """Every failure case grouped by kind, with counts per kind and per script, and examples."""
    cases: dict[str, list[dict]] = {kind: [] for kind in FAILURE_KINDS}
    by_script: dict[str, Counter] = defaultdict(Counter)
    for item in items:
        by_script[item.script]["records"] += 1
        kind = failure_kind(item)
        if kind is None:
            continue
        by_script[item.script]["failures"] += 1
        by_script[item.script][kind] += 1
        cases[kind].append({
            "id": item.record.id, "line": item.record.line, "name": item.record.name, "script": item.script,
            "brand": item.record.brand, "predicted_brand": item.brand,
            "gold_spans": [_span_dict(s, False) for s in item.gold_spans],
            "predicted_spans": [_span_dict(s, True) for s in item.pred_spans],
        })
    total = sum(len(v) for v in cases.values())
    return {
        "records": len(items),
        "failures": total,
        "failure_rate": _r(total / len(items)) if items else None,
        "kinds": dict(FAILURE_KINDS),
        "counts": {kind: len(v) for kind, v in cases.items()},
        "by_script": {s: {k: c[k] for k in ("records", "failures", *FAILURE_KINDS)} for s, c in sorted(by_script.items())},
        "examples": {kind: v[:examples] for kind, v in cases.items()},
        "cases": cases,
    }


# -- the command ----------------------------------------------------------------------------------

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])
err = Console(stderr=True, soft_wrap=True)


class EvaluatorError(Exception):
    """A problem with the command's input; the message says which file and what."""


def resolve_test_data(test_data: Path | None) -> tuple[Path, str]:
    """The test file and a sentence saying where it came from (the documented default when none is given)."""
    if test_data is not None:
        return test_data, "--test-data"
    if DEFAULT_TEST_DATA.is_file():
        return DEFAULT_TEST_DATA, f"default: {DEFAULT_TEST_DATA} in the current folder"
    return SAMPLE_CATALOG, (f"default: no {DEFAULT_TEST_DATA} in the current folder, so the project's sample "
                            f"catalogue {SAMPLE_CATALOG} (the local default model is trained on it: scores are optimistic)")


def load_inputs(test_data: Path, aliases: Path | None) -> tuple[list[Record], Aliases, Path | None]:
    if not test_data.is_file():
        raise EvaluatorError(f"test data {test_data}: no such file")
    try:
        records = load_catalog(test_data)
    except (CatalogError, ValueError) as exc:
        raise EvaluatorError(str(exc)) from None
    if aliases is None and (test_data.parent / "aliases.json").is_file():
        aliases = test_data.parent / "aliases.json"  # an alias table beside a data file belongs to it
    try:
        table = Aliases.load(aliases)
    except FileNotFoundError:
        raise EvaluatorError(f"aliases {aliases}: no such file") from None
    except json.JSONDecodeError as exc:
        raise EvaluatorError(f"aliases {aliases}:{exc.lineno}: malformed JSON: {exc.msg}") from None
    except ValueError as exc:
        raise EvaluatorError(str(exc)) from None
    return records, table, aliases


def _write_json(path: Path, doc: dict) -> None:
    try:
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        raise EvaluatorError(f"cannot write {path}: {exc.strerror}") from None


def _check_writable(path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise EvaluatorError(f"cannot write {path}: folder {path.parent} does not exist")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def print_summary(report: dict[str, Any], out: Console) -> None:
    table = Table(title=f"NER entity scores ({report['records']} records)")
    for column in ("", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="right" if column else "left")
    rows = [(t, s) for t, s in report["entities"]["per_type"].items()]
    rows += [("micro avg", report["entities"]["micro"]), ("macro avg", report["entities"]["macro"])]
    for name, s in rows:
        table.add_row(name, _fmt(s["precision"]), _fmt(s["recall"]), _fmt(s["f1"]), str(s["support"]))
    out.print(table)
    scripts = Table(title="By script")
    for column in ("script", "records", "span f1 (micro)", "brand label accuracy"):
        scripts.add_column(column)
    for script, s in report["by_script"].items():
        scripts.add_row(script, str(s["records"]), _fmt(s["entities"]["micro"]["f1"]), _fmt(s["label"]["brand_accuracy"]))
    out.print(scripts)
    label = report["label"]
    out.print(f"Brand label accuracy (NER agent, after the lexicon): {label['brand_accuracy']}; "
              f"when the brand is in the name: {label['brand_accuracy_when_in_name']}")
    if "boundary_errors" in report:
        out.print(f"Span-boundary errors: {report['boundary_errors']}")


def print_failures(report: dict[str, Any], out: Console) -> None:
    table = Table(title=f"NER failures: {report['failures']} of {report['records']} records")
    for column in ("kind", "count", "example"):
        table.add_column(column, overflow="fold")
    for kind, count in report["counts"].items():
        example = report["examples"][kind][0] if report["examples"][kind] else None
        shown = f"{example['name']} (brand {example['brand']!r}, predicted {example['predicted_brand']!r})" if example else ""
        table.add_row(kind, str(count), shown)
    out.print(table)


@app.command()
def main(
    model_path: Path = typer.Option(DEFAULT_MODEL_PATH, "--model-path", help="Saved NER model folder (any backend), or a quantized .bin file."),
    test_data: Optional[Path] = typer.Option(None, "--test-data", help=(
        "Labelled records (TSV name<TAB>brand<TAB>category, or JSONL). Default: test_dataset.txt in the current "
        "folder, else the project's sample catalogue.")),
    output: Optional[Path] = typer.Option(None, "--output", help="Evaluation report (JSON); default evaluation_report.json unless --analyze-failures."),
    detailed_analysis: bool = typer.Option(False, "--detailed-analysis", help="Add seqeval's report, B/I/O confusion, per-brand results, boundary errors."),
    analyze_failures: bool = typer.Option(False, "--analyze-failures", help="Write every failure case, grouped by kind."),
    failure_output: Path = typer.Option(Path("ner_failures.json"), "--failure-output", help="Where --analyze-failures writes (JSON)."),
    aliases: Optional[Path] = typer.Option(None, "--aliases", help="Alias table (JSON); default: aliases.json beside the test data."),
    top_brands: int = typer.Option(10, "--top-brands", min=1, help="Brands in the per-brand results (most frequent first)."),
    examples: int = typer.Option(5, "--examples", min=0, help="Examples per failure kind in the summary section."),
):
    """Evaluate a saved NER model on labelled records (and analyse its failures)."""
    out = Console(soft_wrap=True)
    if output is None and not analyze_failures:
        output = Path("evaluation_report.json")
    try:
        data, source = resolve_test_data(test_data)
        for path in (output, failure_output if analyze_failures else None):
            _check_writable(path)
        records, alias_table, alias_path = load_inputs(data, aliases)
        try:
            agent = load_agent(model_path)
        except (FileNotFoundError, ValueError) as exc:
            raise EvaluatorError(f"--model-path: {exc}") from None
        err.print(f"Test data: {data} ({source}); {len(records)} records")
        with Progress(TextColumn("tagging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("tag", total=len(records))
            items = evaluate_records(agent, records, alias_table, progress=lambda n: bar.advance(task, n))
        params = {"model_path": str(model_path), "test_data": str(data), "test_data_source": source,
                  "aliases": str(alias_path or ""), "detailed_analysis": detailed_analysis, "top_brands": top_brands}
        inputs = [data, alias_path, model_path if model_path.is_file() else model_path / "ner_model.json"]
        dataset = {"path": str(data), "source": source, "aliases": str(alias_path) if alias_path else None}
        if output is not None:
            report = {"model_path": str(model_path), "dataset": dataset,
                      **evaluation_report(items, detailed_analysis, top_brands)}
            _write_json(output, report)
            run = write_run_record(output.resolve().parent, "ner-evaluation", params, inputs,
                                   {k: report[k] for k in ("records", "entities", "label")})
            print_summary(report, out)
            out.print(f"Wrote {output}; run record in {run}")
        if analyze_failures:
            failures = {"model_path": str(model_path), "dataset": dataset, **failure_report(items, examples)}
            _write_json(failure_output, failures)
            run = write_run_record(failure_output.resolve().parent, "ner-failure-analysis", params, inputs,
                                   {k: failures[k] for k in ("records", "failures", "failure_rate", "counts")})
            out.print(f"Test data: {data} ({source})")
            print_failures(failures, out)
            out.print(f"Wrote {failure_output}; run record in {run}")
    except EvaluatorError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
