"""The manual's A/B testing framework: two registry models, a traffic split, a verdict.

    from tests.framework.ab_testing import ABTestFramework

    ab_test = ABTestFramework()
    ab_test.setup_experiment({'name': 'ner_model_comparison', 'control': 'spacy_ner_v1',
                              'treatment': 'xlm_roberta_ner_v1', 'traffic_split': 0.5,
                              'success_metric': 'accuracy', 'minimum_sample_size': 1000})
    results = ab_test.run_experiment(duration_days=7)

`control` and `treatment` are model names registered in the model registry (ModelRegistry, of the
local home or of `ABTestFramework(registry=...)`), of one model type (found by name, or given as
`model_type`). `traffic_split` is the share of traffic sent to the treatment. `success_metric` is
`accuracy` (the brand is right, by inference.brands.same_brand) or `category_accuracy`.
`minimum_sample_size` is the number of outcomes each arm needs before a verdict is given.

Where the outcomes come from:
- In AWS, with `logged_outcomes: 's3://bucket/prefix/'` in the setup: the JSON Lines objects under
  that prefix (read through the session factory inference.aws), one outcome a line:
  `{"experiment": NAME, "variant": "control"|"treatment" (or "model": the model name),
  "timestamp": ISO 8601, "correct": true|false}` (`correct`: the brand was right), or with the
  answer and the truth instead (`brand` and `true_brand`; for category_accuracy `category` and
  `true_category`). Only this experiment's
  outcomes inside the window (the last `duration_days` days up to now) count; objects last written
  before the window are not read. Lines that cannot be used are counted and quoted (key:line), not fatal.
- Otherwise, a local replay of a labelled data set, which `duration_days` does not apply to:
  `evaluation_data` in the setup (records TSV/JSONL, or a queries JSON list with `ground_truth`);
  else `test_queries.json` + `ground_truth.json` in the working directory, when both are there;
  else the held-out part of the project's sample catalogue (20% of data/sample/catalog.jsonl by a
  hash of each id, seed 13: the split of tests/performance/benchmark_local_pipeline.py), which is
  held out only from models trained on the other part. The result says which was used.

A replay assigns each record to one arm, as live traffic would be: the treatment when a hash of the
experiment name and the record id falls below `traffic_split`, so a record stays in its arm between
runs and the arms never share a record. Each arm then answers its own records with the pipeline
(`scope: 'pipeline'`, default: HybridAgent with the arm's model in place of the registry's active
one of that type, all else as registered) or, for NER models, with the NER agent alone
(`scope: 'stage'`); the arm's own model is loaded first, so one that cannot load stops the run,
and the rows where a stage failed are counted per arm (`source.degraded_rows`). The arms are compared by a two-sided two-proportion z-test (Fisher's exact
test when an expected count is below 5), with a Newcombe (Wilson score) confidence interval of the
difference treatment - control. The verdict: "not enough data" while an arm has fewer outcomes than
`minimum_sample_size`; else "treatment wins" or "control wins" when p < `significance_level`
(default 0.05), else "no significant difference".
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from inference.brands import same_brand
from inference.config.model_registry import MODEL_TYPES, ModelRegistry, RegistryError
from inference.monitoring.timestamps import parse_timestamp

ARMS = ("control", "treatment")
SUCCESS_METRICS = {"accuracy": "brand", "brand_accuracy": "brand", "category_accuracy": "category"}
SCOPES = ("pipeline", "stage")
VERDICTS = ("treatment wins", "control wins", "no significant difference", "not enough data")
SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog.jsonl"
SAMPLE_HOLDOUT = {"test_fraction": 0.2, "seed": 13}


class ExperimentError(ValueError):
    """A setting or input that the experiment cannot use; the message names it."""


class PinnedRegistry(ModelRegistry):
    """The registry as one arm sees it: one model type answers with the arm's version, whatever is active."""

    def __init__(self, base: ModelRegistry, model_type: str, name: str):
        super().__init__(path=base.location)
        self.pinned_type, self.pinned_name = model_type, name

    def get_model_config(self, model_type: str) -> dict[str, Any]:
        if model_type != self.pinned_type:
            return super().get_model_config(model_type)
        versions = self._read()["models"].get(model_type, {}).get("versions", {})
        if self.pinned_name not in versions:
            raise RegistryError(f"no {model_type} model named {self.pinned_name!r} is registered in {self.location}")
        return {"name": self.pinned_name, **versions[self.pinned_name]}

    def has_model(self, model_type: str) -> bool:
        return model_type == self.pinned_type or super().has_model(model_type)


