"""Measure answer quality: the project's gold set over the seed corpus, PolicyQA dev and the team's
questions over current policies, against a plain baseline (120-word windows, the same model, exact
search, top-3 windows cited whole). With the bench data at hand, everything fitted is held out of the
policies it is scored on."""

from __future__ import annotations

import hashlib
import html
import json
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import faiss
import numpy as np

from . import (adapter, answer, calibration, documents, excerpts, languages, quotes, reader, search, settings, store,
               topics, vectors as vector_index)
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Answer, Citation, Clause

READ_CHARS = 400  # a citation is read for at most this many characters
CANDIDATES = 50  # recall is measured over this many retrieved clauses (and as many baseline windows)
# HTML tags and comments, Markdown link targets (inline and by reference), footnote marks, list dashes (at a line's
# start, or after a space or a tag: a table cell's list follows <br>; not a hyphen broken at a line's end), and marks
_MARKUP = re.compile(r"<!--.*?-->|<[^<>]*>|\]" + documents.LINK_TARGET + r"|\]\[[^\]]*\]|\[\^[^\]\s]+\]:?"
                     r"|(?m:(?:^|(?<=[\s>]))-[ \t]+)"
                     r"|[\s*_#|\\\[\]>`]")


def verbatim(quote: str, source: str) -> bool:
    """Is `quote` the source's own words between its offsets, markup, character references and white space aside?"""
    return _MARKUP.sub("", quote) == _MARKUP.sub("", html.unescape(_MARKUP.sub("", documents.MARKUP_BRACES.sub("", source))))


def quoted_verbatim(citation: Citation, source: str) -> bool:
    """Is each piece of the citation's quote `source`'s own words at its offsets, the pieces joined by the gap mark?"""
    return verbatim(citation.quote, quotes.MARK.join(source[a:b] for a, b in citation.pieces))


# ---------------------------------------------------------------- the gold set


@dataclass(frozen=True)
class GoldCase:
    id: str
    question: str
    policy: str | None
    expected_policy: str
    anchor: str | None  # a verbatim phrase of the answering passage; None when the policy does not answer
    at: int | None = None  # or, instead of an anchor, a source offset inside the answering passage
    lang: str | None = None  # the language it is asked in, when the set says


def load_gold(path: Path | None = None) -> list[GoldCase]:
    text = path.read_text(encoding="utf-8") if path else (files("app") / "data" / "gold.jsonl").read_text(encoding="utf-8")
    cases = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
                cases.append(GoldCase(row["id"], row["question"], row.get("policy"), row["expected_policy"],
                                      row.get("anchor"), lang=row.get("lang")))
            except (ValueError, KeyError) as exc:
                raise PolicyQAError(f"{path or 'gold.jsonl'} line {n} is not a gold case ({exc}); fix or remove it.") from None
    return cases


def feedback_cases(ratings: list[dict]) -> tuple[list[GoldCase], int]:
    """Thumbs up become cases: an approved answer must find its passage again, an approved decline
    must decline again. Thumbs down do not say what the right answer is: they are counted, for a
    person to turn into gold cases (`policyqa report` lists them)."""
    cases, down = [], 0
    for n, rating in enumerate(ratings):
        if rating["rating"] < 0:
            down += 1
        elif rating["answered"] and rating["citations"]:
            first = rating["citations"][0]
            cases.append(GoldCase(f"feedback-{n}", rating["question"], rating["policy"], first["policy"],
                                  first["quote"][:60], at=first["start"]))
        elif not rating["answered"] and rating["policy"]:
            cases.append(GoldCase(f"feedback-{n}", rating["question"], rating["policy"], rating["policy"], None))
    return cases, down


@dataclass
class CaseResult:
    case: GoldCase
    top_score: float  # the first hit's probability that it answers: what the decline threshold is compared with
    rank: int | None  # 1-based rank of the first retrieved clause holding the anchor
    answer: Answer
    found: answer.Assessment | None = None  # what retrieval found


@dataclass(frozen=True)
class HeldOut:
    """What questions about some policies are asked with when they are held out: the query adapter, the ranking
    weights, the excerpt model and the reader fitted without them (app/training.py)."""

    adapter: adapter.Adapter | None = None
    ranking: dict[str, float] | None = None  # None: the shipped weights
    excerpts: excerpts.Model | None = None  # None: the shipped model
    reader: reader.Reader | None = None  # None: the shipped reader (fitted on no seed or current policy)

    @contextmanager
    def using(self) -> Iterator[None]:
        with (adapter.using(self.adapter), calibration.using(**({"ranking": self.ranking} if self.ranking else {})),
              excerpts.using(self.excerpts) if self.excerpts else nullcontext(),
              reader.using(self.reader) if self.reader else nullcontext()):
            yield


