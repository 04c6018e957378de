"""The hybrid agent: runs the configured stages in order, stops early when a stage is sure,
otherwise fuses the stages' answers with the configured weights.

Confidences are calibrated per stage (calibrators from the registry) before they are compared
with the early-stopping threshold, so "0.9" means the same thing whichever stage said it; the
`hybrid` calibrator then maps the fused confidence. `stage_answers` + `decide` replay the same
rule on every stage's raw answers (early stopping off), which is how calibration is fitted and
how the weights and thresholds are searched without running the models again per trial.

With a learned fusion in the registry (`hybrid.fusion`, fitted by bootstrap on out-of-fold
answers: `inference.agents.fusion`), the run's answer after the second stage onwards is the fused
one: the early-stopping test after the RAG stage asks "are NER and RAG together sure?", and
`decided_by` names the stage after which the run stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Sequence

from inference.agents.base import StageAnswer, StageUnavailable
from inference.brands import brand_key
from inference.calibration import apply_calibration
from inference.config.model_registry import ModelRegistry
from inference.config.settings import Settings, config as default_settings
from inference.normalize import InvalidName, normalize_name
from inference.records import Record, RecordError

STAGES = ("ner", "rag", "llm")
DEFAULT_PIPELINE: dict[str, Any] = {
    "sequence": ["ner", "rag", "llm"],
    "ner_weight": 0.3,
    "rag_weight": 0.4,
    "llm_weight": 0.3,
    "confidence_threshold": 0.6,
    "early_stopping": True,
    "early_stopping_threshold": 0.9,
    "require_category": True,
}
DEFAULT_CONTEXT: dict[str, dict[str, Any]] = {
    "ner_to_rag": {"pass_entities": True, "entity_boost": 1.2, "filter_low_confidence": True,
                   "min_entity_confidence": 0.5},
    "rag_to_llm": {"pass_similar_products": True, "max_context_products": 5, "include_similarity_scores": True},
}


class HybridAgent:
    def __init__(self, registry: ModelRegistry | None = None, ner=None, rag=None, llm=None,
                 settings: Settings | None = None):
        self.registry = registry or ModelRegistry()
        self._ner, self._rag, self._llm = ner, rag, llm
        self.settings = settings or default_settings
        stored = self.registry.get_model_config("hybrid") if self.registry.has_model("hybrid") else {}
        self.pipeline = dict(DEFAULT_PIPELINE)
        self.configure_pipeline({k: v for k, v in stored.items() if k in DEFAULT_PIPELINE})
        self.context = {k: dict(v) for k, v in DEFAULT_CONTEXT.items()}
        self.calibrators = {s: self.registry.get_calibration(s) for s in (*STAGES, "hybrid")}
        self.fusion = self._load_fusion(stored.get("fusion"))

    def _load_fusion(self, relative: str | None):
        if not relative:
            return None
        from inference.agents.fusion import LearnedFusion

        if str(relative).startswith("s3://"):
            return LearnedFusion.load(relative)
        return LearnedFusion.load(Path(self.registry.location).parent / relative)

    # -- stages, loaded on first use ---------------------------------------------------------------
    @property
    def ner(self):
        if self._ner is None:
            from inference.agents.ner_agent import NERAgent

            self._ner = NERAgent(self.registry)
        return self._ner

    @property
    def rag(self):
        if self._rag is None:
            from inference.agents.rag_agent import RAGAgent

            self._rag = RAGAgent(self.registry)
        return self._rag

    @property
    def llm(self):
        if self._llm is None:
            from inference.agents.llm_agent import LLMAgent

            self._llm = LLMAgent(registry=self.registry)
        return self._llm

    def close(self) -> None:
        if self._rag is not None:
            self._rag.close()

    # -- the manual's configuration API --------------------------------------------------------------
    def configure_pipeline(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = set(options) - set(DEFAULT_PIPELINE)
        if unknown:
            raise ValueError(f"unknown pipeline option(s) {sorted(unknown)}; expected some of {sorted(DEFAULT_PIPELINE)}")
        merged = {**self.pipeline, **options}
        sequence = list(merged["sequence"])
        if not sequence or any(s not in STAGES for s in sequence) or len(set(sequence)) != len(sequence):
            raise ValueError(f"sequence must list distinct stages from {STAGES}, got {sequence}")
        for stage in STAGES:
            if float(merged[f"{stage}_weight"]) < 0:
                raise ValueError(f"{stage}_weight must not be negative")
        for key in ("confidence_threshold", "early_stopping_threshold"):
            if not 0.0 <= float(merged[key]) <= 1.0:
                raise ValueError(f"{key} must be in [0, 1]")
        merged["sequence"] = sequence
        self.pipeline = merged
        return dict(merged)

    def configure_context_passing(self, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for link, values in options.items():
            if link not in DEFAULT_CONTEXT:
                raise ValueError(f"unknown context link {link!r}; expected {sorted(DEFAULT_CONTEXT)}")
            unknown = set(values) - set(DEFAULT_CONTEXT[link])
            if unknown:
                raise ValueError(f"unknown {link} option(s) {sorted(unknown)}; expected some of {sorted(DEFAULT_CONTEXT[link])}")
            self.context[link].update(values)
        return {k: dict(v) for k, v in self.context.items()}

    # -- prediction ------------------------------------------------------------------------------------
    def predict(self, name: str, record_id: str | None = None) -> dict[str, Any]:
        return self.predict_batch([Record(name=name, id=record_id)])[0]

    def _prepare(self, items: Sequence[Record | RecordError | str]) -> tuple[list[dict[str, Any] | None], dict[int, str]]:
        """Error rows for the items that cannot be read, normalised texts for the others."""
        rows: list[dict[str, Any] | None] = [None] * len(items)
        texts: dict[int, str] = {}
        for i, item in enumerate(items):
            if isinstance(item, str):
                item = Record(name=item)
            if isinstance(item, RecordError):
                rows[i] = _error_row(item.id, item.name, item.message)
                continue
            try:
                texts[i] = normalize_name(item.name)
            except InvalidName as exc:
                where = f"line {item.line}: " if item.line else ""
                rows[i] = _error_row(item.id, item.name, f"{where}{exc}")
        return rows, texts

    def predict_batch(self, items: Sequence[Record | RecordError | str],
                      progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """One output row per input item, in order: a result, or an error row saying what is wrong."""
        rows, texts = self._prepare(items)
        cache = self.settings.cache
        vectors = {}
        if cache.enabled and cache.similar_queries and texts:
            order = list(texts)
            vectors = dict(zip(order, self.rag.query_vectors([texts[i] for i in order])))
        pending = []
        for i, text in texts.items():
            hit = cache.get(text, vectors.get(i))
            if hit is not None:
                rows[i] = {**hit, "id": items[i].id if not isinstance(items[i], str) else None,
                           "name": _name_of(items[i]), "cached": True}
            else:
                pending.append(i)
        raw: dict[int, dict[str, StageAnswer]] = defaultdict(dict)
        answers: dict[int, dict[str, StageAnswer]] = defaultdict(dict)
        skipped: dict[str, str] = {}
        active = pending
        for stage in self.pipeline["sequence"]:
            if not active:
                break
            if reason := self.skip_reason(stage):
                skipped[stage] = reason
                continue
            for i, answer in zip(active, self._run_stage(stage, active, texts, answers)):
                raw[i][stage] = answer
                answers[i][stage] = self.calibrate(stage, answer)
            if self.pipeline["early_stopping"]:
                still = []
                for i in active:
                    if self._confident(self.run_answer(texts[i], answers[i])):
                        rows[i] = self._finish(items[i], answers[i], skipped, decided_by=stage, raw=raw[i], text=texts[i])
                    else:
                        still.append(i)
                active = still
            if progress:
                progress(0)
        for i in active:
            rows[i] = self._finish(items[i], answers[i], skipped, decided_by="fusion", raw=raw[i], text=texts[i])
        for i in pending:
            cache.put(texts[i], {k: v for k, v in rows[i].items() if k not in ("id", "name")}, vectors.get(i))
        if progress:
            progress(len(items))
        return rows  # type: ignore[return-value]

    # -- replay: every stage's raw answer once, then the pipeline's rule on them -----------------------
    def stage_answers(self, items: Sequence[Record | RecordError | str],
                      progress: Callable[[int], None] | None = None) -> tuple[list[dict[str, StageAnswer] | str], dict[str, str]]:
        """Every configured stage's raw (uncalibrated) answer for every item, as if early stopping
        were off, and the stages skipped with the reason. An item that cannot be read gives its
        error message instead. No cache. `decide` on these answers gives what `predict_batch` gives."""
        rows, texts = self._prepare(items)
        answers: dict[int, dict[str, StageAnswer]] = defaultdict(dict)
        skipped: dict[str, str] = {}
        active = list(texts)
        for stage in self.pipeline["sequence"]:
            if reason := self.skip_reason(stage):
                skipped[stage] = reason
                continue
            if active:
                for i, answer in zip(active, self._run_stage(stage, active, texts, answers)):
                    answers[i][stage] = answer
            if progress:
                progress(len(active))
        out: list[dict[str, StageAnswer] | str] = [
            dict(answers[i]) if i in texts else rows[i]["error"] for i in range(len(items))]  # type: ignore[index]
        return out, skipped

    def calibrate(self, stage: str, answer: StageAnswer) -> StageAnswer:
        """A copy of the stage's answer with calibrated confidences (0 for a field it did not answer).
        A stage calibrator may carry a `category` calibrator of its own; else it maps both fields."""
        params = self.calibrators.get(stage)
        category_params = (params.get("category") or params) if params else None
        return dataclasses.replace(
            answer,
            brand_confidence=apply_calibration(params, answer.brand_confidence) if answer.brand else 0.0,
            category_confidence=apply_calibration(category_params, answer.category_confidence) if answer.category else 0.0)

    def decide(self, raw: dict[str, StageAnswer], text: str | None = None) -> tuple[str, dict[str, StageAnswer]]:
        """(decided_by, the calibrated answers of the stages that would have run) for one item's raw
        stage answers: the first stage after which the run is confident stops it, else "fusion".
        `text` (the normalised name) enables the learned fusion, as in `predict_batch`."""
        answers: dict[str, StageAnswer] = {}
        for stage in self.pipeline["sequence"]:
            if stage not in raw:
                continue
            answers[stage] = self.calibrate(stage, raw[stage])
            if self.pipeline["early_stopping"] and self._confident(self.run_answer(text, answers)):
                return stage, answers
        return "fusion", answers

    def run_answer(self, text: str | None, answers: dict[str, StageAnswer]) -> StageAnswer:
        """The run's answer so far (calibrated answers in sequence order): the learned fusion of NER
        and RAG once both answered and a fusion model is registered (or the LLM's answer when it
        is surer), else the last stage's own."""
        last = answers[list(answers)[-1]]
        text = text or next((a.text for a in answers.values() if a.text), None)
        fusable = {s: a for s, a in answers.items() if s in ("ner", "rag") and not a.error}
        if self.fusion is None or text is None or len(fusable) < 2:
            return last
        brand, confidence = self.fusion.choose(text, fusable)
        _, _, category, category_confidence = self.fuse(fusable)
        learned = StageAnswer(stage="fusion", brand=brand, brand_confidence=confidence if brand else 0.0,
                              category=category, category_confidence=category_confidence)
        llm = answers.get("llm")  # it saw NER and RAG as context: the more confident of the two answers
        if llm is not None and not llm.error and llm.brand and llm.brand_confidence >= learned.brand_confidence:
            return llm
        return learned

    # -- one stage at a time: the Step Functions tasks (inference.pipeline_steps) use these -------------
    def skip_reason(self, stage: str) -> str | None:
        """Why a stage of the sequence does not run (the LLM is not configured), else None."""
        if stage == "llm" and not self.llm.configured:
            return "not configured (no llm model_id in the registry)"
        return None

    def prepare(self, items: Sequence[Record | RecordError | str]) -> tuple[list[dict[str, Any] | None], dict[int, str]]:
        """(an error row or None per item, the normalised texts of the others by position)."""
        return self._prepare(items)

    def run_stage(self, stage: str, texts: Sequence[str], earlier: Sequence[dict[str, StageAnswer]]) -> list[StageAnswer]:
        """One stage's raw answers for normalised names, given each name's calibrated earlier
        answers: the call `predict_batch` makes. A failure is an error answer, never raised."""
        return self._run_stage(stage, list(range(len(texts))), dict(enumerate(texts)), dict(enumerate(earlier)))

    def stops_early(self, answer: StageAnswer) -> bool:
        """Whether this calibrated answer ends the run (early stopping on and the stage confident)."""
        return bool(self.pipeline["early_stopping"]) and self._confident(answer)

    def finish_row(self, item: Record | str, answers: dict[str, StageAnswer], skipped: dict[str, str],
                   decided_by: str, raw: dict[str, StageAnswer] | None = None, text: str | None = None) -> dict[str, Any]:
        """The output row for one item from its calibrated answers (and raw ones, for re-fitting)."""
        return self._finish(item, answers, skipped, decided_by, raw, text=text)

    def _run_stage(self, stage: str, active: list[int], texts: dict[int, str],
                   answers: dict[int, dict[str, StageAnswer]]) -> list[StageAnswer]:
        """The stage's answers for the active names; a failure becomes an error answer per name,
        so one bad name or an outage never loses a row."""
        batch = [texts[i] for i in active]
        entities = [answers[i]["ner"].entities if "ner" in answers[i] else [] for i in active]
        if stage == "ner":
            call = lambda idx: self.ner.predict_batch([batch[k] for k in idx])  # noqa: E731
        elif stage == "rag":
            call = lambda idx: self.rag.predict_batch([batch[k] for k in idx], [entities[k] for k in idx],  # noqa: E731
                                                      self.context["ner_to_rag"])
        else:
            results = [self._ask_llm(texts[i], answers[i]) for i in active]
            for answer, i in zip(results, active):
                answer.text = texts[i]
            return results
        try:
            results = call(list(range(len(batch))))
        except Exception:  # retry one by one to isolate the name that broke the batch
            results = []
            for k in range(len(batch)):
                try:
                    results.append(call([k])[0])
                except Exception as exc:  # noqa: BLE001 - reported in the row, never raised
                    results.append(StageAnswer(stage=stage, error=f"{type(exc).__name__}: {exc}"))
        for answer, text in zip(results, batch):
            answer.text = text
        return results

    def _ask_llm(self, text: str, earlier: dict[str, StageAnswer]) -> StageAnswer:
        ner_ctx = self.context["ner_to_rag"]
        entities = earlier["ner"].entities if "ner" in earlier and ner_ctx["pass_entities"] else []
        neighbours = earlier["rag"].evidence if "rag" in earlier else []
        started = time.perf_counter()
        try:
            return self.llm.predict(text, entities, neighbours,
                                    {**self.context["rag_to_llm"], "pass_entities": ner_ctx["pass_entities"]})
        except StageUnavailable as exc:
            return StageAnswer(stage="llm", error=str(exc), latency_ms=(time.perf_counter() - started) * 1000)

    def _confident(self, answer: StageAnswer) -> bool:
        """Sure enough to stop: the brand at the early-stopping threshold and, with `require_category`,
        a category answered. Category confidence is not required: on shop data the neighbours' vote
        rarely reaches the threshold even when right, so requiring it stopped no run before the LLM."""
        threshold = float(self.pipeline["early_stopping_threshold"])
        if answer.error or not answer.brand or answer.brand_confidence < threshold:
            return False
        return not self.pipeline["require_category"] or bool(answer.category)

    def fuse(self, answers: dict[str, StageAnswer]) -> tuple[str | None, float, str | None, float]:
        """Weighted vote per field over the stages that answered without error."""
        usable = {s: a for s, a in answers.items() if not a.error}
        total = sum(float(self.pipeline[f"{s}_weight"]) for s in usable)
        fused = []
        for field in ("brand", "category"):
            scores: dict[str, float] = defaultdict(float)
            label_of: dict[str, str] = {}
            for stage, answer in usable.items():
                label = getattr(answer, field)
                if label:
                    key = brand_key(label)
                    label_of.setdefault(key, label)
                    scores[key] += float(self.pipeline[f"{stage}_weight"]) * getattr(answer, f"{field}_confidence")
            if scores and total > 0:
                best = max(scores, key=scores.get)
                fused += [label_of[best], scores[best] / total]
            else:
                fused += [None, 0.0]
        return fused[0], fused[1], fused[2], fused[3]

    def final_answer(self, answers: dict[str, StageAnswer], decided_by: str,
                     text: str | None = None) -> tuple[str | None, float, str | None, float]:
        """(brand, confidence, category, category confidence) of a run: the deciding stage's answer,
        or the fusion, whose brand confidence goes through the `hybrid` calibrator; with a learned
        fusion and `text`, the learned fusion of the answers present."""
        fused = self.run_answer(text, answers) if answers else None
        if fused is not None and fused.stage == "fusion":
            return fused.brand, fused.brand_confidence, fused.category, fused.category_confidence
        if decided_by in answers:
            chosen = answers[decided_by]
            return chosen.brand, chosen.brand_confidence, chosen.category, chosen.category_confidence
        brand, brand_conf, category, category_conf = self.fuse(answers)
        brand_conf = apply_calibration(self.calibrators.get("hybrid"), brand_conf) if brand else 0.0
        return brand, brand_conf, category, category_conf

    def _finish(self, item, answers: dict[str, StageAnswer], skipped: dict[str, str], decided_by: str,
                raw: dict[str, StageAnswer] | None = None, text: str | None = None) -> dict[str, Any]:
        if text is None and self.fusion is not None:
            text = normalize_name(_name_of(item))
        brand, brand_conf, category, category_conf = self.final_answer(answers, decided_by, text)
        stages = {stage: {k: v for k, v in a.to_dict().items() if k != "stage"} for stage, a in answers.items()}
        for stage in stages:  # what the calibrator saw, so the row can be used to re-fit it
            if raw and stage in raw and self.calibrators.get(stage):
                stages[stage]["raw_brand_confidence"] = round(raw[stage].brand_confidence, 4)
                stages[stage]["raw_category_confidence"] = round(raw[stage].category_confidence, 4)
        row: dict[str, Any] = {
            "id": None if isinstance(item, str) else item.id,
            "name": _name_of(item),
            "brand": brand,
            "category": category,
            "confidence": round(brand_conf, 4),
            "category_confidence": round(category_conf, 4),
            "decided_by": decided_by,
            "needs_review": brand is None or brand_conf < float(self.pipeline["confidence_threshold"]),
            "stages": stages,
            "latency_ms": round(sum(a.latency_ms for a in answers.values()), 3),
        }
        if skipped:
            row["skipped"] = dict(skipped)
        if any(a.error for a in answers.values()):
            row["degraded"] = True
        return row


def _name_of(item) -> str | None:
    return item if isinstance(item, str) else item.name


def _error_row(record_id: str | None, name: str | None, message: str) -> dict[str, Any]:
    return {"id": record_id, "name": name, "error": message}

