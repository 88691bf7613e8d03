"""Text people type (questions, comments) as the engine reads it, stores it and shows it."""

from __future__ import annotations

import unicodedata


def plain(text: str) -> str:
    """Control characters, lone surrogates and line breaks become spaces, invisible formatting (zero-width,
    bidi overrides, BOM) goes, so "coo\u200bkies" stays one word; runs of white space become one space."""
    kept = []
    for ch in text:
        kind = unicodedata.category(ch)
        if kind != "Cf":
            kept.append(" " if kind in ("Cc", "Cs", "Zl", "Zp") else ch)
    return " ".join("".join(kept).split())
