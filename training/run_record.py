"""Run records: every training, tuning and evaluation command leaves one beside its output, so a
result can be traced to the command, the parameters, the exact input files and the versions."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGES = ("numpy", "scikit-learn", "sklearn-crfsuite", "pymilvus", "milvus-lite", "pythainlp",
            "torch", "transformers", "sentence-transformers", "tokenizers", "seqeval")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_run_record(base: str | Path, command: str, params: dict[str, Any], inputs: list[Path | str | None],
                     metrics: dict[str, Any]) -> Path:
    """run.json (command, parameters, input hashes, versions) and metrics.json in
    <base>/runs/<stamp>-<command>/; returns that folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = Path(base) / "runs" / f"{stamp}-{command}"
    folder.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    record = {"command": command, "argv": sys.argv, "params": params, "started": stamp,
              "inputs": {str(p): file_sha256(Path(p)) for p in inputs if p and Path(p).is_file()},
              "versions": versions}
    (folder / "run.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return folder
