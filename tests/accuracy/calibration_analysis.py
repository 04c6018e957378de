"""The manual's calibration analysis (`accuracy_validator.py --calibration-analysis`).

    python tests/accuracy/accuracy_validator.py --calibration-analysis \\
        --test-data test_queries.json --ground-truth ground_truth.json --output calibration_analysis.json

Predicts the queries with the hybrid (every stage once, early stopping off; the pipeline's rule is
then replayed by `HybridAgent.decide`), and scores the confidence of the final answer and of each
stage's answer: ECE (10 equal-width bins), Brier score and a reliability curve, BEFORE calibration
(raw confidences, no calibrators) and AFTER (the registry's calibrators). When the registry holds no
calibrator, "after" uses calibrators fitted on the fly by k-fold cross-fitting on the queries
themselves (each query scored by calibrators fitted on the other folds), and the report says so.
The reliability diagram is a PNG beside the JSON report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

SERIES_TITLES = {"final": "final answer", "ner": "NER stage", "rag": "RAG stage", "llm": "LLM stage"}
BINS = 10


class CalibrationAnalysisError(Exception):
    """A problem with the input or the home; the message names the file or the setting."""


def _load_cases(test_data: Path, ground_truth: Path | None) -> list:
    from inference.queries import QueryFileError, load_cases

    try:
        return load_cases(test_data=test_data, ground_truth=ground_truth)
    except QueryFileError as exc:
        raise CalibrationAnalysisError(str(exc)) from None


def _registry(home: Path | None):
    from inference.config.model_registry import ModelRegistry, RegistryError

    if home and not Path(home).is_dir():
        raise CalibrationAnalysisError(f"--home {home}: no such folder")
    registry = ModelRegistry(home=home)
    try:
        for model_type in ("ner", "embedding", "rag"):
            registry.get_model_config(model_type)
    except (RegistryError, ValueError) as exc:
        raise CalibrationAnalysisError(str(exc)) from None
    return registry


# -- scoring ---------------------------------------------------------------------------------------------
def confidences(agent, answers: Sequence[dict], truth: Sequence[tuple[str | None, str | None]]) -> dict[str, Any]:
    """(confidence, right?) of the final answer and of each stage's brand answer, with the agent's
    current calibrators; plus the final answers' accuracy and who decided."""
    from inference.agents.hybrid_agent import STAGES
    from inference.brands import same_brand

    out: dict[str, list] = {name: [] for name in ("final", *STAGES)}
    decided: dict[str, int] = {}
    for raw, (brand, _) in zip(answers, truth):
        decided_by, calibrated = agent.decide(raw)
        label, confidence, _, _ = agent.final_answer(calibrated, decided_by)
        out["final"].append((confidence, same_brand(label, brand)))
        decided[decided_by] = decided.get(decided_by, 0) + 1
        for stage in STAGES:
            answer = raw.get(stage)
            if answer is not None and not answer.error and answer.brand:
                out[stage].append((agent.calibrate(stage, answer).brand_confidence, same_brand(answer.brand, brand)))
    return {"series": out, "decided_by": {k: round(v / len(answers), 4) for k, v in sorted(decided.items())}}


