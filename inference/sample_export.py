"""The sample catalogue in every file the tuning guide's commands read (`product-infer export-sample DIR`).

A new user copies the manual's commands into DIR and runs them at once. The sample
(`data/sample/catalog.jsonl`) is split by a seeded, script-stratified split (70 % training, 10 %
validation, 20 % test) so the test files are held out from what the models learn:

- `training_dataset.txt`, `validation_dataset.txt`, `test_dataset.txt`: records (TSV with the header
  `id<TAB>name<TAB>brand<TAB>category`), read by every data and training command;
- `aliases.json`: the sample's alias table, beside the records, where every tool looks for it;
- `test_queries.json` + `ground_truth.json`: the test split as the accuracy tools' query files
  (the queries carry their labels inline as well);
- `product_names.txt`: the training names, one a line (query expansion);
- `product_brand_pairs.json`: same-brand name pairs of the training split (embedding fine-tuning);
- `product_embeddings.json`: the indexed products' vectors (vector cleaning, Milvus population);
- `baseline_predictions.json`: the local pipeline's output rows for the validation split, the
  baseline of drift detection.

The last two need a bootstrapped local home: when the home has no models yet, it is bootstrapped
from `training_dataset.txt` (so the index holds only the training split). Every format is the one
the tools already read: records via `inference.records`, queries via `inference.queries`,
pairs and embeddings via `training.preprocessing.rag_data_preparation`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from inference.records import Record, load_catalog

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
HELD_OUT = 0.3           # validation + test
TEST_SHARE_OF_HELD_OUT = 2 / 3
DEFAULT_SEED = 13


def split_sample(records: list[Record], seed: int = DEFAULT_SEED) -> dict[str, list[Record]]:
    """{"training", "validation", "test"}: seeded splits stratified by the names' script."""
    from training.pipelines.ner_training import split_records

    training, held_out = split_records(records, HELD_OUT, seed, by_script=True)
    validation, test = split_records(held_out, TEST_SHARE_OF_HELD_OUT, seed, by_script=True)
    return {"training": training, "validation": validation, "test": test}


def _write_json(doc: Any, path: Path) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def queries_and_truth(records: list[Record]) -> tuple[list[dict[str, str]], dict[str, dict[str, str | None]]]:
    """The records as `test_queries.json` and `ground_truth.json` (inference.queries' formats). The
    queries carry their labels inline too, so a command given only `--test-data test_queries.json`
    (the manual's LLM evaluation) can score them; `ground_truth.json` wins where both are given."""
    queries = [{"id": r.id, "query": r.name, "brand": r.brand, "category": r.category} for r in records]
    truth = {r.id: {"brand": r.brand, "category": r.category} for r in records}
    return queries, truth


def _bootstrapped(registry) -> bool:
    return all(registry.has_model(kind) for kind in ("ner", "embedding", "rag"))


def export_sample(directory: str | Path, seed: int = DEFAULT_SEED, home: str | Path | None = None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the manual's input files into `directory`; returns {file name: rows written} and notes."""
    from inference.agents.hybrid_agent import HybridAgent
    from inference.config.model_registry import ModelRegistry
    from inference.config.settings import resolve_home
    from training.pipelines.local_bootstrap import bootstrap
    from training.preprocessing.ner_data_preparation import write_records
    from training.preprocessing.rag_data_preparation import (catalog_items, export_embeddings, make_training_pairs,
                                                             write_embeddings)

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    splits = split_sample(load_catalog(SAMPLE_DIR / "catalog.jsonl"), seed)
    written: dict[str, int] = {}
    for split, records in splits.items():
        written[f"{split}_dataset.txt"] = write_records(records, out / f"{split}_dataset.txt")
    shutil.copyfile(SAMPLE_DIR / "aliases.json", out / "aliases.json")
    queries, truth = queries_and_truth(splits["test"])
    _write_json(queries, out / "test_queries.json")
    _write_json(truth, out / "ground_truth.json")
    written.update({"test_queries.json": len(queries), "ground_truth.json": len(truth)})
    names = [r.name for r in splits["training"]]
    (out / "product_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    written["product_names.txt"] = len(names)
    items, _ = catalog_items(out / "training_dataset.txt")
    pairs = make_training_pairs(items)
    _write_json(pairs, out / "product_brand_pairs.json")
    written["product_brand_pairs.json"] = len(pairs)

    home = resolve_home(home)
    registry = ModelRegistry(home=home)
    bootstrapped_now = not _bootstrapped(registry)
    if bootstrapped_now:
        log(f"The local home {home} has no models yet: bootstrapping it from {out / 'training_dataset.txt'}")
        bootstrap(out / "training_dataset.txt", home=home, log=log)
    doc = export_embeddings(registry)
    write_embeddings(doc, out / "product_embeddings.json")
    written["product_embeddings.json"] = len(doc["items"])
    agent = HybridAgent(registry)
    try:
        rows = agent.predict_batch(splits["validation"])
    finally:
        agent.close()
    _write_json(rows, out / "baseline_predictions.json")
    written["baseline_predictions.json"] = len(rows)
    return {"directory": str(out), "home": str(home), "bootstrapped": bootstrapped_now,
            "index_source": registry.get_model_config("ner").get("catalog"), "files": written}
