"""The manual's accuracy validator: scores one agent type on labelled queries.

    python tests/accuracy/accuracy_validator.py --agent-type rag --test-queries test_queries.json \
        --ground-truth ground_truth.json --metrics recall@k,precision@k,mrr --output rag_evaluation.json

Agent types are runners in `RUNNERS` (rag, ner, hybrid, llm); metrics are functions in `METRICS`, by
name. A runner answers every query in one call and returns brand/category labels, confidences and,
for retrieval, the neighbours' brands in rank order. Relevance and correctness are "same brand" by
`inference.brands.same_brand`, everywhere.

`--full-evaluation --agents ner,rag,llm,hybrid` runs every agent on the same queries and writes one
JSON report with an HTML report beside it (tests/accuracy/full_evaluation.py, evaluation_report.py).

Inputs: `--test-queries` (a JSON list of `{"id", "query"}` objects, or of strings: ids q1, q2, ...
by position) with `--ground-truth` (`{"q1": {"brand": ..., "category": ...}}`); or `--test-data`,
either such a queries file (labels inline or from `--ground-truth`) or labelled records (TSV with
header name<TAB>brand<TAB>category, or JSONL) read by `inference.records`.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inference.brands import brand_key, same_brand
from inference.metrics import mean_reciprocal_rank, precision_at_k, recall_at_k, relevance
from inference.queries import Case, QueryFileError
from inference.queries import load_cases as _load_cases

DEFAULT_K = "1,5,10"
DEFAULT_METRICS = {"rag": "recall@k,precision@k,mrr", "*": "accuracy,precision,recall,f1"}


class ValidatorError(QueryFileError):
    """A problem with the command's input or options; the message names the file, entry or option."""


def load_cases(test_queries: Path | None = None, ground_truth: Path | None = None,
               test_data: Path | None = None) -> list[Case]:
    """inference.queries.load_cases, its errors reported as the command's own."""
    try:
        return _load_cases(test_queries, ground_truth, test_data)
    except QueryFileError as exc:
        if isinstance(exc, ValidatorError):
            raise
        raise ValidatorError(str(exc)) from None


# -- metrics: small pure functions ------------------------------------------------------------------

def label_scores(truth: Sequence[str], predicted: Sequence[str | None]) -> dict[str, float]:
    """Accuracy, and precision/recall/F1 macro-averaged over the true brands (scikit-learn).

    Labels are brand keys, so "Lay's" and "LAYS" are one brand. Macro runs over the brands of the
    ground truth: a query answered with another brand (or none) is a miss for its true brand, and a
    false positive only for a ground-truth brand that was wrongly answered.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true = [brand_key(b) for b in truth]
    y_pred = [brand_key(b) for b in predicted]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
                                                 zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision": float(p), "recall": float(r), "f1": float(f)}


def calibration_scores(confidences: Sequence[float], correct: Sequence[bool]) -> dict[str, float | None]:
    """ECE (inference.metrics) and Brier score of the brand confidence."""
    from sklearn.metrics import brier_score_loss

    from inference.metrics import expected_calibration_error

    if not confidences:
        return {"ece": None, "brier": None}
    return {"ece": expected_calibration_error(confidences, correct),
            "brier": float(brier_score_loss([int(c) for c in correct], confidences, pos_label=1))
            if len(set(correct)) > 1 else None}


# -- agent runners ----------------------------------------------------------------------------------

@dataclass
class Options:
    """What a runner may need besides the cases."""

    registry: Any = None  # inference.config.model_registry.ModelRegistry
    depth: int = 10  # neighbours to retrieve for ranking metrics
    model_path: Path | None = None
    aws_profile: str | None = None
    region: str | None = None
    progress: Callable[[int], None] | None = None
    model_id: str | None = None  # llm only: a Bedrock model id, or a model/deployment named in the registry's llm config
    llm_client: Any = None  # llm only: a bedrock-runtime client (tests inject a stubbed one)
    left_out_stages: dict[str, str] = field(default_factory=dict)  # hybrid only: stage -> why it is left out


@dataclass
class AgentRun:
    """An agent's answers for every case, in case order."""

    brands: list[str | None]
    categories: list[str | None]
    confidences: list[float]
    rankings: list[list[str | None]] | None = None  # neighbours' brands in rank order (retrieval agents)
    evidence: list[list[str | None]] | None = None  # the neighbours that voted, in the agent's order
    info: dict[str, Any] = field(default_factory=dict)
    latency_ms: dict[str, list[float]] | None = None  # per stage, one value per call, when the runner calls one name at a time


