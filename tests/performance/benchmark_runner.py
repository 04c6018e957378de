"""The manual's batch-size optimisation: real measurements of the hybrid pipeline per batch size.

    python tests/performance/benchmark_runner.py --optimize-batch-size --batch-sizes 1,4,8,16,32 \\
        --measure latency,throughput,memory --output batch_optimization.json

It loads the local home's pipeline (`--home`, else $PRODUCT_INFERENCE_HOME, else ~/.product-inference;
result cache off, so the models do the work), warms it up with one pass, then for each batch size
sends the same names through `HybridAgent.predict_batch` in batches of that size, `--repeats` times:
- latency: wall time of each full batch, and that time divided by the batch's names (p50/p95);
  a last, partial batch counts for throughput only;
- throughput: names per second over a whole pass (the median pass);
- memory: peak resident memory above the level before the batch size's passes, sampled from
  /proc/self/statm every few milliseconds by a background thread (native memory included: the CRF,
  numpy, Milvus Lite), and the peak of Python allocations during one batch (tracemalloc, on a
  separate, untimed pass because tracing slows every allocation down).
The names come from `--data` (records, JSONL or TSV, `name` needed; or a .txt file, one name a
line), else the sample's demo names followed by its catalogue names; `--names` of them are used.
The recommended size follows the rule written into the report (`recommendation.rule`). A plot is
written beside the JSON (same stem, .png), and a run record beside it. Timings depend on the
machine: the report names it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `tests` is not an installed package

from tests.performance.latency import summarize  # noqa: E402

SAMPLE = ROOT / "data" / "sample"
MEASURES = ("latency", "throughput", "memory")
DEFAULT_NAMES = 256
SAMPLE_EVERY_S = 0.002


class BenchmarkError(Exception):
    """A problem with the options or the input; the message names it."""


# -- inputs -------------------------------------------------------------------------------------------------
def parse_batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise BenchmarkError(f"--batch-sizes {text!r}: expected comma-separated positive numbers, e.g. 1,4,8,16,32") from None
    if not sizes or min(sizes) < 1:
        raise BenchmarkError(f"--batch-sizes {text!r}: expected comma-separated positive numbers, e.g. 1,4,8,16,32")
    return sorted(set(sizes))


def parse_measures(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MEASURES]
    if unknown or not chosen:
        raise BenchmarkError(f"--measure {text!r}: expected some of {', '.join(MEASURES)}")
    return [m for m in MEASURES if m in chosen]


def load_names(data: Path | None, limit: int) -> tuple[list[str], str]:
    """(names, where they came from): `data`, else the sample's demo names then catalogue names."""
    from inference.records import RecordError, iter_records

    sources = [data] if data else [SAMPLE / "demo_names.jsonl", SAMPLE / "catalog.jsonl"]
    names: list[str] = []
    for source in sources:
        if not source.is_file():
            raise BenchmarkError(f"--data {source}: no such file")
        if source.suffix.lower() == ".txt" and not source.read_text(encoding="utf-8-sig").startswith("name\t"):
            names += [line.strip() for line in source.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
            continue
        for item in iter_records(source, require_brand=False):
            if isinstance(item, RecordError):
                raise BenchmarkError(f"{source}:{item.line}: {item.message}")
            names.append(item.name)
    if not names:
        raise BenchmarkError(f"{data}: no names")
    where = str(data) if data else "the sample's demo names, then its catalogue names (data/sample)"
    return names[:limit], where


# -- memory ------------------------------------------------------------------------------------------------
def rss_bytes() -> int:
    """Resident memory now (Linux /proc); elsewhere the peak so far (getrusage), which only grows."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RSSSampler:
    """Samples resident memory in a background thread; `peak` is the highest seen since start."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S):
        self.every_s = every_s
        self.start_bytes = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "RSSSampler":
        self.start_bytes = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def _mb(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 3)


# -- the measurements --------------------------------------------------------------------------------------
def batches(names: Sequence[str], size: int) -> list[list[str]]:
    return [list(names[i:i + size]) for i in range(0, len(names), size)]


def measure_batch_size(predict: Callable[[list[str]], list], names: Sequence[str], size: int, repeats: int,
                       memory: bool, tick: Callable[[int], None] = lambda n: None) -> dict[str, Any]:
    """Timed passes over the names in batches of `size`, with memory sampled; see the module docstring."""
    chunks = batches(names, size)
    batch_ms, per_name_ms, pass_s = [], [], []
    with RSSSampler() as sampler:
        for _ in range(repeats):
            pass_start = time.perf_counter()
            for chunk in chunks:
                started = time.perf_counter()
                rows = predict(chunk)
                elapsed = (time.perf_counter() - started) * 1000
                if len(rows) != len(chunk):
                    raise BenchmarkError(f"the pipeline returned {len(rows)} rows for a batch of {len(chunk)} names")
                if len(chunk) == size:  # a partial last batch would skew the per-batch figures
                    batch_ms.append(elapsed)
                    per_name_ms.append(elapsed / size)
                tick(len(chunk))
            pass_s.append(time.perf_counter() - pass_start)
    result: dict[str, Any] = {
        "batch_size": size, "batches_per_pass": len(chunks), "full_batches_timed": len(batch_ms),
        "latency_ms": {"per_batch": summarize(batch_ms), "per_name": summarize(per_name_ms)},
        "throughput_names_per_s": round(len(names) / statistics.median(pass_s), 2),
        "pass_seconds": [round(s, 4) for s in pass_s],
    }
    if memory:
        tracemalloc.start()
        try:
            peak = 0
            for chunk in chunks[:max(1, min(len(chunks), 4))]:
                tracemalloc.reset_peak()
                predict(chunk)
                peak = max(peak, tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        result["memory_mb"] = {"rss_before": _mb(sampler.start_bytes), "rss_peak": _mb(sampler.peak),
                               "rss_peak_growth": _mb(max(0, sampler.peak - sampler.start_bytes)),
                               "python_peak_per_batch": _mb(peak)}
    return result


RULE = ("the smallest batch size whose throughput is at least {keep:.0%} of the best measured throughput and whose "
        "p95 batch latency is within the latency budget of {budget:g} ms (one batch is one request's wait); "
        "when no size meets the budget, the size with the lowest p95 batch latency")


def recommend(results: Sequence[dict[str, Any]], latency_budget_ms: float, tolerance: float) -> dict[str, Any]:
    """The recommended batch size by RULE, with the rule and the figures it used."""
    best = max(r["throughput_names_per_s"] for r in results)
    p95 = {r["batch_size"]: r["latency_ms"]["per_batch"]["p95"] for r in results}
    fits = [r for r in results if r["throughput_names_per_s"] >= (1 - tolerance) * best
            and p95[r["batch_size"]] is not None and p95[r["batch_size"]] <= latency_budget_ms]
    if fits:
        chosen, why = min(fits, key=lambda r: r["batch_size"]), "meets both conditions"
    else:
        timed = [r for r in results if p95[r["batch_size"]] is not None] or list(results)
        chosen = min(timed, key=lambda r: p95[r["batch_size"]] if p95[r["batch_size"]] is not None else 0)
        why = "no size met both conditions: lowest p95 batch latency"
    return {"batch_size": chosen["batch_size"], "why": why,
            "rule": RULE.format(keep=1 - tolerance, budget=latency_budget_ms),
            "best_throughput_names_per_s": best, "latency_budget_ms": latency_budget_ms, "throughput_tolerance": tolerance}


def run_optimization(names: Sequence[str], sizes: Sequence[int], measures: Sequence[str], home: Path | None = None,
                     repeats: int = 3, latency_budget_ms: float = 2000.0, tolerance: float = 0.05,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Warm up, measure every batch size, recommend one. Returns the report (without file paths)."""
    from inference.agents.hybrid_agent import HybridAgent
    from inference.config.settings import Settings
    from tests.accuracy.accuracy_validator import NEEDS, ValidatorError, bootstrapped_registry

    try:  # the pipeline answers a missing model with error rows, not an exception: check first
        registry = bootstrapped_registry(home, NEEDS["hybrid"])
    except ValidatorError as exc:
        raise BenchmarkError(str(exc)) from None
    agent = HybridAgent(registry, settings=Settings())  # no result cache: measure the models
    task = progress.add_task("warm-up", total=len(names) * (1 + repeats * len(sizes))) if progress else None
    tick = (lambda n: progress.advance(task, n)) if progress else (lambda n: None)
    try:
        started = time.perf_counter()
        for chunk in batches(names, max(sizes)):
            agent.predict_batch(chunk)
            tick(len(chunk))
        warm_up_s = time.perf_counter() - started
        results = []
        for size in sizes:
            if progress:
                progress.update(task, description=f"batch size {size}")
            results.append(measure_batch_size(agent.predict_batch, names, size, repeats, "memory" in measures, tick))
        pipeline = dict(agent.pipeline)
        skipped = {"llm": "not configured"} if "llm" in pipeline["sequence"] and not agent.llm.configured else {}
    finally:
        agent.close()
    recommendation = recommend(results, latency_budget_ms, tolerance)
    for result in results:
        if "latency" not in measures:
            result.pop("latency_ms")
        if "throughput" not in measures:
            result.pop("throughput_names_per_s")
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.system()}",
        "registry": str(registry.location),
        "pipeline": {**pipeline, "stages_skipped": skipped, "result_cache": "off"},
        "names": len(names), "repeats": repeats, "measures": list(measures), "batch_sizes": list(sizes),
        "warm_up_seconds": round(warm_up_s, 3),
        "results": results,
        "recommendation": recommendation,
        "definitions": {
            "latency_ms.per_batch": "wall time of one predict_batch call over a full batch",
            "latency_ms.per_name": "a full batch's wall time divided by its names",
            "throughput_names_per_s": "names / wall time of a whole pass (median of the repeats)",
            "memory_mb.rss_peak_growth": "peak resident memory during the batch size's passes minus the level before them",
            "memory_mb.python_peak_per_batch": "peak Python allocations (tracemalloc) during one batch, untimed pass",
        },
    }


def plot(report: dict[str, Any], path: Path) -> Path:
    """Throughput, latency and memory against the batch size, the recommended size marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = report["results"]
    sizes = [r["batch_size"] for r in results]
    panels = [m for m in report["measures"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, measure in zip(axes[0], panels):
        if measure == "throughput":
            ax.plot(sizes, [r["throughput_names_per_s"] for r in results], "o-")
            ax.set(ylabel="names per second", title="Throughput")
        elif measure == "latency":
            for key, style in (("per_name", "o-"), ("per_batch", "s--")):
                ax.plot(sizes, [r["latency_ms"][key]["p50"] for r in results], style, label=f"{key.replace('_', ' ')} p50")
                ax.plot(sizes, [r["latency_ms"][key]["p95"] for r in results], style, alpha=0.5,
                        label=f"{key.replace('_', ' ')} p95")
            ax.set(ylabel="milliseconds (log)", yscale="log", title="Latency")
            ax.legend(fontsize=8)
        else:
            ax.plot(sizes, [r["memory_mb"]["rss_peak_growth"] for r in results], "o-", label="peak RSS growth")
            ax.plot(sizes, [r["memory_mb"]["python_peak_per_batch"] for r in results], "s--", label="Python peak per batch")
            ax.set(ylabel="MiB", title="Memory")
            ax.legend(fontsize=8)
        ax.axvline(report["recommendation"]["batch_size"], color="green", ls=":", label="recommended")
        ax.set(xscale="log", xlabel="batch size")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    fig.suptitle(f"Hybrid pipeline, {report['names']} names, {report['machine']}: recommended batch size "
                 f"{report['recommendation']['batch_size']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def print_report(report: dict[str, Any], out: Console) -> None:
    table = Table(title=f"Batch sizes over {report['names']} names ({report['machine']})")
    columns = ["batch size"]
    if "latency" in report["measures"]:
        columns += ["per name p50 ms", "per name p95 ms", "per batch p95 ms"]
    if "throughput" in report["measures"]:
        columns += ["names/s"]
    if "memory" in report["measures"]:
        columns += ["RSS growth MiB", "Python peak MiB"]
    for column in columns:
        table.add_column(column, justify="right")
    for r in report["results"]:
        row = [str(r["batch_size"])]
        if "latency_ms" in r:
            row += [f"{r['latency_ms']['per_name']['p50']}", f"{r['latency_ms']['per_name']['p95']}",
                    f"{r['latency_ms']['per_batch']['p95']}"]
        if "throughput_names_per_s" in r:
            row += [f"{r['throughput_names_per_s']}"]
        if "memory_mb" in r:
            row += [f"{r['memory_mb']['rss_peak_growth']}", f"{r['memory_mb']['python_peak_per_batch']}"]
        table.add_row(*row)
    out.print(table)
    rec = report["recommendation"]
    out.print(f"Recommended batch size: {rec['batch_size']} ({rec['why']}). Rule: {rec['rule']}.")


app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


@app.command()
def main(
    optimize_batch_size: bool = typer.Option(False, "--optimize-batch-size", help="Measure every --batch-sizes value and recommend one."),
    batch_sizes: str = typer.Option("1,4,8,16,32", "--batch-sizes", help="Comma-separated batch sizes."),
    measure: str = typer.Option("latency,throughput,memory", "--measure", help="Some of latency, throughput, memory."),
    output: Path = typer.Option(Path("batch_optimization.json"), "--output", help="JSON report; the plot goes beside it (.png)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Names to send: records (JSONL/TSV) or a .txt file, one name a line."),
    names: int = typer.Option(DEFAULT_NAMES, "--names", help="How many names of the data to use."),
    repeats: int = typer.Option(3, "--repeats", help="Timed passes per batch size."),
    latency_budget_ms: float = typer.Option(2000.0, "--latency-budget-ms", help="Longest acceptable p95 batch latency."),
    tolerance: float = typer.Option(0.05, "--throughput-tolerance", help="Share of the best throughput a smaller size may give up."),
    home: Optional[Path] = typer.Option(None, "--home", help="Local home (default $PRODUCT_INFERENCE_HOME or ~/.product-inference)."),
):
    """Measure the hybrid pipeline per batch size and write the report, the plot and a run record."""
    err = Console(stderr=True, soft_wrap=True)
    try:
        if not optimize_batch_size:
            raise BenchmarkError("nothing to do: give --optimize-batch-size")
        sizes, measures = parse_batch_sizes(batch_sizes), parse_measures(measure)
        if names < 1 or repeats < 1:
            raise BenchmarkError("--names and --repeats must be at least 1")
        if not 0 <= tolerance < 1:
            raise BenchmarkError(f"--throughput-tolerance must be in [0, 1), got {tolerance}")
        if not output.parent.is_dir():
            raise BenchmarkError(f"cannot write {output}: folder {output.parent} does not exist")
        if home and not home.is_dir():
            raise BenchmarkError(f"--home {home}: no such folder")
        chosen, source = load_names(data, names)
        if len(chosen) < max(sizes):
            raise BenchmarkError(f"{len(chosen)} names are fewer than the largest batch size {max(sizes)}; give more "
                                 f"--names or --data")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            report = run_optimization(chosen, sizes, measures, home, repeats, latency_budget_ms, tolerance, progress)
        report["data"] = source
        picture = plot(report, output.with_suffix(".png"))
        report["plot"] = str(picture)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    except BenchmarkError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {escape(str(exc.filename or output))}: {escape(exc.strerror or str(exc))}",
                  highlight=False)
        raise typer.Exit(code=2)
    from training.run_record import write_run_record

    run = write_run_record(output.resolve().parent, "batch-size-optimization", {
        "batch_sizes": sizes, "measures": measures, "names": len(chosen), "data": source, "repeats": repeats,
        "latency_budget_ms": latency_budget_ms, "throughput_tolerance": tolerance, "registry": report["registry"]},
        [data], {"recommended_batch_size": report["recommendation"]["batch_size"],
                 "results": report["results"], "machine": report["machine"]})
    out = Console(soft_wrap=True)
    print_report(report, out)
    out.print(f"Wrote {output} and the plot {picture}; run record in {run}")


if __name__ == "__main__":
    app()
