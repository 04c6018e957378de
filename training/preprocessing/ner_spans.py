"""NER training data from a catalogue: where the brand and the category occur in each name.

Catalogues label a product with its brand and category but do not say where they are written
in the name, so spans are derived: the brand label (or a known alias, such as a Thai
transliteration) is searched for in the name ignoring case, spaces and punctuation, and accepted
only where it starts and ends on token boundaries ("ONLY" must not match inside "Lonely").
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from inference.brands import brand_key
from inference.normalize import normalize_name
from inference.records import Record
from inference.tokenization import Token, Tokenizer


@dataclass
class Aliases:
    """Other surface forms of brands and categories, e.g. {"Colgate": ["คอลเกต"]}."""

    brands: dict[str, list[str]] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> "Aliases":
        if not path:
            return cls()
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        for section in ("brands", "categories"):
            table = doc.get(section, {})
            if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
                raise ValueError(f"{path}: '{section}' must map a label to a list of surface forms")
        return cls(brands=doc.get("brands", {}), categories=doc.get("categories", {}))

    def forms(self, table: str, label: str) -> list[str]:
        found = getattr(self, table)
        by_key = {brand_key(k): v for k, v in found.items()}
        return [label, *by_key.get(brand_key(label), [])]

    def all_words(self) -> set[str]:
        words = set()
        for table in (self.brands, self.categories):
            for label, forms in table.items():
                words.add(label)
                words.update(forms)
        return words

    def expansions(self) -> dict[str, list[str]]:
        """Query expansion table: each surface form (by key) -> the other forms of its label."""
        table: dict[str, list[str]] = {}
        for group in (self.brands, self.categories):
            for label, forms in group.items():
                every = [label, *forms]
                for form in every:
                    others = table.setdefault(brand_key(form), [])
                    others.extend(o for o in every if brand_key(o) != brand_key(form) and o not in others)
        return {key: others for key, others in table.items() if others}


def dictionary_words(records: list[Record], aliases: Aliases) -> set[str]:
    """Brand and category words that join the Thai word dictionary, so each is one token."""
    words = set(aliases.all_words())
    for record in records:
        words.update(w for w in (record.brand, record.category) if w)
    return words


@dataclass
class AlignedName:
    text: str
    tokens: list[Token]
    tags: list[str]
    brand_span: str | None
    category_span: str | None


def _folded_index(text: str) -> tuple[str, list[int]]:
    """The name reduced to brand_key characters, and each kept character's index in the name."""
    chars, index = [], []
    for i, ch in enumerate(text):
        for folded in unicodedata.normalize("NFKC", ch).casefold():
            if unicodedata.category(folded)[0] in "LNM":
                chars.append(folded)
                index.append(i)
    return "".join(chars), index


def find_span(text: str, tokens: list[Token], forms: list[str]) -> tuple[int, int] | None:
    """Character span of the longest surface form found on token boundaries, or None."""
    folded, index = _folded_index(text)
    starts = {t.start for t in tokens}
    ends = {t.end for t in tokens}
    for form in sorted({brand_key(f) for f in forms if brand_key(f)}, key=len, reverse=True):
        pos = folded.find(form)
        while pos >= 0:
            start, end = index[pos], index[pos + len(form) - 1] + 1
            if start in starts and end in ends:
                return start, end
            covered = [t for t in tokens if t.start < end and t.end > start]
            if covered and all(t.script == "thai" for t in covered):
                # Thai word cuts can disagree with a brand's edges: take the tokens it overlaps.
                return covered[0].start, covered[-1].end
            pos = folded.find(form, pos + 1)
    return None


def bio_tags(tokens: list[Token], spans: dict[str, tuple[int, int]]) -> list[str]:
    tags = ["O"] * len(tokens)
    for label, (start, end) in spans.items():
        inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end and tags[i] == "O"]
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + label
    return tags


def align_records(records: list[Record], aliases: Aliases, tokenizer: Tokenizer) -> list[AlignedName]:
    aligned = []
    for record in records:
        text = normalize_name(record.name)
        tokens = tokenizer.tokenize(text)
        spans = {}
        brand = find_span(text, tokens, aliases.forms("brands", record.brand)) if record.brand else None
        if brand:
            spans["BRAND"] = brand
        category = find_span(text, tokens, aliases.forms("categories", record.category)) if record.category else None
        if category and not (brand and category[0] < brand[1] and brand[0] < category[1]):
            spans["CATEGORY"] = category
        tags = bio_tags(tokens, spans)
        aligned.append(AlignedName(text, tokens, tags,
                                   text[slice(*spans["BRAND"])] if "BRAND" in spans else None,
                                   text[slice(*spans["CATEGORY"])] if "CATEGORY" in spans else None))
    return aligned


def span_lexicon(records: list[Record], aligned: list[AlignedName], aliases: Aliases) -> dict[str, dict[str, str]]:
    """Map each seen span (by key) to the label it most often stood for, per entity type.

    This is how the NER stage turns "คอลเกต" or "COLGATE" back into the catalogue's "Colgate".
    """
    counts: dict[str, dict[str, Counter]] = {"BRAND": defaultdict(Counter), "CATEGORY": defaultdict(Counter)}
    for record, item in zip(records, aligned):
        if item.brand_span:
            counts["BRAND"][brand_key(item.brand_span)][record.brand] += 1
        if item.category_span:
            counts["CATEGORY"][brand_key(item.category_span)][record.category] += 1
    for table, label in (("brands", "BRAND"), ("categories", "CATEGORY")):
        for canonical, forms in getattr(aliases, table).items():
            for form in (canonical, *forms):
                counts[label][brand_key(form)][canonical] += 0.5  # known even if unseen in names
    return {label: {key: c.most_common(1)[0][0] for key, c in table.items()} for label, table in counts.items()}


def gazetteer(aligned: list[AlignedName]) -> dict[str, set[str]]:
    """Token keys seen inside BRAND and CATEGORY spans."""
    words: dict[str, set[str]] = {"BRAND": set(), "CATEGORY": set()}
    for item in aligned:
        for token, tag in zip(item.tokens, item.tags):
            if tag != "O":
                words[tag[2:]].add(brand_key(token.text))
    return words
