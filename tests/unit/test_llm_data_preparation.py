"""Nova fine-tuning data (training/preprocessing/llm_data_preparation.py) and Bedrock's rules
(training/pipelines/bedrock_nova.py), without AWS or a bootstrapped home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inference.agents.llm_agent import SYSTEM_PROMPT, LLMAgent, parse_answer
from inference.records import Record
from training.pipelines.bedrock_nova import (NovaSettingError, check_dataset_key, fine_tunable_model,
                                             invocation_model_id, map_hyperparameters, parse_hyperparameters)
from training.preprocessing.llm_data_preparation import (DatasetError, Evidence, assistant_text, confidence,
                                                         conversation_record, find_evidence, prepare_conversations,
                                                         reasoning, upload_to_s3, validate_conversation_format)
from training.preprocessing.ner_spans import Aliases

ALIASES = Aliases(brands={"Colgate": ["คอลเกต"], "Coca-Cola": ["โค้ก", "Coke"]}, categories={"Toothpaste": ["ยาสีฟัน"]})
COLGATE = Record(name="ยาสีฟันคอลเกต โททอล 150 กรัม", brand="Colgate", category="Toothpaste", line=2)


@pytest.fixture(scope="module")
def tokenizer():
    from inference.tokenization import Tokenizer

    return Tokenizer(ALIASES.all_words() | {"Colgate", "Toothpaste"})


def neighbours(*brands_categories):
    return [{"name": f"n{i}", "brand": b, "category": c, "similarity": 0.9 - i / 10}
            for i, (b, c) in enumerate(brands_categories)]


# -- the assistant's answer: reasoning and confidences from facts only ------------------------------------
def test_reasoning_names_the_alias_and_counts_the_neighbours(tokenizer):
    shown = neighbours(("Colgate", "Toothpaste"), ("Colgate", "Toothpaste"), ("Darlie", "Toothpaste"),
                       ("Colgate", "Toothpaste"), ("Colgate", "Mouthwash"))
    evidence = find_evidence(COLGATE, COLGATE.name, tokenizer.tokenize(COLGATE.name), ALIASES, shown)
    assert evidence == Evidence("คอลเกต", "ยาสีฟัน", 5, 4, 4)
    assert reasoning(COLGATE, evidence) == ("The name contains 'คอลเกต', the Thai spelling of Colgate; 'ยาสีฟัน' names "
                                            "the category Toothpaste; 4 of 5 similar catalogue products are Colgate, "
                                            "4 of 5 Toothpaste.")


def test_reasoning_when_the_brand_is_not_written_and_no_neighbour_agrees(tokenizer):
    record = Record(name="น้ำอัดลม 325 มล.", brand="Coca-Cola", category="Soft Drink")
    evidence = find_evidence(record, record.name, tokenizer.tokenize(record.name), ALIASES,
                             neighbours(("Pepsi", "Soft Drink"), ("Sprite", "Soft Drink")))
    assert evidence.brand_span is None and evidence.brand_votes == 0 and evidence.category_votes == 2
    assert reasoning(record, evidence) == ("The name does not spell out the brand; none of the 2 similar catalogue "
                                           "products is Coca-Cola, 2 of 2 Soft Drink.")
    # Without any context (no home), nothing is said about neighbours.
    bare = find_evidence(record, record.name, tokenizer.tokenize(record.name), ALIASES, None)
    assert bare.shown == -1 and reasoning(record, bare) == "The name does not spell out the brand."


def test_a_latin_alias_is_named_as_another_name(tokenizer):
    record = Record(name="Coke Zero 325ml", brand="Coca-Cola", category=None)
    evidence = find_evidence(record, record.name, tokenizer.tokenize(record.name), ALIASES, [])
    assert reasoning(record, evidence) == ("The name contains 'Coke', a name of Coca-Cola; "
                                           "no similar catalogue product was found.")


def test_confidence_rule():
    assert confidence(True, 0, 0) == 0.95
    assert confidence(False, 4, 5) == 0.82
    assert confidence(False, 0, 5) == 0.5
    assert confidence(False, 0, 0) == 0.5


def test_answer_with_reasoning_parses_as_the_agent_parses_it(tokenizer):
    shown = neighbours(("Colgate", "Toothpaste"))
    evidence = find_evidence(COLGATE, COLGATE.name, tokenizer.tokenize(COLGATE.name), ALIASES, shown)
    text = assistant_text(COLGATE, evidence, include_reasoning=True)
    prose, body = text.split("\n")
    assert prose.startswith("The name contains 'คอลเกต'") and "{" not in prose
    assert json.loads(body) == {"brand": "Colgate", "category": "Toothpaste", "brand_confidence": 0.95,
                                "category_confidence": 0.95}
    assert parse_answer(text) == {"brand": "Colgate", "category": "Toothpaste", "brand_confidence": 0.95,
                                  "category_confidence": 0.95}
    plain = assistant_text(COLGATE, evidence, include_reasoning=False)
    assert json.loads(plain)["brand"] == "Colgate"  # the whole text is the JSON object


def test_braces_from_a_name_never_reach_the_prose(tokenizer):
    record = Record(name="{Promo} Colgate Total 150g", brand="Colgate", category="Toothpaste")
    evidence = Evidence("{Promo} Colgate", None, -1, 0, 0)
    text = assistant_text(record, evidence, include_reasoning=True)
    assert parse_answer(text)["brand"] == "Colgate"


# -- preparing a dataset without a home ---------------------------------------------------------------------
def _tsv(path: Path, rows) -> Path:
    path.write_text("name\tbrand\tcategory\n" + "".join(f"{n}\t{b}\t{c}\n" for n, b, c in rows), encoding="utf-8")
    return path


ROWS = [("ยาสีฟันคอลเกต โททอล 150 กรัม", "Colgate", "Toothpaste"), ("Colgate Total 150g", "Colgate", "Toothpaste"),
        ("โค้ก 325 มล.", "Coca-Cola", "Soft Drink"), ("Coke Zero 1.5L", "Coca-Cola", "Soft Drink"),
        ("มาม่า ต้มยำกุ้ง 55g", "Mama", "Instant Noodles"), ("Mama Tom Yum 55g", "Mama", "Instant Noodles"),
        ("Lay's Classic 50g", "Lay's", "Snacks"), ("เลย์ คลาสสิค 50 กรัม", "Lay's", "Snacks"),
        ("Robot: Vacuum Cleaner X1", "Robot", "Vacuum"), ("Dove Soap 100g", "Dove", "")]


def test_prepare_without_context_uses_the_agents_prompt(tmp_path):
    data = _tsv(tmp_path / "training_dataset.txt", ROWS)
    (tmp_path / "aliases.json").write_text(json.dumps({"brands": {"Colgate": ["คอลเกต"], "Coca-Cola": ["โค้ก", "Coke"]}}),
                                           encoding="utf-8")
    logged = []
    summary = prepare_conversations(data, tmp_path / "conversation_format.jsonl", include_reasoning=True,
                                    registry=None, use_context=False, log=logged.append)
    lines = (tmp_path / "conversation_format.jsonl").read_text(encoding="utf-8").splitlines()
    assert summary["records"] == len(lines) == 9
    # "Robot:" holds Bedrock's reserved "bot:" (compared without case): skipped, its line named.
    assert summary["skipped"] == [{"line": 10, "reason": "holds the reserved word(s) ['Bot:']"}]
    assert any(f"{data}:10: skipped" in m for m in logged)
    first = json.loads(lines[0])
    assert first["schemaVersion"] == "bedrock-conversation-2024"
    assert first["system"] == [{"text": SYSTEM_PROMPT}]
    assert first["messages"][0] == {"role": "user",
                                    "content": [{"text": LLMAgent().build_prompt("ยาสีฟันคอลเกต โททอล 150 กรัม")[1]}]}
    assert first["messages"][1]["role"] == "assistant"
    assert parse_answer(first["messages"][1]["content"][0]["text"])["brand"] == "Colgate"
    last = json.loads(lines[-1])
    assert parse_answer(last["messages"][1]["content"][0]["text"]) == {
        "brand": "Dove", "category": None, "brand_confidence": 0.95, "category_confidence": 0.0}
    assert validate_conversation_format(tmp_path / "conversation_format.jsonl")["valid"]


def test_validation_split_is_disjoint_and_seeded(tmp_path):
    data = _tsv(tmp_path / "training_dataset.txt", ROWS[:8] * 3)
    summary = prepare_conversations(data, tmp_path / "train.jsonl", registry=None, use_context=False,
                                    validation_split=0.25, seed=7, log=lambda _: None)
    train = (tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()
    held = Path(summary["validation_output"]).read_text(encoding="utf-8").splitlines()
    assert summary["validation_output"] == str(tmp_path / "train_validation.jsonl")
    assert (len(train), len(held)) == (18, 6) == (summary["records"], summary["validation_records"])
    again = prepare_conversations(data, tmp_path / "again.jsonl", registry=None, use_context=False,
                                  validation_split=0.25, seed=7, log=lambda _: None)
    assert Path(again["validation_output"]).read_text(encoding="utf-8").splitlines() == held


def test_bad_input_lines_are_named(tmp_path):
    data = tmp_path / "training_dataset.txt"
    data.write_text("name\tbrand\tcategory\nColgate 150g\tColgate\tToothpaste\n\t\tSnacks\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"training_dataset.txt:3: "):
        prepare_conversations(data, tmp_path / "out.jsonl", registry=None, use_context=False, log=lambda _: None)


# -- validate_conversation_format: which line breaks which rule ---------------------------------------------
def _good(i: int) -> dict:
    return conversation_record(SYSTEM_PROMPT, f"Product name: item {i}", json.dumps({"brand": "B", "category": None,
                                                                                    "brand_confidence": 0.9,
                                                                                    "category_confidence": 0.0}))


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def test_a_good_file_is_valid(tmp_path):
    report = validate_conversation_format(_write_jsonl(tmp_path / "ok.jsonl", [_good(i) for i in range(8)]))
    assert report == {**report, "valid": True, "records": 8, "errors": [], "base_model": "amazon.nova-pro-v1:0:300k"}
    assert report["limits"]["min_records"] == 8 and report["limits"]["max_records"] == 20000


def _swap_roles(r):
    r["messages"].reverse()
    return r


def _user_last(r):
    r["messages"].append({"role": "user", "content": [{"text": "and?"}]})
    return r


def _reserved(r):
    r["messages"][0]["content"][0]["text"] = "Bot: what brand is this?"
    return r


def _reserved_system(r):
    r["system"][0]["text"] = "You are helpful. [EOS]"
    return r


def _empty(r):
    r["messages"][1]["content"][0]["text"] = "  "
    return r


def _bad_role(r):
    r["messages"][0]["role"] = "system"
    return r


def _image(r):
    r["messages"][0]["content"] = [{"image": {"format": "png"}}]
    return r


def _huge(r):
    r["messages"][0]["content"][0]["text"] = "x" * 300_001
    return r


@pytest.mark.parametrize("change, rule, fragment", [
    (_swap_roles, "roles", "message 1 has role 'assistant': the conversation must start with the user"),
    (_user_last, "roles", "the last message has role 'user'"),
    (_reserved, "reserved_word", "message 1 (user) contains the reserved word 'Bot:'"),
    (_reserved_system, "reserved_word", "system contains the reserved word '[EOS]'"),
    (_empty, "empty_text", "message 2 (assistant) has an empty text"),
    (_bad_role, "roles", "message 1 has role 'system'; the roles are 'user' and 'assistant'"),
    (_image, "schema", "this dataset is text only"),
    (_huge, "size", "more than the 300,000-token context of amazon.nova-pro-v1:0:300k"),
    (lambda r: "{not json", "json", "malformed JSON"),
    (lambda r: "", "json", "empty line"),
    (lambda r: [r], "schema", "expected a JSON object, got list"),
])
def test_each_rule_names_the_line(tmp_path, change, rule, fragment):
    records = [_good(i) for i in range(9)]
    records[4] = change(records[4])
    report = validate_conversation_format(_write_jsonl(tmp_path / "data.jsonl", records))
    assert not report["valid"]
    mine = [e for e in report["errors"] if e["line"] == 5]
    assert mine and mine[0]["rule"] == rule, report["errors"]
    assert fragment in mine[0]["message"] and mine[0]["message"].startswith(f"{tmp_path / 'data.jsonl'}:5: ")
    assert all(e["line"] == 5 for e in report["errors"])


def test_record_count_and_file_rules(tmp_path):
    few = validate_conversation_format(_write_jsonl(tmp_path / "few.jsonl", [_good(i) for i in range(7)]))
    assert few["errors"] == [{"line": 0, "rule": "record_count",
                              "message": f"{tmp_path / 'few.jsonl'}: 7 records; Bedrock needs at least 8"}]
    missing = validate_conversation_format(tmp_path / "nope.jsonl")
    assert not missing["valid"] and missing["errors"][0]["rule"] == "file"
    odd = validate_conversation_format(_write_jsonl(tmp_path / "data set.json", [_good(i) for i in range(8)]))
    assert [e["rule"] for e in odd["errors"]] == ["file"] and "letters, digits" in odd["warnings"][0]


def test_upload_refuses_invalid_data_and_bad_keys_before_any_call(tmp_path):
    bad = _write_jsonl(tmp_path / "bad.jsonl", [_good(i) for i in range(3)])
    with pytest.raises(DatasetError, match="(?s)not uploaded.*at least 8"):
        upload_to_s3(bad, "bucket", "key.jsonl", client=object())  # object(): any call would fail
    good = _write_jsonl(tmp_path / "good.jsonl", [_good(i) for i in range(8)])
    with pytest.raises(DatasetError, match="characters Bedrock does not accept"):
        upload_to_s3(good, "bucket", "training data/good file.jsonl", client=object())


# -- Nova's hyperparameters, base models and keys --------------------------------------------------------
def test_manual_hyperparameters_map_to_bedrock_names():
    sent, warnings = map_hyperparameters(parse_hyperparameters("learning_rate=0.0001,batch_size=4,epochs=3"))
    assert sent == {"learningRate": "0.0001", "epochCount": "3"}
    assert warnings == ["batch_size=4 not sent: Nova understanding models take no batch size"]
    sent, _ = map_hyperparameters({"learning_rate": 0.00001, "learning_rate_warmup_steps": 10, "epochCount": "5"})
    assert sent == {"learningRate": "0.00001", "learningRateWarmupSteps": "10", "epochCount": "5"}


@pytest.mark.parametrize("values, fragment", [
    ({"learning_rate": 0.0002}, "learning_rate=0.0002 is outside the range Nova allows for learningRate: 0.000001 to 0.0001"),
    ({"epochs": 6}, "epochs=6 is outside the range Nova allows for epochCount: 1 to 5"),
    ({"epochs": 2.5}, "epochs=2.5 must be a whole number"),
    ({"learning_rate_warmup_steps": 101}, "learningRateWarmupSteps: 0 to 100"),
    ({"dropout": 0.1}, "unknown hyperparameter 'dropout'"),
    ({"epochs": "three"}, "epochs='three' is not a number"),
    ({"epochs": 2, "epochCount": 3}, "epochCount is given twice"),
])
def test_out_of_range_values_are_refused_by_name(values, fragment):
    with pytest.raises(NovaSettingError) as caught:
        map_hyperparameters(values)
    assert fragment in str(caught.value)


def test_hyperparameter_text_errors():
    with pytest.raises(NovaSettingError, match="'epochs' is not name=value"):
        parse_hyperparameters("learning_rate=0.0001,epochs")


def test_base_models_map_to_their_fine_tunable_variant():
    assert fine_tunable_model("amazon.nova-pro-v1:0")[0] == "amazon.nova-pro-v1:0:300k"
    assert fine_tunable_model("amazon.nova-micro-v1:0:128k") == ("amazon.nova-micro-v1:0:128k", None)
    with pytest.raises(NovaSettingError, match="not a Nova understanding model"):
        fine_tunable_model("anthropic.claude-3-haiku-20240307-v1:0")


def test_dataset_keys():
    check_dataset_key("multilingual-product-inference/training-data/conversation_format.jsonl")
    with pytest.raises(NovaSettingError):
        check_dataset_key("data/conversation format.jsonl")


def test_invocation_model_id_prefers_the_recorded_deployment(tmp_path):
    from inference.config.model_registry import ModelRegistry

    registry = ModelRegistry(home=tmp_path)
    assert invocation_model_id("amazon.nova-lite-v1:0", registry) == "amazon.nova-lite-v1:0"
    assert invocation_model_id(None, registry) is None
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghijkl"
    registry.update_model_config("llm", {"model_id": "multilingual-product-inference-v1", "deployment_arn": deployment,
                                         "endpoint_name": "multilingual-inference-endpoint"})
    for name in ("multilingual-product-inference-v1", "multilingual-inference-endpoint", None):
        assert invocation_model_id(name, registry) == deployment
    assert invocation_model_id("amazon.nova-lite-v1:0", registry) == "amazon.nova-lite-v1:0"
