import json

import boto3
import pytest
from moto import mock_aws

from inference.config.model_registry import ModelRegistry, RegistryError


def test_round_trip_of_the_manuals_calls(tmp_path):
    registry = ModelRegistry(path=tmp_path / "registry.json")
    registry.register_model("ner", "crf-local", {"backend": "crf", "path": "models/ner/crf"})
    registry.register_model("ner", "xlm-roberta-ner", {"model_name": "xlm-roberta-base", "num_labels": 5,
                                                      "learning_rate": 2e-5, "confidence_threshold": 0.7})
    # The first registration is active until switched.
    assert registry.get_model_config("ner")["name"] == "crf-local"
    registry.switch_model("ner", "xlm-roberta-ner")

    reopened = ModelRegistry(path=tmp_path / "registry.json")
    config = reopened.get_model_config("ner")
    assert config["name"] == "xlm-roberta-ner" and config["learning_rate"] == 2e-5 and config["num_labels"] == 5
    assert reopened.list_models("ner") == ["crf-local", "xlm-roberta-ner"]

    updated = reopened.update_model_config("ner", {"confidence_threshold": 0.8})
    assert updated["confidence_threshold"] == 0.8
    assert ModelRegistry(path=tmp_path / "registry.json").get_model_config("ner")["confidence_threshold"] == 0.8


def test_update_model_config_creates_a_default_version(tmp_path):
    registry = ModelRegistry(path=tmp_path / "r.json")
    registry.update_model_config("llm", {"model_id": "multilingual-product-inference-v1",
                                         "endpoint_name": "multilingual-inference-endpoint"})
    config = registry.get_model_config("llm")
    assert config["name"] == "default" and config["model_id"] == "multilingual-product-inference-v1"


def test_calibration_is_stored_from_dicts_and_objects(tmp_path):
    class Platt:
        def to_dict(self):
            return {"method": "platt", "a": 4.0, "b": -2.0}

    registry = ModelRegistry(path=tmp_path / "r.json")
    registry.update_calibration("ner", Platt())
    registry.update_calibration("rag", {"method": "isotonic", "x": [0, 1], "y": [0.1, 0.9]})
    assert registry.get_calibration("ner")["a"] == 4.0
    assert registry.get_calibration("rag")["y"] == [0.1, 0.9]
    assert registry.get_calibration("llm") is None
    with pytest.raises(ValueError, match="'method'"):
        registry.update_calibration("llm", {"a": 1})


def test_errors_name_what_is_missing(tmp_path):
    registry = ModelRegistry(path=tmp_path / "r.json")
    with pytest.raises(RegistryError, match="no ner model is registered.*bootstrap"):
        registry.get_model_config("ner")
    with pytest.raises(RegistryError, match="unknown model type 'nre'"):
        registry.get_model_config("nre")
    registry.register_model("ner", "a", {})
    with pytest.raises(RegistryError, match=r"no ner model named 'b' is registered \(known: a\)"):
        registry.switch_model("ner", "b")


def test_corrupt_registry_file_is_reported(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelRegistry(path=path).get_model_config("ner")


def test_home_relocates_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(tmp_path / "a"))
    ModelRegistry().register_model("ner", "in-a", {})
    assert ModelRegistry(home=tmp_path / "b").has_model("ner") is False
    assert json.loads((tmp_path / "a" / "registry.json").read_text())["models"]["ner"]["active"] == "in-a"


@mock_aws
def test_registry_document_in_s3():
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="models")
    registry = ModelRegistry(path="s3://models/registry/registry.json")
    assert not registry.has_model("ner")
    registry.register_model("ner", "crf", {"path": "s3://models/ner/crf/"})
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket="models", Key="registry/registry.json")["Body"]
    assert json.loads(body.read())["models"]["ner"]["active"] == "crf"
    assert ModelRegistry(path="s3://models/registry/registry.json").get_model_config("ner")["path"] == "s3://models/ner/crf/"
