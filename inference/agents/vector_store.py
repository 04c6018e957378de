"""The product vector store: a Milvus collection (a Milvus Lite file locally, a server in AWS).

Milvus Lite keeps the collection in a folder with a lock, so one process at a time opens it;
searches go in batches because each call has a fixed cost of a scan over the rows.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import numpy as np

OUTPUT_FIELDS = ["record_id", "name", "brand", "category"]


def _transient(exc: Exception) -> bool:
    """A dropped gRPC channel: Milvus Lite's server sends GOAWAY ("too many pings") to clients of a
    long-lived process; a fresh connection works."""
    text = str(exc)
    return "UNAVAILABLE" in text or "Too many pings" in text or "GOAWAY" in text


class MilvusStore:
    def __init__(self, uri: str, collection: str, token: str | None = None):
        self.uri = uri
        self.collection = collection
        self.token = token
        self._client = None
        self._loaded = False
        self.search_params: dict[str, Any] = {}
        self.metric_type = "COSINE"

    @property
    def client(self):
        if self._client is None:
            from pymilvus import MilvusClient

            for attempt in range(3):
                try:
                    self._client = MilvusClient(self.uri, token=self.token or "", **self._local_options())
                    break
                except Exception as exc:  # noqa: BLE001 - only transient connection errors are retried
                    if attempt == 2 or not _transient(exc):
                        raise
                    time.sleep(0.2 * (attempt + 1))
        return self._client

    def _local_options(self) -> dict[str, Any]:
        """Milvus Lite (a file URI): no idle keepalive pings. pymilvus pings every 10 s even with no
        call in flight, the embedded server allows far fewer, and after a few idle minutes it
        drops the channel with GOAWAY "too_many_pings"."""
        if "://" in self.uri:
            return {}
        return {"grpc_options": {"grpc.keepalive_time_ms": 3_600_000, "grpc.keepalive_permit_without_calls": 0}}

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
            self._loaded = False

    def recreate(self, dim: int, index_type: str = "FLAT", metric_type: str = "COSINE",
                 index_params: dict[str, Any] | None = None) -> None:
        """Drop and create the collection with the product schema and a vector index."""
        from pymilvus import DataType

        client = self.client
        if client.has_collection(self.collection):
            client.drop_collection(self.collection)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("record_id", DataType.VARCHAR, max_length=256)
        schema.add_field("name", DataType.VARCHAR, max_length=1024)
        schema.add_field("brand", DataType.VARCHAR, max_length=256)
        schema.add_field("category", DataType.VARCHAR, max_length=256)
        client.create_collection(self.collection, schema=schema,
                                 index_params=self._index_params(index_type, metric_type, index_params or {}))
        self.metric_type = metric_type

    def insert(self, vectors: np.ndarray, rows: Sequence[dict[str, Any]], batch_size: int = 2000) -> int:
        data = [
            {"pk": i, "vector": vectors[i].tolist(), "record_id": str(r.get("record_id") or i),
             "name": r["name"][:1024], "brand": r.get("brand") or "", "category": r.get("category") or ""}
            for i, r in enumerate(rows)
        ]
        for start in range(0, len(data), batch_size):
            self.client.insert(self.collection, data[start:start + batch_size])
        # Seal the rows into an indexed segment: unflushed rows are searched row by row (13x slower
        # at 10k rows, measured) until the collection is flushed.
        self.client.flush(self.collection)
        return len(data)

    def count(self) -> int:
        stats = self.client.get_collection_stats(self.collection)
        return int(stats.get("row_count", 0))

    def search(self, vectors: np.ndarray, limit: int, with_pk: bool = False) -> list[list[dict[str, Any]]]:
        """For each query vector, up to `limit` hits: the stored fields plus `similarity` (and the
        primary key `pk` when asked)."""
        if len(vectors) == 0:
            return []
        try:
            return self._search(vectors, limit, with_pk)
        except Exception as exc:  # noqa: BLE001
            if not _transient(exc):
                raise
            self.close()  # the gRPC channel was dropped by the server: reconnect once
            return self._search(vectors, limit, with_pk)

    def _search(self, vectors: np.ndarray, limit: int, with_pk: bool) -> list[list[dict[str, Any]]]:
        if not self._loaded:
            self.client.load_collection(self.collection)  # a reopened collection starts released
            self._loaded = True
        params = {"metric_type": self.metric_type, "params": dict(self.search_params)}
        results = self.client.search(self.collection, data=[v.tolist() for v in vectors], limit=limit,
                                     output_fields=OUTPUT_FIELDS, search_params=params)
        return [[{**hit["entity"], "similarity": float(hit["distance"]), **({"pk": hit["pk"]} if with_pk else {})}
                 for hit in hits] for hits in results]

    # -- maintenance (the manual's collection tuning) ---------------------------------------------
    def exists(self) -> bool:
        return bool(self.client.has_collection(self.collection))

    def describe_index(self) -> dict[str, Any]:
        """The vector index as Milvus reports it (index_type, metric_type, params, rows)."""
        return dict(self.client.describe_index(self.collection, "vector"))

    def rebuild_index(self, index_type: str, metric_type: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Replace the vector index: release, drop, create, load. A failed create restores the
        previous index, because Milvus Lite keeps a failed index spec and then cannot load."""
        client = self.client
        previous = self.describe_index()
        client.release_collection(self.collection)
        self._loaded = False
        client.drop_index(self.collection, "vector")
        try:
            self._create_index(index_type, metric_type, params or {})
        except Exception:
            client.drop_index(self.collection, "vector")
            self._create_index(previous["index_type"], previous["metric_type"], previous.get("params") or {})
            client.load_collection(self.collection)
            raise
        client.load_collection(self.collection)
        self._loaded = True
        self.metric_type = metric_type
        return self.describe_index()

    def _index_params(self, index_type: str, metric_type: str, params: dict[str, Any]):
        # Build parameters go nested under "params": pymilvus 3 sends a flat `params={...}` as
        # separate key-value pairs, which Milvus Lite 3.2 ignores (it built nlist=128 whatever was
        # asked, measured); the nested form is read by Milvus Lite and by a Milvus server alike.
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type=index_type, metric_type=metric_type,
                        params={"params": dict(params)} if params else None)
        return index

    def _create_index(self, index_type: str, metric_type: str, params: dict[str, Any]) -> None:
        self.client.create_index(self.collection, self._index_params(index_type, metric_type, params))

    def rows(self, with_vectors: bool = False, batch_size: int = 2000) -> tuple[list[dict[str, Any]], np.ndarray | None]:
        """Every stored row (pk order) and, if asked, their vectors; read with a query iterator,
        which also works on a Milvus server (a plain query there stops at 16,384 rows)."""
        fields = ["pk", *OUTPUT_FIELDS] + (["vector"] if with_vectors else [])
        if not self._loaded:
            self.client.load_collection(self.collection)
            self._loaded = True
        # Milvus Lite has no MVCC timestamp to give the iterator, which logs a warning and uses the
        # client's clock (correct for a single-process store): keep that warning out of the output.
        quiet = logging.getLogger("pymilvus.client.iterator.query_iterator")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        iterator = self.client.query_iterator(self.collection, batch_size=batch_size, filter="", output_fields=fields)
        found: list[dict[str, Any]] = []
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    break
                found.extend(dict(row) for row in batch)
        finally:
            iterator.close()
            quiet.setLevel(level)
        found.sort(key=lambda row: row["pk"])
        vectors = None
        if with_vectors:
            vectors = np.asarray([row.pop("vector") for row in found], dtype=np.float32)
        return found, vectors
