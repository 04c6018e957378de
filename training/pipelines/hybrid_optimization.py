"""Weight optimisation of the manual: search the hybrid's stage weights and thresholds for accuracy.

    python training/pipelines/hybrid_optimization.py --test-data test_queries.json \\
        --ground-truth ground_truth.json --optimization-method bayesian --iterations 100 \\
        [--aws-profile ml-sandbox] [--seed 13] [--objective brand|brand+category] \\
        [--escalation-cost 0.0] [--output hybrid_optimization.json] [--write-registry] [--home DIR]

`--test-data` is a queries file (`[{"id", "query"}]`, labels from `--ground-truth`) or labelled
records (JSONL/TSV), read by the accuracy validator's loader. Every stage runs ONCE per query
(early stopping off; the LLM stage only where the registry configures one, e.g. with
`--aws-profile`), and each trial replays the hybrid's own rule (`HybridAgent.decide`, `fuse`) on
those cached answers, with the registry's calibrators, so 100 trials take seconds.

Searched (optuna: TPE for `bayesian`, random, or a grid): the weight of each stage that answered,
`early_stopping` and `early_stopping_threshold`. The objective is brand accuracy (or the mean of
brand and category accuracy) minus `--escalation-cost` times the LLM escalation: the share of
names that would reach the LLM stage (counted even where no LLM is configured: those would be the
LLM calls). `confidence_threshold` changes no answer, only which rows are flagged for review, so
each trial sets it exactly: the threshold at which "needs review" best matches "wrong".

Writes the report (baseline, winner, every trial, the accuracy / escalation Pareto front) to
`--output`, a plot beside it (.png), and a run record; `--write-registry` stores the winner as the
registry's `hybrid` settings, which `HybridAgent()` loads. Thresholds are in calibrated units:
calibrate first, then optimise, then re-fit the `hybrid` calibrator if the weights changed.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from inference.agents.base import StageAnswer
from inference.agents.hybrid_agent import STAGES, HybridAgent
from inference.brands import brand_key

METHODS = ("bayesian", "random", "grid")
OBJECTIVES = ("brand", "brand+category")
GRID = {"weight": [0.2, 0.5, 0.8], "early_stopping": [True, False],
        "early_stopping_threshold": [0.6, 0.7, 0.8, 0.9, 0.95]}
SEARCHED = ("early_stopping", "early_stopping_threshold")


class OptimizationError(Exception):
    """A problem with the command's input or options; the message names the file or option."""


# -- inputs ----------------------------------------------------------------------------------------
def load_test_cases(test_data: Path, ground_truth: Path | None = None) -> list:
    """The labelled cases (normalised queries with brand and category) of the input files."""
    from inference.queries import QueryFileError, load_cases

    try:
        return load_cases(test_data=test_data, ground_truth=ground_truth)
    except QueryFileError as exc:
        raise OptimizationError(str(exc)) from None


@dataclass
class CachedRun:
    """Every stage's raw answer per case, once; trials only replay the pipeline's rule on them."""

    answers: list[dict[str, StageAnswer]]
    brands: list[str]  # brand keys of the truth
    categories: list[str | None]
    skipped: dict[str, str]

    @property
    def answered_stages(self) -> list[str]:
        return [s for s in STAGES if any(s in a and not a[s].error for a in self.answers)]


def collect(agent: HybridAgent, cases: Sequence, progress: Callable[[int], None] | None = None) -> CachedRun:
    from inference.records import Record

    answers, skipped = agent.stage_answers([Record(name=c.text, id=c.id) for c in cases], progress=progress)
    for case, answer in zip(cases, answers):
        if isinstance(answer, str):
            raise OptimizationError(f"{case.where}: {answer}")
    return CachedRun(answers, [brand_key(c.brand) for c in cases],  # type: ignore[arg-type]
                     [brand_key(c.category) if c.category else None for c in cases], skipped)


