"""NER training: the one implementation behind train_ner_pipeline.py (local), the SageMaker job
(sagemaker_jobs/train_ner.py) and the hyperparameter search (ner_trainer.py).

Data: records -> a seeded train/validation split -> BIO tags over the project's words (spans
derived from the labels and aliases by training.preprocessing.ner_spans, as for the CRF).
Options that change the data:
- `multilingual`: the validation split is stratified by script (Thai, English, mixed) and the
  metrics add entity F1 per script.
- `thai_english_mixed`: names that mix Thai and Latin script are repeated once more in the
  training part (a third of the sample catalogue; validation is untouched).
- `character_level_features`: the transformer reads each word followed by its characters (Thai
  character clusters), see inference.agents.ner_transformer; the CRF has character affix
  features (prefixes, suffixes, shape) always, so it ignores the option.

Models: `model_type` "crf" (sklearn-crfsuite, as `product-infer bootstrap`) or "transformer"
(AutoModelForTokenClassification). The transformer starts from `base_model` (a hub name such as
xlm-roberta-base, or a local folder) or, with `from_config` ("tiny", "small" or a config.json),
from a small XLM-R built from a config with the tokenizer's vocabulary. When the hub cannot be
reached and a tokenizer is given, the model is built from the "tiny" config instead, said so in
the log. Training is a plain torch loop (AdamW, linear warm-up/decay): transformers' Trainer needs
`accelerate`, which the project does not install. After each epoch the validation entity F1
(seqeval) is measured; the best epoch's weights are kept, and `early_stopping` ends training
after `patience` epochs without improvement.
"""

from __future__ import annotations

import copy
import json
import os
import random
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urlparse

from inference.agents.ner_transformer import LABELS, TransformerNERModel, encode_words
from inference.normalize import script_of
from inference.records import Record, load_catalog
from inference.tokenization import Tokenizer
from training.preprocessing.ner_spans import (AlignedName, Aliases, align_records, dictionary_words, gazetteer,
                                               span_lexicon)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CATALOG = ROOT / "data" / "sample" / "catalog.jsonl"
MODEL_TYPES = ("transformer", "crf")
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    "small": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
}
FALLBACK_PRESET = "tiny"
PRETRAINED_LR = 2e-5  # fine-tuning a pretrained encoder
FROM_CONFIG_LR = 3e-3  # a tiny encoder trained from scratch needs a far larger step (best of 1e-3, 3e-3 here)


class HubUnreachable(RuntimeError):
    """The base model is neither a local folder, nor cached, nor downloadable."""


