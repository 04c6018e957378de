"""Prepare NER training data: entity statistics, cleaning, multilingual augmentation, variations,
and the multilingual subword tokenizer.

    # clean (+ other-script variants)
    python training/preprocessing/ner_data_preparation.py --input training_dataset.txt \\
        --output cleaned_training_data.txt --augment-multilingual --min-confidence 0.8
    # realistic variants of each row
    python training/preprocessing/ner_data_preparation.py --generate-variations \\
        --input cleaned_training_data.txt --output augmented_training_data.txt --variation-count 3
    # subword tokenizer for the transformer NER (default input: training_dataset.txt here, else the sample catalogue)
    python training/preprocessing/ner_data_preparation.py --create-multilingual-tokenizer \\
        --languages en,th --output models/multilingual_tokenizer

Alignment confidence. NER learns from spans derived from the labels (ner_spans), so a row is as
good as the placement of its brand in the name:
  1.0  the brand label itself found on token boundaries ("Colgate" in "Colgate Total 150g");
  0.9  found through an alias from aliases.json ("คอลเกต" in "ยาสีฟันคอลเกต 150 กรัม");
  0.7  found inside Thai text whose word cuts disagree with it, the span widened to the
       overlapping Thai tokens (the words around it may be tagged too);
  0.0  not found: the row has no BRAND span and teaches the model to tag nothing there.
A row's confidence is its brand's; the category is placed the same way and reported, but does
not drop rows, since many names do not spell their category. `--min-confidence` drops rows
below it (0 keeps rows with no span).

Cleaning normalises names (inference.normalize), drops exact duplicates and every row of a name
labelled differently on different lines (ner_data_validator.label_groups: which label is right
cannot be told), then rows below --min-confidence. `--augment-multilingual` then adds, for each
kept row whose brand (or category) is found, a copy with that surface form swapped for its
other-script form in aliases.json (Colgate <-> คอลเกต, Toothpaste <-> ยาสีฟัน), labels unchanged,
kept only if the swapped name still aligns at or above --min-confidence.

Variations add up to N per row, in a seeded order: brand case (upper, title), unit spellings
(150g, 150 กรัม, 150 g.; ml, มล.), pack/promo suffixes (แพ็ค 3, x6, Value Pack) on names with a
size or a count and no pack yet, and the size moved to the other end of the name. A variant is
kept only if its labels still align as well as the original's (or through an alias); originals
stay first; names stay unique.

Every command writes a run record beside its output.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from statistics import mean, median
from typing import Any, Callable, Iterable, Optional

import typer
from rich.console import Console
from rich.table import Table

from inference.brands import brand_key
from inference.normalize import InvalidName, normalize_name, script_of
from inference.records import Record
from training.preprocessing.ner_data_validator import (CONFIDENCE, SCRIPTS, LoadedFile, Row, align_rows,
                                                      label_groups, load_rows)
from training.preprocessing.ner_spans import Aliases

SAMPLE_CATALOG = Path(__file__).resolve().parents[2] / "data" / "sample" / "catalog.jsonl"
DEFAULT_TRAINING_DATA = Path("training_dataset.txt")  # what `product-infer export-sample` writes
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# Every Thai character, printable ASCII and Latin letters with accents: always in the tokenizer's
# vocabulary, so an unseen character never turns a whole word into [UNK].
ALPHABET = ([chr(c) for c in range(0x0E01, 0x0E5C)] + [chr(c) for c in range(0x21, 0x7F)]
            + [chr(c) for c in range(0xC0, 0x250)])

console = Console(stderr=True, soft_wrap=True)


# ---------------------------------------------------------------- records in and out

def default_training_data() -> Path:
    """Training records when none are named: `training_dataset.txt` in the current folder (the
    manual's file, as export-sample writes it), else the project's sample catalogue."""
    return DEFAULT_TRAINING_DATA if DEFAULT_TRAINING_DATA.is_file() else SAMPLE_CATALOG


def write_records(records: Iterable[Record], path: str | Path) -> int:
    """Write records as JSONL (.jsonl/.json) or as TSV with the header name<TAB>brand<TAB>category;
    records with ids keep them (an `id` field, or a first `id` column)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = list(records)
    with_ids = any(record.id is not None for record in records)
    jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson")
    cell = lambda value: re.sub(r"[\t\r\n]+", " ", value or "").strip()  # noqa: E731
    with path.open("w", encoding="utf-8") as handle:
        if not jsonl:
            handle.write(("id\t" if with_ids else "") + "name\tbrand\tcategory\n")
        count = 0
        for count, record in enumerate(records, start=1):
            if jsonl:
                row = {"id": record.id} if with_ids else {}
                row.update(name=record.name, brand=record.brand, category=record.category)
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                handle.write((f"{cell(record.id)}\t" if with_ids else "")
                             + f"{cell(record.name)}\t{cell(record.brand)}\t{cell(record.category)}\n")
    return count


def _as_record(row: Row) -> Record:
    return Record(name=row.text, brand=row.record.brand, category=row.record.category)


def _count_labels(labels: Iterable[str]) -> Counter:
    """Label counts by brand_key ("Lay's" and "LAYS" are one brand), under the commonest spelling."""
    spellings: dict[str, Counter] = {}
    for label in labels:
        spellings.setdefault(brand_key(label), Counter())[label] += 1
    return Counter({c.most_common(1)[0][0]: sum(c.values()) for c in spellings.values()})


# ---------------------------------------------------------------- entity distribution

def analyze_entity_distribution(path: str | Path, min_examples: int = 5, top: int = 10,
                                aliases: str | Path | None = None, console: Console | None = None) -> dict[str, Any]:
    """Per entity type (BRAND, CATEGORY): how many names have a span, top labels, span lengths and
    scripts; brands with fewer than `min_examples` rows. Prints tables and returns the numbers."""
    loaded = load_rows(path, aliases)
    rows = loaded.rows
    result: dict[str, Any] = {
        "input": str(path), "records": len(rows),
        "skipped_rows": len(loaded.malformed) + len(loaded.empty_fields),
        "scripts": _script_counts(r.text for r in rows), "entities": {}, "min_examples": min_examples,
    }
    for entity, label_of, match_of in (("BRAND", lambda r: r.record.brand, lambda r: r.brand_match),
                                       ("CATEGORY", lambda r: r.record.category, lambda r: r.category_match)):
        labelled = [r for r in rows if label_of(r)]
        spans = [(r, r.span(entity)) for r in labelled]
        found = [(r, s) for r, s in spans if s]
        labels = _count_labels(label_of(r) for r in labelled)
        found_keys = Counter(brand_key(label_of(r)) for r, _ in found)
        token_lengths = Counter(sum(tag[2:] == entity for tag in r.aligned.tags) for r, _ in found)
        char_lengths = [end - start for _, (start, end) in found]
        result["entities"][entity] = {
            "labelled": len(labelled),
            "with_span": len(found),
            "coverage": round(len(found) / len(labelled), 4) if labelled else 0.0,
            "distinct_labels": len(labels),
            "match": {kind: sum(match_of(r) == kind for r in labelled) for kind in CONFIDENCE},
            "top": [{"label": label, "count": n, "with_span": found_keys.get(brand_key(label), 0)}
                    for label, n in labels.most_common(top)],
            "span_tokens": {str(k): v for k, v in sorted(token_lengths.items())},
            "span_chars": ({"min": min(char_lengths), "median": median(char_lengths),
                            "mean": round(mean(char_lengths), 2), "max": max(char_lengths)}
                           if char_lengths else {}),
            "span_scripts": _script_counts(r.text[s:e] for r, (s, e) in found),
        }
    brand_counts = _count_labels(r.record.brand for r in rows)
    result["rare_brands"] = [{"brand": b, "count": n} for b, n in sorted(brand_counts.items(), key=lambda x: (x[1], x[0]))
                             if n < min_examples]
    _print_distribution(result, console or Console())
    return result


def _script_counts(texts: Iterable[str]) -> dict[str, int]:
    counts = Counter(script_of(t) for t in texts)
    return {s: counts.get(s, 0) for s in SCRIPTS}


def _print_distribution(result: dict[str, Any], out: Console) -> None:
    entities = result["entities"]
    table = Table(title=f"Entity distribution: {result['input']}")
    table.add_column("")
    for entity in entities:
        table.add_column(entity)
    lines = {
        "names": lambda s: str(result["records"]),
        "labelled": lambda s: str(s["labelled"]),
        "with a span": lambda s: f"{s['with_span']} ({s['coverage']:.0%})",
        "distinct labels": lambda s: str(s["distinct_labels"]),
        "found exact/alias/approx": lambda s: "/".join(str(s["match"][k]) for k in ("exact", "alias", "approximate")),
        "span length, tokens": lambda s: ", ".join(f"{k}: {v}" for k, v in s["span_tokens"].items()),
        "span length, chars": lambda s: "{min}-{max}, median {median}".format(**s["span_chars"]) if s["span_chars"] else "",
        "span scripts": lambda s: ", ".join(f"{k} {v}" for k, v in s["span_scripts"].items() if v),
    }
    for label, cell in lines.items():
        table.add_row(label, *(cell(stats) for stats in entities.values()))
    out.print(table)
    out.print("Names by script: " + ", ".join(f"{k} {v}" for k, v in result["scripts"].items()))
    for entity, stats in result["entities"].items():
        top = Table(title=f"Top {entity.lower()} labels")
        for column in ("label", "rows", "with span"):
            top.add_column(column)
        for item in stats["top"]:
            top.add_row(item["label"], str(item["count"]), str(item["with_span"]))
        out.print(top)
    rare = result["rare_brands"]
    out.print(f"{len(rare)} brand(s) with fewer than {result['min_examples']} examples"
              + (": " + ", ".join(f"{r['brand']} ({r['count']})" for r in rare[:30]) if rare else ""))


# ---------------------------------------------------------------- cleaning and multilingual swaps

def _needs_space(a: str, b: str) -> bool:
    """Thai next to a Latin letter or digit: shop names put a space there ("ยาสีฟัน Colgate")."""
    thai = lambda ch: "\u0e00" <= ch <= "\u0e7f"  # noqa: E731
    other = lambda ch: ch.isascii() and ch.isalnum()  # noqa: E731
    return (thai(a) and other(b)) or (other(a) and thai(b))


def replace_span(text: str, span: tuple[int, int], new: str) -> str:
    """`text` with `span` replaced by `new`, spaced where scripts meet, normalised."""
    left, right = text[:span[0]], text[span[1]:]
    if left and _needs_space(left[-1], new[0]):
        new = " " + new
    if right and _needs_space(new[-1], right[0]):
        new = new + " "
    return normalize_name(left + new + right)


def other_script_form(forms: list[str], surface: str) -> str | None:
    """The form of another script nearest to `surface` in the alias list (tables list
    translations side by side: "wireless headphones", "หูฟังไร้สาย", ...), or None."""
    keys = [brand_key(f) for f in forms]
    if brand_key(surface) not in keys:
        return None
    at = keys.index(brand_key(surface))
    want = {"en": "th", "th": "en"}.get(script_of(surface))
    candidates = [(abs(i - at), i) for i, f in enumerate(forms) if want and script_of(f) == want]
    return forms[min(candidates)[1]] if candidates else None


def multilingual_variants(row: Row, aliases: Aliases) -> list[str]:
    """Names with the found brand, or the found category, written in its other script."""
    names = []
    for entity, table, label, match in (("BRAND", "brands", row.record.brand, row.brand_match),
                                        ("CATEGORY", "categories", row.record.category, row.category_match)):
        span = row.span(entity)
        if not span or match not in ("exact", "alias"):
            continue
        other = other_script_form(aliases.forms(table, label), row.text[span[0]:span[1]])
        if other:
            names.append(replace_span(row.text, span, other))
    return names


def _keeps_labels(variant: Row, original: Row, min_confidence: float = 0.0) -> bool:
    """The variant's brand (and category, if the original placed one) still align as well."""
    if variant.confidence < max(min_confidence, min(original.confidence, CONFIDENCE["alias"])):
        return False
    return original.category_match in (None, "missing") or variant.category_match != "missing"


def _realign(loaded: LoadedFile, pairs: list[tuple[Row, str]]) -> list[Row]:
    records = [row.record for row, _ in pairs]
    return align_rows(records, [name for _, name in pairs], loaded.aliases, loaded.tokenizer)


def clean(loaded: LoadedFile, min_confidence: float = 0.0, augment_multilingual: bool = False
          ) -> tuple[list[Record], dict[str, Any]]:
    """Kept and added records, and a report of what was dropped and why (see the module docstring)."""
    duplicates, conflicts = label_groups(loaded.rows)
    drop: dict[int, str] = {}
    for group in conflicts:
        for row in group:
            drop[id(row)] = "conflicting labels"
    for group in duplicates:
        for row in group[1:]:
            drop[id(row)] = "duplicate"
            if not group[0].record.category and row.record.category:
                group[0].record.category = row.record.category
    for row in loaded.rows:
        if id(row) not in drop and row.confidence < min_confidence:
            drop[id(row)] = "low confidence"
    kept = [row for row in loaded.rows if id(row) not in drop]
    added: list[Row] = []
    if augment_multilingual:
        seen = {row.text for row in kept}
        pairs = [(row, name) for row in kept for name in multilingual_variants(row, loaded.aliases)]
        for (original, _), variant in zip(pairs, _realign(loaded, pairs)):
            if variant.text not in seen and _keeps_labels(variant, original, min_confidence):
                seen.add(variant.text)
                added.append(variant)
    dropped = [{"line": row.record.line, "name": row.text, "brand": row.record.brand,
                "category": row.record.category, "confidence": row.confidence, "reason": drop[id(row)]}
               for row in loaded.rows if id(row) in drop]
    reasons = Counter(d["reason"] for d in dropped)
    report = {
        "read": len(loaded.rows) + len(loaded.malformed) + len(loaded.empty_fields),
        "unreadable": len(loaded.malformed) + len(loaded.empty_fields),
        "dropped_duplicates": reasons.get("duplicate", 0),
        "dropped_conflicts": reasons.get("conflicting labels", 0),
        "dropped_low_confidence": reasons.get("low confidence", 0),
        "kept": len(kept),
        "added_multilingual": len(added),
        "written": len(kept) + len(added),
        "conflicts": [{"name": g[0].text, "lines": [r.record.line for r in g],
                       "labels": sorted({f"{r.record.brand} / {r.record.category}" for r in g})} for g in conflicts],
        "dropped": dropped,
        "unreadable_lines": [e["location"] + ": " + e["problem"] for e in loaded.malformed + loaded.empty_fields],
    }
    return [_as_record(r) for r in kept] + [_as_record(r) for r in added], report


# ---------------------------------------------------------------- variations

_SIZE = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)?)\s*(กิโลกรัม|กรัม|มิลลิลิตร|มล\.?|ลิตร|กก\.?|ก\.|ล\.|ml\.?|kg\.?|gm\.?|g\.?|l\.?)"
                   r"(?![A-Za-z\u0e00-\u0e7f])", re.IGNORECASE)
