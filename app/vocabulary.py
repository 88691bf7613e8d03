"""Customer language to policy language: "get rid of my account" also searches "withdraw membership".

The curated list lives in app/data/vocabulary.json (versioned with the package). It widens the
lexical query only; what is quoted is always the policy's own text. Each entry is also a concept
a policy either mentions or not: a question about a concept its policy never names in either
side's words ("what if the company gets bought" of a policy without "merge" or "acquired") is less
likely to be answered by it, however close its nearest clause scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from .tokens import tokenize


@dataclass(frozen=True)
class Entry:
    name: str  # its first customer phrase
    asks: re.Pattern  # any of its customer phrases in a question
    terms: str  # the policy terms a question is expanded with
    phrases: frozenset[tuple[str, ...]]  # its customer and policy phrases as tokens: what mentioning it means


@lru_cache(maxsize=1)
def _entries() -> list[Entry]:
    data = json.loads((files("app") / "data" / "vocabulary.json").read_text(encoding="utf-8"))
    found = []
    for entry in data["entries"]:
        customer = sorted(entry["customer"], key=len, reverse=True)
        asks = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in customer) + r")\b", re.I)
        phrases = frozenset(t for p in customer + entry["policy"] if (t := tuple(tokenize(p))))
        found.append(Entry(entry["customer"][0], asks, " ".join(entry["policy"]), phrases))
    return found


def expand(query: str) -> str:
    """The query followed by the policy terms for every customer phrase it uses."""
    return " ".join([query, *(entry.terms for entry in _asked(query))])


def unmentioned(query: str, text: str) -> list[str]:
    """The concepts the query asks about that `text` names nowhere, in customer or policy words."""
    said = _phrases(text)
    return [entry.name for entry in _asked(query) if not entry.phrases & said]


def _asked(query: str) -> list[Entry]:
    """The entries whose customer phrases the query uses."""
    return [entry for entry in _entries() if entry.asks.search(query)]


@lru_cache(maxsize=256)  # keyed by a policy's text: a str caches its hash, so a repeat lookup is cheap
def _phrases(text: str) -> frozenset[tuple[str, ...]]:
    tokens = tokenize(text)
    longest = max(len(phrase) for entry in _entries() for phrase in entry.phrases)
    return frozenset(tuple(tokens[i:i + n]) for n in range(1, longest + 1) for i in range(len(tokens) - n + 1))
