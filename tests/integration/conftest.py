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


@pytest.fixture(scope="session")
def heldout_home(tmp_path_factory):
    """A home bootstrapped from half of the sample catalogue, and the other half as labelled records
    (split by a hash of each id, seed 13), for tools that must score models on names they never saw.
    Returns (home folder, train.jsonl, test.jsonl); aliases.json sits beside both files."""
    from inference.records import load_catalog, write_jsonl
    from tests.performance.benchmark_local_pipeline import split_by_id
    from training.pipelines.local_bootstrap import SAMPLE_CATALOG

    folder = tmp_path_factory.mktemp("heldout")
    train, test = split_by_id(load_catalog(SAMPLE_CATALOG), 0.5, seed=13)
    paths = []
    for part, records in (("train", train), ("test", test)):
        paths.append(folder / f"{part}.jsonl")
        write_jsonl(({"id": r.id, "name": r.name, "brand": r.brand, "category": r.category} for r in records), paths[-1])
    shutil.copy(SAMPLE_CATALOG.parent / "aliases.json", folder / "aliases.json")
    bootstrap(paths[0], home=folder / "home", log=lambda _: None)
    return folder / "home", paths[0], paths[1]
