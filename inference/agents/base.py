"""The value every stage returns, so the hybrid can fuse stages without knowing their internals."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Entity:
    """A span the NER stage found in the normalised name."""

    label: str  # "BRAND" or "CATEGORY"
    text: str
    start: int
    end: int
    confidence: float


@dataclass
class StageAnswer:
    """One stage's answer for one name.

    `brand_confidence` is the stage's probability that `brand` is right; `category_confidence`
    likewise for `category`. A stage that cannot answer a field leaves it None with confidence 0.
    `error` is set when the stage failed and its answer must not be used.
    """

    stage: str
    brand: str | None = None
    brand_confidence: float = 0.0
    category: str | None = None
    category_confidence: float = 0.0
    entities: list[Entity] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: float = 0.0
    error: str | None = None
    text: str | None = None  # the normalised name answered; in memory only, so a replay can fuse


    def to_dict(self, rounded: bool = True) -> dict[str, Any]:
        """JSON form; `rounded=False` keeps full precision, for answers passed on to be calibrated
        and fused elsewhere (a Step Functions state, an endpoint's answer)."""
        out = asdict(self)
        out.pop("text")
        if rounded:
            out["brand_confidence"] = round(self.brand_confidence, 4)
            out["category_confidence"] = round(self.category_confidence, 4)
            out["latency_ms"] = round(self.latency_ms, 3)
        if not self.entities:
            out.pop("entities")
        if not self.evidence:
            out.pop("evidence")
        if self.error is None:
            out.pop("error")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StageAnswer":
        """The inverse of `to_dict` (a Step Functions item state carries answers as JSON)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "entities"}
        return cls(**fields, entities=[Entity(**e) for e in data.get("entities") or []])


class StageUnavailable(RuntimeError):
    """A stage could not answer (outage, throttling past retries, malformed model output).

    The hybrid catches it and degrades to the earlier stages' answers, flagging the row.
    """
