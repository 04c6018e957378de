"""The Milvus server's URI and token from Secrets Manager (moto), as the RAG Lambdas read them."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from inference.milvus_secret import MilvusSecretError, milvus_connection


@pytest.fixture
def secrets():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_uri_and_token_are_read_from_the_secret(secrets):
    secrets.create_secret(Name="mpi/milvus", SecretString=json.dumps(
        {"uri": " https://in01-abc.zillizcloud.com:19530 ", "token": "db_admin:s3cret"}))
    assert milvus_connection("mpi/milvus") == ("https://in01-abc.zillizcloud.com:19530", "db_admin:s3cret")


def test_a_secret_without_token_gives_an_empty_token(secrets):
    secrets.create_secret(Name="mpi/milvus", SecretString=json.dumps({"uri": "http://10.0.1.5:19530"}))
    assert milvus_connection("mpi/milvus", secrets) == ("http://10.0.1.5:19530", "")


@pytest.mark.parametrize("value, problem", [
    ("https://milvus:19530", "not JSON"),
    (json.dumps({"token": "t"}), "with a non-empty uri"),
    (json.dumps({"uri": "  ", "token": "t"}), "with a non-empty uri"),
    (json.dumps(["https://milvus:19530"]), "expected a JSON object"),
    (json.dumps({"uri": "https://milvus:19530", "token": 42}), "token must be a string"),
])
def test_a_malformed_secret_names_the_secret_and_the_problem(secrets, value, problem):
    secrets.create_secret(Name="mpi/milvus", SecretString=value)
    with pytest.raises(MilvusSecretError, match=f"secret mpi/milvus: .*{problem}"):
        milvus_connection("mpi/milvus")


def test_a_missing_secret_is_the_service_error(secrets):
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        milvus_connection("mpi/absent")