@dataclass
class NERTrainingConfig:
    model_type: str = "transformer"
    base_model: str = "xlm-roberta-base"
    tokenizer: str | None = None
    from_config: str | None = None
    validation_split: float = 0.2
    learning_rate: float | None = None  # None: PRETRAINED_LR, or FROM_CONFIG_LR for a model built from a config
    batch_size: int = 16
    epochs: int = 10
    early_stopping: bool = False
    patience: int = 2
    dropout: float = 0.1
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    multilingual: bool = False
    thai_english_mixed: bool = False
    character_level_features: bool = False
    max_length: int = 128
    seed: int = 13

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"unknown model type {self.model_type!r}; expected one of {', '.join(MODEL_TYPES)}")
        if not 0.0 <= self.validation_split < 1.0:
            raise ValueError(f"validation split must be in [0, 1), got {self.validation_split}")
        for name in ("batch_size", "epochs", "patience", "max_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError(f"learning rate must be positive, got {self.learning_rate}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class NERData:
    """A split, aligned data set and what the saved model needs beside the weights."""

    train: list[AlignedName]
    validation: list[AlignedName]
    train_records: list[Record]
    validation_records: list[Record]
    word_tokenizer: Tokenizer
    lexicon: dict[str, dict[str, str]]
    oversampled: int = 0
    scripts: list[str] = field(default_factory=list)  # script of each validation name


# -- data ---------------------------------------------------------------------------------------
def aliases_for(training_data: str | Path, aliases: str | Path | None = None) -> Path | None:
    """The alias table: the argument, else an aliases.json beside the training data (as bootstrap)."""
    if aliases:
        return Path(aliases)
    beside = Path(training_data).parent / "aliases.json"
    return beside if beside.is_file() else None




def split_records(records: list[Record], fraction: float, seed: int, by_script: bool = False
                  ) -> tuple[list[Record], list[Record]]:
    """Seeded train/validation split; `by_script` stratifies by the names' script."""
    if fraction <= 0 or len(records) < 2:
        return list(records), []
    from sklearn.model_selection import train_test_split

    strata = [script_of(r.name) for r in records] if by_script else None
    if strata is not None and min(strata.count(s) for s in set(strata)) < 2:
        strata = None  # a script with one name cannot be stratified
    train, validation = train_test_split(records, test_size=fraction, random_state=seed, stratify=strata)
    return list(train), list(validation)


def prepare_data(records: list[Record], aliases: Aliases, config: NERTrainingConfig) -> NERData:
    train_records, validation_records = split_records(records, config.validation_split, config.seed,
                                                      by_script=config.multilingual)
    word_tokenizer = Tokenizer(dictionary_words(records, aliases))
    train = align_records(train_records, aliases, word_tokenizer)
    validation = align_records(validation_records, aliases, word_tokenizer)
    lexicon = span_lexicon(train_records, train, aliases)
    oversampled = 0
    if config.thai_english_mixed:
        extra = [item for item in train if script_of(item.text) == "mixed"]
        train = train + extra
        oversampled = len(extra)
    return NERData(train, validation, train_records, validation_records, word_tokenizer, lexicon, oversampled,
                   [script_of(item.text) for item in validation])


# -- scores -------------------------------------------------------------------------------------
def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 (seqeval, exact span match), overall and per type."""
    from seqeval.metrics import classification_report

    report = classification_report(list(map(list, gold)), list(map(list, predicted)), output_dict=True,
                                   zero_division=0)
    micro = report["micro avg"]
    return {"f1": round(float(micro["f1-score"]), 4), "precision": round(float(micro["precision"]), 4),
            "recall": round(float(micro["recall"]), 4),
            "per_type": {label: {"f1": round(float(v["f1-score"]), 4), "support": int(v["support"])}
                         for label, v in report.items() if label in ("BRAND", "CATEGORY")}}


def predict_tags(model, items: Sequence[AlignedName], batch_size: int = 64) -> list[list[str]]:
    """The model's BIO tags for each aligned name's words (batched for the transformer)."""
    if hasattr(model, "tag_words"):
        tags: list[list[str]] = []
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            nonempty = [[t.text for t in item.tokens] for item in chunk if item.tokens]
            tagged = iter(model.tag_words(nonempty))
            tags.extend(next(tagged)[0] if item.tokens else [] for item in chunk)
        return tags
    return [model.tag(item.tokens)[0] for item in items]


def evaluate(model, items: Sequence[AlignedName], scripts: Sequence[str] | None = None) -> dict[str, Any]:
    """Entity scores of `model` on aligned names; with `scripts`, also per script."""
    predicted = predict_tags(model, items)
    gold = [item.tags for item in items]
    scores = entity_scores(gold, predicted)
    if scripts is not None:
        scores["by_script"] = {}
        for script in sorted(set(scripts)):
            chosen = [i for i, s in enumerate(scripts) if s == script]
            part = entity_scores([gold[i] for i in chosen], [predicted[i] for i in chosen])
            scores["by_script"][script] = {"names": len(chosen), "f1": part["f1"]}
    return scores


# -- model building -----------------------------------------------------------------------------
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers (a quick TCP check: the hub client itself retries for
    about 25 s before it gives up). HF_HUB_OFFLINE=1 means no."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return True  # behind a proxy: let the hub client try
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_pretrained(loader, name: str, **kwargs):
    """`loader.from_pretrained(name)` from a local folder, the cache, or the hub; HubUnreachable
    when none of them has it."""
    if Path(name).expanduser().is_dir():
        return loader.from_pretrained(str(Path(name).expanduser()), **kwargs)
    try:
        return loader.from_pretrained(name, local_files_only=True, **kwargs)
    except OSError:
        pass
    if not hub_reachable():
        raise HubUnreachable(f"cannot load base model {name!r}: the Hugging Face hub is unreachable and it is not "
                             "in the local cache; pass --base-model PATH (a downloaded model folder), or "
                             "--tokenizer PATH (and optionally --from-config tiny|small) to train a small model "
                             "built from a config")
    return loader.from_pretrained(name, **kwargs)


def load_tokenizer(config: NERTrainingConfig):
    """The fast tokenizer: --tokenizer, else the base model's."""
    from transformers import AutoTokenizer

    if config.tokenizer:
        path = Path(config.tokenizer).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"tokenizer folder {path} not found; create it with python "
                                    "training/preprocessing/ner_data_preparation.py --create-multilingual-tokenizer "
                                    f"--output {config.tokenizer}")
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    else:
        tokenizer = load_pretrained(AutoTokenizer, config.base_model)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("the NER tokenizer must be a fast (Rust) tokenizer: word_ids() maps sub-words to words")
    if tokenizer.pad_token is None:
        raise ValueError("the NER tokenizer has no padding token")
    return tokenizer