_UNITS = {  # unit (lower case, no dot) -> the spellings shops use for it
    **dict.fromkeys(("g", "gm", "กรัม", "ก"), ("{n}g", "{n} กรัม", "{n} g.")),
    **dict.fromkeys(("ml", "มล", "มิลลิลิตร"), ("{n}ml", "{n} มล.", "{n} ML")),
    **dict.fromkeys(("l", "ลิตร", "ล"), ("{n}L", "{n} ลิตร")),
    **dict.fromkeys(("kg", "กก", "กิโลกรัม"), ("{n}kg", "{n} กก.")),
}
PACK_SUFFIXES = ("แพ็ค 3", "x6", "Value Pack")
_HAS_PACK = re.compile(r"แพ็ค|แพ็ก|pack|\bx\s?\d|\d\s?x\b|ชิ้น", re.IGNORECASE)
_COUNT = re.compile(r"\d+\s*(ม้วน|rolls?|ซอง|ขวด|กระป๋อง|แผ่น|sheets?)", re.IGNORECASE)


def variation_candidates(row: Row) -> dict[str, list[str]]:
    """Candidate variant names of a row, by kind."""
    text = row.text
    kinds: dict[str, list[str]] = {"case": [], "unit": [], "pack": [], "order": []}
    brand = row.span("BRAND")
    if brand and script_of(text[brand[0]:brand[1]]) == "en":
        surface = text[brand[0]:brand[1]]
        title = " ".join(w[:1].upper() + w[1:].lower() for w in surface.split(" "))
        kinds["case"] = [text[:brand[0]] + form + text[brand[1]:] for form in (surface.upper(), title)]
    size = _SIZE.search(text)
    if size:
        spellings = _UNITS.get(size.group(2).lower().rstrip("."), ())
        kinds["unit"] = [text[:size.start()] + s.format(n=size.group(1)) + text[size.end():] for s in spellings]
        rest = (text[:size.start()].rstrip(" ,;:-") + " " + text[size.end():].lstrip(" ,;:")).strip(" ,;:-")
        if rest:
            kinds["order"] = [f"{size.group()} {rest}" if size.end() == len(text) else f"{rest} {size.group()}"]
    if (size or _COUNT.search(text)) and not _HAS_PACK.search(text):  # packs of consumables, not of phones
        kinds["pack"] = [f"{text} {suffix}" for suffix in PACK_SUFFIXES]
    for kind, names in kinds.items():
        normalised = []
        for name in names:
            try:
                name = normalize_name(name)
            except InvalidName:
                continue
            if name != text and name not in normalised:
                normalised.append(name)
        kinds[kind] = normalised
    return kinds


