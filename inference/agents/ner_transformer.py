"""The transformer NER backend: Hugging Face token classification over the CRF's words.

A name is cut into words by the project's Tokenizer (the same words the CRF tags and the training
spans are aligned to), the words go to the model with `is_split_into_words=True`, and each word
takes the label of its first sub-word. Labels are O, B-BRAND, I-BRAND, B-CATEGORY, I-CATEGORY:
five, although the manual's comment says `num_labels: 4` next to the same five names.

`character_level_features` feeds every word followed by its characters (Thai: character clusters,
so a vowel stays with its consonant). The word's label still sits on the word's first sub-word;
the characters are unlabelled context that spells out words the sub-word vocabulary cuts badly.
Measured on the sample catalogue with a quarter of the brands held out (tiny model built from a
config): BRAND F1 on the unseen brands 0.42 with it, 0.38 without; it costs about twice the time.
(Characters alone, without the word, lost the word boundaries and scored far lower.)

Saved as a model folder (ner_model.json manifest, the HF model and tokenizer files, lexicon.json),
or, quantized to int8 (torch dynamic quantization of the Linear layers), as one `.bin` file that
carries the manifest, the config and tokenizer files, the lexicon and the int8 weights.
"""

from __future__ import annotations

import io
import json
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

from inference.agents.base import Entity
from inference.agents.ner_crf import spans_from_tags
from inference.tokenization import Token, Tokenizer

LABELS = ("O", "B-BRAND", "I-BRAND", "B-CATEGORY", "I-CATEGORY")
QUANTIZED_FORMAT = "multilingual-product-inference/ner-transformer-int8/1"
_KEPT_SETTINGS = ("base_model", "from_config", "quantization")  # carried from manifest to manifest


def word_units(word: str, character_level: bool) -> list[str]:
    """The pieces a word is fed to the model as: itself, or itself then its characters."""
    if not character_level:
        return [word]
    if any("\u0e00" <= ch <= "\u0e7f" for ch in word):
        from pythainlp.tokenize import subword_tokenize

        return [word] + [u for u in subword_tokenize(word, engine="tcc") if u.strip()]
    return [word] + list(word)


def encode_words(tokenizer, batch_words: Sequence[Sequence[str]], character_level: bool = False,
                 max_length: int = 128, batch_tags: Sequence[Sequence[str]] | None = None,
                 label2id: dict[str, int] | None = None):
    """Tokenise a batch of word lists; returns (encoding, first) where first[b][w] is the position
    of word w's first sub-word (None when truncated away). With `batch_tags`, the encoding gets
    `labels`: the word's label id on its first sub-word, -100 (ignored by the loss) elsewhere."""
    import torch

    units, owners = [], []
    for words in batch_words:
        pieces, owner = [], []
        for i, word in enumerate(words):
            for unit in word_units(word, character_level):
                pieces.append(unit)
                owner.append(i)
        units.append(pieces or [""])
        owners.append(owner)
    encoding = tokenizer(units, is_split_into_words=True, truncation=True, max_length=max_length,
                         padding=True, return_tensors="pt")
    first: list[list[int | None]] = []
    for b, words in enumerate(batch_words):
        positions: list[int | None] = [None] * len(words)
        for pos, unit in enumerate(encoding.word_ids(b)):
            if unit is not None and unit < len(owners[b]) and positions[owners[b][unit]] is None:
                positions[owners[b][unit]] = pos
        first.append(positions)
    if batch_tags is not None:
        labels = torch.full(encoding["input_ids"].shape, -100, dtype=torch.long)
        for b, tags in enumerate(batch_tags):
            for w, tag in enumerate(tags):
                if first[b][w] is not None:
                    labels[b, first[b][w]] = label2id[tag]
        encoding["labels"] = labels
    return encoding, first


@contextmanager
def _no_progress_bars():
    """transformers draws progress bars when it loads or writes even a small local model: noise
    in a command's output and in every agent start."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


@contextmanager
def _quiet_quantization():
    """torch 2.13 marks torch.ao.quantization and quantized tensors as deprecated in favour of
    torchao, which this project does not install; the eager API still works, so its deprecation
    warnings are silenced where it is used."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        yield


def quantize_linear_int8(model):
    """torch dynamic quantization of every Linear layer to int8 (in place; returns the model)."""
    import torch

    with _quiet_quantization():
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