def series_scores(pairs: Sequence[tuple[float, bool]]) -> dict[str, Any] | None:
    """ECE, Brier and the reliability curve (scikit-learn's calibration_curve) of (confidence, right?) pairs."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    from inference.metrics import expected_calibration_error

    if not pairs:
        return None
    conf = np.clip(np.array([p for p, _ in pairs], dtype=float), 0.0, 1.0)
    right = np.array([ok for _, ok in pairs], dtype=int)
    accuracy_in_bin, confidence_in_bin = calibration_curve(right, conf, n_bins=BINS, strategy="uniform")
    edges = np.linspace(0.0, 1.0, BINS + 1)
    counts = np.bincount(np.digitize(conf, edges[1:-1], right=True), minlength=BINS)  # the bins of both
    return {
        "n": int(conf.size),
        "accuracy": round(float(right.mean()), 4),
        "mean_confidence": round(float(conf.mean()), 4),
        "ece": round(expected_calibration_error(conf, right.astype(bool), bins=BINS), 4),
        "brier": round(float(brier_score_loss(right, conf, labels=[0, 1])), 4),
        "reliability": {"mean_confidence": [round(float(v), 4) for v in confidence_in_bin],
                        "accuracy": [round(float(v), 4) for v in accuracy_in_bin],
                        "bin_counts": [int(c) for c in counts]},
    }


def _cross_fitted(agent, answers, truth, method: str, folds: int, seed: int, registry) -> tuple[dict, dict]:
    """Out-of-fold "after" series: each fold scored with calibrators fitted on the other folds."""
    from sklearn.model_selection import KFold

    from training.pipelines.confidence_calibration import PlattScaling

    folds = min(folds, len(answers) // 2)
    if folds < 2:
        raise CalibrationAnalysisError(f"{len(answers)} queries are too few to cross-fit calibrators; "
                                       f"fit them on more data, or store calibrators in the registry first")
    merged: dict[str, list] = {}
    decided: dict[str, float] = {}
    fitted = []
    for train, test in KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.arange(len(answers))):
        scaler = PlattScaling(method=method, registry=registry).fit_answers(
            [answers[i] for i in train], [truth[i] for i in train])
        agent.calibrators = scaler.to_dict()
        fitted.append({stage: c["method"] for stage, c in agent.calibrators.items()})
        part = confidences(agent, [answers[i] for i in test], [truth[i] for i in test])
        for name, pairs in part["series"].items():
            merged.setdefault(name, []).extend(pairs)
        for k, v in part["decided_by"].items():
            decided[k] = decided.get(k, 0.0) + v * len(test) / len(answers)
    return ({"series": merged, "decided_by": {k: round(v, 4) for k, v in sorted(decided.items())}},
            {"source": "cross-validation", "folds": folds, "seed": seed, "method": method, "fold_calibrators": fitted,
             "note": f"the registry has no calibrators: 'after' uses calibrators fitted on the fly ({folds}-fold "
                     f"cross-fitting on these queries, {method}), not saved; fit and store them with "
                     f"training.pipelines.confidence_calibration.PlattScaling"})


def analyse(agent, answers: Sequence[dict], truth: Sequence[tuple[str | None, str | None]], stored: dict[str, Any],
            method: str = "platt", folds: int = 5, seed: int = 13, registry=None) -> dict[str, Any]:
    """Before/after scores of every series for cached stage answers; `stored` are the registry's calibrators."""
    agent.calibrators = {}
    before = confidences(agent, answers, truth)
    if any(stored.values()):
        agent.calibrators = dict(stored)
        after = confidences(agent, answers, truth)
        source = {"source": "registry", "calibrators": {k: v for k, v in stored.items() if v}}
    else:
        after, source = _cross_fitted(agent, answers, truth, method, folds, seed, registry)
    series = {}
    for name in before["series"]:
        b, a = series_scores(before["series"][name]), series_scores(after["series"][name])
        if b or a:
            series[name] = {"before": b, "after": a}
    return {"queries": len(answers), "after_calibration": source, "series": series,
            "decided_by": {"before": before["decided_by"], "after": after["decided_by"]}}


