"""The AWS-side adapters of the pipeline, against the SageMaker runtime API through botocore's
Stubber (moto queues invoke_endpoint answers but cannot compute them): the NER and embedding
endpoint clients and their JSON contract with sagemaker_jobs/serve_*.py."""

from __future__ import annotations

import io
import json

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from inference.agents.base import Entity
from inference.sagemaker_endpoints import EndpointEmbedder, EndpointError, EndpointNERAgent

COLGATE = {"brand": "Colgate", "brand_confidence": 0.9731, "category": "Toothpaste", "category_confidence": 0.88,
           "entities": [{"label": "BRAND", "text": "คอลเกต", "start": 7, "end": 13, "confidence": 0.9731},
                        {"label": "CATEGORY", "text": "ยาสีฟัน", "start": 0, "end": 7, "confidence": 0.88}],
           "latency_ms": 1.2}


@pytest.fixture
def runtime():
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def answer(stubber, endpoint: str, texts: list[str], payload) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stubber.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(body), len(body)),
                                             "ContentType": "application/json"},
                         {"EndpointName": endpoint, "ContentType": "application/json", "Accept": "application/json",
                          "Body": json.dumps({"texts": texts}, ensure_ascii=False).encode()})


def test_ner_answers_become_stage_answers_at_full_precision(runtime):
    client, stubber = runtime
    answer(stubber, "ner-ep", ["ยาสีฟันคอลเกต", "???"], {"predictions": [COLGATE, {"error": "texts[1]: name has no letters"}]})
    found = EndpointNERAgent("ner-ep", runtime=client).predict_batch(["ยาสีฟันคอลเกต", "???"])
    assert (found[0].stage, found[0].brand, found[0].brand_confidence, found[0].category) == ("ner", "Colgate", 0.9731, "Toothpaste")
    assert found[0].entities[0] == Entity("BRAND", "คอลเกต", 7, 13, 0.9731) and found[0].error is None
    assert found[1].error == "texts[1]: name has no letters" and found[1].brand is None


def test_ner_names_are_sent_in_batches(runtime):
    client, stubber = runtime
    answer(stubber, "ner-ep", ["a", "b"], {"predictions": [COLGATE, COLGATE]})
    answer(stubber, "ner-ep", ["c"], {"predictions": [{**COLGATE, "brand": "Darlie"}]})
    found = EndpointNERAgent("ner-ep", runtime=client, batch_size=2).predict_batch(["a", "b", "c"])
    assert [a.brand for a in found] == ["Colgate", "Colgate", "Darlie"]


@pytest.mark.parametrize("payload, problem", [
    ({"predictions": [COLGATE, COLGATE]}, "returned 2 predictions for 1 names"),
    ({"outputs": []}, "returned no list of predictions for 1 names"),
    (b"<html>502</html>", "answered non-JSON"),
    ([COLGATE], "answered a list, expected a JSON object"),
    ({"predictions": [{"brand": "X", "brand_confidence": "high"}]}, "malformed prediction"),
    ({"predictions": ["Colgate"]}, "returned a str prediction"),
])
def test_an_answer_outside_the_contract_is_an_endpoint_error(runtime, payload, problem):
    client, stubber = runtime
    answer(stubber, "ner-ep", ["x"], payload)
    with pytest.raises(EndpointError, match=problem):
        EndpointNERAgent("ner-ep", runtime=client).predict_batch(["x"])


def test_an_endpoint_failure_is_raised_for_the_hybrid_to_record(runtime):
    client, stubber = runtime
    stubber.add_client_error("invoke_endpoint", "ModelError", "model container crashed", 424)
    with pytest.raises(ClientError, match="ModelError"):
        EndpointNERAgent("ner-ep", runtime=client).predict("x")


def test_embeddings_come_back_as_a_matrix_and_set_the_dimension(runtime):
    client, stubber = runtime
    vectors = np.eye(3, 4, dtype=np.float32)
    answer(stubber, "emb-ep", ["a", "b", "c"], {"vectors": vectors.tolist(), "dim": 4, "embedder": "char-ngram"})
    embedder = EndpointEmbedder("emb-ep", runtime=client)
    found = embedder.encode(["a", "b", "c"])
    assert found.dtype == np.float32 and np.array_equal(found, vectors) and embedder.dim == 4


def test_the_dimension_is_asked_of_the_endpoint_when_needed_first(runtime):
    client, stubber = runtime
    answer(stubber, "emb-ep", ["dimension probe"], {"vectors": [[0.6, 0.8]], "dim": 2})
    assert EndpointEmbedder("emb-ep", runtime=client).dim == 2


@pytest.mark.parametrize("payload, problem", [
    ({"vectors": [[1.0, 0.0]]}, r"vectors of shape \(1, 2\) for 2 names"),
    ({"dim": 2}, "no usable vectors"),
    ({"vectors": [[1.0], [0.0, 1.0]]}, "no usable vectors"),
])
def test_embeddings_outside_the_contract_are_an_endpoint_error(runtime, payload, problem):
    client, stubber = runtime
    answer(stubber, "emb-ep", ["a", "b"], payload)
    with pytest.raises(EndpointError, match=problem):
        EndpointEmbedder("emb-ep", runtime=client).encode(["a", "b"])