BATCH = 256


def _chunks(texts: list[str], predict: Callable[[list[str]], list], progress) -> list:
    out = []
    for start in range(0, len(texts), BATCH):
        out.extend(predict(texts[start:start + BATCH]))
        if progress:
            progress(min(BATCH, len(texts) - start))
    return out


def run_rag(cases: Sequence[Case], options: Options) -> AgentRun:
    """The RAG stage alone (no NER boost), one batched search: the ranking is the vector store's
    order down to `depth`; the vote uses the agent's own `top_k` of those neighbours."""
    from inference.agents.rag_agent import RAGAgent

    agent = RAGAgent(options.registry)
    try:
        top_k = int(agent.search_config["top_k"])
        depth = max(options.depth, top_k)
        texts = [c.text for c in cases]
        hits = agent.search(texts, limit=depth)
        rankings = [[h.get("brand") for h in found] for found in hits]
        answers = [agent.vote(text, [dict(h) for h in found[:top_k]]) for text, found in zip(texts, hits)]
        search = dict(agent.search_config)
    finally:
        agent.close()
    if options.progress:
        options.progress(len(cases))
    return AgentRun([a.brand for a in answers], [a.category for a in answers], [a.brand_confidence for a in answers],
                    rankings=rankings, evidence=[[e.get("brand") for e in a.evidence] for a in answers],
                    info={"search": search, "search_depth": depth, "registry": str(agent.registry.location),
                          "query": "the normalised name alone (no NER entity boost), with the agent's query expansion"})


def run_ner(cases: Sequence[Case], options: Options) -> AgentRun:
    """The NER agent (the registry's active model, or `--model-path`): the brand span mapped to a label."""
    from inference.agents.ner_agent import NERAgent

    agent = NERAgent.from_folder(options.model_path) if options.model_path else NERAgent(options.registry)
    answers = _chunks([c.text for c in cases], agent.predict_batch, options.progress)
    where = str(options.model_path) if options.model_path else str(options.registry.location)
    return AgentRun([a.brand for a in answers], [a.category for a in answers], [a.brand_confidence for a in answers],
                    info={"model": where})


def hybrid_agent(options: Options, settings=None):
    """The registry's hybrid pipeline, less the stages the run leaves out (`options.left_out_stages`)."""
    from inference.agents.hybrid_agent import HybridAgent

    agent = HybridAgent(options.registry, settings=settings)
    if options.left_out_stages:
        agent.configure_pipeline({"sequence": [s for s in agent.pipeline["sequence"] if s not in options.left_out_stages]})
    return agent


def run_hybrid(cases: Sequence[Case], options: Options) -> AgentRun:
    """The whole pipeline as configured in the registry (early stopping, fusion)."""
    agent = hybrid_agent(options)
    try:
        rows = _chunks([c.text for c in cases], agent.predict_batch, options.progress)
    finally:
        agent.close()
    bad = next((r for r in rows if "error" in r), None)
    if bad:
        raise ValidatorError(f"the hybrid agent rejected {bad.get('name')!r}: {bad['error']}")
    decided: dict[str, int] = defaultdict(int)
    for row in rows:
        decided[row["decided_by"]] += 1
    info = {"pipeline": dict(agent.pipeline), "decided_by": dict(decided),
            "degraded_rows": sum(bool(r.get("degraded")) for r in rows)}
    if options.left_out_stages:
        info["stages_left_out"] = dict(options.left_out_stages)
    return AgentRun([r["brand"] for r in rows], [r["category"] for r in rows], [float(r["confidence"]) for r in rows],
                    info=info)