def _interleave(kinds: dict[str, list[str]], rng: random.Random) -> list[str]:
    """Candidates alternating between kinds, both orders shuffled: variety before quantity."""
    order = [k for k in kinds if kinds[k]]
    rng.shuffle(order)
    pools = {k: rng.sample(kinds[k], len(kinds[k])) for k in order}
    out = []
    while any(pools.values()):
        for kind in order:
            if pools[kind]:
                out.append(pools[kind].pop(0))
    return out


def generate_variations(loaded: LoadedFile, count: int = 3, seed: int = 13) -> tuple[list[Record], dict[str, Any]]:
    """Originals followed by up to `count` verified variants per row; names stay unique."""
    rng = random.Random(seed)
    seen: set[str] = set()
    originals = []
    for row in loaded.rows:
        if row.text not in seen:
            seen.add(row.text)
            originals.append(row)
    # Candidates are proposed in a seeded order and verified in batches until `count` pass.
    queues = [(row, _interleave(variation_candidates(row), rng)) for row in originals]
    accepted: dict[int, list[Row]] = {id(row): [] for row in originals}
    rejected = 0
    while True:
        pairs = []
        for row, queue in queues:
            need = count - len(accepted[id(row)])
            while need > 0 and queue:
                name = queue.pop(0)
                if name not in seen:
                    pairs.append((row, name))
                    need -= 1
        if not pairs:
            break
        for (row, _), variant in zip(pairs, _realign(loaded, pairs)):
            if variant.text not in seen and len(accepted[id(row)]) < count and _keeps_labels(variant, row):
                seen.add(variant.text)
                accepted[id(row)].append(variant)
            else:
                rejected += 1
    added = [v for row in originals for v in accepted[id(row)]]
    report = {"read": len(loaded.rows) + len(loaded.malformed) + len(loaded.empty_fields),
              "unreadable": len(loaded.malformed) + len(loaded.empty_fields),
              "unreadable_lines": [e["location"] + ": " + e["problem"] for e in loaded.malformed + loaded.empty_fields],
              "duplicates_skipped": len(loaded.rows) - len(originals), "originals": len(originals),
              "added": len(added), "rejected_candidates": rejected, "written": len(originals) + len(added),
              "rows_with_variants": sum(bool(v) for v in accepted.values()), "variation_count": count, "seed": seed}
    return [_as_record(r) for r in originals] + [_as_record(r) for r in added], report