def run_gold(index: store.Index, embedder: Embedder, cases: list[GoldCase], threshold: float,
             fitted: dict[str, HeldOut] | None = None) -> list[CaseResult]:
    """Ask every case; with `fitted`, each case with what was fitted without its policy."""
    results = []
    for case in cases:
        with fitted[case.expected_policy].using() if fitted else nullcontext():
            found = answer.assess(index, embedder, case.question, policy=case.policy)
        result = answer.respond(index, found, top_k=3, threshold=threshold)
        rank = None
        if case.anchor:
            rank = next((i for i, h in enumerate(found.hits, 1)
                         if holds(h.clause.policy, h.clause.start, h.clause.end, case)), None)
        results.append(CaseResult(case, found.probability, rank, result, found))
    return results


def holds(policy: str, start: int, end: int, case: GoldCase) -> bool:
    if policy != case.expected_policy:
        return False
    at = anchor_offset(case)
    return at is not None and start <= at < end


def anchor_offset(case: GoldCase, corpus: Path | None = None) -> int | None:
    if case.at is not None:
        return case.at
    if not case.anchor:
        return None
    at = _source(case.expected_policy, corpus).find(case.anchor)
    return at if at >= 0 else None


def anchored(cases: list[GoldCase], corpus: Path) -> list[GoldCase]:
    """`cases` with their anchors found in `corpus` once (for a corpus other than the configured one)."""
    return [replace(c, at=anchor_offset(c, corpus)) if c.anchor else c for c in cases]


def _source(policy: str, corpus: Path | None = None) -> str:
    return _source_in(corpus or settings.path("corpus"), policy)


@lru_cache(maxsize=None)
def _source_in(corpus: Path, policy: str) -> str:
    for path in documents.corpus_files(corpus):
        if documents.policy_id(path) == policy:
            return documents.read_source(path)
    raise PolicyQAError(f"The evaluation names policy {policy!r}, which is not in {corpus}; index the seed corpus.")


def gold_metrics(index: store.Index, results: list[CaseResult], corpus: Path | None = None) -> dict:
    answerable = [r for r in results if r.case.anchor]
    unanswerable = [r for r in results if not r.case.anchor]
    cited = lambda r, k: any(holds(c.policy, *_clause_span(index, c), r.case) for c in r.answer.citations[:k])  # noqa: E731
    # quoted: the excerpt itself holds the answer, not only its clause
    quoted = lambda r: any(holds(c.policy, c.start, c.end, r.case) for c in r.answer.citations[:3])  # noqa: E731
    declined = [r for r in results if not r.answer.answered]
    quotes = [(c, r) for r in results for c in r.answer.citations]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": _share(sum(cited(r, 1) for r in answerable), len(answerable)),
        "hit@3": _share(sum(cited(r, 3) for r in answerable), len(answerable)),
        "quoted@3": _share(sum(quoted(r) for r in answerable), len(answerable)),
        "retrieval_hit@3": _share(sum(1 for r in answerable if r.rank and r.rank <= 3), len(answerable)),
        "mrr": round(sum(1 / r.rank for r in answerable if r.rank) / max(len(answerable), 1), 4),
        "decline_precision": _share(sum(1 for r in declined if not r.case.anchor), len(declined)),
        "decline_recall": _share(sum(1 for r in unanswerable if not r.answer.answered), len(unanswerable)),
        "verbatim": _share(sum(quoted_verbatim(c, _source(c.policy, corpus)) for c, _ in quotes), len(quotes)),
        "quotes": len(quotes),
        "median_quote_chars": statistics.median([len(c.quote) for c, _ in quotes]) if quotes else 0,
    }


def _clause_span(index: store.Index, citation) -> tuple[int, int]:
    lo, _ = index.ranges[citation.policy]
    clause = index.clauses[lo + citation.clause]
    return clause.start, clause.end


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# ---------------------------------------------------------------- calibration