# -- one configuration -------------------------------------------------------------------------------
def best_review_threshold(confidences: np.ndarray, correct: np.ndarray) -> tuple[float, float]:
    """(threshold, share of rows where "confidence < threshold" equals "wrong"): the review flag that
    best separates wrong answers from right ones; ties go to the middle of the best range."""
    grid = np.round(np.linspace(0.0, 1.0, 101), 2)
    matches = [(float(np.mean((confidences < t) == ~correct)), t) for t in grid]
    top = max(m for m, _ in matches)
    best = [t for m, t in matches if m >= top - 1e-12]
    return float(best[len(best) // 2]), top


def evaluate(agent: HybridAgent, run: CachedRun, config: dict[str, Any], objective: str = "brand",
             escalation_cost: float = 0.0) -> dict[str, Any]:
    """Accuracy, LLM escalation, who decided, and the review threshold of `config` on the cached run."""
    agent.configure_pipeline(config)
    sequence = agent.pipeline["sequence"]
    before_llm = set(sequence[:sequence.index("llm")]) if "llm" in sequence else None
    n = len(run.answers)
    brand_ok = np.zeros(n, dtype=bool)
    confidence = np.zeros(n)
    category_hits, category_total, escalated = 0, 0, 0
    decided: dict[str, int] = {}
    for i, raw in enumerate(run.answers):
        decided_by, answers = agent.decide(raw)
        brand, brand_conf, category, _ = agent.final_answer(answers, decided_by)
        brand_ok[i] = bool(brand) and brand_key(brand) == run.brands[i]
        confidence[i] = brand_conf
        if run.categories[i]:
            category_total += 1
            category_hits += bool(category) and brand_key(category) == run.categories[i]
        decided[decided_by] = decided.get(decided_by, 0) + 1
        escalated += before_llm is not None and decided_by not in before_llm
    accuracy = float(brand_ok.mean())
    category_accuracy = category_hits / category_total if category_total else None
    score = accuracy if objective == "brand" or category_accuracy is None else (accuracy + category_accuracy) / 2
    escalation = escalated / n
    threshold, review_accuracy = best_review_threshold(confidence, brand_ok)
    flagged = confidence < threshold
    return {
        "objective": round(score - escalation_cost * escalation, 6),
        "brand_accuracy": round(accuracy, 4),
        "category_accuracy": None if category_accuracy is None else round(category_accuracy, 4),
        "llm_escalation": round(escalation, 4),
        "decided_by": {k: round(v / n, 4) for k, v in sorted(decided.items())},
        "confidence_threshold": threshold,
        "review_share": round(float(flagged.mean()), 4),
        "review_accuracy": round(review_accuracy, 4),
        "accepted_accuracy": round(float(brand_ok[~flagged].mean()), 4) if (~flagged).any() else None,
    }


# -- the search ----------------------------------------------------------------------------------------
def check_options(method: str, objective: str, iterations: int) -> None:
    if method not in METHODS:
        raise OptimizationError(f"--optimization-method {method!r}: expected one of {', '.join(METHODS)}")
    if objective not in OBJECTIVES:
        raise OptimizationError(f"--objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    if iterations < 1:
        raise OptimizationError("--iterations must be at least 1")


def make_sampler(method: str, stages: Sequence[str], seed: int):
    import optuna

    if method == "bayesian":
        return optuna.samplers.TPESampler(seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "grid":
        space = {f"{s}_weight": GRID["weight"] for s in stages}
        space.update({k: GRID[k] for k in SEARCHED})
        return optuna.samplers.GridSampler(space, seed=seed)
    raise OptimizationError(f"--optimization-method {method!r}: expected one of {', '.join(METHODS)}")


def grid_size(stages: Sequence[str]) -> int:
    return len(GRID["weight"]) ** len(stages) * len(GRID["early_stopping"]) * len(GRID["early_stopping_threshold"])


def suggest(trial, stages: Sequence[str], method: str) -> dict[str, Any]:
    if method == "grid":  # GridSampler takes its values from the grid whatever the ranges say
        config = {f"{s}_weight": trial.suggest_float(f"{s}_weight", min(GRID["weight"]), max(GRID["weight"])) for s in stages}
        config["early_stopping"] = trial.suggest_categorical("early_stopping", GRID["early_stopping"])
        config["early_stopping_threshold"] = trial.suggest_float("early_stopping_threshold", 0.6, 0.95)
        return config
    config = {f"{s}_weight": round(trial.suggest_float(f"{s}_weight", 0.0, 1.0), 3) for s in stages}
    config["early_stopping"] = trial.suggest_categorical("early_stopping", [True, False])
    config["early_stopping_threshold"] = round(trial.suggest_float("early_stopping_threshold", 0.5, 0.99), 3)
    return config


def pareto_front(trials: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trials that no other trial beats on both accuracy (higher) and LLM escalation (lower); one per point."""
    front, seen = [], set()
    for t in sorted(trials, key=lambda t: (-t["brand_accuracy"], t["llm_escalation"], -t["objective"])):
        point = (t["brand_accuracy"], t["llm_escalation"])
        if point in seen:
            continue
        if not any(o["brand_accuracy"] >= point[0] and o["llm_escalation"] <= point[1]
                   and (o["brand_accuracy"], o["llm_escalation"]) != point for o in trials):
            front.append(t)
            seen.add(point)
    return sorted(front, key=lambda t: t["llm_escalation"])


def _rank(t: dict[str, Any]) -> tuple:
    """Best objective; then less LLM escalation; then the review flag that matches errors best."""
    return (round(t["objective"], 9), -t["llm_escalation"], t["review_accuracy"])


def optimize(cases: Sequence, registry=None, method: str = "bayesian", iterations: int = 100, seed: int = 13,
             objective: str = "brand", escalation_cost: float = 0.0, progress=None,
             agent: HybridAgent | None = None, run: CachedRun | None = None) -> dict[str, Any]:
    """Run the search; returns the report (baseline, winner, trials, Pareto front)."""
    import optuna

    from inference.config.settings import Settings

    check_options(method, objective, iterations)
    own = agent is None
    agent = agent or HybridAgent(registry, settings=Settings())
    try:
        run = run or collect(agent, cases, progress.stage if progress else None)
    finally:
        if own:
            agent.close()
    stages = [s for s in agent.pipeline["sequence"] if s in run.answered_stages]
    if not stages:
        raise OptimizationError("no stage answered any query: is the home bootstrapped?")
    original = dict(agent.pipeline)
    baseline_config = {k: agent.pipeline[k] for k in (*(f"{s}_weight" for s in stages), *SEARCHED)}
    trials: list[dict[str, Any]] = []

    def objective_fn(trial) -> float:
        config = suggest(trial, stages, method)
        result = evaluate(agent, run, config, objective, escalation_cost)
        trials.append({"number": trial.number, "params": config, **result})
        if progress:
            progress.trial()
        return result["objective"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=make_sampler(method, stages, seed))
    planned = min(iterations, grid_size(stages)) if method == "grid" else iterations
    try:
        baseline = {"params": baseline_config, **evaluate(agent, run, baseline_config, objective, escalation_cost)}
        study.optimize(objective_fn, n_trials=planned)
    finally:
        agent.pipeline = original  # trials reconfigure the agent; leave it as it came
    winner = max(trials, key=_rank)
    kept_baseline = _rank(baseline) >= _rank(winner)
    if kept_baseline:
        winner = {"number": None, **baseline}
    config = {**winner["params"], "confidence_threshold": winner["confidence_threshold"]}
    notes = []
    if "llm" not in stages:
        why = run.skipped.get("llm") or "it is not in the sequence"
        notes.append(f"The LLM stage gave no answers ({why}): weights and accuracy are those of "
                     f"{' + '.join(stages)}; llm_escalation counts the names that would reach it.")
    if kept_baseline:
        notes.append("No trial beat the current configuration: it is kept.")
    if agent.calibrators.get("hybrid") and any(winner["params"][f"{s}_weight"] != baseline_config[f"{s}_weight"]
                                               for s in stages):
        notes.append("The weights changed, so the fused confidence did: re-fit the hybrid calibrator "
                     "(training.pipelines.confidence_calibration).")
    return {
        "method": method, "sampler": type(study.sampler).__name__, "iterations": iterations, "trials_run": len(trials),
        "seed": seed, "objective": objective, "escalation_cost": escalation_cost,
        "queries": len(run.answers), "stages_searched": stages, "skipped": run.skipped,
        "calibrators": sorted(k for k, v in agent.calibrators.items() if v),
        "baseline": baseline, "winner": winner, "best_config": config,
        "improvement": round(winner["brand_accuracy"] - baseline["brand_accuracy"], 4),
        "pareto_front": pareto_front(trials + [{"number": None, **baseline}]),
        "trials": trials, "notes": notes,
    }


# -- output ----------------------------------------------------------------------------------------------
def plot(report: dict[str, Any], path: Path) -> Path:
    """Accuracy by trial (with the running best) and accuracy against LLM escalation (Pareto front)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = report["trials"]
    accuracy = [t["brand_accuracy"] for t in trials]
    fig, (history, tradeoff) = plt.subplots(1, 2, figsize=(11, 4.2))
    history.scatter(range(len(trials)), accuracy, s=12, alpha=0.6, label="trial")
    history.plot(range(len(trials)), np.maximum.accumulate([t["objective"] for t in trials]), color="C1", label="best objective")
    history.axhline(report["baseline"]["brand_accuracy"], color="grey", ls="--", lw=1, label="baseline accuracy")
    history.set(xlabel="trial", ylabel="brand accuracy", title=f"{report['method']} search ({report['trials_run']} trials)")
    history.legend(loc="lower right", fontsize=8)
    tradeoff.scatter([t["llm_escalation"] for t in trials], accuracy, s=12, alpha=0.5, label="trial")
    front = report["pareto_front"]
    tradeoff.plot([t["llm_escalation"] for t in front], [t["brand_accuracy"] for t in front], "o-", color="C3", label="Pareto front")
    tradeoff.scatter([report["baseline"]["llm_escalation"]], [report["baseline"]["brand_accuracy"]], marker="s",
                     s=60, color="grey", label="baseline", zorder=3)
    tradeoff.scatter([report["winner"]["llm_escalation"]], [report["winner"]["brand_accuracy"]], marker="*",
                     s=160, color="C2", label="winner", zorder=4)
    tradeoff.set(xlabel="LLM escalation (share of names reaching the LLM stage)", ylabel="brand accuracy",
                 title="accuracy vs LLM escalation", xlim=(-0.05, 1.05))
    tradeoff.legend(loc="lower right", fontsize=8)
    fig.suptitle(f"Hybrid optimisation on {report['queries']} queries")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title=f"Accuracy / LLM escalation trade-off (Pareto front of {report['trials_run']} trials)")
    for column in ("brand acc", "category acc", "LLM escalation", "decided by", "early stop", "weights"):
        table.add_column(column, justify="right" if "acc" in column or "LLM" in column else "left")
    for t in report["pareto_front"]:
        p = t["params"]
        table.add_row(f"{t['brand_accuracy']:.4f}", "—" if t["category_accuracy"] is None else f"{t['category_accuracy']:.4f}",
                      f"{t['llm_escalation']:.2%}", ", ".join(f"{k} {v:.0%}" for k, v in t["decided_by"].items()),
                      f"{p['early_stopping_threshold']:.3g}" if p["early_stopping"] else "off",
                      " ".join(f"{s}={p[f'{s}_weight']:.2f}" for s in report["stages_searched"]))
    console.print(table)
    b, w = report["baseline"], report["winner"]
    console.print(f"Baseline: brand accuracy {b['brand_accuracy']:.4f}, LLM escalation {b['llm_escalation']:.2%}. "
                  f"Winner: {w['brand_accuracy']:.4f}, {w['llm_escalation']:.2%}, review threshold "
                  f"{w['confidence_threshold']} (flags {w['review_share']:.1%}).")
    console.print(f"Best configuration: {json.dumps(report['best_config'])}")
    for note in report["notes"]:
        console.print(f"Note: {note}")


class _Progress:
    """Rich progress bars: one over the stage runs, one over the trials."""

    def __init__(self, bar, stage_total: int, trial_total: int):
        self.bar = bar
        self.stage_task = bar.add_task("stages (every query once)", total=stage_total)
        self.trial_task = bar.add_task("trials", total=trial_total)

    def stage(self, count: int) -> None:
        self.bar.advance(self.stage_task, count)

    def trial(self) -> None:
        self.bar.advance(self.trial_task, 1)


app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])
err = Console(stderr=True, soft_wrap=True)


@app.command()
def main(
    test_data: Path = typer.Option(..., "--test-data", help="test_queries.json (with --ground-truth) or labelled records (JSONL/TSV)."),
    ground_truth: Optional[Path] = typer.Option(None, "--ground-truth", help="ground_truth.json: {query id: {brand, category}}."),
    optimization_method: str = typer.Option("bayesian", "--optimization-method", help="bayesian (optuna TPE), random or grid."),
    iterations: int = typer.Option(100, "--iterations", help="Trials (a grid stops when exhausted)."),
    seed: int = typer.Option(13, "--seed", help="Sampler seed."),
    objective: str = typer.Option("brand", "--objective", help="brand, or brand+category (mean of both accuracies)."),
    escalation_cost: float = typer.Option(0.0, "--escalation-cost", help="Accuracy given up per unit of LLM escalation share."),
    output: Path = typer.Option(Path("hybrid_optimization.json"), "--output", help="Report (JSON); a .png plot goes beside it."),
    write_registry: bool = typer.Option(False, "--write-registry", help="Store the winner as the registry's hybrid settings."),
    home: Optional[Path] = typer.Option(None, "--home", help="Local home (default $PRODUCT_INFERENCE_HOME or ~/.product-inference)."),
    aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile for the session factory (registry in S3, Bedrock)."),
    region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
):
    """Search the hybrid's weights and thresholds; write the report, a plot and a run record."""
    from inference.config.model_registry import ModelRegistry, RegistryError
    from inference.config.settings import Settings
    from training.run_record import write_run_record

    try:
        check_options(optimization_method, objective, iterations)  # before any model loads
        if not output.parent.is_dir():
            raise OptimizationError(f"cannot write {output}: folder {output.parent} does not exist")
        if home and not home.is_dir():
            raise OptimizationError(f"--home {home}: no such folder")
        if aws_profile:
            os.environ["AWS_PROFILE"] = aws_profile  # the session factory reads it (registry in S3, Bedrock)
        if region:
            os.environ["AWS_REGION"] = region
        cases = load_test_cases(test_data, ground_truth)
        registry = ModelRegistry(home=home)
        for model_type in ("ner", "embedding", "rag"):
            registry.get_model_config(model_type)
        agent = HybridAgent(registry, settings=Settings())
        try:
            stages = len([s for s in agent.pipeline["sequence"] if s != "llm" or agent.llm.configured])
            with Progress(console=err, transient=True) as bar:
                progress = _Progress(bar, stages * len(cases), iterations)
                report = optimize(cases, method=optimization_method, iterations=iterations, seed=seed,
                                  objective=objective, escalation_cost=escalation_cost, progress=progress, agent=agent)
        finally:
            agent.close()
        report["dataset"] = {"test_data": str(test_data), "ground_truth": str(ground_truth) if ground_truth else None}
        report["registry"] = str(registry.location)
        if write_registry:
            stored = registry.update_model_config("hybrid", {
                **report["best_config"],
                "optimized": {"method": optimization_method, "trials": report["trials_run"],
                              "brand_accuracy": report["winner"]["brand_accuracy"], "test_data": str(test_data)}})
            report["written_to_registry"] = {k: stored[k] for k in report["best_config"]}
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        picture = plot(report, output.with_suffix(".png"))
        run = write_run_record(output.resolve().parent, "hybrid-optimization", {
            "test_data": str(test_data), "ground_truth": str(ground_truth or ""), "method": optimization_method,
            "iterations": iterations, "seed": seed, "objective": objective, "escalation_cost": escalation_cost,
            "write_registry": write_registry, "registry": str(registry.location), "aws_profile": aws_profile or "",
        }, [test_data, ground_truth], {"baseline": report["baseline"], "winner": report["winner"],
                                       "best_config": report["best_config"], "trials_run": report["trials_run"]})
    except (OptimizationError, RegistryError, ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2)
    out = Console(soft_wrap=True)
    print_report(report, out)
    if write_registry:
        out.print(f"Wrote the winner to the registry's hybrid settings ({registry.location}).")
    out.print(f"Wrote {output} and {picture}; run record in {run}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
