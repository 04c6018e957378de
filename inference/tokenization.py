"""Word tokens with character offsets, for names that mix Thai and Latin script.

Thai is written without spaces between words ("ยาสีฟันคอลเกต"), so Thai runs are cut with
PyThaiNLP's dictionary tokenizer (newmm), extended with the brand and category words of the
catalogue so that a brand is one token; Latin words, numbers and sizes ("Lay's", "1.5L",
"8/128GB") are kept whole.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable

from inference.config.settings import resolve_home

# PyThaiNLP writes a data folder into the user's home on import unless told otherwise.
os.environ.setdefault("PYTHAINLP_DATA", str(resolve_home() / "pythainlp-data"))

_RUNS = re.compile(
    r"(?P<latin>[A-Za-z0-9\u00c0-\u024f]+(?:['\u2019.&/\-][A-Za-z0-9\u00c0-\u024f]+)*)"
    r"|(?P<thai>[\u0e00-\u0e7f]+)"
    r"|(?P<other>\S)"
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    script: str  # "latin", "thai" or "other"


class Tokenizer:
    """Splits a normalised name into tokens; `extra_words` join PyThaiNLP's Thai dictionary."""

    def __init__(self, extra_words: Iterable[str] = ()):
        from pythainlp.corpus import thai_words
        from pythainlp.util import dict_trie

        self.extra_words = sorted({w for w in extra_words if w and re.fullmatch("[\u0e00-\u0e7f]+", w)})
        self._trie = dict_trie(set(thai_words()) | set(self.extra_words))

    def tokenize(self, text: str) -> list[Token]:
        from pythainlp.tokenize import word_tokenize

        tokens: list[Token] = []
        for match in _RUNS.finditer(text):
            kind = match.lastgroup
            if kind != "thai":
                tokens.append(Token(match.group(), match.start(), match.end(), "latin" if kind == "latin" else "other"))
                continue
            offset = match.start()
            for word in word_tokenize(match.group(), custom_dict=self._trie, engine="newmm", keep_whitespace=False):
                tokens.append(Token(word, offset, offset + len(word), "thai"))
                offset += len(word)
        return tokens
