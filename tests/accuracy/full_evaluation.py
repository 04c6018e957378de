"""The manual's full evaluation (`accuracy_validator.py --full-evaluation`): every agent on the same queries.

    python tests/accuracy/accuracy_validator.py --full-evaluation --test-data test_queries.json \\
        --ground-truth ground_truth.json --agents ner,rag,llm,hybrid \\
        --metrics accuracy,precision,recall,f1,confidence_calibration --output full_evaluation_report.json

Each agent runs through the validator's own runner (`accuracy_validator.RUNNERS`) and is scored by
its `score`, so a number here is the number `--agent-type` gives. Added per agent: calibration of
the brand confidence (ECE, Brier, reliability bins: `calibration_analysis.series_scores`), the most
confused brands, and latency per stage. Latency comes from a second pass that sends one name per call
(warm, the first `latency_samples` queries, result cache off), because the accuracy runs batch names
and a batch's time says nothing about one request; the LLM is timed on its own accuracy run (it is
called one name at a time anyway, and every call costs money).

An agent that cannot run here is reported as skipped with the reason, not as a failure: the LLM
when no model is given or registered, or when Bedrock cannot be reached (then the hybrid is
evaluated without its LLM stage, and says so). A metric that does not apply to an agent (ranking
metrics for agents that retrieve nothing) is listed under `not_applicable` for that agent.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable, Sequence

from inference.brands import brand_key
from inference.queries import Case

DEFAULT_AGENTS = "ner,rag,llm,hybrid"
DEFAULT_METRICS = "accuracy,precision,recall,f1,confidence_calibration"
DEFAULT_LATENCY_SAMPLES = 100
WARM_UP = 3
TOP_CONFUSIONS = 10
NO_BRAND = "(no brand)"


def parse_agents(text: str) -> list[str]:
    """The agent types asked for, checked against the validator's runners, in the order given."""
    from tests.accuracy.accuracy_validator import RUNNERS, ValidatorError

    agents = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in agents if a not in RUNNERS]
    if unknown:
        raise ValidatorError(f"--agents: unknown agent type(s) {', '.join(map(repr, unknown))}; available: {', '.join(RUNNERS)}")
    if not agents:
        raise ValidatorError("--agents names no agent type")
    if len(set(agents)) != len(agents):
        raise ValidatorError(f"--agents {text!r} names an agent type twice")
    return agents


def applicable_metrics(metrics: str, agent_type: str) -> tuple[list, list[str]]:
    """(the requests this agent can answer, the names it cannot): a ranking metric is not an error
    when other agents of the same run can answer it."""
    from tests.accuracy.accuracy_validator import ValidatorError, parse_metrics

    requests, not_applicable = [], []
    for name in [m.strip() for m in metrics.split(",") if m.strip()]:
        try:
            requests += parse_metrics(name, agent_type, ranked=agent_type == "rag")
        except ValidatorError as exc:
            if "retrieves none" not in str(exc):
                raise
            not_applicable.append(name)
    return requests, not_applicable


def check_metrics(metrics: str, agents: Sequence[str]) -> None:
    """Every metric name is known and at least one of the agents can answer each."""
    from tests.accuracy.accuracy_validator import ValidatorError

    answered = {a: applicable_metrics(metrics, a) for a in agents}
    if not any(requests for requests, _ in answered.values()):
        raise ValidatorError("--metrics names no metric")
    for name in {n for _, missing in answered.values() for n in missing}:
        if all(name in missing for _, missing in answered.values()):
            raise ValidatorError(f"metric {name!r} ranks retrieved neighbours; none of {', '.join(agents)} retrieves "
                                 f"any (only rag does)")