# -- statistics ----------------------------------------------------------------------------------------------
def assign_arm(experiment: str, record_id: str, traffic_split: float) -> str:
    """"treatment" when the hash of (experiment, id), as a number in [0, 1), falls below the split."""
    digest = hashlib.sha256(f"{experiment}:{record_id}".encode("utf-8")).digest()
    return "treatment" if int.from_bytes(digest[:8], "big") / 2**64 < traffic_split else "control"


def compare_arms(control: tuple[int, int], treatment: tuple[int, int], alpha: float = 0.05) -> dict[str, Any]:
    """(successes, n) per arm -> accuracies, difference (treatment - control) with its Newcombe interval,
    and the two-sided p-value (pooled z-test; Fisher's exact test when an expected count is below 5)."""
    from scipy.stats import binomtest, fisher_exact, norm

    (s_c, n_c), (s_t, n_t) = control, treatment
    if not n_c or not n_t:
        return {"difference": None, "confidence_interval": None, "p_value": None, "test": None}
    p_c, p_t = s_c / n_c, s_t / n_t
    level = 1 - alpha
    lo_c, hi_c = binomtest(s_c, n_c).proportion_ci(confidence_level=level, method="wilson")
    lo_t, hi_t = binomtest(s_t, n_t).proportion_ci(confidence_level=level, method="wilson")
    diff = p_t - p_c
    interval = (diff - math.sqrt((p_t - lo_t) ** 2 + (hi_c - p_c) ** 2),
                diff + math.sqrt((hi_t - p_t) ** 2 + (p_c - lo_c) ** 2))
    pooled = (s_c + s_t) / (n_c + n_t)
    expected = [n * share for n in (n_c, n_t) for share in (pooled, 1 - pooled)]
    if min(expected) < 5:
        p_value = float(fisher_exact([[s_t, n_t - s_t], [s_c, n_c - s_c]])[1])
        test = "Fisher's exact test (an expected count is below 5)"
    else:
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
        p_value = float(2 * norm.sf(abs(diff) / se)) if se > 0 else 1.0
        test = "two-proportion z-test (pooled), two-sided"
    return {"difference": round(diff, 4), "confidence_interval": [round(interval[0], 4), round(interval[1], 4)],
            "confidence_level": level, "p_value": round(p_value, 6), "test": test}


def verdict(n_control: int, n_treatment: int, minimum: int, difference: float | None, p_value: float | None,
            alpha: float) -> str:
    if min(n_control, n_treatment) < minimum or p_value is None:
        return "not enough data"
    if p_value < alpha:
        return "treatment wins" if difference > 0 else "control wins"
    return "no significant difference"


# -- the experiment ------------------------------------------------------------------------------------------
@dataclass
class Experiment:
    name: str
    control: str
    treatment: str
    model_type: str
    traffic_split: float = 0.5
    success_metric: str = "accuracy"
    minimum_sample_size: int = 100
    significance_level: float = 0.05
    scope: str = "pipeline"
    evaluation_data: str | None = None
    ground_truth: str | None = None
    logged_outcomes: str | None = None
    aws_profile: str | None = None
    region: str | None = None


