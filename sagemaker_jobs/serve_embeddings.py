"""SageMaker serving entry point of the query embedder (the inference toolkit's four functions).

The model folder is what the embedding fine-tuning job wrote (train_embeddings.py: a
sentence-transformers folder), or a saved character n-gram embedder (char_ngram.joblib), or any
folder with an embedder.json holding a registry `embedding` config; it loads with the project's
own `load_embedder`, so the endpoint's vectors are those the catalogue was indexed with.
Request {"texts": [...]} -> {"vectors": [[...], ...] (unit length), "dim", "embedder"}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

try:
    import inference, sagemaker_jobs  # noqa: F401,E401  (installed, or run from the source root)
except ImportError:  # the container runs the script from the unpacked source archive
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.agents.embeddings import Embedder, load_embedder  # noqa: E402
from sagemaker_jobs.serving import read_texts, write_json  # noqa: E402


def embedder_config(model_dir: Path) -> dict:
    """The registry-style config of the embedder saved in `model_dir`."""
    if (model_dir / "embedder.json").is_file():
        return json.loads((model_dir / "embedder.json").read_text(encoding="utf-8"))
    if (model_dir / "char_ngram.joblib").is_file():
        return {"backend": "char-ngram", "path": "."}
    if (model_dir / "modules.json").is_file():
        return {"backend": "sentence-transformers", "path": "."}
    raise FileNotFoundError(f"{model_dir} holds no embedder (embedder.json, char_ngram.joblib or a "
                            "sentence-transformers folder with modules.json)")


def model_fn(model_dir: str, context=None) -> Embedder:
    return load_embedder(embedder_config(Path(model_dir)), Path(model_dir))


def input_fn(request_body: bytes | str, request_content_type: str, context=None) -> list[str]:
    return read_texts(request_body, request_content_type)


def predict_fn(texts: list[str], model: Embedder, context=None) -> dict:
    vectors = model.encode(texts)
    return {"vectors": vectors.tolist(), "dim": int(vectors.shape[1]), "embedder": model.name}


def output_fn(prediction: dict, accept: str, context=None) -> str:
    return write_json(prediction, accept)