class AgentUnavailable(ValidatorError):
    """The agent's model could not be reached (no endpoint, refused, throttled past retries): the run
    scored nothing. A caller evaluating several agents can report that agent as skipped."""


# StageUnavailable messages of LLMAgent that mean the model was not reached (not a bad answer).
LLM_UNREACHABLE = ("LLM stage is not configured", "LLM call failed", "LLM throttled/unavailable")


def run_llm(cases: Sequence[Case], options: Options) -> AgentRun:
    """The LLM stage alone (Bedrock Converse), given the NER entities and RAG neighbours of the local
    home when it is bootstrapped, as the hybrid passes them. A call that does not reach the model
    (refused, missing, unavailable after the agent's retries) stops the run with nothing scored; an
    answer that is not the expected JSON counts as no answer."""
    from inference.agents.base import StageUnavailable
    from inference.agents.llm_agent import LLMAgent
    from training.pipelines.bedrock_nova import invocation_model_id
    from training.preprocessing.llm_data_preparation import PipelineContext

    registry = options.registry
    invoked = invocation_model_id(options.model_id, registry)
    if not invoked:
        raise ValidatorError("no LLM to evaluate: give --model-id (a Bedrock model id, or the custom model or deployment "
                             "that training/pipelines/nova_deployment.py recorded in the registry's llm config)")
    agent = LLMAgent(model_id=invoked, client=options.llm_client, profile=options.aws_profile, region=options.region)
    context = PipelineContext.open(registry) if registry is not None else None
    try:
        found = context.lookup([c.text for c in cases]) if context else [([], [])] * len(cases)
    finally:
        if context:
            context.close()
    llm_context = context.llm_context if context else None
    brands, categories, confidences, malformed, latencies = [], [], [], [], []
    tokens = {"input": 0, "output": 0}
    for case, (entities, neighbours) in zip(cases, found):
        try:
            answer = agent.predict(case.text, entities, neighbours, llm_context)
        except StageUnavailable as exc:
            first = str(exc).splitlines()[0][:300]
            if str(exc).startswith(LLM_UNREACHABLE):
                raise AgentUnavailable(f"the LLM {invoked} could not be reached ({first}); nothing was scored. Check "
                                       f"that it is deployed (training/pipelines/nova_deployment.py) and the "
                                       f"--aws-profile and --region") from None
            malformed.append({"id": case.id, "error": first})
            brands.append(None)
            categories.append(None)
            confidences.append(0.0)
        else:
            brands.append(answer.brand)
            categories.append(answer.category)
            confidences.append(answer.brand_confidence)
            latencies.append(answer.latency_ms)
            usage = answer.evidence[0] if answer.evidence else {}
            tokens["input"] += usage.get("input_tokens") or 0
            tokens["output"] += usage.get("output_tokens") or 0
        if options.progress:
            options.progress(1)
    return AgentRun(brands, categories, confidences, info={
        "model_id": options.model_id, "invoked_model_id": invoked,
        "context": f"NER entities and RAG neighbours from {registry.location}" if context else "none (name only)",
        "confidence": "the model's own brand_confidence (no calibrator applied)",
        "malformed_answers": malformed, "tokens": tokens}, latency_ms={"llm": latencies})


RUNNERS: dict[str, Callable[[Sequence[Case], Options], AgentRun]] = {"rag": run_rag, "ner": run_ner, "hybrid": run_hybrid,
                                                                      "llm": run_llm}
PLANNED_AGENT_TYPES: tuple[str, ...] = ()
"""Agent types of the manual that a later version adds (register a runner in RUNNERS)."""


