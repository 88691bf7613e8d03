"""From a question to an Answer: scope, retrieve, pick the sentences that answer, quote, cite, or decline."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from . import search, settings
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Answer, Citation, Clause, Policy
from .store import Index
from .tokens import search_text, tokenize

EXCERPT_CHARS = 400  # a citation is an excerpt a reader takes in at a glance, not a dump
SIBLING_MARGIN = 0.12  # further citations must score within this of the best one
_FOLLOW_UP = re.compile(r"^(and|also|what about|how about|same|what if|then|but|ok|okay|so)\b|^\W*(it|that|this|those|they)\b", re.I)


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of the conversation, as the UI and API pass it back in."""

    question: str
    policy: str | None = None


@lru_cache(maxsize=1)
def calibration() -> dict:
    """The decline threshold and its measured operating point, fitted by `policyqa eval --calibrate`."""
    return json.loads((files("app") / "data" / "calibration.json").read_text(encoding="utf-8"))


def clean_question(question: str) -> str:
    """Validate a question: control and invisible characters out; empty or over-long is an error."""
    if not isinstance(question, str):
        raise PolicyQAError("The question must be text.")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise PolicyQAError("The question is empty; type a question about the policy.")
    limit = settings.get_int("max_question")
    if len(text) > limit:
        raise PolicyQAError(f"The question is {len(text)} characters long; keep it under {limit}.")
    return text


def resolve_policy(index: Index, question: str, policy: str | None, history: list[Turn]) -> str | None:
    """The explicit policy; else the company the question names; else the conversation's policy."""
    if policy:
        if policy not in index.policies:
            known = ", ".join(sorted(index.policies))
            raise PolicyQAError(f"Unknown policy {policy!r}; choose one of: {known}.")
        return policy
    named = search.named_policy(index, question)
    if named:
        return named
    for turn in reversed(history):
        scoped = turn.policy or search.named_policy(index, turn.question)
        if scoped in index.policies:
            return scoped
    return None


def query_text(question: str, history: list[Turn]) -> str:
    """A follow-up ("and for payment records?") is read together with the question before it."""
    if history and (len(question.split()) <= 5 or _FOLLOW_UP.search(question)):
        return f"{history[-1].question} {question}"
    return question


def ask(index: Index, embedder: Embedder, question: str, policy: str | None = None,
        history: list[Turn] | None = None, top_k: int = 3, threshold: float | None = None) -> Answer:
    history = history or []
    question = clean_question(question)
    if top_k < 1 or top_k > 20:
        raise PolicyQAError(f"top_k is {top_k}; choose between 1 and 20.")
    scope = resolve_policy(index, question, policy, history)
    query = search.without_names(index, query_text(question, history))
    hits = search.retrieve(index, embedder, query, scope, k=max(10, top_k * 3))
    threshold = calibration()["threshold"] if threshold is None else threshold
    if not hits or hits[0].score < threshold:
        return decline(index, question, scope)
    chosen = [h for h in hits if h.score >= max(threshold, hits[0].score - SIBLING_MARGIN)][:top_k]
    citations = [
        _cite(index.policies[h.clause.policy], h.clause, excerpt(embedder, query, h.clause), h.score) for h in chosen
    ]
    return Answer(question=question, answered=True, answer=compose(index, citations, scope), citations=citations,
                  policy=scope)


def decline(index: Index, question: str, scope: str | None) -> Answer:
    if scope:
        policy = index.policies[scope]
        text = f"The {policy.title} does not say anything about this."
        if policy.contact:
            text += f" For questions it does not answer, it names this contact: {', '.join(policy.contact)}."
    else:
        text = "None of the policies says anything about this. Pick a policy to see who to contact about it."
    return Answer(question=question, answered=False, answer=text, citations=[], policy=scope)


def compose(index: Index, citations: list[Citation], scope: str | None) -> str:
    """A short text that introduces the quotes and numbers the citations."""
    lines = []
    by_policy: dict[str, list[int]] = {}
    for n, citation in enumerate(citations, 1):
        by_policy.setdefault(citation.policy, []).append(n)
    for pid, numbers in by_policy.items():
        title = index.policies[pid].title
        intro = f"The {title} says:" if len(numbers) == 1 else f"The {title} says, in {len(numbers)} places:"
        lines.append(intro)
        lines.extend(f"“{citations[n - 1].quote}” [{n}]" for n in numbers)
    return "\n\n".join(lines)


def _cite(policy: Policy, clause: Clause, span: tuple[int, int], score: float) -> Citation:
    first, last = clause.sentences[span[0]], clause.sentences[span[1] - 1]
    quote = "\n".join(line.strip() for line in policy.text[first.clean_start:last.clean_end].split("\n\n"))
    return Citation(policy=policy.id, title=policy.title, section=clause.section, quote=quote, start=first.start,
                    end=last.end, score=round(score, 4), clause=clause.number,
                    url=policy.source_url)


def excerpt(embedder: Embedder, query: str, clause: Clause) -> tuple[int, int]:
    """The run of sentences [a, b) of `clause` that answers: it starts at the best-matching
    sentence and grows while the clause's answer goes on, within EXCERPT_CHARS."""
    sentences = [clause.text[s.clean_start - clause.clean_start:s.clean_end - clause.clean_start] for s in clause.sentences]
    if len(sentences) == 1:
        return 0, 1
    scores = _sentence_scores(embedder, query, sentences)
    best = int(np.argmax(scores))
    a, b = best, best + 1
    length = lambda i, j: clause.sentences[j - 1].clean_end - clause.sentences[i].clean_start  # noqa: E731
    while b < len(sentences) and length(a, b + 1) <= EXCERPT_CHARS and _continues(sentences, scores, a, b):
        b += 1
    if a > 0 and sentences[a - 1].rstrip().endswith(":") and length(a - 1, b) <= EXCERPT_CHARS:
        a -= 1  # keep a lead-in with the item it introduces
    return a, b


def _continues(sentences: list[str], scores: np.ndarray, a: int, b: int) -> bool:
    """Does sentence b carry on the answer of sentences[a:b]?"""
    previous, following = sentences[b - 1].rstrip(), sentences[b]
    if previous.endswith(":") or len(previous) < 60:
        return True  # a lead-in or a label ("Records of payment ...") wants what follows
    if re.match(r"^[^:.;]{2,50}:\s*\S", following) and len(following) <= 120:
        return True  # "Retention period: 5 years"
    if re.match(r"^(However|But|Except|Unless|In this case|In that case|Therefore|This|These|Such)\b", following):
        return True
    return bool(scores[b] >= scores[a:b].max() - 0.05)


def _sentence_scores(embedder: Embedder, query: str, sentences: list[str]) -> np.ndarray:
    vectors = embedder.encode([search_text(query)] + [search_text(s) for s in sentences])
    dense = vectors[1:] @ vectors[0]
    query_terms = set(tokenize(query))
    overlap = np.array([len(query_terms & set(tokenize(s))) / (len(query_terms) or 1) for s in sentences])
    return dense + 0.2 * overlap
