"""What the manual's Python blocks use but never set up, one documented prelude per block.

The manual prints `calibrator.fit(validation_predictions, validation_ground_truth)` and
`detector.check_drift(current_predictions)` without saying where those values come from, and
compares the models 'spacy_ner_v1' and 'xlm_roberta_ner_v1' that it never registers. The runner
never edits a block: it runs the block's prelude first, in the block's folder (prepared by
`product-infer export-sample`), and puts the values it returns into the block's namespace. A
prelude is found by the block's first line of code; each docstring says what a user would have
done there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


def calibration_data() -> dict[str, Any]:
    """`validation_ground_truth`: the validation split's records (`validation_dataset.txt`, held out
    from the index); `validation_predictions`: the hybrid's rows for them with early stopping off
    and no calibrators, so that every stage answers every name (`predict_for_calibration`, as the
    calibration module's docstring prescribes)."""
    from inference.records import load_catalog
    from training.pipelines.confidence_calibration import predict_for_calibration

    validation_ground_truth = load_catalog("validation_dataset.txt")
    return {"validation_ground_truth": validation_ground_truth,
            "validation_predictions": predict_for_calibration(validation_ground_truth)}


def current_window() -> dict[str, Any]:
    """`current_predictions`: the pipeline's output rows for the test split (`test_dataset.txt`),
    the "current window" compared with `baseline_predictions.json` (the validation split's rows)."""
    from inference.agents.hybrid_agent import HybridAgent
    from inference.records import load_catalog

    agent = HybridAgent()
    try:
        return {"current_predictions": agent.predict_batch(load_catalog("test_dataset.txt"))}
    finally:
        agent.close()


def ab_test_models() -> dict[str, Any]:
    """The A/B block's control 'spacy_ner_v1' and treatment 'xlm_roberta_ner_v1', registered as NER
    models (neither made active). The project has no spaCy model: the control is its classical
    NER, a CRF trained on `training_dataset.txt` (`train_ner_pipeline.py --model-type crf`); the
    treatment is the transformer the manual trained earlier ("Train with multilingual focus",
    registered as 'xlm-roberta-ner' in models/ner_model)."""
    from inference.config.model_registry import ModelRegistry
    from training.pipelines.ner_training import NERTrainingConfig
    from training.pipelines.train_ner_pipeline import train_locally

    registry = ModelRegistry()
    active = registry.get_model_config("ner")["name"]
    try:
        registry.switch_model("ner", "xlm-roberta-ner")
        transformer = {k: v for k, v in registry.get_model_config("ner").items() if k not in ("name", "registered_at")}
        registry.register_model("ner", "xlm_roberta_ner_v1", transformer, activate=False)
        train_locally(NERTrainingConfig(model_type="crf"), training_data=Path("training_dataset.txt"),
                      output=Path("models/spacy_ner_v1"), aliases=Path("aliases.json"), registry=registry,
                      model_name="spacy_ner_v1", log=print)
    finally:
        registry.switch_model("ner", active)
    return {}


PRELUDES: dict[str, Callable[[], dict[str, Any]]] = {
    "from training.pipelines.confidence_calibration import PlattScaling": calibration_data,
    "from inference.monitoring.drift_detection import ModelDriftDetector": current_window,
    "from tests.framework.ab_testing import ABTestFramework": ab_test_models,
}


class MissingPrelude(LookupError):
    """A block uses names that its prelude (if any) does not provide."""


def prelude_for(first_line: str, free: set[str]) -> Callable[[], dict[str, Any]] | None:
    """The prelude of the block whose first line of code is `first_line`; MissingPrelude when the
    block reads names (`free`) that nothing defines."""
    prelude = PRELUDES.get(first_line)
    if free and prelude is None:
        raise MissingPrelude(f"the block uses {', '.join(sorted(free))}, which it never defines, and no prelude in "
                             f"tests/manual/preludes.py is keyed by its first line {first_line!r}")
    return prelude


def check_provided(prelude: Callable[[], dict[str, Any]], values: dict[str, Any], free: set[str]) -> None:
    """A prelude must provide every name the block leaves undefined."""
    missing = sorted(free - set(values))
    if missing:
        raise MissingPrelude(f"prelude {prelude.__name__} does not provide {', '.join(missing)}")
