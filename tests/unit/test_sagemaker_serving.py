"""The SageMaker entry points' plumbing: the endpoints' JSON request/response and hyperparameters
from SM_HPS (the serving and training functions themselves run on real models in
tests/integration/lambdas/test_sagemaker_jobs.py)."""

from __future__ import annotations

import json

import pytest

from sagemaker_jobs.hyperparameters import script_args
from sagemaker_jobs.serving import MAX_TEXTS, RequestError, read_texts, write_json


def test_texts_are_read_from_a_json_object_or_list():
    assert read_texts(json.dumps({"texts": ["ยาสีฟัน", "Colgate"]}).encode(), "application/json") == ["ยาสีฟัน", "Colgate"]
    assert read_texts('["a"]', "application/json; charset=utf-8") == ["a"]


@pytest.mark.parametrize("body, content_type, problem", [
    (b'{"texts": ["a"]}', "text/csv", "content type 'text/csv' is not supported"),
    (b'{"texts": [', "application/json", "not UTF-8 JSON"),
    (b"\xff\xfe", "application/json", "not UTF-8 JSON"),
    (b'{"texts": []}', "application/json", "at least one name"),
    (b'{"inputs": ["a"]}', "application/json", "expected {\"texts\""),
    (b'{"texts": ["a", 3]}', "application/json", r"texts\[1\] is a int, not a string"),
    (json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), "application/json", "the limit is 256"),
])
def test_a_request_outside_the_contract_says_what_was_expected(body, content_type, problem):
    with pytest.raises(RequestError, match=problem):
        read_texts(body, content_type)


def test_answers_are_json_unless_another_type_is_demanded():
    assert json.loads(write_json({"vectors": [[1.0]]}, "application/json")) == {"vectors": [[1.0]]}
    assert write_json({"b": "ไทย"}, "*/*") == '{"b": "ไทย"}'
    with pytest.raises(RequestError, match="answers application/json"):
        write_json({}, "text/csv")


def test_sm_hps_become_arguments_and_the_command_line_wins():
    env = {"SM_HPS": json.dumps({"epochs": 3, "early_stopping": True, "model_type": "crf",
                                 "sagemaker_program": "train_ner.py"})}
    assert script_args(["--epochs", "5"], env) == ["--epochs", "3", "--early_stopping", "true", "--model_type", "crf",
                                                   "--epochs", "5"]
    assert script_args([], {}) == []


@pytest.mark.parametrize("raw", ["{epochs: 3}", "[1, 2]"])
def test_malformed_sm_hps_stops_the_job_with_the_reason(raw):
    with pytest.raises(SystemExit, match="SM_HPS"):
        script_args([], {"SM_HPS": raw})
