"""Words for search: run-together words split apart, and BM25 tokens, in the language a text is written in.

Bad extraction glues words ("respectsyour privacy"); quotes keep the source's own text, but
search sees "respects your privacy" so both the lexical and the dense index can find it.
Other languages keep their text as written, and their tokens follow their writing: Snowball stems for German,
Spanish, French, Portuguese and Italian; for Chinese, Japanese and Korean, which do not put spaces between words
(Korean glues particles to them), every two neighbouring characters, as Lucene's CJK analyzer reads them.
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


def search_text(text: str, lang: str = "en") -> str:
    """The text as search should read it: in English, glued words split where the dictionary is sure."""
    return _WORD.sub(lambda m: _split_word(m.group()), text) if lang == "en" else text


_stemmer = Stemmer.Stemmer("english")
SNOWBALL = {"de": "german", "es": "spanish", "fr": "french", "pt": "portuguese", "it": "italian"}
_CJK = "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD_OR_NUMBER = re.compile(r"[^\W_]+")


def tokenize(text: str, lang: str = "en") -> list[str]:
    """The lexical index's view of a text written in `lang` (ISO 639-1): in English lower-cased, stop words out,
    stemmed; see the module's docstring for the others. In Chinese, Japanese and Korean text, the words in Latin
    letters ("GPS", "Google Analytics") are read as English."""
    if lang in SNOWBALL:
        return _snowball(lang).stemWords(_WORD_OR_NUMBER.findall(text.lower()))
    words = [w for w in _TOKEN.findall(search_text(text).lower()) if w not in STOPWORDS]
    english = _stemmer.stemWords(words)
    if lang == "en":
        return english
    return english + [run[i:i + 2] for run in _CJK_RUN.findall(text) for i in range(max(1, len(run) - 1))]


def query_tokens(text: str, lang: str) -> list[str]:
    """What a question in `lang` searches the lexical index with: its tokens as English (an index mostly holds
    English policies, and questions in other languages name things in English: "cookies", "Google Analytics"), then
    as its own language."""
    english = tokenize(text)
    if lang == "en":
        return english
    seen = set(english)
    return english + [t for t in tokenize(text, lang) if t not in seen]


@lru_cache(maxsize=len(SNOWBALL))
def _snowball(lang: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(SNOWBALL[lang])


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
