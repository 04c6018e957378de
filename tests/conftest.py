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


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """A real `moto_server` on loopback for the session: AWS calls that cross a subprocess."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    server = Path(sys.executable).with_name("moto_server")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


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