def asked(found: answer.Assessment, right: Callable[[Clause], bool], answerable: bool, group: str
          ) -> calibration.Asked | None:
    """What the calibration fits read of a question (calibration.Asked): `right` says whether a clause answers it."""
    if not found.hits:
        return None
    return calibration.Asked(np.array([[h.plain, h.topic, h.coverage] for h in found.hits]),
                             np.array([h.score for h in found.hits]),
                             np.column_stack([found.hit_signals[name] for name in calibration.HIT_SIGNALS]),
                             np.array([right(h.clause) for h in found.hits]), found.question_signals, answerable, group)


def gold_asked(results: list[CaseResult]) -> list[calibration.Asked]:
    """`asked` of each gold question, as `run_gold` asked it."""
    return [a for r in results
            if (a := asked(r.found, lambda c, case=r.case: holds(c.policy, c.start, c.end, case), bool(r.case.anchor),
                           "gold"))]


@dataclass(frozen=True)
class Outcome:
    """What the decline threshold reads of a question: the probability of the clause its answer puts first, whether
    its policy answers it and whether an answering clause is among the top 3."""

    probability: float
    answerable: bool
    found: bool


def gold_outcomes(results: list[CaseResult]) -> list[Outcome]:
    return [Outcome(r.top_score, bool(r.case.anchor), bool(r.rank and r.rank <= 3)) for r in results]


def decline_curve(outcomes: list[Outcome], thresholds: list[float]) -> list[dict]:
    """For each threshold: decline precision/recall and the share of answerable questions kept."""
    rows = []
    unanswerable = [o for o in outcomes if not o.answerable]
    answerable = [o for o in outcomes if o.answerable]
    for t in thresholds:
        declined = [o for o in outcomes if o.probability < t]
        rows.append({
            "threshold": round(t, 3),
            "decline_precision": _share(sum(1 for o in declined if not o.answerable), len(declined)),
            "decline_recall": _share(sum(1 for o in unanswerable if o.probability < t), len(unanswerable)),
            "answered_correct": _share(sum(1 for o in answerable if o.probability >= t and o.found), len(answerable)),
        })
    return rows


def threshold_grid(outcomes: list[Outcome], points: int = 25) -> list[float]:
    """Thresholds spread over the probabilities the questions actually got."""
    scores = [o.probability for o in outcomes if np.isfinite(o.probability)]
    return [round(float(t), 3) for t in np.linspace(min(scores), max(scores), points)] if scores else []