def wordpiece_tokenizer(texts: Sequence[str], word_tokenizer: Tokenizer, vocab_size: int = 4000):
    """A small fast WordPiece tokenizer trained (tokenizers library) on the names' words: the
    search's last resort when neither --tokenizer, the hub nor models/multilingual_tokenizer is
    there. NFKC and lower case only: BERT's accent stripping would delete Thai vowels and tone marks."""
    from tokenizers import Tokenizer as WordPieceTokenizer
    from tokenizers import models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = WordPieceTokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    lines = [" ".join(t.text for t in word_tokenizer.tokenize(text)) for text in texts]
    tokenizer.train_from_iterator(lines, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", specials.index("[CLS]")), ("[SEP]", specials.index("[SEP]"))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def config_from_preset(preset: str, tokenizer, config: NERTrainingConfig):
    """A small XLM-R config (or a config.json) sized to the tokenizer's vocabulary."""
    from transformers import AutoConfig, XLMRobertaConfig

    labels = {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)),
              "label2id": {label: i for i, label in enumerate(LABELS)}}
    pad = tokenizer.pad_token_id
    if preset in PRESETS:
        return XLMRobertaConfig(vocab_size=len(tokenizer), pad_token_id=pad,
                                bos_token_id=tokenizer.cls_token_id if tokenizer.cls_token_id is not None else 0,
                                eos_token_id=tokenizer.sep_token_id if tokenizer.sep_token_id is not None else 2,
                                max_position_embeddings=config.max_length + pad + 2, type_vocab_size=1,
                                hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
                                classifier_dropout=config.dropout, **PRESETS[preset], **labels)
    path = Path(preset)
    if path.is_file() or path.is_dir():
        built = AutoConfig.from_pretrained(str(path))
        built.update({"vocab_size": len(tokenizer), "pad_token_id": pad, **labels})
        return built
    raise ValueError(f"--from-config must be one of {', '.join(PRESETS)} or a config.json path, got {preset!r}")


def build_model(config: NERTrainingConfig, tokenizer, log: Callable[[str], None] = print):
    """(model, how it was built): from a config preset, or from the pretrained base model."""
    from transformers import AutoModelForTokenClassification

    labels = {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)),
              "label2id": {label: i for i, label in enumerate(LABELS)}}
    preset = config.from_config
    if preset is None:
        try:
            model = load_pretrained(AutoModelForTokenClassification, config.base_model, hidden_dropout_prob=config.dropout,
                                classifier_dropout=config.dropout, **labels)
            if model.get_input_embeddings().num_embeddings != len(tokenizer):
                log(f"Resizing {config.base_model}'s embeddings to the tokenizer's {len(tokenizer)} tokens")
                model.resize_token_embeddings(len(tokenizer))
            return model, f"pretrained:{config.base_model}"
        except HubUnreachable:
            if not config.tokenizer:
                raise
            preset = FALLBACK_PRESET
            log(f"The Hugging Face hub is unreachable: training a {preset} XLM-R built from a config with the "
                f"tokenizer {config.tokenizer} instead of {config.base_model}")
    return AutoModelForTokenClassification.from_config(config_from_preset(preset, tokenizer, config)), f"config:{preset}"


