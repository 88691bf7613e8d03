"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused, scoped to a policy when asked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

import numpy as np

from . import adapter, calibration, crosslingual, languages, topics, vectors as vector_index, versions, vocabulary
from .embedder import Embedder
from .records import Clause
from .store import Index
from .tokens import query_tokens, rarity, search_text, tokenize

DENSE_CANDIDATES = 50
# The lexical signal is bm25 / (bm25 + LEXICAL_HALF): 0 to 1, half at a BM25 of 6. Fitted with the ranking's weights
# (3, 6 or 12), the grid chose 12 with the largest lexical weight, and the gold set's held-out hit@3 fell 0.974 -> 0.957
# with PolicyQA level: PolicyQA's many questions pull it their way. So it stays set by hand.
LEXICAL_HALF = 6.0
# What the ranking weighs besides the cosine, each by its fitted weight (calibration.json's "ranking", fitted by
# `policyqa eval --calibrate`): the lexical signal; topic agreement three ways (the clause's label, its whole
# topic distribution, and its best-agreeing sentence: an answer in a clause labelled otherwise, such as a
# password sentence in a "what we collect" clause); and 1 for the clause that opens a section (among sibling
# clauses, which a bi-encoder scores almost alike, the general statement comes first).
RANK_SIGNALS = ("lexical", "label", "whole", "sentence", "lead")


@dataclass(frozen=True)
class Hit:
    clause: Clause
    row: int
    score: float  # the ranking: relevance to the question, topic agreement weighed in
    support: float  # evidence that the clause answers, comparable across questions: the best one is the confidence's
    # (`plain`, plus each of SUPPORT_SIGNALS by its fitted weight)
    dense: float
    plain: float  # the cosine with the question as the model encoded it, not as the adapter moved it
    lexical: float
    topic: float  # the probability that the question is about this clause's topic
    coverage: float  # the share of the question's words, weighed by rarity, that the clause uses


def query_vector(embedder: Embedder, query: str) -> np.ndarray:
    """The query's vector in the embedder's space: a question in another language through crosslingual.py's map,
    when one is fitted for this embedder."""
    lang = languages.detect(query)
    return crosslingual.embed(embedder, [search_text(query, lang)], lang)


def aimed(vector: np.ndarray) -> np.ndarray:
    """The question vector as the dense search uses it: moved by the query adapter (app/adapter.py)."""
    fitted = adapter.model(vector.shape[1])
    return vector if fitted is None else fitted.apply(vector)


def retrieve(index: Index, embedder: Embedder, query: str, policy: str | Sequence[str] | None = None, k: int = 10,
             vector: np.ndarray | None = None) -> list[Hit]:
    """The k best clauses by the fitted ranking (`Candidates.scores`). `policy` is a policy id or document key,
    or a list of document keys; None searches the latest version of every policy."""
    vector = query_vector(embedder, query) if vector is None else vector
    found = candidates(index, query, vector, policy, max(k, DENSE_CANDIDATES))
    if found is None:
        return []
    fitted = calibration.fitted()
    scores, order = found.best(fitted["ranking"], k)
    terms, topic = question_terms(query), found.topic
    hits = []
    for i in order.tolist():
        clause = index.clauses[found.rows[i]]
        document = index.documents[clause.document]
        match = coverage(terms, clause.text, document.title, document.lang)
        support = calibration.support(float(found.plain[i]), float(topic[i]), match, fitted["support"])
        hits.append(Hit(clause, found.rows[i], float(scores[i]), support, float(found.dense[i]),
                        float(found.plain[i]), float(found.lexical[i]), float(topic[i]), match))
    return hits


