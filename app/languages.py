"""The language a question is asked in: named by the caller, else detected from its text among the languages
PolicyQA frames its answers in (py3langid's bundled model: no download, about a tenth of a millisecond)."""

from __future__ import annotations

from functools import lru_cache

from .errors import PolicyQAError

LANGUAGES = ("en", "ko", "ja", "zh", "es", "de", "fr", "pt", "it")  # ISO 639-1; phrases.py has each one's wording

# Below this probability the detector's guess gives way to English, the policies' language: short English questions
# ("refund??", "controller support?") otherwise read as German or Italian (README, "Questions in other languages").
SURE = 0.6


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True, min_confidence=SURE)
    identifier.set_languages(LANGUAGES)
    return identifier


def detect(text: str) -> str:
    """The language of `text`, one of LANGUAGES; English when the detector is unsure."""
    language, _ = _identifier().classify(text)
    return language if language in LANGUAGES else "en"


def of(question: str, lang: str | None = None) -> str:
    """`lang` when the caller names one (an error unless PolicyQA speaks it), else the question's detected language."""
    return detect(question) if lang is None else named(lang)


def named(lang: object) -> str:
    """The code of a language a caller names (" DE " is "de"): a PolicyQAError unless PolicyQA speaks it."""
    code = lang.strip().lower() if isinstance(lang, str) else lang
    if code not in LANGUAGES:
        raise PolicyQAError(f"Unknown language {lang!r}; choose one of: {', '.join(LANGUAGES)}.")
    return code
