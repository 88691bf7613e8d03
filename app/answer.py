"""From a question to an Answer: scope, retrieve, pick the sentences that answer, quote, cite, or decline."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import (calibration, excerpts, facts, languages, multilingual_reader, phrases, questions, quotes, reader, search,
               settings, topics, versions, vocabulary)
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Answer, Citation, Clause, Policy
from .store import Index
from .text import plain

_FOLLOW_UP = re.compile(r"^(and|also|what about|how about|same|what if|then|but|ok|okay|so)\b|^\W*(it|that|this|those|they)\b", re.I)


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of the conversation, as the UI and API pass it back in."""

    question: str
    policy: str | None = None


def clean_question(question: str) -> str:
    """Validate a question: control and invisible characters out; empty or over-long is an error."""
    if not isinstance(question, str):
        raise PolicyQAError("The question must be text.")
    text = plain(question)
    if not text:
        raise PolicyQAError("The question is empty; type a question about the policy.")
    limit = settings.get_int("max_question")
    if len(text) > limit:
        raise PolicyQAError(f"The question is {len(text)} characters long; keep it under {limit}.")
    return text


def known_policy(index: Index, policy: str) -> str:
    """`policy` when the index holds it, else a one-line error listing the ones it does."""
    if policy not in index.policies:
        raise PolicyQAError(f"Unknown policy {policy!r}; choose one of: {', '.join(sorted(index.policies))}.")
    return policy


def resolve_policy(index: Index, question: str, policy: str | None, history: list[Turn]) -> str | None:
    """The explicit policy; else the company the question names; else the conversation's policy."""
    if policy:
        return known_policy(index, policy)
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


@dataclass
class Assessment:
    """What retrieval found for a question, and how sure it is that the policy answers it."""

    question: str
    scope: str | None
    query: str
    vector: np.ndarray
    hits: list[search.Hit]  # most likely to answer first
    # calibration.QUESTION_SIGNALS: the probability that the question is about a topic its policy never covers
    # (topics.uncovered), whether it asks about a concept its policy never names (vocabulary.unmentioned), the
    # probability that it is a product or support question (questions.Model.product)
    question_signals: dict[str, float]
    # per hit, calibration.HIT_SIGNALS: the probability that it does not state the kind of fact asked for
    # (facts.unstated) and the reader's logit for the question and the clause read together (reader.Reader, or its
    # multilingual student where the question or the clause is not English)
    hit_signals: dict[str, list[float]]
    confidence: float  # the best support, plus the question's signals by their fitted (negative) weights
    probabilities: list[float]  # each hit's probability that it answers (calibration.probabilities), best first
    as_of: str | None = None  # the date whose policy versions answer; None: the latest

    @property
    def probability(self) -> float:
        """The first hit's probability that it answers: what the decline threshold applies to (0 with no hits)."""
        return self.probabilities[0] if self.probabilities else 0.0

    @property
    def product(self) -> bool:
        """Whether the question is more likely a product or support question than one a privacy policy answers."""
        return self.question_signals["product"] > 0.5


def read_question(index: Index, embedder: Embedder, question: str, policy: str | None = None,
                  history: list[Turn] | None = None, as_of: str | None = None
                  ) -> tuple[str, str | None, list[str], str, np.ndarray]:
    """The question cleaned; the policy it is about; the policy versions that answer it; the text searched (company
    names out, a follow-up read with the question before it) and its vector."""
    history = history or []
    question = clean_question(question)
    scope = resolve_policy(index, question, policy, history)
    query = search.without_names(index, query_text(question, history))
    return question, scope, versions.scope(index, scope, as_of), query, search.query_vector(embedder, query)


def assess(index: Index, embedder: Embedder, question: str, policy: str | None = None,
           history: list[Turn] | None = None, k: int = 10, as_of: str | None = None) -> Assessment:
    question, scope, documents, query, vector = read_question(index, embedder, question, policy, history, as_of)
    hits = search.retrieve(index, embedder, query, documents, k=k, vector=vector)
    covered = index.manifest.get("topic_coverage", {}).get(documents[0]) if scope else None
    asked = questions.model()
    # the vocabulary's concepts are named in English: a policy in another language names none of them
    named = scope and index.documents[documents[0]].lang == "en"
    signals = {"absent": topics.uncovered(topics.model().probabilities(vector)[0], covered) if covered else 0.0,
               "unmentioned": float(bool(named and vocabulary.unmentioned(query, index.documents[documents[0]].text))),
               "product": asked.product(vector)}
    per_hit = _hit_signals(index, query, vector, hits)
    confidence = calibration.confidence(max((h.support for h in hits), default=float("-inf")), signals)
    probabilities = calibration.probabilities(confidence, np.array([h.score for h in hits]), per_hit)
    order = np.argsort(-probabilities, kind="stable")  # the fitted probability ranks, not the score alone
    return Assessment(question, scope, query, vector, [hits[i] for i in order], signals,
                      dict(zip(calibration.HIT_SIGNALS, per_hit[order].T.tolist())), confidence,
                      probabilities[order].tolist(), as_of)