# ---------------------------------------------------------------- multilingual tokenizer

LANGUAGES = {"en": {"en", "mixed"}, "th": {"th", "mixed"}}


def select_names(names: Iterable[str], languages: list[str]) -> list[str]:
    """Names written in the chosen languages' scripts (en: Latin, th: Thai; mixed names count for both)."""
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise ValueError(f"unsupported language(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(LANGUAGES)}")
    scripts = set().union(*(LANGUAGES[lang] for lang in languages))
    return [n for n in names if script_of(n) in scripts]


def train_multilingual_tokenizer(names: list[str], output: str | Path, split_words: Callable[[str], list[str]],
                                 vocab_size: int = 8000, max_length: int = 512) -> dict[str, Any]:
    """Train a WordPiece tokenizer on `names` split into words by `split_words`; save it for
    AutoTokenizer (tokenizer.json + tokenizer_config.json). Returns its measured numbers.

    Why WordPiece over pre-split words: Thai has no spaces, so the names are first cut into the
    project's word tokens (PyThaiNLP + the catalogue's labels, the tokens NER tags); the trainer
    then learns whole brands, categories and units as pieces, and a transformer fed those words
    with is_split_into_words=True never gets a piece that straddles two tagged tokens. The saved
    tokenizer needs no PyThaiNLP: raw unspaced Thai is still cut, greedily, into learned pieces.
    The Unigram trainer learned only 1-3 character pieces on a catalogue this small.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [" ".join(split_words(n)) for n in names]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # No normaliser: names pass through inference.normalize first (NFKC here would undo its Thai fixes).
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(corpus, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=ALPHABET, show_progress=False))
    learned = tokenizer.get_vocab_size()
    vocab = tokenizer.get_vocab()
    for piece in ALPHABET + ["##" + ch for ch in ALPHABET]:  # continuations of every character too
        vocab.setdefault(piece, len(vocab))
    tokenizer.model = models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100)
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=max_length)
    output = Path(output)
    fast.save_pretrained(str(output))
    _portable_config(output)
    encoded = [fast(words, is_split_into_words=True, add_special_tokens=False)["input_ids"]
               for words in (c.split(" ") for c in corpus)]
    pieces = sum(len(ids) for ids in encoded)
    words = sum(len(c.split(" ")) for c in corpus)
    return {"names": len(names), "vocab_size": len(fast), "learned_pieces": learned,
            "pieces_per_word": round(pieces / max(words, 1), 3),
            "unk_rate": round(sum(ids.count(fast.unk_token_id) for ids in encoded) / max(pieces, 1), 5)}


def _portable_config(folder: Path) -> None:
    """Name the class every transformers version knows (5.x writes 'TokenizersBackend', unknown to 4.x)."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------- command line

