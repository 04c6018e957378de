"""The transformer NER backend on a tiny XLM-R built from a config, with a WordPiece tokenizer
trained here by the tokenizers library (no hub)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from inference.agents.ner_agent import BACKENDS, NERAgent, model_folder
from inference.agents.ner_transformer import LABELS, TransformerNERModel, encode_words, word_units
from inference.config.model_registry import ModelRegistry
from inference.normalize import normalize_name
from inference.records import load_catalog
from inference.tokenization import Tokenizer
from training.pipelines.ner_training import NERTrainingConfig, evaluate, prepare_data, train_transformer
from training.preprocessing.ner_spans import Aliases

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def build_tokenizer(folder: Path, names: list[str], vocab_size: int = 2000) -> Path:
    """A fast WordPiece tokenizer over the names' words, saved so AutoTokenizer.from_pretrained loads it."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer()
    lines = [" ".join(t.text for t in words.tokenize(normalize_name(n))) for n in names]
    tok = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(lines, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]", mask_token="[MASK]").save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def _torch_on_one_thread(one_torch_thread):
    """See tests/conftest.py: one_torch_thread."""


@pytest.fixture(scope="session")
def sample_records():
    return load_catalog(SAMPLE / "catalog.jsonl")


@pytest.fixture(scope="session")
def wordpiece(tmp_path_factory, sample_records) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tokenizer"), [r.name for r in sample_records])


@pytest.fixture(scope="module")
def trained(wordpiece, sample_records):
    """A tiny model trained on 300 sample rows (a few seconds), and its data."""
    config = NERTrainingConfig(tokenizer=str(wordpiece), from_config="tiny", epochs=8, batch_size=16)
    data = prepare_data(sample_records[:300], Aliases.load(SAMPLE / "aliases.json"), config)
    model, details = train_transformer(data, config, log=lambda _: None)
    return model, data, details


def test_first_subword_of_each_word_carries_its_label(wordpiece):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(wordpiece)
    label2id = {label: i for i, label in enumerate(LABELS)}
    words = ["ยาสีฟัน", "Zzqxvbrandname", "150g"]  # the middle word splits into several sub-words
    encoding, first = encode_words(tokenizer, [words], batch_tags=[["B-CATEGORY", "B-BRAND", "O"]],
                                   label2id=label2id)
    labels = encoding["labels"][0].tolist()
    assert [labels[p] for p in first[0]] == [label2id["B-CATEGORY"], label2id["B-BRAND"], label2id["O"]]
    assert sum(label != -100 for label in labels) == 3  # other sub-words and [CLS]/[SEP] are ignored
    assert first[0][2] - first[0][1] > 1


def test_character_level_units_keep_the_word_and_thai_clusters():
    assert word_units("Colgate", False) == ["Colgate"]
    assert word_units("Lux", True) == ["Lux", "L", "u", "x"]
    units = word_units("คอลเกต", True)
    assert units[0] == "คอลเกต" and "".join(units[1:]) == "คอลเกต" and "เก" in units  # vowel kept with consonant


def test_trained_model_tags_held_out_names(trained):
    model, data, details = trained
    scores = evaluate(model, data.validation)
    assert scores["f1"] > 0.6, scores  # a tiny model from scratch on 240 names; the CRF scores ~0.95
    assert details["best_epoch"] == max(details["history"], key=lambda r: r["validation_f1"])["epoch"]


def test_entities_have_spans_and_confidences(trained):
    model = trained[0]
    text = normalize_name("ยาสีฟันคอลเกต โททอล 150 กรัม")
    entities = model.entities(text)
    by_label = {e.label: e for e in entities}
    assert by_label["BRAND"].text == "คอลเกต" and text[by_label["BRAND"].start:by_label["BRAND"].end] == "คอลเกต"
    assert all(0.0 < e.confidence <= 1.0 for e in entities)
    batch = model.entities_batch([text, "Colgate Total 150g", ""])
    assert [e.text for e in batch[0]] == [e.text for e in entities] and batch[2] == []