# -- training -----------------------------------------------------------------------------------
def _batches(items: list[AlignedName], batch_size: int, rng: random.Random) -> list[list[AlignedName]]:
    order = list(items)
    rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def train_transformer(data: NERData, config: NERTrainingConfig, tokenizer=None, model=None,
                      log: Callable[[str], None] = print, on_step: Callable[[], None] | None = None
                      ) -> tuple[TransformerNERModel, dict[str, Any]]:
    """Fine-tune (or train) the token classifier; returns the best epoch's model and the history."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer = tokenizer or load_tokenizer(config)
    built = "given"
    if model is None:
        model, built = build_model(config, tokenizer, log)
    lr = config.learning_rate or (FROM_CONFIG_LR if built.startswith("config:") else PRETRAINED_LR)
    label2id = {label: i for i, label in enumerate(LABELS)}
    items = [item for item in data.train if item.tokens]
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": config.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr)
    steps = config.epochs * max(1, -(-len(items) // config.batch_size))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
    settings = ({"base_model": config.base_model} if built.startswith("pretrained") else
                {"from_config": built.split(":", 1)[1]} if built.startswith("config:") else {})
    wrapped = TransformerNERModel(model, tokenizer, data.word_tokenizer, config.character_level_features,
                                  config.max_length, settings)
    history: list[dict[str, Any]] = []
    best_f1, best_state, best_epoch, stale = -1.0, None, 0, 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        started, total = time.perf_counter(), 0.0
        batches = _batches(items, config.batch_size, rng)
        for batch in batches:
            encoding, _ = encode_words(tokenizer, [[t.text for t in item.tokens] for item in batch],
                                       config.character_level_features, config.max_length,
                                       [item.tags for item in batch], label2id)
            loss = model(**{k: v for k, v in encoding.items() if k in ("input_ids", "attention_mask", "labels")}).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total += loss.item()
            if on_step:
                on_step()
        model.eval()
        row = {"epoch": epoch, "loss": round(total / max(1, len(batches)), 4),
               "seconds": round(time.perf_counter() - started, 2)}
        if data.validation:
            row["validation_f1"] = evaluate(wrapped, data.validation)["f1"]
        history.append(row)
        log(f"epoch {epoch}/{config.epochs}: loss {row['loss']}" +
            (f", validation entity F1 {row['validation_f1']}" if "validation_f1" in row else ""))
        score = row.get("validation_f1", float(epoch))  # no validation: the last epoch is the best
        if score > best_f1:
            best_f1, best_epoch, stale = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if config.early_stopping and stale >= config.patience:
                log(f"Early stopping: no better validation F1 for {stale} epochs; keeping epoch {best_epoch}")
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return wrapped, {"history": history, "best_epoch": best_epoch, "learning_rate": lr, "built": built,
                     "stopped_early": len(history) < config.epochs}


def train_crf(data: NERData, config: NERTrainingConfig):
    from inference.agents.ner_crf import CRFNERModel

    model = CRFNERModel.train([(a.tokens, a.tags) for a in data.train], data.word_tokenizer, gazetteer(data.train),
                              seed=config.seed)
    return model, {"built": "crf"}


def save_model(model, folder: str | Path, lexicon: dict, config: NERTrainingConfig) -> Path:
    """The model folder layout every NER backend shares: manifest, model files, lexicon.json."""
    from inference.agents.ner_agent import write_manifest

    folder = Path(folder)
    if isinstance(model, TransformerNERModel):
        return model.save(folder, lexicon)
    model.save(folder)
    write_manifest(folder, "crf")
    (folder / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), encoding="utf-8")
    return folder


def train_ner(training_data: str | Path | None, output: str | Path, config: NERTrainingConfig,
              aliases: str | Path | None = None, record_dir: str | Path | None = None,
              log: Callable[[str], None] = print, on_step: Callable[[], None] | None = None) -> dict[str, Any]:
    """Train, validate and save a NER model folder at `output`, with metrics.json inside and a run
    record in `record_dir` (default: beside the output). Returns the metrics."""
    from training.run_record import write_run_record

    training_data = Path(training_data) if training_data else SAMPLE_CATALOG
    alias_path = aliases_for(training_data, aliases)
    records = load_catalog(training_data)
    data = prepare_data(records, Aliases.load(alias_path), config)
    log(f"Loaded {len(records)} records from {training_data}: {len(data.train_records)} to train"
        f"{f' (+{data.oversampled} mixed-script repeats)' if data.oversampled else ''}, "
        f"{len(data.validation_records)} to validate")
    started = time.perf_counter()
    if config.model_type == "crf":
        model, details = train_crf(data, config)
    else:
        model, details = train_transformer(data, config, log=log, on_step=on_step)
    metrics: dict[str, Any] = {"model_type": config.model_type, "records": len(records),
                               "train_names": len(data.train), "validation_names": len(data.validation),
                               "train_seconds": round(time.perf_counter() - started, 2), **details,
                               # what the validation split was, so that later tools can recompute it
                               "data": {"training_data": str(training_data.resolve()),
                                        "aliases": str(alias_path.resolve()) if alias_path else None,
                                        "validation_split": config.validation_split, "seed": config.seed,
                                        "stratified_by_script": config.multilingual}}
    if data.validation:
        metrics["validation"] = evaluate(model, data.validation, data.scripts if config.multilingual else None)
        scores = metrics["validation"]
        by_script = ", ".join(f"{k} {v['f1']}" for k, v in scores.get("by_script", {}).items())
        log(f"Validation entity F1 {scores['f1']} (precision {scores['precision']}, recall {scores['recall']})"
            + (f"; by script: {by_script}" if by_script else ""))
    output = Path(output)
    save_model(model, output, data.lexicon, config)
    params = {**asdict(config), "training_data": str(training_data), "aliases": str(alias_path or ""),
              "output": str(output)}
    run = write_run_record(record_dir or output.parent, "train-ner", params, [training_data, alias_path], metrics)
    metrics["run_record"] = str(run.resolve())
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    log(f"Saved the {config.model_type} NER model to {output}; run record in {run}")
    return metrics
