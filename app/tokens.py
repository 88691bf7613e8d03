"""Words for search: run-together words split apart, and BM25 tokens.

Bad extraction glues words ("respectsyour privacy"); quotes keep the source's own text, but
search sees "respects your privacy" so both the lexical and the dense index can find it.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib.resources import files

import Stemmer
from symspellpy import SymSpell

_WORD = re.compile(r"[A-Za-z]{7,}")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i if in into is it its me my of on or our so"
    " that the their them then there these they this to us was we what when where which who will with would you your"
    " yours please tell know".split()
)


@lru_cache(maxsize=1)
def _speller() -> SymSpell:
    speller = SymSpell(max_dictionary_edit_distance=0, prefix_length=7)
    dictionary = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    speller.load_dictionary(str(dictionary), term_index=0, count_index=1)
    return speller


@lru_cache(maxsize=65536)
def _split_word(word: str) -> str:
    lower = word.lower()
    words = _speller().words
    if lower in words:
        return word
    parts = _speller().word_segmentation(lower, max_edit_distance=0).corrected_string.split()
    if len(parts) > 1 and all(p in words and (len(p) > 1 or p in "ai") for p in parts):
        return " ".join(parts)
    return word


def is_word(word: str) -> bool:
    """Is `word` an English word (in symspellpy's frequency dictionary)?"""
    return word.lower() in _speller().words


def search_text(text: str) -> str:
    """The text as search should read it: glued words split where the dictionary is sure."""
    return _WORD.sub(lambda m: _split_word(m.group()), text)


_stemmer = Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop words out, stemmed: the lexical index's view of a text."""
    words = [w for w in _TOKEN.findall(search_text(text).lower()) if w not in STOPWORDS]
    return _stemmer.stemWords(words)


@lru_cache(maxsize=1)
def _rarities() -> tuple[dict[str, float], float]:
    """Each stem's rarity, and the rarity of the rarest word."""
    words = _speller().words
    counts: dict[str, int] = {}
    for stem, count in zip(_stemmer.stemWords(list(words)), words.values()):
        counts[stem] = counts.get(stem, 0) + count
    total = sum(counts.values())
    return {stem: math.log(total / count) for stem, count in counts.items()}, math.log(total / min(counts.values()))


def rarity(token: str) -> float:
    """How rare a token of `tokenize` is in English text: -log of its share of the words in symspellpy's
    frequency dictionary (every word with its stem). Fixed, unlike BM25's IDF, which grows with the
    number of clauses indexed. A token the dictionary lacks (a name, a typo) counts as its rarest word."""
    known, rarest = _rarities()
    return known.get(token, rarest)