def fit_threshold(outcomes: list[Outcome]) -> float:
    """The threshold that gets most questions right: answerable ones answered with the right clause
    in the top 3, unanswerable ones declined. Ties go to the middle of the best interval."""
    scores = sorted({round(o.probability, 4) for o in outcomes})
    candidates = [(a + b) / 2 for a, b in zip(scores, scores[1:])] or [0.0]
    def right(t: float) -> int:
        return sum((o.probability < t) if not o.answerable else (o.probability >= t and o.found) for o in outcomes)
    best = max(right(t) for t in candidates)
    winners = [t for t in candidates if right(t) == best]
    return round(winners[len(winners) // 2], 4)


def cross_validated(outcomes: list[Outcome]) -> dict:
    """Fit on one half, measure on the other, both ways: decline figures on questions the fit never saw."""
    folds = [outcomes[0::2], outcomes[1::2]]
    measured = []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        t = fit_threshold(train)
        measured.append(decline_curve(test, [t])[0])
    return {key: round(statistics.mean(m[key] for m in measured), 4) for key in measured[0] if key != "threshold"} | {
        "thresholds": [m["threshold"] for m in measured]}


# ---------------------------------------------------------------- PolicyQA dev


@dataclass(frozen=True)
class BenchQuestion:
    policy: str
    question: str
    spans: tuple[tuple[int, int], ...]  # gold answer spans, offsets into the rebuilt document
    segments: tuple[tuple[int, int], ...]  # gold segments


def bench_corpus(bench_file: Path, corpus_dir: Path) -> list[BenchQuestion]:
    """Rebuild each PolicyQA policy as one document (segments in order, blank line between) and
    collect its distinct questions with every gold span and segment."""
    try:
        data = json.loads(bench_file.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError):
        raise PolicyQAError(f"{bench_file} is not PolicyQA's SQuAD-style JSON; point --bench at policyqa_dev.json.") from None
    corpus_dir.mkdir(parents=True, exist_ok=True)
    questions: dict[tuple[str, str], tuple[set, set]] = {}
    for policy in data:
        pid = bench_policy_id(policy["title"])
        parts, pos = [], 0
        for para in policy["paragraphs"]:
            context = para["context"]
            for qa in para["qas"]:
                spans, segments = questions.setdefault((pid, qa["question"]), (set(), set()))
                segments.add((pos, pos + len(context)))
                for a in qa["answers"]:
                    spans.add((pos + a["answer_start"], pos + a["answer_start"] + len(a["text"])))
            parts.append(context)
            pos += len(context) + 2
        document = "\n\n".join(parts)
        path = corpus_dir / f"{pid}.txt"
        if not path.exists() or path.read_text(encoding="utf-8") != document:
            path.write_text(document, encoding="utf-8")
    return [BenchQuestion(p, q, tuple(sorted(s)), tuple(sorted(g))) for (p, q), (s, g) in sorted(questions.items())]


def bench_policy_id(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


def held_out_topic_models(bench_dir: Path, work_dir: Path, embedder: Embedder, folds: int = 2
                          ) -> list[tuple[set[str], topics.TopicModel]]:
    """Split the PolicyQA policies into folds; for each, a topic model trained on everything except
    that fold's policies (the shipped model has seen them all, so it would flatter the bench)."""
    data = topics.training_data(bench_dir)
    vectors = _cached_vectors(data[0], work_dir / "topic-training.npz", embedder)
    names = sorted({bench_policy_id(g) for g in data[2] if not g.startswith("privacyqa:") and g != "seeds"})
    held = [set(names[k::folds]) for k in range(folds)]
    return [(fold, _fit_without(data, vectors, lambda g, fold=fold: bench_policy_id(g) in fold)) for fold in held]


def _fit_without(data: tuple[list[str], list[str], list[str]], vectors: np.ndarray, leave_out) -> topics.TopicModel:
    """A topic model trained on the training texts whose group `leave_out` does not claim."""
    _, labels, groups = data
    keep = np.array([not leave_out(g) for g in groups])
    return topics.fit(vectors[keep], [label for label, kept in zip(labels, keep) if kept])


def _cached_vectors(texts: list[str], path: Path, embedder: Embedder) -> np.ndarray:
    """The embeddings of `texts`, kept on disk between runs (keyed by the texts and the model)."""
    key = hashlib.sha256("\n".join([embedder.name, *texts]).encode("utf-8")).hexdigest()
    if path.is_file():
        with np.load(path) as stored:
            if str(stored["key"]) == key:
                return stored["vectors"]
    vectors = embedder.encode(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, key=key, vectors=vectors)
    return vectors


def overlaps(a: int, b: int, spans) -> bool:
    return any(a < e and s < b for s, e in spans)


def _hits(cited: list[tuple[int, int]], q: BenchQuestion) -> tuple[bool, bool]:
    read = [(a, min(b, a + READ_CHARS)) for a, b in cited[:3]]
    return any(overlaps(a, b, q.spans) for a, b in read), any(overlaps(a, b, q.segments) for a, b in read)


@dataclass
class Fold:
    """Some PolicyQA policies, indexed with a topic model trained without them."""

    held: set[str]
    topic_model: topics.TopicModel
    index: store.Index


def policyqa_folds(bench_file: Path, work_dir: Path, embedder: Embedder) -> tuple[list[BenchQuestion], list[Fold]]:
    """PolicyQA's questions, and its policies in two folds, each indexed with a topic model trained without
    it (in `work_dir`)."""
    questions = bench_corpus(bench_file, work_dir / "corpus")
    folds = []
    for k, (held, model_) in enumerate(held_out_topic_models(bench_file.parent, work_dir, embedder)):
        fold = work_dir / f"fold-{k}"
        copy_policies(work_dir / "corpus", fold / "corpus", held)
        with topics.using(model_):
            store.build(fold / "corpus", fold / "index", embedder)
        folds.append(Fold(held, model_, store.load(fold / "index")))
    return questions, folds


def policyqa_asked(questions: list[BenchQuestion], customers: list[BenchQuestion], embedder: Embedder,
                   folds: list[Fold], fitted: list[HeldOut]) -> list[calibration.Asked]:
    """`asked` of PolicyQA's questions and the team's customer questions over the same policies, each asked with
    the topic model, adapter and ranking fitted without its policy."""
    spans = [(q, "policyqa") for q in questions] + [(q, "customers") for q in customers]
    found = []
    for fold in held_out(folds, fitted):
        for q, group in spans:
            if q.policy in fold.held:
                found.append(asked(answer.assess(fold.index, embedder, q.question, policy=q.policy),
                                   lambda c, q=q: overlaps(c.start, c.end, q.spans), bool(q.spans), group))
    return [a for a in found if a]


def held_out(folds: list[Fold], fitted: list[HeldOut]) -> Iterator[Fold]:
    """Each fold in turn, while questions are asked with its topic model, adapter and ranking (fitted without it)."""
    for fold, without in zip(folds, fitted):
        with topics.using(fold.topic_model), without.using():
            yield fold


def customer_questions(corpus_dir: Path) -> list[BenchQuestion]:
    """The team's customer questions over PolicyQA's policies (app/data/policyqa_customers.jsonl), written the way
    customers ask: the answerable ones with the span of their anchor in `corpus_dir` (bench_corpus's documents), the
    others with none. Questions about policies, or anchors, that `corpus_dir` lacks (a smaller bench) are left out."""
    present = {documents.policy_id(path) for path in documents.corpus_files(corpus_dir)}
    cases = anchored([c for c in load_gold(data_file("policyqa_customers.jsonl")) if c.policy in present], corpus_dir)
    return [BenchQuestion(c.policy, c.question, spans, spans) for c in cases if not c.anchor or c.at is not None
            for spans in [((c.at, c.at + len(c.anchor)),) if c.anchor else ()]]


def run_bench(questions: list[BenchQuestion], customers: list[BenchQuestion], work_dir: Path, embedder: Embedder,
              folds: list[Fold], fitted: list[HeldOut], threshold: float, limit: int | None = None, progress=None
              ) -> dict:
    """Each fold's questions asked with its topic model, adapter and ranking, all fitted without its policies; and
    the team's customer questions over the same policies (`customer_questions`), answerable and not."""
    unanswerable = [q for q in customers if not q.spans]
    refused, customer_hits = 0, []
    if limit:
        questions = questions[::max(1, len(questions) // limit)][:limit]
    baseline = _Baseline(work_dir / "corpus", embedder)
    ours, answered, base, declined, recalled, base_recalled, pooled, pool_sizes = [], [], [], 0, 0, 0, 0, []
    seconds = 0.0
    for fold in held_out(folds, fitted):
        started = time.monotonic()
        for q in (q for q in questions if q.policy in fold.held):
            found = answer.assess(fold.index, embedder, q.question, policy=q.policy)
            every = answer.respond(fold.index, found, top_k=3, threshold=float("-inf"))
            shipped = answer.respond(fold.index, found, top_k=3, threshold=threshold)
            declined += not shipped.answered
            windows = baseline.cite(q.question, q.policy, CANDIDATES)  # exact search: its top 3 are the cited ones
            ours.append(_hits([(c.start, c.end) for c in every.citations], q))
            answered.append(_hits([(c.start, c.end) for c in shipped.citations], q))
            base.append(_hits(windows, q))
            # every clause the ranking scores, and the 50 it ranks first (as search.retrieve would return them)
            pool = search.candidates(fold.index, found.query, found.vector, q.policy, CANDIDATES)
            answers = [overlaps(fold.index.clauses[r].start, fold.index.clauses[r].end, q.spans) for r in pool.rows] if pool else []
            top = pool.best(calibration.fitted()["ranking"], CANDIDATES)[1] if pool else []
            pool_sizes.append(len(answers))
            pooled += any(answers)
            recalled += any(answers[i] for i in top)
            base_recalled += any(overlaps(a, b, q.spans) for a, b in windows)
            if progress:
                progress("questions", len(ours), len(questions))
        seconds += time.monotonic() - started
        for q in (q for q in customers if q.policy in fold.held):
            shipped = answer.respond(fold.index, answer.assess(fold.index, embedder, q.question, policy=q.policy),
                                     top_k=3, threshold=threshold)
            if q.spans:
                customer_hits.append(_hits([(c.start, c.end) for c in shipped.citations], q) + (not shipped.answered,))
            else:
                refused += not shipped.answered
    (span, seg), (every_span, every_seg), (base_span, base_seg) = _rates(answered), _rates(ours), _rates(base)
    ratio = lambda ours, theirs: round(ours / theirs, 3) if theirs else None  # noqa: E731
    return {
        "questions": len(questions),
        # as a user gets them: a declined question is a miss, and an answer cites what the shipped rules cite
        "span_hit@3": span, "seg_hit@3": seg,
        "baseline_span_hit@3": base_span, "baseline_seg_hit@3": base_seg,
        "span_ratio": ratio(span, base_span), "seg_ratio": ratio(seg, base_seg),
        # the ranking alone: every question answered, its top 3 clauses cited
        "every_span_hit@3": every_span, "every_seg_hit@3": every_seg,
        "every_span_ratio": ratio(every_span, base_span), "every_seg_ratio": ratio(every_seg, base_seg),
        "recall@50": _share(recalled, len(ours)), "baseline_recall@50": _share(base_recalled, len(ours)),
        # every clause the ranking scores (a short policy's all; a long one's nearest and best by BM25)
        "candidate_recall": _share(pooled, len(ours)), "candidates_median": float(np.median(pool_sizes or [0])),
        "declined": _share(declined, len(ours)),  # every PolicyQA question is answerable: these would be wrongly declined
        "unanswerable": len(unanswerable),
        "unanswerable_declined": _share(refused, len(unanswerable)),
        "customer_answerable": len(customer_hits),
        "customer_hit@3": _share(sum(span for span, _, _ in customer_hits), len(customer_hits)),
        "customer_declined": _share(sum(declined for _, _, declined in customer_hits), len(customer_hits)),
        "seconds": round(seconds, 1),
    }


def _rates(hits: list[tuple[bool, bool]]) -> tuple[float, float]:
    """The shares of (span hit, segment hit) pairs that hit."""
    return _share(sum(span for span, _ in hits), len(hits)), _share(sum(seg for _, seg in hits), len(hits))


def data_file(name: str) -> Path:
    """A question set shipped in app/data."""
    return Path(str(files("app") / "data" / name))


def held_index(policies_dir: Path, work_dir: Path, embedder: Embedder) -> tuple[Path, store.Index]:
    """The policies of `policies_dir` copied to a corpus in `work_dir` and indexed there: the corpus and its index."""
    corpus = work_dir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in documents.corpus_files(policies_dir):
        if path.stem.lower() != "readme":
            (corpus / path.name).write_bytes(path.read_bytes())
    store.build(corpus, work_dir / "index", embedder)
    return corpus, store.load(work_dir / "index")


def run_modern(policies_dir: Path, work_dir: Path, embedder: Embedder, threshold: float, questions: Path) -> dict:
    """The team's customer `questions` over policies nothing was fitted on (the current policies' modern.jsonl and
    modern_near.jsonl), next to the plain baseline's top-3 windows."""
    corpus, index = held_index(policies_dir, work_dir, embedder)
    cases = anchored(load_gold(questions), corpus)
    figures = gold_metrics(index, run_gold(index, embedder, cases, threshold), corpus)
    baseline = _Baseline(corpus, embedder)
    answerable = [c for c in cases if c.anchor]
    found = sum(any(a <= c.at < b for a, b in baseline.cite(c.question, c.expected_policy)) for c in answerable)
    return figures | {"baseline_hit@3": _share(found, len(answerable))}


def run_languages(policies_dir: Path, translated: Path, work_dir: Path, embedder: Embedder, threshold: float
                  ) -> dict[str, dict]:
    """The never-seen policies' English questions (`policies_dir`/questions.jsonl) and the same questions in other
    languages (`translated`/<lang>.jsonl, the way customers type them there): each language's figures, and how often
    its questions' language is detected."""
    corpus, index = held_index(policies_dir, work_dir, embedder)
    sets = {"en": policies_dir / "questions.jsonl"} | {path.stem: path for path in sorted(translated.glob("*.jsonl"))}
    figures = {}
    for lang, path in sets.items():
        cases = anchored(load_gold(path), corpus)
        results = run_gold(index, embedder, cases, threshold)
        figures[lang] = gold_metrics(index, results, corpus) | {
            "detected": _share(sum(languages.detect(c.question) == lang for c in cases), len(cases))}
    return figures


def run_foreign(policies_dir: Path, work_dir: Path, embedder: Embedder, threshold: float) -> list[dict]:
    """Policies written in other languages (`policies_dir`, with questions.jsonl in several languages): the figures
    of each policy asked in each language, with the policy's language as detected."""
    corpus, index = held_index(policies_dir, work_dir, embedder)
    cases = anchored(load_gold(policies_dir / "questions.jsonl"), corpus)
    groups: dict[tuple[str, str], list[GoldCase]] = {}
    for case in cases:
        groups.setdefault((case.expected_policy, case.lang or languages.detect(case.question)), []).append(case)
    return [{"policy": policy, "policy_lang": index.policies[policy].lang, "lang": lang}
            | gold_metrics(index, run_gold(index, embedder, asked, threshold), corpus)
            for (policy, lang), asked in sorted(groups.items())]


def copy_policies(source: Path, target: Path, policies: set[str]) -> None:
    """`target` holds exactly the files of `policies` from `source` (unchanged files are left alone)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in target.glob("*.txt"):
        if path.stem not in policies:
            path.unlink()
    for pid in policies:
        text = (source / f"{pid}.txt").read_text(encoding="utf-8")
        copy = target / f"{pid}.txt"
        if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- PrivacyQA questions


def run_privacyqa(bench_dir: Path, corpus: Path, work_dir: Path, embedder: Embedder) -> dict:
    """Crowd workers' own questions (PrivacyQA, one OPP-115 label each) against the seed corpus, with a
    topic model that never saw them: how often the question's topic is recognised, and, for topics
    the seed policies cover, how often the top 3 clauses are of that topic (next to plain dense top 3)."""
    data = topics.training_data(bench_dir)
    texts, labels, groups = data
    vectors = _cached_vectors(texts, work_dir / "topic-training.npz", embedder)
    asked = [i for i, g in enumerate(groups) if g.startswith("privacyqa:")]
    model_ = _fit_without(data, vectors, lambda g: g.startswith("privacyqa:"))
    with topics.using(model_):
        store.build(corpus, work_dir / "seed-index", embedder)
        index = store.load(work_dir / "seed-index")
        predicted = model_.labels(vectors[asked])
        covered = {t for cov in index.manifest["topic_coverage"].values()
                   for t, p in zip(topics.NAMES, cov) if p >= topics.COVERED_AT}
        ours, plain = [], []
        for i in asked:
            if labels[i] in covered - {"other"}:
                hits = search.retrieve(index, embedder, texts[i], k=3, vector=vectors[i:i + 1])
                rows = vector_index.search(index.vectors, vectors[i:i + 1], 0, len(index.clauses), 3)
                ours.append(any(h.clause.topic == labels[i] for h in hits))
                plain.append(any(index.clauses[r].topic == labels[i] for r in rows))
    truth = [labels[i] for i in asked]
    return {
        "questions": len(asked),
        "topic_accuracy": _share(sum(p == t for p, t in zip(predicted, truth)), len(truth)),
        "per_topic": {t: _share(sum(p == t for p, y in zip(predicted, truth) if y == t), truth.count(t))
                      for t in sorted(set(truth))},
        "on_covered_topics": len(ours),
        "on_topic@3": _share(sum(ours), len(ours)),
        "baseline_on_topic@3": _share(sum(plain), len(plain)),
    }


class _Baseline:
    """The plain RAG most teams ship: 120-word windows of the raw document, dense exact search,
    the top-3 windows cited whole."""

    WORDS = 120

    def __init__(self, corpus_dir: Path, embedder: Embedder):
        self.embedder = embedder
        self.windows: dict[str, list[tuple[int, int]]] = {}
        self.vectors: dict[str, faiss.IndexFlatIP] = {}
        for path in documents.corpus_files(corpus_dir):
            text = documents.read_source(path)
            words = [m.span() for m in re.finditer(r"\S+", text)]
            spans = [(words[i][0], words[min(i + self.WORDS, len(words)) - 1][1]) for i in range(0, len(words), self.WORDS)]
            flat = faiss.IndexFlatIP(embedder.dims)
            flat.add(embedder.encode([text[a:b] for a, b in spans]))
            self.windows[documents.policy_id(path)], self.vectors[documents.policy_id(path)] = spans, flat

    def cite(self, question: str, policy: str, k: int = 3) -> list[tuple[int, int]]:
        flat = self.vectors[policy]
        _, rows = flat.search(self.embedder.encode([question]), min(k, flat.ntotal))
        return [self.windows[policy][r] for r in rows[0] if r >= 0]