# -- what the full evaluation adds to an agent's report ------------------------------------------------------
def confusions(results: Sequence[dict[str, Any]], top: int = TOP_CONFUSIONS) -> dict[str, list[dict[str, Any]]]:
    """The most frequent (true brand -> answered brand) mistakes, and the brands answered wrong most often.
    Labels are grouped by brand key (as accuracy counts them); the first spelling seen is shown."""
    label: dict[str, str] = {}
    pairs: Counter = Counter()
    asked: Counter = Counter()
    wrong: Counter = Counter()
    for row in results:
        truth = brand_key(row["brand"])
        label.setdefault(truth, row["brand"])
        asked[truth] += 1
        if row["correct"]:
            continue
        wrong[truth] += 1
        answered = brand_key(row["predicted_brand"]) if row["predicted_brand"] else NO_BRAND
        label.setdefault(answered, row["predicted_brand"] or NO_BRAND)
        pairs[(truth, answered)] += 1
    ordered = sorted(pairs.items(), key=lambda kv: (-kv[1], label[kv[0][0]], label[kv[0][1]]))[:top]
    brands = sorted(wrong.items(), key=lambda kv: (-kv[1], label[kv[0]]))[:top]
    return {"pairs": [{"true": label[t], "predicted": label[p], "count": n} for (t, p), n in ordered],
            "brands": [{"brand": label[b], "queries": asked[b], "wrong": n, "accuracy": round(1 - n / asked[b], 4)}
                       for b, n in brands]}


