"""The one normaliser: every name goes through it before any model, index or cache sees it.

Thai text from shops and apps arrives with decomposed vowels (nikhahit + aa instead of sara am),
doubled tone marks, zero-width spaces used as word breaks, and control characters from copy-paste.
"""

from __future__ import annotations

import re
import unicodedata

from inference.config.settings import MAX_NAME_CHARS


class InvalidName(ValueError):
    """A product name that cannot be processed; the message says what is wrong with it."""


_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), " ")
_SPACES = re.compile(r"\s+")
_THAI_DOUBLE_MARK = re.compile("([\u0e48-\u0e4c])\\1+")  # repeated tone marks / thanthakhat
_THAI = re.compile("[\u0e00-\u0e7f]")
_LATIN = re.compile("[A-Za-z]")


def normalize_name(raw: object) -> str:
    """NFKC, Thai fixes, zero-width and control characters out, spaces collapsed; or InvalidName."""
    if raw is None:
        raise InvalidName("name is missing")
    if not isinstance(raw, str):
        raise InvalidName(f"name must be a string, got {type(raw).__name__}")
    text = unicodedata.normalize("NFKC", raw)
    text = text.translate(_ZERO_WIDTH)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = text.replace("\u0e4d\u0e32", "\u0e33")  # nikhahit + sara aa -> sara am (น ํ า -> นำ)
    text = _THAI_DOUBLE_MARK.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise InvalidName("name is empty or blank" if not raw.strip() else "name has no visible characters")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidName(f"name is {len(text)} characters long; the limit is {MAX_NAME_CHARS}")
    return text


def script_of(text: str) -> str:
    """'th' (Thai script only), 'en' (Latin only), 'mixed' (both) or 'other'."""
    thai, latin = bool(_THAI.search(text)), bool(_LATIN.search(text))
    if thai and latin:
        return "mixed"
    if thai:
        return "th"
    return "en" if latin else "other"