# -- metrics by name --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """`ranked` metrics need a runner that returns rankings; `at_k` ones also take "@k" (every
    --k value) or "@<number>", and then rank neighbours (`at_k` is their definition)."""

    description: str
    ranked: bool = False
    at_k: str | None = None


METRICS: dict[str, Metric] = {
    "recall": Metric("macro recall over the ground-truth brands of the answered brand (scikit-learn)",
                     at_k="share of queries with at least one neighbour of the true brand in the top k (hit rate)"),
    "precision": Metric("macro precision over the ground-truth brands of the answered brand (scikit-learn)",
                        at_k="mean share of the top k neighbours that have the true brand (divided by k)"),
    "mrr": Metric("mean reciprocal rank of the first neighbour with the true brand (0 when none is in the "
                  "retrieved depth: the largest k)",
                  ranked=True),
    "accuracy": Metric("share of queries whose answered brand is the true brand (same_brand)"),
    "f1": Metric("macro F1 over the ground-truth brands of the answered brand (scikit-learn)"),
    "confidence_calibration": Metric("ECE (10 equal-width bins) and Brier score of the brand confidence"),
}
ALWAYS = {"brand_accuracy": "share of queries whose answered brand is the true brand (same_brand)",
          "category_accuracy": "the same for the category, over the queries that have one"}


@dataclass(frozen=True)
class MetricRequest:
    name: str  # as asked: "recall@k", "recall@5", "mrr", "f1"
    base: str
    k: str | None = None  # "k" (every --k value), a number, or None


def parse_metrics(text: str, agent_type: str, ranked: bool) -> list[MetricRequest]:
    """The requested metrics, checked: known names, and applicable to the agent type."""
    requests = []
    for name in [m.strip() for m in text.split(",") if m.strip()]:
        base, _, k = name.partition("@")
        if base not in METRICS:
            raise ValidatorError(f"unknown metric {name!r}; known metrics: {', '.join(_metric_names())}")
        metric = METRICS[base]
        if k and not (metric.at_k and (k == "k" or (k.isdigit() and int(k) > 0))):
            raise ValidatorError(f"bad metric {name!r}: '@' takes 'k' or a positive number, and only for recall and precision")
        if (metric.ranked or k) and not ranked:
            raise ValidatorError(f"metric {name!r} ranks retrieved neighbours; agent type {agent_type!r} retrieves none "
                                 f"(use accuracy, precision, recall, f1, confidence_calibration)")
        requests.append(MetricRequest(name, base, k or None))
    if not requests:
        raise ValidatorError("--metrics names no metric")
    return requests


def _metric_names() -> list[str]:
    return [f"{n}@k" for n, m in METRICS.items() if m.at_k] + list(METRICS)


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError:
        raise ValidatorError(f"--k {text!r}: expected comma-separated positive numbers, e.g. 1,5,10") from None
    if not ks or ks[0] < 1:
        raise ValidatorError(f"--k {text!r}: expected comma-separated positive numbers, e.g. 1,5,10")
    return ks


def _ks_of(request: MetricRequest, ks: Sequence[int]) -> list[int]:
    return list(ks) if request.k == "k" else [int(request.k)]


def needed_depth(requests: Sequence[MetricRequest], ks: Sequence[int]) -> int:
    """How many neighbours the ranking metrics look at (the largest k asked, at least max(--k))."""
    return max([max(ks), *(k for r in requests if r.k for k in _ks_of(r, ks))])


def compute_metrics(cases: Sequence[Case], run: AgentRun, requests: Sequence[MetricRequest],
                    ks: Sequence[int]) -> dict[str, Any]:
    """The requested metrics plus brand and category accuracy, for the given cases."""
    out: dict[str, Any] = {}
    rel = [relevance(r, c.brand) for r, c in zip(run.rankings, cases)] if run.rankings is not None else None
    labels = label_scores([c.brand for c in cases], run.brands)
    for request in requests:
        if request.k:
            function = recall_at_k if request.base == "recall" else precision_at_k
            for k in _ks_of(request, ks):
                out[f"{request.base}@{k}"] = round(function(rel, k), 4)
        elif request.base == "mrr":
            out["mrr"] = round(mean_reciprocal_rank(rel), 4)
        elif request.base == "confidence_calibration":
            calibration = calibration_scores(run.confidences, [same_brand(b, c.brand) for b, c in zip(run.brands, cases)])
            out["confidence_calibration"] = {k: None if v is None else round(v, 4) for k, v in calibration.items()}
        else:
            out[request.base] = round(labels[request.base], 4)
    with_category = [(p, c.category) for p, c in zip(run.categories, cases) if c.category]
    out["brand_accuracy"] = round(labels["accuracy"], 4)
    out["category_accuracy"] = (round(sum(same_brand(p, t) for p, t in with_category) / len(with_category), 4)
                                if with_category else None)
    return out


def _subset(run: AgentRun, index: list[int]) -> AgentRun:
    pick = lambda values: None if values is None else [values[i] for i in index]  # noqa: E731
    return AgentRun(pick(run.brands), pick(run.categories), pick(run.confidences), pick(run.rankings), pick(run.evidence))


def check_agent_type(agent_type: str) -> None:
    if agent_type in PLANNED_AGENT_TYPES:
        raise ValidatorError(f"agent type {agent_type!r} is not implemented yet in this version of the accuracy "
                             f"validator; available: {', '.join(RUNNERS)}")
    if agent_type not in RUNNERS:
        planned = f" (planned: {', '.join(PLANNED_AGENT_TYPES)})" if PLANNED_AGENT_TYPES else ""
        raise ValidatorError(f"unknown agent type {agent_type!r}; available: {', '.join(RUNNERS)}{planned}")


def evaluate(agent_type: str, cases: Sequence[Case], metrics: str, ks: Sequence[int], options: Options) -> dict[str, Any]:
    """Run one agent type over the cases and score it: overall, per script, and per query."""
    check_agent_type(agent_type)
    requests = parse_metrics(metrics, agent_type, ranked=agent_type == "rag")
    options.depth = needed_depth(requests, ks)
    return score(agent_type, cases, RUNNERS[agent_type](cases, options), requests, ks)


def score(agent_type: str, cases: Sequence[Case], run: AgentRun, requests: Sequence[MetricRequest],
          ks: Sequence[int]) -> dict[str, Any]:
    """The report of one agent's run: metrics overall and per script, the agent's details, each query's answer."""
    scripts: dict[str, list[int]] = defaultdict(list)
    for i, case in enumerate(cases):
        scripts[case.script].append(i)
    report: dict[str, Any] = {
        "agent_type": agent_type,
        "queries": len(cases),
        "k": list(ks),
        "metrics": compute_metrics(cases, run, requests, ks),
        "by_script": {s: {"queries": len(idx), "metrics": compute_metrics([cases[i] for i in idx], _subset(run, idx), requests, ks)}
                      for s, idx in sorted(scripts.items())},
        "agent": run.info,
        "definitions": {**{r.name: METRICS[r.base].at_k if r.k else METRICS[r.base].description for r in requests},
                        **ALWAYS},
    }
    if run.evidence is not None:
        evidence = [relevance(e, c.brand) for e, c in zip(run.evidence, cases)]
        report["evidence_metrics"] = {"mrr": round(mean_reciprocal_rank(evidence), 4),
                                      "hit_rate": round(sum(map(any, evidence)) / len(evidence), 4),
                                      "note": "over the neighbours that voted (above similarity_threshold, reranked)"}
    report["results"] = [
        {"id": c.id, "query": c.query, "script": c.script, "brand": c.brand, "category": c.category,
         "predicted_brand": b, "predicted_category": cat, "confidence": round(conf, 4), "correct": same_brand(b, c.brand),
         **({"first_relevant_rank": next((i + 1 for i, ok in enumerate(relevance(r, c.brand)) if ok), None)}
            if run.rankings is not None else {})}
        for c, b, cat, conf, r in zip(cases, run.brands, run.categories, run.confidences,
                                      run.rankings or [None] * len(cases))
    ]
    return report