class ABTestFramework:
    def __init__(self, registry: ModelRegistry | None = None, home: str | Path | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.registry = registry or ModelRegistry(home=home)
        self.now = now
        self.experiment: Experiment | None = None

    # -- the manual's API ------------------------------------------------------------------------------------
    def setup_experiment(self, config: dict[str, Any]) -> dict[str, Any]:
        """Check and keep the experiment's settings (see the module docstring); returns them, normalised."""
        if not isinstance(config, dict):
            raise ExperimentError(f"the experiment must be a dict of settings, got {type(config).__name__}")
        known = set(Experiment.__dataclass_fields__)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ExperimentError(f"unknown experiment setting(s) {unknown}; known: {sorted(known)}")
        for key in ("name", "control", "treatment"):
            if not isinstance(config.get(key), str) or not config[key].strip():
                raise ExperimentError(f"the experiment needs '{key}' (a non-empty string)")
        if config["control"] == config["treatment"]:
            raise ExperimentError(f"control and treatment are the same model {config['control']!r}")
        split = config.get("traffic_split", 0.5)
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
            raise ExperimentError(f"traffic_split must be a number strictly between 0 and 1 (the treatment's share), got {split!r}")
        metric = config.get("success_metric", "accuracy")
        if metric not in SUCCESS_METRICS:
            raise ExperimentError(f"success_metric {metric!r} is not supported; use one of {', '.join(SUCCESS_METRICS)}")
        minimum = config.get("minimum_sample_size", 100)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
            raise ExperimentError(f"minimum_sample_size must be a positive whole number (outcomes per arm), got {minimum!r}")
        alpha = config.get("significance_level", 0.05)
        if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
            raise ExperimentError(f"significance_level must be between 0 and 1, got {alpha!r}")
        scope = config.get("scope", "pipeline")
        if scope not in SCOPES:
            raise ExperimentError(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
        outcomes = config.get("logged_outcomes")
        if outcomes is not None and not (isinstance(outcomes, str) and outcomes.startswith("s3://")
                                         and outcomes[5:].partition("/")[0]):
            raise ExperimentError(f"logged_outcomes must be an S3 prefix s3://bucket/prefix, got {outcomes!r}")
        model_type = config.get("model_type")
        if outcomes is None:  # a replay runs the models: they must be in the registry
            model_type = self._model_type(config["control"], config["treatment"], model_type)
            if scope == "stage" and model_type != "ner":
                raise ExperimentError(f"scope 'stage' replays NER models alone; {config['control']!r} is a {model_type} "
                                      f"model: use scope 'pipeline'")
        elif model_type is not None and model_type not in MODEL_TYPES:
            raise ExperimentError(f"model_type {model_type!r}: expected one of {', '.join(MODEL_TYPES)}")
        self.experiment = Experiment(**{**config, "traffic_split": float(split), "success_metric": metric,
                                        "minimum_sample_size": minimum, "significance_level": float(alpha),
                                        "scope": scope, "model_type": model_type or "unknown"})
        return {k: v for k, v in self.experiment.__dict__.items() if v is not None}

    def run_experiment(self, duration_days: float = 7) -> dict[str, Any]:
        """The arms' outcomes, the difference with its interval, the p-value and a verdict."""
        experiment = self.experiment
        if experiment is None:
            raise ExperimentError("no experiment: call setup_experiment({...}) first")
        if isinstance(duration_days, bool) or not isinstance(duration_days, (int, float)) or duration_days <= 0:
            raise ExperimentError(f"duration_days must be a positive number, got {duration_days!r}")
        if experiment.logged_outcomes:
            counts, source = self._logged_outcomes(experiment, duration_days)
        else:
            counts, source = self._replay(experiment)
        return self._result(experiment, counts, source)

    # -- the two sources of outcomes -----------------------------------------------------------------------
    def _model_type(self, control: str, treatment: str, given: str | None) -> str:
        types = [given] if given else list(MODEL_TYPES)
        if given and given not in MODEL_TYPES:
            raise ExperimentError(f"model_type {given!r}: expected one of {', '.join(MODEL_TYPES)}")
        found = {name: [t for t in types if name in self.registry.list_models(t)] for name in (control, treatment)}
        for name, where in found.items():
            if not where:
                raise ExperimentError(f"no model named {name!r} is registered in {self.registry.location}"
                                      f"{f' as a {given} model' if given else ''}; register it first (e.g. python "
                                      f"training/pipelines/train_ner_pipeline.py --model-name {name})")
        common = [t for t in found[control] if t in found[treatment]]
        if not common:
            raise ExperimentError(f"{control!r} ({', '.join(found[control])}) and {treatment!r} "
                                  f"({', '.join(found[treatment])}) are not models of the same type")
        if len(common) > 1:
            raise ExperimentError(f"{control!r} and {treatment!r} name models of several types ({', '.join(common)}); "
                                  f"say which with 'model_type'")
        return common[0]

    def replay_cases(self, experiment: Experiment) -> tuple[list, str]:
        """The labelled records of a replay and where they came from (see the module docstring)."""
        from inference.queries import Case, QueryFileError, load_cases

        try:
            if experiment.evaluation_data:
                truth = Path(experiment.ground_truth) if experiment.ground_truth else None
                return (load_cases(test_data=Path(experiment.evaluation_data), ground_truth=truth),
                        f"evaluation_data {experiment.evaluation_data}" + (f" with {truth}" if truth else ""))
            queries, truth = Path("test_queries.json"), Path("ground_truth.json")
            if queries.is_file() and truth.is_file():
                return (load_cases(test_data=queries, ground_truth=truth),
                        f"{queries.resolve()} with {truth.resolve()} (the working directory)")
        except QueryFileError as exc:
            raise ExperimentError(str(exc)) from None
        from inference.normalize import normalize_name
        from inference.records import load_catalog
        from tests.performance.benchmark_local_pipeline import split_by_id

        records = split_by_id(load_catalog(SAMPLE_CATALOG), SAMPLE_HOLDOUT["test_fraction"], SAMPLE_HOLDOUT["seed"])[1]
        cases = [Case(r.id, r.name, r.brand, r.category, f"{SAMPLE_CATALOG}:{r.line}", normalize_name(r.name))
                 for r in records]
        return cases, (f"the sample's held-out records ({len(cases)} of {SAMPLE_CATALOG}, split by id hash: "
                       f"test fraction {SAMPLE_HOLDOUT['test_fraction']}, seed {SAMPLE_HOLDOUT['seed']})")

    def _answers(self, experiment: Experiment, model: str, texts: list[str]) -> tuple[list[tuple], int]:
        """((brand, category) per text from the arm's model, rows where a stage failed). The arm's own
        stage is loaded first, so a model that cannot load stops the experiment instead of silently
        degrading every row to the other stages."""
        from inference.agents.hybrid_agent import HybridAgent
        from inference.agents.llm_agent import LLMAgent
        from inference.agents.ner_agent import NERAgent
        from inference.agents.rag_agent import RAGAgent
        from inference.config.settings import Settings
        from inference.records import Record

        registry = PinnedRegistry(self.registry, experiment.model_type, model)
        stages: dict[str, Any] = {}
        try:
            if experiment.model_type == "ner":
                stages["ner"] = NERAgent(registry)
                if experiment.scope == "stage":
                    return [(a.brand, a.category) for a in stages["ner"].predict_batch(texts)], 0
            elif experiment.model_type in ("rag", "embedding"):
                stages["rag"] = RAGAgent(registry)
            elif experiment.model_type == "llm":
                stages["llm"] = LLMAgent(registry=registry)
                if not stages["llm"].configured:
                    raise ValueError("it names no model_id or deployment_arn")
            agent = HybridAgent(registry, settings=Settings(), **stages)  # no result cache shared between the arms
            try:
                rows = agent.predict_batch([Record(name=t) for t in texts])
            finally:
                agent.close()
        except (RegistryError, FileNotFoundError, ValueError) as exc:
            raise ExperimentError(f"cannot run {experiment.model_type} model {model!r}: {exc}") from None
        answers = [(r.get("brand"), r.get("category")) if "error" not in r else (None, None) for r in rows]
        return answers, sum(bool(r.get("degraded")) for r in rows)

    def _replay(self, experiment: Experiment) -> tuple[dict[str, list[bool]], dict[str, Any]]:
        cases, where = self.replay_cases(experiment)
        field_name = SUCCESS_METRICS[experiment.success_metric]
        if field_name == "category":
            cases = [c for c in cases if c.category]
        arms: dict[str, list] = {arm: [] for arm in ARMS}
        for case in cases:
            arms[assign_arm(experiment.name, case.id, experiment.traffic_split)].append(case)
        outcomes: dict[str, list[bool]] = {}
        degraded: dict[str, int] = {}
        for arm in ARMS:
            model = getattr(experiment, arm)
            answers, degraded[arm] = self._answers(experiment, model, [c.text for c in arms[arm]]) if arms[arm] else ([], 0)
            outcomes[arm] = [same_brand(answer[0] if field_name == "brand" else answer[1],
                                        case.brand if field_name == "brand" else case.category)
                             for answer, case in zip(answers, arms[arm])]
        return outcomes, {"mode": "replay", "data": where, "records": len(cases),
                          "window": "not applicable: a replay uses every record of the data set",
                          "scope": experiment.scope, "degraded_rows": degraded}

    def _logged_outcomes(self, experiment: Experiment, duration_days: float) -> tuple[dict[str, list[bool]], dict[str, Any]]:
        from inference.aws import client

        end = self.now()
        start = end - timedelta(days=duration_days)
        bucket, _, prefix = experiment.logged_outcomes[5:].partition("/")
        s3 = client("s3", experiment.aws_profile, experiment.region)
        outcomes: dict[str, list[bool]] = {arm: [] for arm in ARMS}
        invalid: list[str] = []
        invalid_count = other = outside = objects = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] < start:  # written before the window: holds no outcome of it
                    continue
                objects += 1
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8", errors="replace")
                for number, line in enumerate(body.splitlines(), start=1):
                    if not line.strip():
                        continue
                    try:
                        arm, success, when = parse_outcome(line, experiment)
                    except ValueError as exc:
                        invalid_count += 1
                        if len(invalid) < 10:
                            invalid.append(f"s3://{bucket}/{item['Key']}:{number}: {exc}")
                        continue
                    if arm is None:
                        other += 1
                    elif not start <= when <= end:
                        outside += 1
                    else:
                        outcomes[arm].append(success)
        return outcomes, {"mode": "logged_outcomes", "data": experiment.logged_outcomes, "objects_read": objects,
                          "window": {"start": start.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds"),
                                     "days": duration_days},
                          "outcomes_outside_window": outside, "outcomes_of_other_experiments": other,
                          "invalid_outcomes": {"count": invalid_count, "examples": invalid}}

    def _result(self, experiment: Experiment, outcomes: dict[str, list[bool]], source: dict[str, Any]) -> dict[str, Any]:
        n = {arm: len(outcomes[arm]) for arm in ARMS}
        wins = {arm: sum(outcomes[arm]) for arm in ARMS}
        stats = compare_arms((wins["control"], n["control"]), (wins["treatment"], n["treatment"]),
                             experiment.significance_level)
        met = min(n.values()) >= experiment.minimum_sample_size
        return {
            "verdict": verdict(n["control"], n["treatment"], experiment.minimum_sample_size, stats["difference"],
                               stats["p_value"], experiment.significance_level),
            "experiment": experiment.name,
            "model_type": experiment.model_type,
            "success_metric": experiment.success_metric,
            **{arm: {"model": getattr(experiment, arm), "n": n[arm], "successes": wins[arm],
                     experiment.success_metric: round(wins[arm] / n[arm], 4) if n[arm] else None} for arm in ARMS},
            **stats,
            "significance_level": experiment.significance_level,
            "minimum_sample_size": experiment.minimum_sample_size,
            "minimum_sample_size_met": met,
            "traffic_split": experiment.traffic_split,
            "source": source,
        }


def parse_outcome(line: str, experiment: Experiment) -> tuple[str | None, bool, datetime]:
    """(arm or None for another experiment, success, time) of one logged outcome line; ValueError says what is wrong."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if record.get("experiment") != experiment.name:
        return None, False, datetime.min.replace(tzinfo=timezone.utc)
    arm = record.get("variant")
    if arm not in ARMS:
        model = record.get("model")
        arm = next((a for a in ARMS if model is not None and model == getattr(experiment, a)), None)
        if arm is None:
            raise ValueError(f"variant {record.get('variant')!r} / model {model!r} is neither arm "
                             f"(control {experiment.control!r}, treatment {experiment.treatment!r})")
    when = parse_timestamp(record.get("timestamp"))
    field_name = SUCCESS_METRICS[experiment.success_metric]
    if isinstance(record.get("correct"), bool) and field_name == "brand":
        return arm, record["correct"], when
    truth = record.get(f"true_{field_name}")
    if not truth:
        raise ValueError(f"no 'correct' (true/false) and no 'true_{field_name}' to score {experiment.success_metric}")
    return arm, same_brand(record.get(field_name), truth), when


def outcome_line(experiment: str, variant: str, correct: bool, timestamp: datetime, **fields: Any) -> str:
    """One logged outcome as the AWS mode reads it (for the services that log outcomes, and tests)."""
    if variant not in ARMS:
        raise ValueError(f"variant must be one of {ARMS}, got {variant!r}")
    return json.dumps({"experiment": experiment, "variant": variant, "correct": bool(correct),
                       "timestamp": timestamp.astimezone(timezone.utc).isoformat(timespec="seconds"), **fields},
                      ensure_ascii=False)


__all__ = ["ABTestFramework", "ExperimentError", "assign_arm", "compare_arms", "outcome_line", "verdict", "VERDICTS"]