# -- the picture ---------------------------------------------------------------------------------------------
def reliability_diagram(report: dict[str, Any], path: Path) -> Path:
    """One column per series: reliability curves before/after over the diagonal, counts below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["series"])
    fig, axes = plt.subplots(2, len(names), figsize=(4.2 * len(names), 5.6), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]})
    edges = np.linspace(0.0, 1.0, BINS + 1)
    for column, name in enumerate(names):
        curve, counts = axes[0][column], axes[1][column]
        curve.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfectly calibrated")
        for when, style, colour in (("before", "o--", "C1"), ("after", "s-", "C0")):
            scores = report["series"][name][when]
            if not scores:
                continue
            rel = scores["reliability"]
            sizes = [c for c in rel["bin_counts"] if c]  # the curve's points are the non-empty bins
            curve.plot(rel["mean_confidence"], rel["accuracy"], style[1:], color=colour, lw=1, alpha=0.6)
            curve.scatter(rel["mean_confidence"], rel["accuracy"], marker=style[0], color=colour, zorder=3,
                          s=[8 + 80 * np.sqrt(c / max(sizes)) for c in sizes],
                          label=f"{when}: ECE {scores['ece']:.3f}, Brier {scores['brier']:.3f}")
            counts.bar(edges[:-1] + (0.02 if when == "before" else 0.05), rel["bin_counts"], width=0.04,
                       align="edge", color=colour, alpha=0.8, label=when)
        n = (report["series"][name]["before"] or report["series"][name]["after"])["n"]
        curve.set(xlim=(0, 1), ylim=(0, 1.02), title=f"{SERIES_TITLES.get(name, name)} ({n} answers)",
                  xlabel="confidence", ylabel="share right" if column == 0 else None)
        curve.legend(loc="best", fontsize=7.5)
        counts.set(xlim=(0, 1), xlabel="confidence", ylabel="answers" if column == 0 else None)
    source = report["after_calibration"]["source"]
    fig.suptitle(f"Reliability diagram, {report['queries']} queries: before and after calibration "
                 f"({'registry calibrators' if source == 'registry' else 'cross-fitted calibrators'}); "
                 f"marker area ~ answers in the bin")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_summary(report: dict[str, Any], echo: Callable[[Any], None]) -> None:
    from rich.table import Table

    table = Table(title=f"Confidence calibration on {report['queries']} queries "
                        f"(after: {report['after_calibration']['source']})")
    for column in ("confidence of", "answers", "accuracy", "ECE before", "ECE after", "Brier before", "Brier after"):
        table.add_column(column, justify="left" if column == "confidence of" else "right")
    fmt = lambda s, key: "—" if not s or s[key] is None else f"{s[key]:.4f}"  # noqa: E731
    for name, scores in report["series"].items():
        before, after = scores["before"], scores["after"]
        table.add_row(SERIES_TITLES.get(name, name), str((before or after)["n"]),
                      f"{fmt(before, 'accuracy')} → {fmt(after, 'accuracy')}" if name == "final" else fmt(before, "accuracy"),
                      fmt(before, "ece"), fmt(after, "ece"), fmt(before, "brier"), fmt(after, "brier"))
    echo(table)
    if report["after_calibration"].get("note"):
        echo(f"Note: {report['after_calibration']['note']}")


# -- the entry point -----------------------------------------------------------------------------------------
def run_calibration_analysis(test_data: str | Path, ground_truth: str | Path | None = None,
                             output: str | Path = "calibration_analysis.json", home: str | Path | None = None, *,
                             cases: Sequence | None = None, registry=None, method: str = "platt", folds: int = 5,
                             seed: int = 13, aws_profile: str | None = None, region: str | None = None,
                             echo: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Analyse, write `output` (JSON), the reliability diagram beside it (.png) and a run record;
    returns the report. `cases` (the validator's loaded cases) saves reading the files again."""
    import json

    from inference.agents.hybrid_agent import STAGES, HybridAgent
    from inference.config.settings import Settings
    from inference.records import Record
    from training.run_record import write_run_record

    output = Path(output)
    if not output.parent.is_dir():
        raise CalibrationAnalysisError(f"cannot write {output}: folder {output.parent} does not exist")
    if method not in ("platt", "isotonic"):
        raise CalibrationAnalysisError(f"calibration method {method!r}: expected platt or isotonic")
    if aws_profile:
        os.environ["AWS_PROFILE"] = aws_profile
    if region:
        os.environ["AWS_REGION"] = region
    test_data = Path(test_data)
    ground_truth = Path(ground_truth) if ground_truth else None
    cases = list(cases) if cases is not None else _load_cases(test_data, ground_truth)
    registry = registry or _registry(Path(home) if home else None)
    agent = HybridAgent(registry, settings=Settings())
    try:
        answers, skipped = agent.stage_answers([Record(name=c.text, id=c.id) for c in cases])
    finally:
        agent.close()
    for case, answer in zip(cases, answers):
        if isinstance(answer, str):
            raise CalibrationAnalysisError(f"{case.where}: {answer}")
    truth = [(c.brand, c.category) for c in cases]
    stored = {stage: registry.get_calibration(stage) for stage in (*STAGES, "hybrid")}
    report = analyse(agent, answers, truth, stored, method, folds, seed, registry)
    report.update({"pipeline": {k: v for k, v in agent.pipeline.items()}, "skipped": skipped,
                   "registry": str(registry.location),
                   "dataset": {"test_data": str(test_data), "ground_truth": str(ground_truth) if ground_truth else None},
                   "definitions": {"ece": f"expected calibration error, {BINS} equal-width bins (inference.metrics)",
                                   "brier": "mean squared difference between confidence and right (1) / wrong (0)",
                                   "final": "the hybrid's answer after early stopping or fusion (its 'confidence')",
                                   "stage series": "each stage's brand answers, every stage run on every query"}})
    picture = reliability_diagram(report, output.with_suffix(".png"))
    report["reliability_diagram"] = str(picture)
    try:
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        raise CalibrationAnalysisError(f"cannot write {output}: {exc.strerror}") from None
    metrics = {name: {when: {k: s[k] for k in ("n", "accuracy", "ece", "brier")} if s else None
                      for when, s in scores.items()} for name, scores in report["series"].items()}
    run = write_run_record(output.resolve().parent, "calibration-analysis", {
        "test_data": str(test_data), "ground_truth": str(ground_truth or ""), "registry": str(registry.location),
        "after_source": report["after_calibration"]["source"], "method": method, "folds": folds, "seed": seed,
        "aws_profile": aws_profile or ""}, [test_data, ground_truth], metrics)
    report["run_record"] = str(run)
    if echo:
        print_summary(report, echo)
        echo(f"Wrote {output} and the reliability diagram {picture}; run record in {run}")
    return report