# -- the command ------------------------------------------------------------------------------------

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])
err = Console(stderr=True, soft_wrap=True)


def print_summary(report: dict[str, Any], out: Console) -> None:
    """Metrics as rows; all queries and each script as columns."""
    names = [k for k, v in report["metrics"].items() if not isinstance(v, dict)]
    groups = [("all", report["queries"], report["metrics"])]
    groups += [(s, v["queries"], v["metrics"]) for s, v in report["by_script"].items()]
    table = Table(title=f"{report['agent_type']} agent on {report['queries']} queries")
    table.add_column("metric")
    for label, count, _ in groups:
        table.add_column(f"{label} ({count})", justify="right")
    for name in names:
        table.add_row(name, *("—" if values[name] is None else f"{values[name]:.4f}" for _, _, values in groups))
    out.print(table)
    calibration = report["metrics"].get("confidence_calibration")
    if calibration:
        out.print(f"Confidence calibration: ECE {calibration['ece']}, Brier {calibration['brier']}")


@app.command()
def main(
    agent_type: Optional[str] = typer.Option(None, "--agent-type", help="rag, ner, hybrid or llm."),
    test_queries: Optional[Path] = typer.Option(None, "--test-queries", help="JSON list of {id, query} (or of strings)."),
    ground_truth: Optional[Path] = typer.Option(None, "--ground-truth", help="JSON object {query id: {brand, category}}."),
    test_data: Optional[Path] = typer.Option(None, "--test-data", help="Labelled records (TSV/JSONL), or a queries JSON list."),
    metrics: Optional[str] = typer.Option(None, "--metrics", help=(
        "Comma-separated metric names (default: recall@k,precision@k,mrr for rag; accuracy,precision,recall,f1 otherwise).")),
    k: str = typer.Option(DEFAULT_K, "--k", help="The k values of recall@k and precision@k."),
    output: Optional[Path] = typer.Option(None, "--output", help="Report (JSON); default <agent-type>_evaluation.json."),
    home: Optional[Path] = typer.Option(None, "--home", help="Local home whose registry holds the models (default $PRODUCT_INFERENCE_HOME or ~/.product-inference)."),
    model_path: Optional[Path] = typer.Option(None, "--model-path", help="ner only: a saved NER model folder instead of the registry's."),
    aws_profile: Optional[str] = typer.Option(None, "--aws-profile", help="AWS profile for the session factory."),
    region: Optional[str] = typer.Option(None, "--region", help="AWS region (default us-east-1)."),
    model_id: Optional[str] = typer.Option(None, "--model-id", help=(
        "llm only: Bedrock model id, or the custom model / deployment name recorded in the registry's llm config.")),
    agents: Optional[str] = typer.Option(None, "--agents", help=(
        "With --full-evaluation: comma-separated agent types (default ner,rag,llm,hybrid).")),
    full_evaluation: bool = typer.Option(False, "--full-evaluation", help=(
        "Every agent in --agents on the same queries: one JSON report and an HTML report with plots beside it.")),
    latency_samples: int = typer.Option(100, "--latency-samples", help=(
        "With --full-evaluation: names timed one per call for the latency per stage.")),
    calibration_analysis: bool = typer.Option(False, "--calibration-analysis", help=(
        "ECE, Brier and a reliability diagram (PNG) of the hybrid's confidence, before and after calibration.")),
):
    """Score an agent type on labelled queries and write a JSON report with a run record beside it."""
    try:
        if agents is not None and not full_evaluation:
            raise ValidatorError("--agents goes with --full-evaluation (one agent: --agent-type)")
        if full_evaluation:
            if agent_type or calibration_analysis:
                raise ValidatorError("--full-evaluation runs every agent in --agents; leave out --agent-type and "
                                     "--calibration-analysis")
            sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `tests` is not installed
            from tests.accuracy.full_evaluation import DEFAULT_AGENTS, DEFAULT_METRICS as FULL_METRICS

            full_evaluation_command(agents or DEFAULT_AGENTS, metrics or FULL_METRICS, k,
                                    output or Path("full_evaluation_report.json"), test_queries, ground_truth, test_data,
                                    home, model_path, aws_profile, region, model_id, latency_samples)
            return
        if calibration_analysis:  # implemented beside this file: tests/accuracy/calibration_analysis.py
            sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `tests` is not installed
            from tests.accuracy.calibration_analysis import CalibrationAnalysisError, run_calibration_analysis
            try:
                run_calibration_analysis(test_data or test_queries, ground_truth, output or Path("calibration_analysis.json"),
                                         home, cases=load_cases(test_queries, ground_truth, test_data),
                                         aws_profile=aws_profile, region=region, echo=Console(soft_wrap=True).print)
            except CalibrationAnalysisError as exc:
                raise ValidatorError(str(exc)) from None
            return
        if not agent_type:
            raise ValidatorError(f"give --agent-type (one of {', '.join(RUNNERS)})")
        if model_path and agent_type != "ner":
            raise ValidatorError("--model-path applies to --agent-type ner only")
        if model_id and agent_type != "llm":
            raise ValidatorError("--model-id applies to --agent-type llm only")
        if aws_profile:
            os.environ["AWS_PROFILE"] = aws_profile  # the session factory reads it (registry in S3, Bedrock)
        if region:
            os.environ["AWS_REGION"] = region
        ks = parse_ks(k)
        output = output or Path(f"{agent_type}_evaluation.json")
        if not output.parent.is_dir():
            raise ValidatorError(f"cannot write {output}: folder {output.parent} does not exist")
        check_agent_type(agent_type)  # option and file errors before any model is loaded
        metrics = metrics or DEFAULT_METRICS.get(agent_type, DEFAULT_METRICS["*"])
        parse_metrics(metrics, agent_type, ranked=agent_type == "rag")
        cases = load_cases(test_queries, ground_truth, test_data)
        registry = bootstrapped_registry(home, NEEDS[agent_type] if not model_path else ())
        report = evaluate(agent_type, cases, metrics, ks,
                          Options(registry=registry, model_path=model_path, aws_profile=aws_profile, region=region,
                                  model_id=model_id))
        report["dataset"] = {"test_queries": str(test_queries) if test_queries else None,
                             "ground_truth": str(ground_truth) if ground_truth else None,
                             "test_data": str(test_data) if test_data else None}
        try:
            output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        except OSError as exc:
            raise ValidatorError(f"cannot write {output}: {exc.strerror}") from None
        from training.run_record import write_run_record

        params = {"agent_type": agent_type, "metrics": metrics, "k": ks, "home": str(home or ""),
                  "registry": str(registry.location), "model_path": str(model_path or ""), "aws_profile": aws_profile or "",
                  "model_id": model_id or "",
                  **report["dataset"]}
        run = write_run_record(output.resolve().parent, f"accuracy-validation-{agent_type}", params,
                               [test_queries, ground_truth, test_data],
                               {"queries": report["queries"], "metrics": report["metrics"],
                                "by_script": {s: v["metrics"] for s, v in report["by_script"].items()}})
        out = Console(soft_wrap=True)
        print_summary(report, out)
        out.print(f"Wrote {output}; run record in {run}")
    except ValidatorError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2)


