"""The model registry of the manual: which model of each kind is active, with its settings.

One JSON document: `{home}/registry.json` on a laptop; in AWS the same document is kept in S3
(`s3://bucket/key`, through the session factory). Every call re-reads it, so a model switched
by one process is seen by the next call of another; writes are atomic.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inference.config.settings import resolve_home

MODEL_TYPES = ("ner", "embedding", "rag", "llm", "hybrid")


class RegistryError(KeyError):
    """A model type or version that the registry does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ModelRegistry:
    def __init__(self, path: str | os.PathLike | None = None, home: str | os.PathLike | None = None):
        location = str(path) if path else str(resolve_home(home) / "registry.json")
        self.location = location
        self._s3 = location.startswith("s3://")

    # -- storage -------------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        empty = {"models": {}, "calibration": {}}
        if self._s3:
            from inference.aws import client

            bucket, key = self.location[5:].split("/", 1)
            s3 = client("s3")
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                return empty
            return json.loads(body)
        path = Path(self.location)
        if not path.exists():
            return empty
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"model registry {path} is not valid JSON (line {exc.lineno}): {exc.msg}") from exc

    def _write(self, doc: dict[str, Any]) -> None:
        text = json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True)
        if self._s3:
            from inference.aws import client

            bucket, key = self.location[5:].split("/", 1)
            client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"),
                                    ContentType="application/json")
            return
        path = Path(self.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".registry-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)

    @staticmethod
    def _check_type(model_type: str) -> None:
        if model_type not in MODEL_TYPES:
            raise RegistryError(f"unknown model type {model_type!r}; expected one of {', '.join(MODEL_TYPES)}")

    # -- the manual's API ----------------------------------------------------------------------
    def get_model_config(self, model_type: str) -> dict[str, Any]:
        """The active model's settings, with its `name`; RegistryError when none is registered."""
        self._check_type(model_type)
        entry = self._read()["models"].get(model_type)
        if not entry or not entry.get("active"):
            raise RegistryError(
                f"no {model_type} model is registered in {self.location}; run `product-infer bootstrap` first"
            )
        active = entry["active"]
        return {"name": active, **copy.deepcopy(entry["versions"][active])}

    def has_model(self, model_type: str) -> bool:
        self._check_type(model_type)
        entry = self._read()["models"].get(model_type)
        return bool(entry and entry.get("active"))

    def list_models(self, model_type: str) -> list[str]:
        self._check_type(model_type)
        return sorted(self._read()["models"].get(model_type, {}).get("versions", {}))

    def register_model(self, model_type: str, name: str, config: dict[str, Any], activate: bool | None = None) -> None:
        """Add (or replace) a version. The first version of a type becomes active by itself."""
        self._check_type(model_type)
        if not name or not isinstance(name, str):
            raise ValueError("a model needs a non-empty name")
        if not isinstance(config, dict):
            raise TypeError(f"model config for {model_type}/{name} must be a dict, got {type(config).__name__}")
        doc = self._read()
        entry = doc["models"].setdefault(model_type, {"active": None, "versions": {}})
        entry["versions"][name] = {**copy.deepcopy(config), "registered_at": _now()}
        if activate or (activate is None and not entry.get("active")):
            entry["active"] = name
        self._write(doc)

    def switch_model(self, model_type: str, name: str) -> None:
        self._check_type(model_type)
        doc = self._read()
        entry = doc["models"].get(model_type, {"versions": {}})
        if name not in entry["versions"]:
            known = ", ".join(sorted(entry["versions"])) or "none"
            raise RegistryError(f"no {model_type} model named {name!r} is registered (known: {known})")
        entry["active"] = name
        self._write(doc)

    def update_model_config(self, model_type: str, updates: dict[str, Any]) -> dict[str, Any]:
        """Merge `updates` into the active version (creating a `default` version if there is none)."""
        self._check_type(model_type)
        doc = self._read()
        entry = doc["models"].setdefault(model_type, {"active": None, "versions": {}})
        if not entry.get("active"):
            entry["active"] = "default"
            entry["versions"]["default"] = {"registered_at": _now()}
        version = entry["versions"][entry["active"]]
        version.update(copy.deepcopy(updates))
        version["updated_at"] = _now()
        self._write(doc)
        return {"name": entry["active"], **copy.deepcopy(version)}

    def update_calibration(self, model_type: str, calibrator: Any) -> None:
        """Store a stage's confidence calibrator (a dict, or an object with `to_dict()`)."""
        self._check_type(model_type)
        params = calibrator.to_dict() if hasattr(calibrator, "to_dict") else calibrator
        if not isinstance(params, dict) or "method" not in params:
            raise ValueError("a calibrator must be a dict with a 'method' key, or provide to_dict()")
        doc = self._read()
        doc["calibration"][model_type] = {**copy.deepcopy(params), "updated_at": _now()}
        self._write(doc)

    def get_calibration(self, model_type: str) -> dict[str, Any] | None:
        self._check_type(model_type)
        found = self._read()["calibration"].get(model_type)
        return copy.deepcopy(found) if found else None
