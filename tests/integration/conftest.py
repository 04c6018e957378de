"""One bootstrap of the sample catalogue per test session (real CRF, real Milvus Lite)."""

from __future__ import annotations

import shutil

import pytest

from inference.config.model_registry import ModelRegistry
from training.pipelines.local_bootstrap import bootstrap


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("sample-home")
    metrics = bootstrap(home=home, log=lambda _: None)
    return home, metrics


@pytest.fixture(scope="session")
def registry(sample_home) -> ModelRegistry:
    return ModelRegistry(home=sample_home[0])


@pytest.fixture
def home_copy(sample_home, tmp_path) -> ModelRegistry:
    """A private copy of the bootstrapped home, for tests that change the registry."""
    target = tmp_path / "home"
    shutil.copytree(sample_home[0], target, ignore=shutil.ignore_patterns("LOCK"))
    return ModelRegistry(home=target)
