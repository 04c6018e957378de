"""The product vector store: a Milvus collection (a Milvus Lite file locally, a server in AWS).

Milvus Lite keeps the collection in a folder with a lock, so one process at a time opens it;
searches go in batches because each call has a fixed cost of a scan over the rows.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

OUTPUT_FIELDS = ["record_id", "name", "brand", "category"]


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

            self._client = MilvusClient(self.uri, token=self.token or "")
        return self._client

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
        index = client.prepare_index_params()
        index.add_index(field_name="vector", index_type=index_type, metric_type=metric_type,
                        params=index_params or {})
        client.create_collection(self.collection, schema=schema, index_params=index)
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

    def search(self, vectors: np.ndarray, limit: int) -> list[list[dict[str, Any]]]:
        """For each query vector, up to `limit` hits: the stored fields plus `similarity`."""
        if len(vectors) == 0:
            return []
        if not self._loaded:
            self.client.load_collection(self.collection)  # a reopened collection starts released
            self._loaded = True
        params = {"metric_type": self.metric_type, "params": dict(self.search_params)}
        results = self.client.search(self.collection, data=[v.tolist() for v in vectors], limit=limit,
                                     output_fields=OUTPUT_FIELDS, search_params=params)
        return [[{**hit["entity"], "similarity": float(hit["distance"])} for hit in hits] for hits in results]
