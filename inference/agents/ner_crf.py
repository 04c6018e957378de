"""The local NER backend: a token-level linear-chain CRF (python-crfsuite via sklearn-crfsuite).

It trains on a few thousand names in seconds on a CPU and, measured on synthetic and real names,
tags brands it has never seen better than a blank spaCy pipeline: shape, position and character
affixes carry over to new brands, and a gazetteer feature (known brand and category words) helps
with the ones it has seen. The gazetteer feature is dropped at random during training so that the
model does not learn to trust it alone.

Two additions measured on real shop names (held-out 20% of the dev set): corpus statistics of
each word (how often it occurs, and how often inside a brand span: "Steel" and "Women" almost
never are, so a span stops before them), computed out-of-fold during training so the model sees
them as it will on new names; and, when no token is tagged BRAND, the most probable brand span
from the marginals, with its low probability as confidence, rather than no answer. Together
they raised brand accuracy from 0.845 to 0.867 and on unseen brands from 0.61 to 0.69.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Sequence

from inference.agents.base import Entity
from inference.brands import brand_key
from inference.tokenization import Token, Tokenizer

LABELS = ("BRAND", "CATEGORY")
_UNIT = re.compile(r"^(\d+([.,/x×]\d+)*)?(g|kg|mg|ml|l|cl|oz|lb|pcs?|gb|tb|mah|w|cm|mm|m|กรัม|ก|มล|ลิตร|ชิ้น|ซอง|แพ็ค|ขวด|กระป๋อง)\.?$", re.I)


def _shape(text: str) -> str:
    shape = re.sub("[A-Z]", "X", text)
    shape = re.sub("[a-z]", "x", shape)
    shape = re.sub("[0-9]", "d", shape)
    shape = re.sub("[\u0e00-\u0e7f]", "t", shape)
    return re.sub(r"(.)\1+", r"\1\1", shape)


class TokenStats:
    """Per lower-cased word: occurrences in the training names and how many were inside a brand span."""

    def __init__(self, counts: dict[str, list[int]] | None = None):
        self.counts = counts or {}

    @classmethod
    def count(cls, sequences: Sequence[tuple[Sequence[Token], Sequence[str]]]) -> "TokenStats":
        counts: dict[str, list[int]] = {}
        for tokens, tags in sequences:
            for token, tag in zip(tokens, tags):
                entry = counts.setdefault(token.text.lower(), [0, 0])
                entry[0] += 1
                entry[1] += tag.endswith("BRAND")
        return cls(counts)

    def describe(self, text: str) -> tuple[str, str]:
        """(frequency bucket, brand-share bucket) of a word; unseen words get ("0", "unk")."""
        seen, in_brand = self.counts.get(text.lower(), (0, 0))
        if not seen:
            return "0", "unk"
        frequency = "1" if seen == 1 else "2-4" if seen < 5 else "5-19" if seen < 20 else "20+"
        return frequency, str(min(int((in_brand + 0.5) / (seen + 1) * 5), 4))


def token_features(tokens: Sequence[Token], gazetteer: dict[str, set[str]], use_gazetteer: bool = True,
                   stats: TokenStats | None = None) -> list[dict]:
    """Features of each token: its form, shape, affixes, script, position, corpus statistics and its neighbours."""
    feats = []
    n = len(tokens)
    keys = [brand_key(t.text) for t in tokens]
    for i, tok in enumerate(tokens):
        text, low = tok.text, tok.text.lower()
        f = {
            "bias": 1.0,
            "low": low,
            "shape": _shape(text),
            "script": tok.script,
            "pre2": low[:2], "pre3": low[:3], "suf2": low[-2:], "suf3": low[-3:],
            "title": text[:1].isupper() and text[1:].islower(),
            "upper": text.isupper(),
            "digit": any(c.isdigit() for c in text),
            "unit": bool(_UNIT.match(low)),
            "len": min(len(text), 10),
            "pos": min(i, 5),
            "from_end": min(n - 1 - i, 5),
            "space_before": i > 0 and tokens[i - 1].end < tok.start,
        }
        if use_gazetteer:
            for label, words in gazetteer.items():
                f[f"lex_{label}"] = keys[i] in words
        for offset in (-2, -1, 1, 2):
            j = i + offset
            if 0 <= j < n:
                f[f"{offset}:low"] = tokens[j].text.lower()
                f[f"{offset}:shape"] = _shape(tokens[j].text)
                if use_gazetteer:
                    for label, words in gazetteer.items():
                        f[f"{offset}:lex_{label}"] = keys[j] in words
            else:
                f[f"{offset}:edge"] = True
        feats.append(f)
    if stats is not None:
        described = [stats.describe(t.text) for t in tokens]
        for i, f in enumerate(feats):
            f["freq"], f["bshare"] = described[i]
            for offset in (-1, 1):
                if 0 <= i + offset < n:
                    f[f"{offset}:freq"], f[f"{offset}:bshare"] = described[i + offset]
    return feats


class CRFNERModel:
    """Tokenizer + CRF + gazetteer, saved as one folder (model.crfsuite, meta.json)."""

    def __init__(self, crf, tokenizer: Tokenizer, gazetteer: dict[str, set[str]], stats: TokenStats | None = None):
        self.crf = crf
        self.tokenizer = tokenizer
        self.gazetteer = gazetteer
        self.stats = stats

    @classmethod
    def train(cls, sequences: list[tuple[list[Token], list[str]]], tokenizer: Tokenizer,
              gazetteer: dict[str, set[str]], c1: float = 0.05, c2: float = 0.05, max_iterations: int = 150,
              gazetteer_dropout: float = 0.3, seed: int = 13, stats_folds: int = 2) -> "CRFNERModel":
        """`stats_folds` > 1 adds word statistics, each name's taken from the other folds (0 turns them off)."""
        import sklearn_crfsuite

        rng = random.Random(seed)
        fold_stats = [TokenStats.count([s for i, s in enumerate(sequences) if i % stats_folds != k])
                      for k in range(stats_folds)] if stats_folds > 1 else None
        X = [token_features(toks, gazetteer, use_gazetteer=rng.random() >= gazetteer_dropout,
                            stats=fold_stats[i % stats_folds] if fold_stats else None)
             for i, (toks, _) in enumerate(sequences)]
        y = [tags for _, tags in sequences]
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=max_iterations,
                                   all_possible_transitions=True)
        crf.fit(X, y)
        return cls(crf, tokenizer, gazetteer, TokenStats.count(sequences) if fold_stats else None)

    def save(self, folder: str | Path) -> Path:
        import joblib

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.crf, folder / "crf.joblib")
        meta = {"extra_words": self.tokenizer.extra_words,
                "gazetteer": {label: sorted(words) for label, words in self.gazetteer.items()},
                "token_stats": self.stats.counts if self.stats else None}
        (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "CRFNERModel":
        import joblib

        folder = Path(folder)
        if not (folder / "crf.joblib").is_file():
            raise FileNotFoundError(f"no CRF NER model in {folder} (expected crf.joblib); run `product-infer bootstrap`")
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        gazetteer = {label: set(words) for label, words in meta["gazetteer"].items()}
        stats = TokenStats(meta["token_stats"]) if meta.get("token_stats") else None
        return cls(joblib.load(folder / "crf.joblib"), Tokenizer(meta["extra_words"]), gazetteer, stats)

    def _decode(self, tokens: list[Token]) -> tuple[list[str], list[dict[str, float]]]:
        feats = token_features(tokens, self.gazetteer, stats=self.stats)
        return self.crf.predict_single(feats), self.crf.predict_marginals_single(feats)

    def tag(self, tokens: list[Token]) -> tuple[list[str], list[float]]:
        """BIO tags and each tag's marginal probability."""
        if not tokens:
            return [], []
        tags, marginals = self._decode(tokens)
        return tags, [m.get(t, 0.0) for m, t in zip(marginals, tags)]

    def entities(self, text: str) -> list[Entity]:
        """Spans of the normalised name, each with the mean marginal of its tokens as confidence;
        with no BRAND span, the most probable one from the marginals (see the module's docstring)."""
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            return []
        tags, marginals = self._decode(tokens)
        found = spans_from_tags(text, tokens, tags, [m.get(t, 0.0) for m, t in zip(marginals, tags)])
        if not any(e.label == "BRAND" for e in found):
            fallback = likeliest_brand(text, tokens, marginals)
            if fallback is not None:
                found.append(fallback)
        return found


def likeliest_brand(text: str, tokens: Sequence[Token], marginals: Sequence[dict[str, float]],
                    min_probability: float = 0.05) -> Entity | None:
    """The span starting at the token most likely to begin a brand, extended while the next token
    is more likely inside it than not; its confidence is the start's B-BRAND probability."""
    start = max(range(len(tokens)), key=lambda k: marginals[k].get("B-BRAND", 0.0))
    probability = marginals[start].get("B-BRAND", 0.0)
    if probability < min_probability:
        return None
    end = start
    while end + 1 < len(tokens) and marginals[end + 1].get("I-BRAND", 0.0) > 0.5:
        end += 1
    return Entity("BRAND", text[tokens[start].start:tokens[end].end], tokens[start].start, tokens[end].end, float(probability))


def spans_from_tags(text: str, tokens: Sequence[Token], tags: Sequence[str], probs: Sequence[float]) -> list[Entity]:
    """Group B-/I- tags into entities (an I- after O or another label starts a new one)."""
    spans: list[Entity] = []
    current: list[int] = []
    label = None

    def close():
        if current:
            first, last = tokens[current[0]], tokens[current[-1]]
            conf = sum(probs[k] for k in current) / len(current)
            spans.append(Entity(label, text[first.start:last.end], first.start, last.end, float(conf)))

    for i, tag in enumerate(tags):
        kind, _, tag_label = tag.partition("-")
        if kind == "B" or (kind == "I" and tag_label != label):
            close()
            current, label = [i], tag_label
        elif kind == "I":
            current.append(i)
        else:
            close()
            current, label = [], None
    close()
    return spans
