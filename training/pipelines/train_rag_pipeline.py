"""RAG training commands of the manual: fine-tune the embedding model, fill a Milvus collection.

    python training/pipelines/train_rag_pipeline.py --fine-tune-embeddings \\
        --base-model paraphrase-multilingual-MiniLM-L12-v2 --training-pairs product_brand_pairs.json \\
        --epochs 5 --batch-size 32 [--output models/embedding_model] [--no-reindex] [--sagemaker]
    python training/pipelines/train_rag_pipeline.py --populate-milvus \\
        --embeddings cleaned_embeddings.json --collection-name product_embeddings_v2
    python training/pipelines/train_rag_pipeline.py --register-model models/embedding_model

Vectors of two embedding models are not comparable, so a new embedding model and the collection
it searches change together: `--fine-tune-embeddings` (and `--register-model`) re-embed the rows
of the active collection with the new model, rebuild it under the same name and index settings,
and only then register the model as the active `embedding`. With `--no-reindex` the model is
registered inactive and the command says how to switch. `--populate-milvus` refuses vectors made
by another model than the active one, unless `--register-embedder` makes theirs active too.

Where fine-tuning runs, as for NER training (train_ner_pipeline.py): with `--aws-profile` (and no
`--local`), or with `--sagemaker`, as a SageMaker script-mode job in that account and region
(`sagemaker_jobs/train_embeddings.py`; the model lands in the job's model.tar.gz, registered with
`--register-model` once unpacked); otherwise here, on the CPU or GPU, registering the model at once.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from inference.brands import brand_key
from inference.config.model_registry import ModelRegistry, RegistryError
from inference.normalize import InvalidName, normalize_name
from training.run_record import write_run_record

DEFAULT_OUTPUT = Path("models") / "embedding_model"
ENTRY_POINT = "sagemaker_jobs/train_embeddings.py"


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")


def _home(registry: ModelRegistry) -> Path:
    return Path(registry.location).parent


# -- training pairs --------------------------------------------------------------------------------
def load_pairs(path: str | Path) -> list[dict[str, str]]:
    """product_brand_pairs.json: `[{"anchor", "positive", "brand"}]`, names normalised; errors
    name the file and the item."""
    from inference.records import read_json

    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, list):
        raise ValueError(f"{path}: expected a JSON list of {{'anchor', 'positive', 'brand'}} objects")
    pairs = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: item {i}: expected an object, got {type(item).__name__}")
        try:
            anchor, positive = normalize_name(item.get("anchor")), normalize_name(item.get("positive"))
        except InvalidName as exc:
            raise ValueError(f"{path}: item {i}: anchor/positive: {exc}") from None
        brand = item.get("brand")
        if brand is not None and not isinstance(brand, str):
            raise ValueError(f"{path}: item {i}: 'brand' must be a string")
        pairs.append({"anchor": anchor, "positive": positive, "brand": brand or ""})
    if len(pairs) < 2:
        raise ValueError(f"{path}: at least 2 pairs are needed (in-batch negatives), found {len(pairs)}")
    return pairs


def brand_spread(brands: Sequence[str], batch_size: int, rng: random.Random) -> list[int]:
    """An order of the pairs in which each batch holds as few pairs of one brand as possible.

    MultipleNegativesRankingLoss takes the other positives in a batch as negatives; a second pair
    of the same brand in the batch would teach the model to push that brand's names apart."""
    groups: dict[str, list[int]] = {}
    for i, brand in enumerate(brands):
        groups.setdefault(brand_key(brand) or f"#{i}", []).append(i)
    queues = list(groups.values())
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    order: list[int] = []
    while queues:  # round robin over brands: consecutive pairs come from different brands
        queues.sort(key=len, reverse=True)
        for queue in queues[:batch_size]:
            order.append(queue.pop())
        queues = [q for q in queues if q]
    return order


class _BrandSpreadSampler:
    """A torch sampler that draws a fresh brand-spread order every epoch."""

    def __init__(self, brands: Sequence[str], batch_size: int, seed: int):
        self.brands, self.batch_size, self.rng = list(brands), batch_size, random.Random(seed)

    def __iter__(self) -> Iterator[int]:
        return iter(brand_spread(self.brands, self.batch_size, self.rng))

    def __len__(self) -> int:
        return len(self.brands)


