"""Shared fixtures: every test gets its own local home, so no test sees another's state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

# Keep AWS clients away from any real account or local profile during tests.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


_PROCESS_WIDE = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "PRODUCT_INFERENCE_HOME")


@pytest.fixture(autouse=True)
def restore_process_environment():
    """The manual's commands run in process set AWS_PROFILE/AWS_REGION (their --aws-profile and
    --region flags, as they would in a shell); put them back so no later test inherits them."""
    saved = {name: os.environ.get(name) for name in _PROCESS_WIDE}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    monkeypatch.setenv("PRODUCT_INFERENCE_HOME", str(folder))
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train as fast on one thread, and torch's default threads spin against other
    processes on a shared machine (ten times slower measured here)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """A real `moto_server` on loopback for the session: AWS calls that cross a subprocess."""
    from tests.manual.local_aws import moto_server  # the manual runner starts its own the same way

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def aws_env(moto_endpoint, tmp_path, monkeypatch) -> dict:
    """Environment of a user with the `ml-sandbox` profile, pointed at the local moto server.

    Applied to this process too (monkeypatch), and returned for subprocesses. The server's state is
    reset first, so each test starts from an empty account.
    """
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=5)
    config = tmp_path / "aws-config"
    config.write_text("[profile ml-sandbox]\nregion = us-east-1\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[ml-sandbox]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_CONFIG_FILE": str(config),
           "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from inference import aws

    aws.get_session.cache_clear()
    return {**os.environ, **env}
