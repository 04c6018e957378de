"""The one brand comparison: two labels name the same brand when their keys are equal.

Shops write the same brand as "NONG SHIM", "Nongshim", "Lay's" or "LAYS"; comparing keys that
ignore case, spacing and punctuation makes accuracy count those as the same answer.
"""

from __future__ import annotations

import unicodedata


def brand_key(label: str | None) -> str:
    """Case-, space- and punctuation-insensitive key of a brand (or category) label."""
    if not label:
        return ""
    text = unicodedata.normalize("NFKC", label).casefold()
    # Letters, digits and combining marks (Thai vowels and tone marks are marks) are kept.
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNM")


def same_brand(a: str | None, b: str | None) -> bool:
    key_a, key_b = brand_key(a), brand_key(b)
    return bool(key_a) and key_a == key_b