# -- fine-tuning -----------------------------------------------------------------------------------
def pair_accuracy(model, pairs: Sequence[dict[str, str]]) -> float:
    """Share of anchors whose nearest positive (among all the pairs' positives) is of their brand."""
    if not pairs:
        return 0.0
    anchors = model.encode([p["anchor"] for p in pairs], normalize_embeddings=True)
    positives = model.encode([p["positive"] for p in pairs], normalize_embeddings=True)
    nearest = (anchors @ positives.T).argmax(axis=1)
    return float(np.mean([brand_key(pairs[j]["brand"]) == brand_key(p["brand"]) for p, j in zip(pairs, nearest)]))


def fine_tune_embeddings(base_model: str, pairs: Sequence[dict[str, str]], output: str | Path, epochs: int = 5,
                         batch_size: int = 32, learning_rate: float = 2e-5, warmup_ratio: float = 0.1,
                         holdout: float = 0.1, seed: int = 7, show_progress: bool = False,
                         log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fine-tune a sentence-transformers model on (anchor, positive) pairs with
    MultipleNegativesRankingLoss and save it to `output`; returns the metrics.

    A seeded share of the pairs (`holdout`) is kept out of training and scored before and after
    (`pair_accuracy`). Uses `old_fit`, the library's training loop that needs neither `datasets`
    nor `accelerate` (the Trainer-based `fit` needs both)."""
    import torch
    from sentence_transformers import InputExample
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from torch.utils.data import DataLoader

    from inference.agents.embeddings import embedding_dimension, load_sentence_transformer

    if epochs < 1 or batch_size < 2:
        raise ValueError("epochs must be at least 1 and batch size at least 2 (in-batch negatives)")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    held = int(len(shuffled) * holdout) if len(shuffled) >= 20 else 0
    evaluation, training = shuffled[:held], shuffled[held:]
    started = time.perf_counter()
    model = load_sentence_transformer(base_model)
    before = pair_accuracy(model, evaluation)
    examples = [InputExample(texts=[p["anchor"], p["positive"]]) for p in training]
    loader = DataLoader(examples, batch_size=batch_size,
                        sampler=_BrandSpreadSampler([p["brand"] for p in training], batch_size, seed), drop_last=False)
    steps = len(loader) * epochs
    log(f"Fine-tuning {base_model} on {len(training)} pairs: {epochs} epoch(s), {len(loader)} batches of {batch_size}")
    model.old_fit([(loader, MultipleNegativesRankingLoss(model))], epochs=epochs,
                  warmup_steps=int(steps * warmup_ratio), optimizer_params={"lr": learning_rate},
                  show_progress_bar=show_progress)
    after = pair_accuracy(model, evaluation)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    return {"base_model": base_model, "pairs": len(pairs), "training_pairs": len(training),
            "heldout_pairs": len(evaluation), "epochs": epochs, "batch_size": batch_size, "steps": steps,
            "learning_rate": learning_rate, "heldout_accuracy_before": round(before, 4),
            "heldout_accuracy_after": round(after, 4), "dim": embedding_dimension(model),
            "seconds": round(time.perf_counter() - started, 2), "output": str(output)}


# -- collections -----------------------------------------------------------------------------------
def _rag_store(registry: ModelRegistry, collection: str | None = None):
    from inference.agents.vector_store import MilvusStore

    rag = registry.get_model_config("rag")
    uri = rag["uri"] if "://" in rag["uri"] else str(_home(registry) / rag["uri"])
    return MilvusStore(uri, collection or rag["collection"]), rag


def _index_settings(rag: dict[str, Any], rows: int) -> dict[str, Any]:
    """The active collection's index settings, re-planned for `rows` (nlist is clamped to the rows)."""
    from training.preprocessing.milvus_collection_manager import plan_index

    settings = {"index_type": rag.get("index_type", "FLAT"), "metric_type": rag.get("metric_type", "COSINE"),
                **rag.get("index_params", {}), **rag.get("search_params", {})}
    return plan_index(settings, rows)


def build_collection(store, vectors: np.ndarray, rows: list[dict[str, Any]], rag: dict[str, Any]) -> dict[str, Any]:
    """Create `store`'s collection with the rows and the active index settings (re-planned for
    the row count); replaces the collection in place, so that a failure leaves the old one: the
    rows go to a temporary collection first, which is renamed only when it is complete."""
    from inference.agents.vector_store import MilvusStore

    plan = _index_settings(rag, len(rows))
    temporary = MilvusStore(store.uri, f"{store.collection}__new")
    try:
        temporary.recreate(dim=int(vectors.shape[1]), index_type=plan["index_type"], metric_type=plan["metric_type"],
                           index_params=plan["build_params"])
        temporary.insert(vectors, rows)
    finally:
        temporary.close()
    client = store.client
    if client.has_collection(store.collection):
        client.drop_collection(store.collection)
    client.rename_collection(temporary.collection, store.collection)
    return plan


def reindex_active_collection(registry: ModelRegistry, embedder, log: Callable[[str], None] = print) -> int:
    """Re-embed the active collection's rows with `embedder` and rebuild it under the same name."""
    store, rag = _rag_store(registry)
    try:
        rows, _ = store.rows()
        if not rows:
            raise ValueError(f"collection {rag['collection']!r} is empty; nothing to re-embed")
        log(f"Re-embedding {len(rows)} rows of {rag['collection']!r}")
        build_collection(store, embedder.encode([r["name"] for r in rows]), rows, rag)
        return len(rows)
    finally:
        store.close()


def register_embedding_model(registry: ModelRegistry, folder: str | Path, name: str | None = None,
                             reindex: bool = True, extra: dict[str, Any] | None = None,
                             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Register a sentence-transformers folder as an `embedding` model: active together with a
    re-embedded collection (`reindex`), or inactive, with instructions to switch."""
    from inference.agents.embeddings import SentenceTransformerEmbedder

    folder = Path(folder).resolve()
    embedder = SentenceTransformerEmbedder(str(folder))
    name = name or f"st-{folder.name}-{_stamp()}"
    config = {"backend": "sentence-transformers", "path": str(folder), "dim": embedder.dim, **(extra or {})}
    if not reindex:
        registry.register_model("embedding", name, config, activate=False)
        log(f"Registered embedding model {name!r} (inactive: the collection holds vectors of the active model). "
            f"To switch, run: python training/pipelines/train_rag_pipeline.py --register-model {folder}")
        return {"embedding": name, "active": False}
    rows = reindex_active_collection(registry, embedder, log)
    registry.register_model("embedding", name, config, activate=True)
    registry.update_model_config("rag", {"rows": rows})
    log(f"Registered embedding model {name!r} as active; re-embedded {rows} rows of the active collection")
    return {"embedding": name, "active": True, "rows": rows}


def populate_milvus(registry: ModelRegistry, embeddings: str | Path, collection: str, register_embedder: bool = False,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """Create `collection` from an embeddings file and register it as the active RAG collection
    (keeping the other RAG settings). The vectors must come from the active embedding model."""
    from inference.agents.embeddings import embedder_identity, load_embedder
    from training.preprocessing.rag_data_preparation import expected_dim, read_embeddings, vector_problem

    doc = read_embeddings(embeddings)
    if not doc["items"]:
        raise ValueError(f"{embeddings}: no items")
    dim = expected_dim(doc)
    bad = [(i, p) for i, p in ((i, vector_problem(item["vector"], dim)) for i, item in enumerate(doc["items"])) if p]
    if bad:
        shown = ", ".join(f"item {i} ({p})" for i, p in bad[:5])
        raise ValueError(f"{embeddings}: {len(bad)} invalid vector(s): {shown}; run rag_data_preparation.py --clean-vectors first")
    home = _home(registry)
    active = registry.get_model_config("embedding")
    theirs = doc.get("embedder") or {}
    if not theirs.get("backend"):
        raise ValueError(f"{embeddings}: 'embedder' does not say which model made the vectors")
    register = None
    if embedder_identity(theirs, home) != embedder_identity(active, home):
        if not register_embedder:
            raise ValueError(
                f"{embeddings} was embedded with {embedder_identity(theirs, home)}, but the active embedding model is "
                f"{embedder_identity(active, home)}: queries would be embedded by another model than the products. "
                f"Re-export with the active model, or pass --register-embedder to make theirs active too")
        loaded = load_embedder(theirs, home)  # it must load, or queries could not be embedded
        if loaded.dim != dim:
            raise ValueError(f"{embeddings}: vectors have {dim} dims but their embedder gives {loaded.dim}")
        register = {k: v for k, v in theirs.items() if k not in ("name", "registered_at", "updated_at")}
    elif int(active.get("dim", dim)) != dim:
        raise ValueError(f"{embeddings}: vectors have {dim} dims, the active embedding model gives {active['dim']}")

    store, rag = _rag_store(registry, collection)
    vectors = np.asarray([item["vector"] for item in doc["items"]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [{"record_id": str(item.get("id") or i), "name": item["name"], "brand": item.get("brand"),
             "category": item.get("category")} for i, item in enumerate(doc["items"])]
    try:
        plan = build_collection(store, vectors, rows, rag)
        count = store.count()
    finally:
        store.close()
    if count != len(rows):
        raise RuntimeError(f"collection {collection!r} holds {count} rows after inserting {len(rows)}")
    version = _stamp()
    if register:
        registry.register_model("embedding", f"{register['backend']}-{version}", {**register, "dim": dim}, activate=True)
    keep = {k: v for k, v in rag.items() if k not in ("name", "registered_at", "updated_at")}
    registry.register_model("rag", f"milvus-{collection}-{version}", {
        **keep, "collection": collection, "rows": count, "index_type": plan["index_type"],
        "metric_type": plan["metric_type"], "index_params": plan["build_params"], "search_params": plan["search_params"],
        "source": str(Path(embeddings).resolve())}, activate=True)
    log(f"Created collection {collection!r} with {count} rows ({plan['index_type']}, {dim} dims) and made it the "
        f"active RAG collection" + (" with its embedding model" if register else ""))
    return {"collection": collection, "rows": count, "dim": dim, "index_type": plan["index_type"],
            "registered_embedder": bool(register), "warnings": plan["warnings"]}


# -- SageMaker -------------------------------------------------------------------------------------
def launch_on_sagemaker(pairs_path: Path, base_model: str, epochs: int, batch_size: int, learning_rate: float,
                        instance_type: str, bucket: str | None, role_arn: str | None, profile: str | None,
                        region: str | None, wait: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run `fine_tune_embeddings` as a script-mode job; the model lands in the job's model.tar.gz."""
    from training.pipelines.sagemaker_launcher import deployment_setting, launch_training_job, upload_file

    bucket = deployment_setting("artifact-bucket", bucket, profile, region)
    role_arn = deployment_setting("sagemaker-role-arn", role_arn, profile, region)
    job = f"embeddings-{_stamp().lower().replace('t', '-')}"
    upload_file(pairs_path, bucket, f"training-jobs/{job}/input/{pairs_path.name}", profile, region)
    description = launch_training_job(
        job, ENTRY_POINT, {"base_model": base_model, "epochs": epochs, "batch_size": batch_size,
                           "learning_rate": learning_rate, "pairs_file": pairs_path.name},
        {"training": f"s3://{bucket}/training-jobs/{job}/input/"}, bucket, role_arn, instance_type,
        profile=profile, region=region, wait=wait, log=log)
    artifact = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    log(f"Job {job}: {description['TrainingJobStatus']}; model: {artifact or 'not yet written'}. Download and unpack "
        f"it, then: python training/pipelines/train_rag_pipeline.py --register-model <folder>")
    return {"job": job, "status": description["TrainingJobStatus"], "model_artifact": artifact}


# -- command line ----------------------------------------------------------------------------------
def main() -> None:
    import typer
    from pymilvus.exceptions import MilvusException
    from rich.console import Console
    from rich.markup import escape

    from training.preprocessing.rag_data_preparation import error_message

    app = typer.Typer(add_completion=False)
    console = Console(stderr=True, soft_wrap=True)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        fine_tune_embeddings_: bool = typer.Option(False, "--fine-tune-embeddings", help="Fine-tune the embedding model on pairs."),
        populate_milvus_: bool = typer.Option(False, "--populate-milvus", help="Create a collection from an embeddings file."),
        register_model: Optional[Path] = typer.Option(None, "--register-model", help="Register a sentence-transformers folder (and re-embed)."),
        base_model: str = typer.Option("paraphrase-multilingual-MiniLM-L12-v2", "--base-model", help="Hub name or local folder."),
        training_pairs: Optional[Path] = typer.Option(None, "--training-pairs", help="product_brand_pairs.json"),
        epochs: int = typer.Option(5, "--epochs", min=1),
        batch_size: int = typer.Option(32, "--batch-size", min=2),
        learning_rate: float = typer.Option(2e-5, "--learning-rate"),
        output: Path = typer.Option(DEFAULT_OUTPUT, "--output", help="Folder for the fine-tuned model."),
        reindex: bool = typer.Option(True, "--reindex/--no-reindex", help="Re-embed the active collection and activate the model (default), or register it inactive."),
        embeddings: Optional[Path] = typer.Option(None, "--embeddings", help="Embeddings file (cleaned_embeddings.json)."),
        collection_name: Optional[str] = typer.Option(None, "--collection-name"),
        register_embedder: bool = typer.Option(False, "--register-embedder", help="Activate the embeddings file's model too."),
        sagemaker: bool = typer.Option(False, "--sagemaker", help="Train in a SageMaker job instead of here (the default with --aws-profile)."),
        local: bool = typer.Option(False, "--local", help="Train here even when --aws-profile is given."),
        instance_type: str = typer.Option("ml.g5.xlarge", "--instance-type"),
        bucket: Optional[str] = typer.Option(None, "--bucket", help="Artifact bucket (default: MPI_ARTIFACT_BUCKET or SSM)."),
        role_arn: Optional[str] = typer.Option(None, "--role-arn", help="SageMaker role (default: MPI_SAGEMAKER_ROLE_ARN or SSM)."),
        wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the SageMaker job."),
        aws_profile: Optional[str] = typer.Option(None, "--aws-profile"),
        region: Optional[str] = typer.Option(None, "--region"),
        home: Optional[Path] = typer.Option(None, "--home", help="Local state folder (default $PRODUCT_INFERENCE_HOME)."),
    ):
        log = lambda m: console.print(m, markup=False)  # noqa: E731
        modes = [fine_tune_embeddings_, populate_milvus_, register_model is not None]
        try:
            if sum(modes) != 1:
                raise ValueError("choose one of --fine-tune-embeddings, --populate-milvus, --register-model")
            registry = ModelRegistry(home=home)
            if populate_milvus_:
                if not embeddings or not collection_name:
                    raise ValueError("--populate-milvus needs --embeddings and --collection-name")
                result = populate_milvus(registry, embeddings, collection_name, register_embedder, log)
                run = write_run_record(_home(registry), "populate-milvus", {
                    "embeddings": str(embeddings), "collection": collection_name,
                    "register_embedder": register_embedder}, [embeddings], result)
            elif register_model is not None:
                result = register_embedding_model(registry, register_model, reindex=reindex, log=log)
                run = write_run_record(_home(registry), "register-embedding-model", {
                    "folder": str(register_model), "reindex": reindex}, [], result)
            else:
                if training_pairs is None:
                    raise ValueError("--fine-tune-embeddings needs --training-pairs (product_brand_pairs.json)")
                pairs = load_pairs(training_pairs)
                params = {"base_model": base_model, "training_pairs": str(training_pairs), "epochs": epochs,
                          "batch_size": batch_size, "learning_rate": learning_rate, "output": str(output),
                          "reindex": reindex, "sagemaker": sagemaker or bool(aws_profile and not local),
                          "aws_profile": aws_profile, "region": region}
                if sagemaker or (aws_profile and not local):
                    result = launch_on_sagemaker(training_pairs, base_model, epochs, batch_size, learning_rate,
                                                 instance_type, bucket, role_arn, aws_profile, region, wait, log)
                    run = write_run_record(output.resolve().parent, "fine-tune-embeddings-sagemaker", params, [training_pairs], result)
                else:
                    if output.exists() and not output.is_dir():
                        raise ValueError(f"cannot write the model to {output}: it is a file")
                    result = fine_tune_embeddings(base_model, pairs, output, epochs, batch_size, learning_rate,
                                                  show_progress=sys.stderr.isatty(), log=log)
                    log(f"Held-out pair accuracy {result['heldout_accuracy_before']:.3f} -> "
                        f"{result['heldout_accuracy_after']:.3f}; model saved to {output}")
                    result["registry"] = register_embedding_model(
                        registry, output, f"st-finetuned-{_stamp()}", reindex,
                        {"base_model": base_model, "training_pairs": str(Path(training_pairs).resolve())}, log)
                    run = write_run_record(output.resolve().parent, "fine-tune-embeddings", params, [training_pairs], result)
        except (ValueError, OSError, RegistryError, RuntimeError, MilvusException) as exc:
            console.print(f"[red]error:[/red] {escape(error_message(exc))}", highlight=False)
            raise typer.Exit(code=2)
        log(f"Run record: {run}")
        typer.echo(json.dumps(result, ensure_ascii=False))

    app()


if __name__ == "__main__":
    main()
