from inference.normalize import normalize_name
from inference.records import Record
from inference.tokenization import Tokenizer
from training.preprocessing.ner_spans import Aliases, align_records, find_span, span_lexicon

ALIASES = Aliases(brands={"Colgate": ["คอลเกต"], "Lay's": ["เลย์"]}, categories={"Toothpaste": ["ยาสีฟัน", "toothpaste"]})
TOKENIZER = Tokenizer(["คอลเกต", "เลย์", "ยาสีฟัน"])


def _tags(name, brand, category=None):
    (aligned,) = align_records([Record(name=name, brand=brand, category=category)], ALIASES, TOKENIZER)
    return [(t.text, tag) for t, tag in zip(aligned.tokens, aligned.tags) if tag != "O"]


def test_unspaced_thai_brand_found_through_its_alias():
    assert _tags("ยาสีฟันคอลเกตโททอล 150 กรัม", "Colgate", "Toothpaste") == [
        ("ยาสีฟัน", "B-CATEGORY"), ("คอลเกต", "B-BRAND")]


def test_multi_word_brand_ignoring_case_and_punctuation():
    assert _tags("SPA CLEAN Floor Cleaner 5200ml.", "Spaclean") == [("SPA", "B-BRAND"), ("CLEAN", "I-BRAND")]
    assert _tags("LAYS Classic 75g", "Lay's") == [("LAYS", "B-BRAND")]


def test_brand_inside_another_word_is_not_a_span():
    text = normalize_name("Lonely Planet Guide")
    assert find_span(text, TOKENIZER.tokenize(text), ["ONLY"]) is None


def test_brand_absent_from_the_name_gives_no_span():
    assert _tags("iPhone 15 Pro Max 256GB", "Apple") == []


def test_lexicon_maps_surface_forms_back_to_labels():
    records = [Record(name="ยาสีฟันคอลเกต 150 กรัม", brand="Colgate", category="Toothpaste"),
               Record(name="COLGATE Total 150g", brand="Colgate", category="Toothpaste")]
    aligned = align_records(records, ALIASES, TOKENIZER)
    lexicon = span_lexicon(records, aligned, ALIASES)
    assert lexicon["BRAND"]["คอลเกต"] == "Colgate" and lexicon["BRAND"]["colgate"] == "Colgate"
    assert lexicon["BRAND"]["เลย์"] == "Lay's"  # from the alias table alone
    assert lexicon["CATEGORY"]["ยาสีฟัน"] == "Toothpaste"


def test_likeliest_brand_is_used_when_no_token_is_tagged_brand():
    from inference.agents.ner_crf import likeliest_brand
    from inference.tokenization import Tokenizer

    text = "Greatland Seaweed 45g"
    tokens = Tokenizer([]).tokenize(text)
    marginals = [{"B-BRAND": 0.3, "O": 0.7}, {"I-BRAND": 0.6, "O": 0.4}, {"O": 1.0}]
    found = likeliest_brand(text, tokens[:3], marginals)
    assert (found.text, found.confidence) == ("Greatland Seaweed", 0.3)
    assert likeliest_brand(text, tokens[:3], [{"O": 1.0}] * 3) is None   # too unlikely: no answer
