"""SageMaker serving entry point of the NER stage (the inference toolkit's four functions).

The model is the folder a training job wrote (train_ner.py: ner_model.json, the model files,
lexicon.json), loaded with the same NERAgent the laptop uses, so an endpoint answers what the local
stage answers. Request {"texts": [...]} -> {"predictions": [answer per text]}, each answer
StageAnswer.to_dict(rounded=False) without "stage" (brand, category, raw confidences at full
precision, entities, latency_ms), or {"error": "..."} for a text that is not a usable name.
inference.sagemaker_endpoints calls it; the caller calibrates, so the confidences are not rounded.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import inference, sagemaker_jobs  # noqa: F401,E401  (installed, or run from the source root)
except ImportError:  # the container runs the script from the unpacked source archive
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.agents.ner_agent import NERAgent  # noqa: E402
from inference.normalize import InvalidName, normalize_name  # noqa: E402
from sagemaker_jobs.serving import read_texts, write_json  # noqa: E402


def model_fn(model_dir: str, context=None) -> NERAgent:
    return NERAgent.from_folder(model_dir)


def input_fn(request_body: bytes | str, request_content_type: str, context=None) -> list[str]:
    return read_texts(request_body, request_content_type)


def predict_fn(texts: list[str], model: NERAgent, context=None) -> dict:
    predictions = []
    for i, text in enumerate(texts):
        try:
            answer = model.predict(normalize_name(text)).to_dict(rounded=False)  # calibrated by the caller
        except InvalidName as exc:
            predictions.append({"error": f"texts[{i}]: {exc}"})
            continue
        answer.pop("stage")
        predictions.append(answer)
    return {"predictions": predictions}


def output_fn(prediction: dict, accept: str, context=None) -> str:
    return write_json(prediction, accept)
