"""Customer language to policy language: "get rid of my account" also searches "withdraw membership".

The curated list lives in app/data/vocabulary.json (versioned with the package). It widens the
lexical query only; what is quoted is always the policy's own text.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib.resources import files


@lru_cache(maxsize=1)
def _entries() -> list[tuple[re.Pattern, str]]:
    data = json.loads((files("app") / "data" / "vocabulary.json").read_text(encoding="utf-8"))
    entries = []
    for entry in data["entries"]:
        phrases = sorted(entry["customer"], key=len, reverse=True)
        pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b", re.I)
        entries.append((pattern, " ".join(entry["policy"])))
    return entries


def expand(query: str) -> str:
    """The query followed by the policy terms for every customer phrase it uses."""
    extra = [terms for pattern, terms in _entries() if pattern.search(query)]
    return " ".join([query, *extra])
