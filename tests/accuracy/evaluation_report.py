"""The full evaluation as one self-contained HTML page: the plots a person reads at a glance.

`write_html(report, path)` renders the JSON report of `full_evaluation.run_full_evaluation`:
a summary table, the skipped agents with their reasons, then plots (matplotlib, PNG embedded as
base64 data URIs, so the page is one file that opens anywhere): accuracy per agent, accuracy per
script, a reliability diagram, the most confused brands and the latency distribution per stage.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

SCRIPT_NAMES = {"th": "Thai only", "en": "Latin only", "mixed": "Thai + Latin", "other": "other"}
LABEL_METRICS = ("brand_accuracy", "category_accuracy", "precision", "recall", "f1")

_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', 'Noto Sans Thai', sans-serif; margin: 24px auto;
       max-width: 1200px; color: #1f2933; background: #fff; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 32px; border-bottom: 1px solid #d9e2ec; }
.meta { color: #52606d; font-size: 14px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border: 1px solid #d9e2ec; padding: 5px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f0f4f8; }
.skipped { background: #fff8e1; border-left: 4px solid #f0b429; padding: 8px 12px; margin: 8px 0; }
.ok { color: #127a3a; font-weight: 600; } .skip { color: #b44d12; font-weight: 600; }
figure { margin: 16px 0; } figcaption { color: #52606d; font-size: 13px; } img { max-width: 100%; }
"""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:
    """The figure as a base64 PNG data URI (and closed)."""
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings():  # matplotlib's bundled font has no Thai glyphs; the HTML tables show the text
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _evaluated(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: part for name, part in report["agents"].items() if part["status"] == "evaluated"}


# -- the plots ------------------------------------------------------------------------------------------------
def accuracy_by_agent(report: dict[str, Any]) -> str:
    plt = _plt()
    agents = _evaluated(report)
    shown = [m for m in LABEL_METRICS if any(part["metrics"].get(m) is not None for part in agents.values())]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(shown), 1)
    x = np.arange(len(agents))
    for i, metric in enumerate(shown):
        values = [part["metrics"].get(metric) or 0.0 for part in agents.values()]
        bars = ax.bar(x + i * width - 0.4 + width / 2, values, width, label=metric.replace("_", " "))
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set(xticks=x, xticklabels=list(agents), ylim=(0, 1.12), ylabel="score",
           title=f"Accuracy per agent ({report['queries']} queries)")
    ax.legend(ncol=len(shown), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    return _png(fig)


def accuracy_by_script(report: dict[str, Any]) -> str:
    plt = _plt()
    agents = _evaluated(report)
    scripts = list(report["by_script"])
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(len(agents), 1)
    x = np.arange(len(scripts))
    for i, (name, part) in enumerate(agents.items()):
        values = [part["by_script"].get(s, {}).get("metrics", {}).get("brand_accuracy") or 0.0 for s in scripts]
        bars = ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set(xticks=x, xticklabels=[f"{SCRIPT_NAMES.get(s, s)}\n({report['by_script'][s]} queries)" for s in scripts],
           ylim=(0, 1.12), ylabel="brand accuracy", title="Brand accuracy per language (script of the name)")
    ax.legend(fontsize=8)
    return _png(fig)


def reliability_diagram(report: dict[str, Any]) -> str:
    plt = _plt()
    agents = {n: p for n, p in _evaluated(report).items() if p.get("calibration")}
    fig, (curve, counts) = plt.subplots(2, 1, figsize=(7, 7), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    curve.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
    edges = np.linspace(0.0, 1.0, 11)
    width = 0.1 / (len(agents) + 1)
    for i, (name, part) in enumerate(agents.items()):
        scores = part["calibration"]
        rel = scores["reliability"]
        sizes = [c for c in rel["bin_counts"] if c]
        colour = f"C{i}"
        curve.plot(rel["mean_confidence"], rel["accuracy"], "-", color=colour, lw=1.2, alpha=0.7)
        curve.scatter(rel["mean_confidence"], rel["accuracy"], color=colour, zorder=3,
                      s=[10 + 90 * np.sqrt(c / max(sizes)) for c in sizes],
                      label=f"{name}: ECE {scores['ece']:.3f}, Brier {scores['brier'] if scores['brier'] is not None else '—'}")
        counts.bar(edges[:-1] + (i + 0.5) * width, rel["bin_counts"], width=width, align="edge", color=colour)
    curve.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="share answered right",
              title="Reliability diagram of the brand confidence (marker area ~ answers in the bin)")
    curve.legend(fontsize=8, loc="upper left")
    counts.set(xlabel="confidence", ylabel="answers")
    return _png(fig)


def confused_brands(report: dict[str, Any]) -> str | None:
    plt = _plt()
    agents = {n: p for n, p in _evaluated(report).items() if p["confusions"]["pairs"]}
    if not agents:
        return None
    rows = max(len(p["confusions"]["pairs"]) for p in agents.values())
    fig, axes = plt.subplots(1, len(agents), figsize=(5.2 * len(agents), 0.42 * rows + 1.6), squeeze=False)
    for ax, (name, part) in zip(axes[0], agents.items()):
        pairs = part["confusions"]["pairs"][::-1]
        labels = [f"{p['true']} → {p['predicted']}" for p in pairs]
        bars = ax.barh(range(len(pairs)), [p["count"] for p in pairs], color="#d64545")
        ax.bar_label(bars, fontsize=8, padding=2)
        ax.set_yticks(range(len(pairs)), labels, fontsize=8)
        ax.set(title=f"{name}: most confused (true → answered)", xlabel="queries")
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _png(fig)


def latency_distribution(report: dict[str, Any]) -> str | None:
    plt = _plt()
    series = [(f"{name}: {stage.replace('_', ' ')}" if stage != name else f"{name}", values) for name, part in _evaluated(report).items()
              for stage, values in part.get("latency_values_ms", {}).items() if values]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(series) + 1.6))
    ax.boxplot([np.maximum(v, 1e-3) for _, v in series][::-1], vert=False, whis=(5, 95), showfliers=True,
               flierprops={"markersize": 3, "alpha": 0.5})
    ax.set_yticks(range(1, len(series) + 1), [label for label, _ in series][::-1], fontsize=8)
    ax.set_xscale("log")
    plain = _plt().FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain if np.ptp(np.log10(np.concatenate([v for _, v in series]) + 1e-3)) < 1.5
                                 else _plt().NullFormatter())
    ax.set(xlabel="milliseconds (log scale); box: quartiles, whiskers: 5th-95th percentile",
           title="Latency per stage, one name per call")
    return _png(fig)