def _hit_signals(index: Index, query: str, vector: np.ndarray, hits: list[search.Hit]) -> np.ndarray:
    """calibration.HIT_SIGNALS of each hit, one row per hit. The fact recogniser reads English clauses (of another
    language it reads 0, as if it had not looked); the reader reads an English question with an English clause, and
    its multilingual student every other pair, on the reader's scale."""
    english = np.array([index.documents[h.clause.document].lang == "en" for h in hits], dtype=bool)
    asks = questions.model().asks(vector)
    unstated, reads = np.zeros(len(hits)), np.zeros(len(hits))
    unstated[english] = [facts.unstated(asks, h.clause.text) for h, read in zip(hits, english) if read]
    readable = english & (languages.detect(query) == "en")
    for part, model in ((readable, reader.model()), (~readable, multilingual_reader.model())):
        if model and part.any():
            reads[part] = model.logits(query, [h.clause.text for h, read in zip(hits, part) if read])
    found = {"unstated": unstated, "reads": reads}
    return np.array([found[name] for name in calibration.HIT_SIGNALS], dtype=float).T


def ask(index: Index, embedder: Embedder, question: str, policy: str | None = None,
        history: list[Turn] | None = None, top_k: int = 3, threshold: float | None = None,
        as_of: str | None = None, lang: str | None = None) -> Answer:
    """Quotes that answer `question`, framed in `lang` (ISO 639-1; None: the question's own language)."""
    from . import changes  # here, not above: changes.py quotes with this module's helpers

    if top_k < 1 or top_k > 20:
        raise PolicyQAError(f"top_k is {top_k}; choose between 1 and 20.")
    lang = languages.of(clean_question(question), lang)
    found = assess(index, embedder, question, policy, history, k=max(10, top_k * 3), as_of=as_of)
    return changes.answer(index, embedder, found, top_k) or respond(index, found, top_k, threshold, lang)


def respond(index: Index, found: Assessment, top_k: int = 3, threshold: float | None = None, lang: str = "en"
            ) -> Answer:
    """Quote and cite what the assessment found, or decline when it is not sure enough: both read each hit's
    probability that it answers, against the fitted thresholds (calibration.json's "threshold" and "cite").
    PolicyQA's own words around the quotes are in `lang`."""
    fitted = calibration.fitted()
    threshold = fitted["threshold"] if threshold is None else threshold
    if found.probability < threshold:
        return decline(index, found.question, found.scope, found.as_of, found.probability, found.product, lang)
    ranked = list(zip(found.hits[:top_k], found.probabilities))
    chosen = ranked[:1] + [(h, p) for h, p in ranked[1:] if p >= fitted["cite"]]
    citations = [cite(index.documents[h.clause.document], h.clause, excerpts.span(index, h.row, found.query, found.vector),
                      h.score, p) for h, p in chosen]
    return Answer(question=found.question, answered=True, answer=compose(index, citations, lang),
                  citations=citations, policy=found.scope, as_of=found.as_of, confidence=found.probability, lang=lang)


def decline(index: Index, question: str, scope: str | None, as_of: str | None = None,
            confidence: float | None = None, product: bool = False, lang: str = "en") -> Answer:
    """The plain statement, in `lang`, that the policy does not answer, with the contact it names; a `product`
    question (about prices, accounts, features…) is told that it is one, since the company's support answers those,
    not its policy."""
    said = [phrases.say(lang, "product")] if product else []
    if scope:
        policy = index.policies[scope]
        said.append(phrases.say(lang, "silent", title=policy.title))
        if policy.contact:
            said.append(phrases.say(lang, "contact", contact=", ".join(policy.contact)))
    else:
        said.append(phrases.say(lang, "nowhere"))
    return Answer(question=question, answered=False, answer=phrases.join(lang, said), citations=[], policy=scope,
                  as_of=as_of, confidence=confidence, declined_as="product" if product else "not covered", lang=lang)


def compose(index: Index, citations: list[Citation], lang: str = "en") -> str:
    """A short text, in `lang`, that introduces the quotes (never translated) and numbers the citations."""
    lines = []
    by_policy: dict[str, list[int]] = {}
    for n, citation in enumerate(citations, 1):
        by_policy.setdefault(citation.policy, []).append(n)
    for pid, numbers in by_policy.items():
        title = index.policies[pid].title
        lines.append(phrases.say(lang, "says", title=title) if len(numbers) == 1
                     else phrases.say(lang, "says_in", title=title, count=len(numbers)))
        lines.extend(f"“{citations[n - 1].quote}” [{n}]" for n in numbers)
    return "\n\n".join(lines)


def cite(policy: Policy, clause: Clause, span: tuple[int, int], score: float, probability: float | None = None
         ) -> Citation:
    """Quote sentences [a, b) of `clause` of the policy version `policy`, with offsets into its file: in pieces,
    … between them, where the clause skips words of the page (quotes.py)."""
    pieces = quotes.cut(clause, span)
    return Citation(policy=policy.id, title=policy.title, section=clause.section, quote=quotes.text(policy.text, pieces),
                    start=pieces[0][2], end=pieces[-1][3], pieces=tuple((start, end) for _, _, start, end in pieces),
                    score=round(score, 4), clause=clause.number, url=policy.source_url, version=policy.version,
                    probability=probability, page=policy.page(pieces[0][2]))
