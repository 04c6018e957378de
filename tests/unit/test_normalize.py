import pytest

from inference.brands import brand_key, same_brand
from inference.config.settings import MAX_NAME_CHARS
from inference.normalize import InvalidName, normalize_name, script_of


def test_nfkc_spaces_and_zero_width_are_cleaned():
    assert normalize_name("  Colgate\u200b  Total\t１５０ｇ \n") == "Colgate Total 150g"


def test_control_characters_become_spaces():
    assert normalize_name("Lay's\x00Classic\x07 75g") == "Lay's Classic 75g"


def test_thai_decomposed_sara_am_and_doubled_tone_marks():
    # "น" + nikhahit + sara aa, as some keyboards and PDFs produce it, is "นำ"
    assert normalize_name("\u0e19\u0e4d\u0e32\u0e1b\u0e25\u0e32") == "นำปลา"
    assert normalize_name("น้้ำปลา") == "น้ำปลา"


@pytest.mark.parametrize("raw, message", [
    ("", "empty or blank"),
    ("   \t ", "empty or blank"),
    ("\u200b\u200b", "no visible characters"),
    (None, "missing"),
    (42, "must be a string"),
])
def test_bad_names_are_rejected_with_the_reason(raw, message):
    with pytest.raises(InvalidName, match=message):
        normalize_name(raw)


def test_over_long_name_states_the_limit():
    with pytest.raises(InvalidName, match=f"limit is {MAX_NAME_CHARS}"):
        normalize_name("x" * (MAX_NAME_CHARS + 1))
    assert len(normalize_name("x" * MAX_NAME_CHARS)) == MAX_NAME_CHARS


@pytest.mark.parametrize("text, script", [
    ("ยาสีฟันคอลเกต", "th"), ("iPhone 15 Pro", "en"), ("ยาสีฟัน Wonder smile 80g", "mixed"), ("12345", "other"),
])
def test_script_of(text, script):
    assert script_of(text) == script


def test_brand_comparison_ignores_case_space_and_punctuation_but_keeps_thai_marks():
    assert same_brand("NONG SHIM", "Nongshim")
    assert same_brand("Lay's", "LAYS")
    assert not same_brand("Colgate", "Colgate Total")
    assert not same_brand(None, "")
    assert brand_key("คอลเกต") == "คอลเกต"  # vowel and tone marks are kept
    assert brand_key("ดัชมิลล์") != brand_key("ดชมลล")