# -- the page -------------------------------------------------------------------------------------------------
def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell if isinstance(cell, _Raw) else _number(cell)}</td>" for cell in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Raw(str):
    """Cell content that is already HTML."""


def _figure(uri: str | None, alt: str, caption: str) -> str:
    if not uri:
        return ""
    return (f'<figure><img src="{uri}" alt="{html.escape(alt)}"><figcaption>{html.escape(caption)}</figcaption>'
            f"</figure>")


def render_html(report: dict[str, Any]) -> str:
    summary_rows = []
    for row in report["summary"]:
        status = _Raw(f'<span class="{"ok" if row["status"] == "evaluated" else "skip"}">{row["status"]}</span>')
        summary_rows.append([row["agent"], status, row.get("brand_accuracy"), row.get("category_accuracy"),
                             row.get("f1"), row.get("ece"), row.get("latency_p50_ms"), row.get("latency_p95_ms")])
    skipped = "".join(f'<div class="skipped"><b>{html.escape(row["agent"])}</b> skipped: {html.escape(row["reason"])}</div>'
                      for row in report["summary"] if row["status"] != "evaluated")
    details = []
    for name, part in _evaluated(report).items():
        metric_names = [k for k, v in part["metrics"].items() if not isinstance(v, dict)]
        groups = [("all", part["queries"], part["metrics"])] + [
            (SCRIPT_NAMES.get(s, s), v["queries"], v["metrics"]) for s, v in part["by_script"].items()]
        rows = [[m, *(g[2].get(m) for g in groups)] for m in metric_names]
        latency = [[stage, s["n"], s["mean"], s["p50"], s["p95"], s["max"]] for stage, s in part["latency_ms"].items()]
        worst = [[b["brand"], b["queries"], b["wrong"], b["accuracy"]] for b in part["confusions"]["brands"]]
        note = (f"<p class='meta'>Not applicable to {html.escape(name)}: {html.escape(', '.join(part['not_applicable']))}</p>"
                if part.get("not_applicable") else "")
        details.append(
            f"<h3>{html.escape(name)}</h3>{note}"
            + _table(["metric", *(f"{label} ({count})" for label, count, _ in groups)], rows)
            + "<p class='meta'>Latency (ms), " + html.escape(part["latency_method"]) + "</p>"
            + _table(["stage", "calls", "mean", "p50", "p95", "max"], latency)
            + ("<p class='meta'>Brands answered wrong most often</p>"
               + _table(["brand", "queries", "wrong", "accuracy"], worst) if worst else ""))
    dataset = report.get("dataset", {})
    source = ", ".join(f"{k}: {v}" for k, v in dataset.items() if v)
    figures = [
        _figure(accuracy_by_agent(report), "accuracy per agent", "Brand and category accuracy, and macro precision, "
                "recall and F1 over the true brands, per agent."),
        _figure(accuracy_by_script(report), "accuracy per language", "Brand accuracy of each agent per script of the name."),
        _figure(reliability_diagram(report), "reliability diagram", "Each point is a confidence bin: mean confidence "
                "against the share answered right; on the diagonal a confidence means what it says."),
        _figure(confused_brands(report), "most confused brands", "The most frequent mistakes: true brand → answered brand."),
        _figure(latency_distribution(report), "latency per stage", "Latency of each stage and end to end, one name per call."),
    ] if _evaluated(report) else ["<p>No agent could be evaluated.</p>"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Full evaluation: {report['queries']} queries</title>
<style>{_STYLE}</style></head><body>
<h1>Full evaluation</h1>
<p class="meta">{report['queries']} labelled queries ({html.escape(', '.join(f"{SCRIPT_NAMES.get(s, s)} {n}" for s, n in report['by_script'].items()))}).
{html.escape(source)}{' · generated ' + html.escape(report['generated']) if report.get('generated') else ''}</p>
<h2>Summary</h2>
{_table(["agent", "status", "brand accuracy", "category accuracy", "F1 (macro)", "ECE", "p50 ms", "p95 ms"], summary_rows)}
{skipped}
<h2>Plots</h2>
{''.join(figures)}
<h2>Per agent</h2>
{''.join(details)}
</body></html>
"""


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_html(report), encoding="utf-8")
    return path