def test_saved_folder_is_served_by_the_agent_through_the_registry(trained, tmp_path):
    model, data, _ = trained
    folder = model.save(tmp_path / "home" / "models" / "ner" / "xlm", data.lexicon)
    manifest = json.loads((folder / "ner_model.json").read_text(encoding="utf-8"))
    assert manifest["backend"] == "transformer" and manifest["labels"] == list(LABELS)
    assert "transformer" in BACKENDS
    registry = ModelRegistry(home=tmp_path / "home")
    registry.register_model("ner", "crf-old", {"backend": "crf", "path": "models/ner/missing"})
    registry.register_model("ner", "xlm-roberta-ner", {"backend": "transformer", "path": "models/ner/xlm"})
    registry.switch_model("ner", "xlm-roberta-ner")
    agent = NERAgent(registry)
    assert isinstance(agent.backend, TransformerNERModel)
    answer = agent.predict(normalize_name("COLGATE Total 150g"))
    assert answer.brand == "Colgate" and answer.brand_confidence > 0.5  # mapped through lexicon.json


def test_quantized_file_round_trips_and_keeps_the_answers(trained, tmp_path):
    model, data, _ = trained
    int8 = model.quantized("int8")
    path = int8.save_quantized(tmp_path / "ner_model_quantized.bin", data.lexicon)
    loaded, lexicon = TransformerNERModel.load_quantized(path)
    assert lexicon == data.lexicon and loaded.settings["quantization"] == "int8"
    import torch

    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in loaded.model.modules())
    names = [item.text for item in data.validation[:40]]
    same = sum(a == b for a, b in zip(loaded.entities_batch(names), int8.entities_batch(names)))
    assert same == len(names)  # the file holds exactly the quantized weights
    agent = NERAgent.from_folder(path)
    assert agent.predict(normalize_name("ยาสีฟันคอลเกต 150 กรัม")).brand == "Colgate"


def test_quantized_setting_on_a_folder_quantizes_at_load(trained, tmp_path):
    model, data, _ = trained
    folder = model.save(tmp_path / "fp32", data.lexicon)
    agent = NERAgent.from_folder(folder, {"quantization": "int8"})
    assert agent.backend.settings["quantization"] == "int8"
    with pytest.raises(ValueError, match="only 'int8'"):
        NERAgent.from_folder(folder, {"quantization": "int4"})


def test_manual_model_path_resolves_under_home_else_cwd(tmp_path, monkeypatch):
    registry = ModelRegistry(home=tmp_path / "home")
    monkeypatch.chdir(tmp_path)
    config = {"name": "ner-quantized", "model_path": "models/ner_model_quantized.bin", "quantization": "int8"}
    assert model_folder(registry, config) == tmp_path / "models" / "ner_model_quantized.bin"
    (tmp_path / "home" / "models").mkdir(parents=True)
    (tmp_path / "home" / "models" / "ner_model_quantized.bin").write_bytes(b"")
    assert model_folder(registry, config) == tmp_path / "home" / "models" / "ner_model_quantized.bin"
    assert model_folder(registry, {"path": "models/x"}) == tmp_path / "home" / "models" / "x"


def test_registered_config_without_a_model_says_how_to_train_one(tmp_path):
    registry = ModelRegistry(home=tmp_path / "home")
    registry.register_model("ner", "xlm-roberta-ner", {"model_name": "xlm-roberta-base", "num_labels": 4})
    with pytest.raises(ValueError, match="train_ner_pipeline.py --model-name xlm-roberta-ner"):
        NERAgent(registry)


def test_a_file_that_is_not_a_quantized_model_is_refused(tmp_path):
    bogus = tmp_path / "ner_model_quantized.bin"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a quantized NER model"):
        NERAgent.from_folder(bogus)
    with pytest.raises(FileNotFoundError, match="not found"):
        NERAgent.from_folder(tmp_path / "absent.bin")


def test_sagemaker_hyperparameters_parse_in_the_entry_point():
    """Every hyperparameter the launcher sends arrives as `--key value` (booleans as True/False,
    as SageMaker's toolkit writes them) and maps back to the same training settings."""
    from sagemaker_jobs.train_ner import parser
    from training.pipelines.train_ner_pipeline import sagemaker_hyperparameters

    config = NERTrainingConfig(learning_rate=2e-5, batch_size=16, epochs=10, early_stopping=True,
                               multilingual=True, character_level_features=True, from_config="tiny")
    params = sagemaker_hyperparameters(config, "augmented_training_data.txt", tokenizer_in_channel=True)
    argv = shlex.split(" ".join(f"--{k} {v}" for k, v in params.items()))
    args, unknown = parser().parse_known_args(argv)
    assert not unknown
    for key in ("learning_rate", "batch_size", "epochs", "early_stopping", "multilingual", "from_config",
                "character_level_features", "thai_english_mixed", "validation_split", "base_model"):
        assert getattr(args, key) == getattr(config, key), key
    assert args.training_data == "augmented_training_data.txt" and args.tokenizer == "tokenizer"