def full_evaluation_command(agents: str, metrics: str, k: str, output: Path, test_queries: Path | None,
                            ground_truth: Path | None, test_data: Path | None, home: Path | None, model_path: Path | None,
                            aws_profile: str | None, region: str | None, model_id: str | None,
                            latency_samples: int) -> None:
    """--full-evaluation: check every option, run tests/accuracy/full_evaluation.py, write the JSON report,
    the HTML report beside it (same stem) and the run record."""
    from datetime import datetime, timezone

    from tests.accuracy.evaluation_report import write_html
    from tests.accuracy.full_evaluation import check_metrics, parse_agents, run_full_evaluation
    from training.run_record import write_run_record

    chosen = parse_agents(agents)
    if model_path and "ner" not in chosen:
        raise ValidatorError("--model-path applies to the ner agent, which --agents leaves out")
    if model_id and "llm" not in chosen:
        raise ValidatorError("--model-id applies to the llm agent, which --agents leaves out")
    if latency_samples < 1:
        raise ValidatorError(f"--latency-samples must be at least 1, got {latency_samples}")
    check_metrics(metrics, chosen)
    ks = parse_ks(k)
    if not output.parent.is_dir():
        raise ValidatorError(f"cannot write {output}: folder {output.parent} does not exist")
    if aws_profile:
        os.environ["AWS_PROFILE"] = aws_profile
    if region:
        os.environ["AWS_REGION"] = region
    cases = load_cases(test_queries, ground_truth, test_data)
    needs = sorted({n for a in chosen if not (a == "ner" and model_path) for n in NEEDS[a]})
    registry = bootstrapped_registry(home, needs)
    out = Console(soft_wrap=True)
    with out.status("Evaluating") as status:
        report = run_full_evaluation(cases, chosen, metrics, ks, Options(registry=registry, model_path=model_path,
                                     aws_profile=aws_profile, region=region, model_id=model_id),
                                     latency_samples, progress=lambda a: status.update(f"Evaluating the {a} agent"))
    report["generated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["dataset"] = {"test_queries": str(test_queries) if test_queries else None,
                         "ground_truth": str(ground_truth) if ground_truth else None,
                         "test_data": str(test_data) if test_data else None}
    report["registry"] = str(registry.location)
    html_path = output.with_suffix(".html")
    try:
        report["html_report"] = str(write_html(report, html_path))
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        raise ValidatorError(f"cannot write {output} / {html_path}: {exc.strerror}") from None
    params = {"agents": chosen, "metrics": metrics, "k": ks, "home": str(home or ""), "registry": str(registry.location),
              "model_path": str(model_path or ""), "aws_profile": aws_profile or "", "model_id": model_id or "",
              "latency_samples": latency_samples, **report["dataset"]}
    run = write_run_record(output.resolve().parent, "full-evaluation", params, [test_queries, ground_truth, test_data],
                           {"queries": report["queries"], "agents": {
                               name: ({"status": part["status"], "metrics": part["metrics"],
                                       "by_script": {s: v["metrics"] for s, v in part["by_script"].items()},
                                       "ece": part["calibration"]["ece"] if part["calibration"] else None}
                                      if part["status"] == "evaluated" else {"status": part["status"], "reason": part["reason"]})
                               for name, part in report["agents"].items()}})
    print_full_summary(report, out)
    out.print(f"Wrote {output} and {html_path}; run record in {run}")


