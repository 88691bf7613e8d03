"""The particular things a question names (a vendor, a product, a cookie: "hotjar", "_ga", "wordpress.com") and
whether a clause mentions them. A clause that does not mention what the question names is about something else,
however near it scores: "does github use hotjar cookies?" is not answered by another vendor's cookie row.

A word is a name when it is written like an identifier (a letter with a digit, an underscore, a dot inside: "2fa",
"_clck", "username.github.io") or when English does not know it, nor any word one typing slip away ("hotjar" is a
name, "acount" a slip for "account"). Only English questions are read: in another language most words are not
English ones. How much an unmentioned name weighs is fitted (calibration.fit_clauses).
"""

from __future__ import annotations

import re
import string

from . import languages
from .tokens import STOPWORDS, is_word

_WORD = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_IDENTIFIER = re.compile(r"_|\.|[a-z].*\d|\d.*[a-z]", re.I)
_NUMBER = re.compile(r"[\d.]+")


def named(question: str) -> tuple[str, ...]:
    """The names an English `question` uses, lower-cased, each once, in order; none in another language."""
    if languages.detect(question) != "en":
        return ()
    found = [word.lower() for word in _WORD.findall(question) if _is_name(word)]
    return tuple(dict.fromkeys(found))


def unnamed(names: tuple[str, ...], text: str) -> float:
    """The share of `names` that `text` does not mention (0 when there are none)."""
    if not names:
        return 0.0
    lower = text.lower()
    return sum(not re.search(rf"(?<![a-z0-9_]){re.escape(name)}", lower) for name in names) / len(names)


def _is_name(word: str) -> bool:
    if _NUMBER.fullmatch(word):
        return False
    if _IDENTIFIER.search(word):
        return True
    lower = word.lower()
    return len(lower) > 2 and lower not in STOPWORDS and not is_word(lower) and not any(map(is_word, _slips(lower)))


def _slips(word: str) -> set[str]:
    """Every word one typing slip from `word`: a letter left out, doubled, swapped with the next, or mistyped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b} | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in string.ascii_lowercase}
            | {a + c + b for a, b in splits for c in string.ascii_lowercase})