class TransformerNERModel:
    """A token-classification model + its tokenizer + the word tokenizer, as one NER backend."""

    def __init__(self, model, tokenizer, word_tokenizer: Tokenizer, character_level: bool = False,
                 max_length: int = 128, settings: dict | None = None):
        model.eval()
        self.model = model
        self.tokenizer = tokenizer
        self.word_tokenizer = word_tokenizer
        self.character_level = character_level
        self.max_length = max_length
        self.settings = dict(settings or {})
        self.id2label = {int(k): v for k, v in model.config.id2label.items()}
        self.label2id = {v: k for k, v in self.id2label.items()}

    # -- tagging -------------------------------------------------------------------------------
    def tag_words(self, batch_words: Sequence[Sequence[str]]) -> list[tuple[list[str], list[float]]]:
        """For each word list: the label of each word and its softmax probability."""
        import torch

        if not batch_words:
            return []
        encoding, first = encode_words(self.tokenizer, batch_words, self.character_level, self.max_length)
        with torch.inference_mode():
            logits = self.model(**{k: v for k, v in encoding.items() if k in ("input_ids", "attention_mask")}).logits
        probs = torch.softmax(logits.float(), dim=-1)
        best_p, best = probs.max(dim=-1)
        results = []
        for b, words in enumerate(batch_words):
            tags, confidences = [], []
            for w in range(len(words)):
                pos = first[b][w]
                if pos is None:  # cut off by max_length
                    tags.append("O")
                    confidences.append(0.0)
                else:
                    tags.append(self.id2label[int(best[b, pos])])
                    confidences.append(float(best_p[b, pos]))
            results.append((tags, confidences))
        return results

    def tag(self, tokens: list[Token]) -> tuple[list[str], list[float]]:
        if not tokens:
            return [], []
        return self.tag_words([[t.text for t in tokens]])[0]

    def entities(self, text: str) -> list[Entity]:
        """Spans of the normalised name; confidence = mean probability of the span's word labels."""
        return self.entities_batch([text])[0]

    def entities_batch(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Entity]]:
        tokenized = [self.word_tokenizer.tokenize(t) for t in texts]
        out: list[list[Entity]] = []
        for start in range(0, len(texts), batch_size):
            chunk = tokenized[start:start + batch_size]
            nonempty = [toks for toks in chunk if toks]
            tagged = iter(self.tag_words([[t.text for t in toks] for toks in nonempty]))
            for text, toks in zip(texts[start:start + batch_size], chunk):
                if not toks:
                    out.append([])
                    continue
                tags, probs = next(tagged)
                out.append(spans_from_tags(text, toks, tags, probs))
        return out

    # -- saving and loading ----------------------------------------------------------------------
    def manifest_settings(self) -> dict:
        return {**self.settings, "labels": [self.id2label[i] for i in sorted(self.id2label)],
                "extra_words": self.word_tokenizer.extra_words, "character_level_features": self.character_level,
                "max_length": self.max_length}

    def save(self, folder: str | Path, lexicon: dict | None = None) -> Path:
        """The model folder: HF model + tokenizer files, ner_model.json, and lexicon.json if given."""
        from inference.agents.ner_agent import write_manifest

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with _no_progress_bars():
            self.model.save_pretrained(folder)
            self.tokenizer.save_pretrained(folder)
        write_manifest(folder, "transformer", **self.manifest_settings())
        if lexicon is not None:
            (folder / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path, settings: dict | None = None) -> "TransformerNERModel":
        """A saved folder; `quantization: int8` in the settings quantizes it as it loads."""
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        folder = Path(folder)
        settings = dict(settings or {})
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no transformer NER model in {folder} (expected config.json and the weights)")
        with _no_progress_bars():
            model = AutoModelForTokenClassification.from_pretrained(folder)
            tokenizer = AutoTokenizer.from_pretrained(folder)
        loaded = cls._from_settings(model, tokenizer, settings)
        quantization = settings.get("quantization")
        if quantization:
            return loaded.quantized(quantization)
        return loaded

    @classmethod
    def _from_settings(cls, model, tokenizer, settings: dict) -> "TransformerNERModel":
        kept = {k: settings[k] for k in _KEPT_SETTINGS if k in settings}
        return cls(model, tokenizer, Tokenizer(settings.get("extra_words", ())),
                   character_level=bool(settings.get("character_level_features", False)),
                   max_length=int(settings.get("max_length", 128)), settings=kept)

    def quantized(self, quantization: str = "int8") -> "TransformerNERModel":
        """A copy with its Linear layers dynamically quantized (weights int8, activations quantized
        on the fly): smaller and faster on a CPU, to be measured against the fp32 model."""
        import copy

        if quantization != "int8":
            raise ValueError(f"unsupported quantization {quantization!r}; only 'int8' (dynamic) is supported")
        model = quantize_linear_int8(copy.deepcopy(self.model))
        return TransformerNERModel(model, self.tokenizer, self.word_tokenizer, self.character_level,
                                   self.max_length, {**self.settings, "quantization": "int8"})

    def save_quantized(self, path: str | Path, lexicon: dict | None = None) -> Path:
        """One self-contained file: manifest, config and tokenizer files, lexicon, int8 state."""
        import torch

        if self.settings.get("quantization") != "int8":
            raise ValueError("save_quantized needs a quantized model: call quantized() first")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            self.model.config.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        payload = {"format": QUANTIZED_FORMAT, "manifest": {"backend": "transformer", **self.manifest_settings()},
                   "files": files,
                   "lexicon": lexicon or {"BRAND": {}, "CATEGORY": {}}, "state_dict": self.model.state_dict()}
        buffer = io.BytesIO()
        with _quiet_quantization():
            torch.save(payload, buffer)
        path.write_bytes(buffer.getvalue())
        return path

    @classmethod
    def load_quantized(cls, path: str | Path, settings: dict | None = None) -> tuple["TransformerNERModel", dict]:
        """The model and lexicon of a file written by save_quantized."""
        import torch
        from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such quantized NER model file")
        try:
            with _quiet_quantization():
                payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # not a torch file, or a pickle of something else
            raise ValueError(f"{path} is not a quantized NER model written by quantize_ner.py: {exc}") from None
        if not isinstance(payload, dict) or payload.get("format") != QUANTIZED_FORMAT:
            raise ValueError(f"{path} is not a quantized NER model written by quantize_ner.py "
                             f"(expected format {QUANTIZED_FORMAT})")
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in payload["files"].items():
                (Path(tmp) / Path(name).name).write_bytes(data)
            config = AutoConfig.from_pretrained(tmp)
            tokenizer = AutoTokenizer.from_pretrained(tmp)
        model = AutoModelForTokenClassification.from_config(config)
        model = quantize_linear_int8(model)
        with _quiet_quantization():
            model.load_state_dict(payload["state_dict"])
        merged = {**payload["manifest"], **(settings or {}), "quantization": "int8"}
        return cls._from_settings(model, tokenizer, merged), payload["lexicon"]