def print_full_summary(report: dict[str, Any], out: Console) -> None:
    table = Table(title=f"Full evaluation on {report['queries']} queries")
    for column in ("agent", "status", "brand acc.", "category acc.", "F1", "ECE", "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column in ("agent", "status") else "right", no_wrap=True)
    fmt = lambda v: "—" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    for row in report["summary"]:
        table.add_row(row["agent"], row["status"], *(fmt(row.get(k)) for k in (
            "brand_accuracy", "category_accuracy", "f1", "ece", "latency_p50_ms", "latency_p95_ms")))
    out.print(table)
    for row in report["summary"]:
        if row["status"] != "evaluated":
            out.print(f"{row['agent']} skipped: {escape(row['reason'])}", highlight=False)


NEEDS = {"rag": ("embedding", "rag"), "ner": ("ner",), "hybrid": ("ner", "embedding", "rag"), "llm": ()}
"""The registry entries each agent type loads."""


def bootstrapped_registry(home: Path | None, needs: Sequence[str]):
    """The registry of the home, checked to hold the models `needs` lists (bootstrapped), or ValidatorError."""
    from inference.config.model_registry import ModelRegistry, RegistryError

    if home and not home.is_dir():
        raise ValidatorError(f"--home {home}: no such folder")
    registry = ModelRegistry(home=home)
    try:
        for model_type in needs:
            registry.get_model_config(model_type)
    except (RegistryError, ValueError) as exc:
        raise ValidatorError(str(exc)) from None
    return registry


if __name__ == "__main__":  # pragma: no cover
    # Run the package module, not this file's second copy `__main__`: tests/accuracy/full_evaluation.py imports
    # `tests.accuracy.accuracy_validator`, and its errors must be the classes this command catches.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `tests` is not installed
    from tests.accuracy.accuracy_validator import app as _app

    sys.exit(_app())