@dataclass(frozen=True)
class Candidates:
    """The clauses worth ranking for a question, with what the ranking and the support read of each."""

    rows: list[int]  # clause rows, ascending
    dense: np.ndarray  # cosine with the adapted question, the best of the clause's own and its sentences'
    plain: np.ndarray  # the same with the question as the model encoded it: the support reads it
    lexical: np.ndarray  # BM25 of the expanded question
    signals: np.ndarray  # one column per RANK_SIGNALS

    @property
    def topic(self) -> np.ndarray:
        """P(question is about the clause's topic label): the ranking's "label" signal, which the support reads too."""
        return self.signals[:, RANK_SIGNALS.index("label")]

    def scores(self, weights: dict[str, float]) -> np.ndarray:
        """The ranking: the cosine, plus each signal by its weight."""
        return self.dense + self.signals @ np.array([weights[name] for name in RANK_SIGNALS])

    def best(self, weights: dict[str, float], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Every candidate's score, and the indices of the k best, best first (ties keep row order)."""
        scores = self.scores(weights)
        return scores, np.argsort(-scores, kind="stable")[:k]


def candidates(index: Index, query: str, vector: np.ndarray, policy: str | Sequence[str] | None = None,
               depth: int = DENSE_CANDIDATES) -> Candidates | None:
    """The `depth` nearest clauses, the clauses of the 2 x `depth` nearest sentences, and the `depth` best by BM25.
    The dense search reads the adapted question; topics read it as the model encoded it (the topic model was fitted
    on those)."""
    scope = versions.rows(index, policy)
    aim = aimed(vector)
    dense = vector_index.search_spans(index.vectors, aim, scope.clauses, depth)
    for row, cosine in vector_index.search_spans(index.sentence_vectors, aim, scope.sentences, 2 * depth).items():
        clause_row = int(index.sentence_rows[row, 0])
        dense[clause_row] = max(dense.get(clause_row, -1.0), cosine)
    tokens = query_tokens(vocabulary.expand(query), languages.detect(query))
    scores = index.lexical.get_scores(tokens) if tokens else np.zeros(len(index.clauses), dtype=np.float32)
    lexical, in_scope = scope.take(scores), scope.clause_rows()
    if len(in_scope) <= 2 * depth:  # a policy this short is ranked whole, as cheap as its nearest and best by BM25
        rows = [int(r) for r in in_scope]
    else:
        rows = sorted(set(dense) | {int(in_scope[i]) for i in _top(lexical, depth) if lexical[i] > 0})
    if not rows:
        return None
    stored = index.vectors.reconstruct_batch(np.array(rows, dtype=np.int64))
    for r, cosine in zip(rows, (stored @ aim[0]).tolist()):
        dense.setdefault(r, cosine)  # lexical-only candidates still need their cosine
    sentences = _candidate_sentences(index, rows)
    cosines = np.array([dense[r] for r in rows])
    plain = _plain_cosines(stored, sentences, vector) if aim is not vector else cosines
    question_topics = topics.model().probabilities(vector)[0]
    whole, best_sentence = _topic_agreement(stored, sentences, question_topics)
    bm25 = scores[rows].astype(np.float64)
    label = np.array([question_topics[topics.NAMES.index(index.clauses[r].topic)] for r in rows], dtype=np.float64)
    lead = np.array([_opens_section(index, r) for r in rows], dtype=np.float64)
    signals = np.column_stack([bm25 / (bm25 + LEXICAL_HALF), label, whole, best_sentence, lead])
    return Candidates(rows, cosines, np.asarray(plain, dtype=np.float64), bm25, signals)


def question_terms(query: str) -> dict[str, float]:
    """The question's words as tokens of its own language (tokens.tokenize), each with its rarity: what `coverage`
    weighs. A clause in another language uses few of them, and its word match says so: the one word in Latin letters
    of a Korean question ("IP") found in an English clause is not all the question asks."""
    return {term: rarity(term) for term in tokenize(query, languages.detect(query))}


def coverage(terms: dict[str, float], text: str, title: str = "", lang: str = "en") -> float:
    """The share of the question's `terms` (token: rarity) that `text` uses, each weighed by its rarity: the word
    match of the support, weighed by calibration's coverage weight. Not BM25, whose IDF grows with the number of
    clauses indexed: a policy's support, and so its declines, would depend on what else is indexed. The words of
    its policy's `title` are left out: they name the document ("your privacy policy"), not what it says. `lang`: the
    language `text` is written in."""
    named = _title_words(title)
    asked = {term: weight for term, weight in terms.items() if term not in named}
    used = set(tokenize(text, lang))
    whole = sum(asked.values())
    return sum(weight for term, weight in asked.items() if term in used) / whole if whole else 0.0


@lru_cache(maxsize=256)
def _title_words(title: str) -> frozenset[str]:
    """A policy title's tokens, read once per title: `coverage` runs for every hit and every excerpted sentence."""
    return frozenset(tokenize(title))


def _opens_section(index: Index, row: int) -> bool:
    """Whether clause `row` is the first under its heading: where a policy states the rule that the clauses
    after it detail, so the general answer to a general question. Text before any heading opens nothing."""
    clause = index.clauses[row]
    return bool(clause.section) and (clause.number == 0 or index.clauses[row - 1].section != clause.section)


def _plain_cosines(stored: np.ndarray, sentences: _Sentences, vector: np.ndarray) -> np.ndarray:
    """Each candidate's cosine with the question as the model encoded it, the best of its own and its
    sentences'. The decline's support reads these: the adapter was fitted to rank, not to calibrate."""
    best = stored @ vector[0]
    best[sentences.owners] = np.maximum(best[sentences.owners], sentences.best(lambda vectors: vectors @ vector[0]))
    return best


def _topic_agreement(stored: np.ndarray, sentences: _Sentences, question_topics: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, Σ P(question topic) · P(clause topic) over the clause's whole vector, and the
    best of the same over its sentences (the whole clause's, for a clause of one sentence)."""
    model = topics.model()
    whole = model.probabilities(stored) @ question_topics
    best = whole.copy()
    best[sentences.owners] = sentences.best(lambda vectors: model.probabilities(vectors) @ question_topics)
    return whole, best


@dataclass(frozen=True)
class _Sentences:
    """The sentence vectors of the candidate clauses that have them, read from the index once per question."""

    owners: list[int]  # positions among the candidate rows
    vectors: np.ndarray  # every owner's sentence vectors, owner after owner
    starts: np.ndarray  # where each owner's sentences begin in `vectors`

    def best(self, score) -> np.ndarray:
        """Each owner's best `score` (a function of a matrix of sentence vectors, one value per sentence)."""
        if not self.owners:
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(score(self.vectors), self.starts)


def _candidate_sentences(index: Index, rows: list[int]) -> _Sentences:
    owned = [(i, sentences) for i, r in enumerate(rows) if (sentences := _sentence_rows(index, r))]
    if not owned:
        return _Sentences([], np.zeros((0, index.sentence_vectors.d), dtype=np.float32), np.zeros(0, dtype=np.int64))
    ids = np.concatenate([np.arange(sentences.start, sentences.stop) for _, sentences in owned])
    starts = np.cumsum([0] + [len(sentences) for _, sentences in owned[:-1]])
    return _Sentences([i for i, _ in owned], index.sentence_vectors.reconstruct_batch(ids), starts)


def sentence_vectors(index: Index, row: int) -> np.ndarray | None:
    """The stored vectors of clause `row`'s sentences; None for a clause of one sentence (its own vector serves)."""
    sentences = _sentence_rows(index, row)
    return index.sentence_vectors.reconstruct_n(sentences.start, len(sentences)) if sentences else None


def _sentence_rows(index: Index, row: int) -> range:
    """The sentence vector rows of clause `row`: none for a clause of one sentence (its own vector serves)."""
    first = index.first_sentence.get(row)
    return range(0) if first is None else range(first, first + len(index.clauses[row].sentences))


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    if k >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, k - 1)[:k]


# ---------------------------------------------------------------- which policy a question names


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_known_names: dict[Path, dict[str, str]] = {}  # per generation folder; a generation never changes


def aliases(index: Index) -> dict[str, str]:
    """Compact names a customer may use for each policy: its id, company and web site. Built once per
    index generation, not per question: a library of many policies would pay for it every time."""
    known = _known_names.get(index.path)
    if known is None:
        known = _known_names[index.path] = _aliases(index)
        while len(_known_names) > 4:
            _known_names.pop(next(iter(_known_names)))
    return known


def _aliases(index: Index) -> dict[str, str]:
    names: dict[str, set[str]] = {}
    for pid, policy in index.policies.items():
        forms = {pid, policy.company}
        if policy.source_url:
            host = urlparse(policy.source_url).hostname or ""
            parts = [p for p in host.split(".") if p not in ("www", "us", "en", "m")]
            if len(parts) >= 2:
                forms.add(parts[-2])
        for form in forms:
            if len(_compact(form)) >= 3:
                names.setdefault(_compact(form), set()).add(pid)
    return {name: next(iter(pids)) for name, pids in names.items() if len(pids) == 1}


def _mentions(index: Index, question: str) -> list[tuple[str, re.Match, re.Match]]:
    """(policy, first word, last word) for each company name in the question."""
    known = aliases(index)
    words = list(re.finditer(r"[A-Za-z0-9]+", question))
    found = []
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            pid = known.get("".join(w.group().lower() for w in words[i:i + n]))
            if pid:
                found.append((pid, words[i], words[i + n - 1]))
    return found


def named_policy(index: Index, question: str) -> str | None:
    """The one policy whose company the question names ("Does Clozette use cookies?"), if exactly one."""
    found = {pid for pid, _, _ in _mentions(index, question)}
    return found.pop() if len(found) == 1 else None


def without_names(index: Index, question: str) -> str:
    """The question with company names taken out: scoping uses them, matching should not."""
    for _, first, last in sorted(_mentions(index, question), key=lambda m: -m[1].start()):
        question = question[:first.start()] + question[last.end():]
    return " ".join(question.split()) or question