def calibration(results: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """ECE, Brier and the reliability bins of the brand confidence (the calibration analysis' definition)."""
    from tests.accuracy.calibration_analysis import series_scores

    return series_scores([(float(r["confidence"]), bool(r["correct"])) for r in results])


def _timed_calls(texts: Sequence[str], call: Callable[[str], dict[str, float]]) -> dict[str, list[float]]:
    """Each name once (after a few untimed warm-up calls): the stages' own times and the wall time of the call."""
    for text in texts[:WARM_UP]:
        call(text)
    out: dict[str, list[float]] = {}
    for text in texts:
        started = time.perf_counter()
        stages = call(text)
        wall = (time.perf_counter() - started) * 1000
        for stage, value in stages.items():
            out.setdefault(stage, []).append(float(value))
        out.setdefault("end_to_end", []).append(wall)
    return out


def measure_latency(agent_type: str, texts: Sequence[str], options) -> dict[str, list[float]]:
    """Latencies (ms) per stage of one name per call, for the local agents (see the module docstring)."""
    if agent_type == "ner":
        from inference.agents.ner_agent import NERAgent

        ner = NERAgent.from_folder(options.model_path) if options.model_path else NERAgent(options.registry)
        return _timed_calls(texts, lambda t: {"ner": ner.predict(t).latency_ms})
    if agent_type == "rag":
        from inference.agents.rag_agent import RAGAgent

        rag = RAGAgent(options.registry)
        try:
            return _timed_calls(texts, lambda t: {"rag": rag.predict(t).latency_ms})
        finally:
            rag.close()
    if agent_type == "hybrid":
        from inference.config.settings import Settings
        from tests.accuracy.accuracy_validator import hybrid_agent

        hybrid = hybrid_agent(options, Settings())  # no result cache: time the models

        def call(text: str) -> dict[str, float]:
            row = hybrid.predict(text)
            return {stage: answer["latency_ms"] for stage, answer in row.get("stages", {}).items()}

        try:
            return _timed_calls(texts, call)
        finally:
            hybrid.close()
    raise ValueError(f"no latency pass for agent type {agent_type!r}")


# -- the run -----------------------------------------------------------------------------------------------
def llm_unavailable_reason(options) -> str | None:
    """Why the LLM cannot be evaluated here before anything is called, or None."""
    from training.pipelines.bedrock_nova import invocation_model_id

    if invocation_model_id(options.model_id, options.registry):
        return None
    where = options.registry.location if options.registry is not None else "the registry"
    return (f"no LLM is configured: no --model-id was given and {where} holds no llm model_id or deployment "
            f"(training/pipelines/nova_deployment.py records one)")


def evaluate_agent(agent_type: str, cases: Sequence[Case], metrics: str, ks: Sequence[int], options,
                   latency_samples: int) -> dict[str, Any]:
    """One agent's part of the report: the validator's scores plus calibration, confusions and latency."""
    from tests.accuracy.accuracy_validator import RUNNERS, needed_depth, score
    from tests.performance.latency import summarize

    requests, not_applicable = applicable_metrics(metrics, agent_type)
    options.depth = needed_depth(requests, ks)
    run = RUNNERS[agent_type](cases, options)
    report = score(agent_type, cases, run, requests, ks)
    latencies = run.latency_ms or measure_latency(agent_type, [c.text for c in cases[:latency_samples]], options)
    timed = max((len(v) for v in latencies.values()), default=0)
    return {"status": "evaluated", **{k: v for k, v in report.items() if k != "agent_type"},
            "not_applicable": not_applicable,
            "calibration": calibration(report["results"]),
            "confusions": confusions(report["results"]),
            "latency_ms": {stage: summarize(values) for stage, values in latencies.items()},
            "latency_method": (f"{timed} names, one per call, as the accuracy run called them" if run.latency_ms else
                               f"{timed} names (the first of the queries), one per call after {WARM_UP} warm-up calls, "
                               f"result cache off"),
            "latency_values_ms": {stage: [round(v, 3) for v in values] for stage, values in latencies.items()}}


def run_full_evaluation(cases: Sequence[Case], agents: Sequence[str], metrics: str, ks: Sequence[int], options,
                        latency_samples: int = DEFAULT_LATENCY_SAMPLES,
                        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every agent in `agents` on the cases; the report's `agents` keeps the order asked for."""
    from botocore.exceptions import BotoCoreError

    from inference.normalize import script_of
    from tests.accuracy.accuracy_validator import ALWAYS, METRICS, AgentUnavailable

    done: dict[str, dict[str, Any]] = {}
    for agent_type in sorted(agents, key=lambda a: a != "llm"):  # the LLM first: the hybrid needs to know if it answers
        if progress:
            progress(agent_type)
        reason = llm_unavailable_reason(options) if agent_type == "llm" else None
        if reason is None:
            try:
                done[agent_type] = evaluate_agent(agent_type, cases, metrics, ks, options, latency_samples)
                continue
            except AgentUnavailable as exc:
                reason = str(exc)
            except BotoCoreError as exc:  # no credentials, unknown profile, no connection
                reason = f"AWS could not be reached ({type(exc).__name__}: {exc}); nothing was scored"
        done[agent_type] = {"status": "skipped", "reason": reason}
        if agent_type == "llm" and llm_unavailable_reason(options) is None:
            options.left_out_stages["llm"] = f"the LLM was skipped: {reason}"
    names = sorted({m.strip().partition("@")[0] for m in metrics.split(",") if m.strip()})
    return {
        "evaluation": "full",
        "queries": len(cases),
        "by_script": dict(sorted(Counter(script_of(c.text) for c in cases).items())),
        "agents": {a: done[a] for a in agents},
        "summary": [summary_row(a, done[a]) for a in agents],
        "definitions": {**{n: METRICS[n].description for n in names if n in METRICS}, **ALWAYS,
                        "ece": "expected calibration error of the brand confidence, 10 equal-width bins",
                        "confusions": "the most frequent (true brand -> answered brand) mistakes",
                        "by_script": "th: Thai script only, en: Latin only, mixed: both (inference.normalize.script_of)",
                        "latency_ms": "per stage and end to end (wall time of one call), milliseconds"},
    }


def summary_row(agent_type: str, part: dict[str, Any]) -> dict[str, Any]:
    """One line per agent: the headline numbers, or why it was skipped."""
    if part["status"] != "evaluated":
        return {"agent": agent_type, "status": part["status"], "reason": part["reason"]}
    end_to_end = part["latency_ms"].get("end_to_end") or next(iter(part["latency_ms"].values()), {})
    return {"agent": agent_type, "status": "evaluated", "brand_accuracy": part["metrics"]["brand_accuracy"],
            "category_accuracy": part["metrics"]["category_accuracy"], "f1": part["metrics"].get("f1"),
            "ece": part["calibration"]["ece"] if part["calibration"] else None,
            "latency_p50_ms": end_to_end.get("p50"), "latency_p95_ms": end_to_end.get("p95")}