app = typer.Typer(add_completion=False, help="Clean, augment and vary NER training data; train the multilingual tokenizer.")


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


@app.command()
def main(
    input: Optional[Path] = typer.Option(None, "--input", help="Records file (TSV name<TAB>brand<TAB>category, or JSONL). "
                                         "With --create-multilingual-tokenizer, default: training_dataset.txt in the current folder, else the sample catalogue."),
    output: Path = typer.Option(..., "--output", help="Records file to write, or the tokenizer folder."),
    augment_multilingual: bool = typer.Option(False, "--augment-multilingual",
                                              help="Add copies with the brand/category in its other script (aliases.json)."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", min=0.0, max=1.0,
                                         help="Drop rows whose alignment confidence is below this (1.0 exact, 0.9 alias, 0.7 approximate Thai, 0.0 not found)."),
    generate_variations_: bool = typer.Option(False, "--generate-variations", help="Add realistic variants of each row."),
    variation_count: int = typer.Option(3, "--variation-count", min=1, help="Most variants per row."),
    seed: int = typer.Option(13, "--seed", help="Seed of the variants' order."),
    create_tokenizer: bool = typer.Option(False, "--create-multilingual-tokenizer", help="Train the subword tokenizer."),
    languages: str = typer.Option("en,th", "--languages", help="Scripts of the names to train on: en (Latin), th (Thai)."),
    vocab_size: int = typer.Option(8000, "--vocab-size", min=100, help="Most pieces to learn (fewer if the data has fewer)."),
    aliases: Optional[Path] = typer.Option(None, help="Alias table (JSON); default: aliases.json beside the input."),
):
    """Clean (default), --generate-variations, or --create-multilingual-tokenizer."""
    from training.run_record import write_run_record

    if generate_variations_ and create_tokenizer:
        _fail("choose one of --generate-variations and --create-multilingual-tokenizer")
    if augment_multilingual and (generate_variations_ or create_tokenizer):
        _fail("--augment-multilingual applies to cleaning (without --generate-variations or --create-multilingual-tokenizer)")
    if input is None and not create_tokenizer:
        _fail("--input is required")
    source = input or default_training_data()
    try:
        loaded = load_rows(source, aliases, progress=True)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    inputs = [source, loaded.aliases_path]
    params = {"input": str(source), "output": str(output), "aliases": str(loaded.aliases_path or "")}

    if create_tokenizer:
        try:
            names = select_names([r.text for r in loaded.rows], [x.strip() for x in languages.split(",") if x.strip()])
        except ValueError as exc:
            _fail(str(exc))
        if not names:
            _fail(f"no names in {source} are written in {languages}")
        metrics = train_multilingual_tokenizer(names, output, lambda n: [t.text for t in loaded.tokenizer.tokenize(n)],
                                               vocab_size=vocab_size)
        run = write_run_record(output.parent, "multilingual-tokenizer",
                               {**params, "languages": languages, "vocab_size": vocab_size}, inputs, metrics)
        console.print(f"Tokenizer trained on {metrics['names']} names ({languages}): {metrics['vocab_size']} pieces, "
                      f"{metrics['pieces_per_word']} pieces per word, [UNK] rate {metrics['unk_rate']}; saved to {output}")
        console.print(f"Run record in {run}")
        return

    if generate_variations_:
        records, report = generate_variations(loaded, variation_count, seed)
        command, params = "ner-data-variations", {**params, "variation_count": variation_count, "seed": seed}
        shown = ("read", "unreadable", "duplicates_skipped", "originals", "added", "rows_with_variants", "written")
    else:
        records, report = clean(loaded, min_confidence, augment_multilingual)
        command = "ner-data-cleaning"
        params = {**params, "min_confidence": min_confidence, "augment_multilingual": augment_multilingual}
        shown = ("read", "unreadable", "dropped_duplicates", "dropped_conflicts", "dropped_low_confidence", "kept",
                 "added_multilingual", "written")
    write_records(records, output)
    table = Table(title=f"{command}: {source} -> {output}")
    table.add_column("rows")
    table.add_column("count", justify="right")
    for key in shown:
        table.add_row(key.replace("_", " "), str(report[key]))
    console.print(table)
    for conflict in report.get("conflicts", [])[:10]:
        console.print(f"  conflicting labels for {conflict['name']!r} (lines {conflict['lines']}): "
                      f"{'; '.join(conflict['labels'])}")
    for line in report["unreadable_lines"][:10]:
        console.print(f"  skipped {line}")
    for row in [d for d in report.get("dropped", []) if d["reason"] == "low confidence"][:5]:
        console.print(f"  dropped line {row['line']} (brand {row['brand']!r} not placed in {row['name']!r})")
    metrics = {k: v for k, v in report.items() if k not in ("dropped", "unreadable_lines")}
    run = write_run_record(output.parent, command, params, inputs, metrics)
    if report.get("dropped"):
        from inference.records import write_jsonl

        write_jsonl(report["dropped"], run / "dropped.jsonl")  # every dropped row, with its reason
    console.print(f"Wrote {report['written']} rows to {output}; run record in {run}")


if __name__ == "__main__":
    app()
