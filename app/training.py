"""Fitting the query adapter (app/adapter.py), the excerpt model (app/excerpts.py) and the ranking weights
(app/calibration.py) on questions whose answers are known, and the held-out fits `policyqa eval` scores each policy
with.

Training data:
- PolicyQA dev (../shared/bench/policyqa_dev.json; MIT licence; its policies come from OPP-115, which
  is for non-commercial research use): 20 policies; a clause (or sentence) answers when it overlaps a gold span.
- the gold set over the seed corpus (app/data/gold.jsonl, written by the team, the way customers
  ask): a clause (or sentence) answers when it holds the anchor. Each of these questions counts CUSTOMER_WEIGHT
  times: they are few (115 against 2,420) but worded the way the product is asked.
- the team's customer questions over PolicyQA dev's policies (app/data/policyqa_customers.jsonl: 662 answerable
  with a verbatim anchor, 279 that the policy does not answer): the reader's training data.
- the same customer questions as customers would type them in Korean, Japanese, Chinese, Spanish, German, French,
  Portuguese and Italian (app/data/policyqa_customers_translated.jsonl, 7,528, written by the team: informal, in
  their own words): the map of questions in other languages (app/crosslingual.py) and the reader's multilingual
  student (app/multilingual_reader.py) learn from them.
- for the map, English texts of all of these, PrivacyQA's questions and the labelled customer questions
  (`crosslingual_texts`).

A deployer can add their own questions in the gold set's format (`--gold`) and retrain.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from . import (adapter, answer, calibration, crosslingual, evaluation, excerpts, multilingual_reader, questions,
               reader, search, store, topics)
from .embedder import Embedder
from .tokens import search_text

CUSTOMER_WEIGHT = 10


def policyqa_examples(index: store.Index, embedder: Embedder, questions: list[evaluation.BenchQuestion]
                      ) -> list[adapter.Example]:
    """PolicyQA questions of the policies in `index`: a clause is right when it overlaps a gold span."""
    return _examples(index, embedder, _policyqa_asked(index, questions))


def gold_examples(index: store.Index, embedder: Embedder, cases: list[evaluation.GoldCase]) -> list[adapter.Example]:
    """Answerable gold cases whose policy `index` holds: a clause is right when it holds the anchor."""
    return _examples(index, embedder, _gold_asked(index, cases))


def _policyqa_asked(index: store.Index, questions: list[evaluation.BenchQuestion]) -> list[tuple]:
    """(policy, question, the policy it is asked of, whether a stretch [start, end) of the policy answers it)."""
    return [(q.policy, q.question, q.policy, lambda s, e, q=q: evaluation.overlaps(s, e, q.spans))
            for q in questions if q.policy in index.ranges]


def _gold_asked(index: store.Index, cases: list[evaluation.GoldCase]) -> list[tuple]:
    return [(c.expected_policy, c.question, c.policy, lambda s, e, c=c: evaluation.holds(c.expected_policy, s, e, c))
            for c in cases if c.anchor and c.expected_policy in index.ranges]


def _examples(index: store.Index, embedder: Embedder, asked: list[tuple]) -> list[adapter.Example]:
    vectors = embedder.encode([search_text(question) for _, question, _, _ in asked])
    clauses: dict[str, np.ndarray] = {}  # one matrix per policy, shared by its questions
    found = []
    for (policy, _, _, right), vector in zip(asked, vectors):
        lo, hi = index.ranges[policy]
        if policy not in clauses:
            clauses[policy] = index.vectors.reconstruct_n(lo, hi - lo)
        marks = np.array([right(c.start, c.end) for c in index.clauses[lo:hi]], dtype=bool)
        found.append(adapter.Example(vector, clauses[policy], marks))
    return found


def policyqa_excerpts(index: store.Index, embedder: Embedder, questions: list[evaluation.BenchQuestion]) -> list[tuple]:
    """What `excerpts.fit` reads of PolicyQA's questions: a sentence holds the answer when it overlaps a gold span."""
    return _excerpt_examples(index, embedder, _policyqa_asked(index, questions), 1.0)


def gold_excerpts(index: store.Index, embedder: Embedder, cases: list[evaluation.GoldCase]) -> list[tuple]:
    """What `excerpts.fit` reads of the gold set: a sentence holds the answer when it holds the anchor."""
    return _excerpt_examples(index, embedder, _gold_asked(index, cases), CUSTOMER_WEIGHT)


def _excerpt_examples(index: store.Index, embedder: Embedder, asked: list[tuple], weight: float) -> list[tuple]:
    """For each answering clause of more than one sentence: its sentences' excerpts.FEATURES, which of them
    answer, and the question's weight."""
    found = []
    for policy, question, scope, right in asked:
        _, _, _, query, vector = answer.read_question(index, embedder, question, scope)
        lo, hi = index.ranges[policy]
        for row in range(lo, hi):
            clause = index.clauses[row]
            if right(clause.start, clause.end) and (features := excerpts.features(index, row, query, vector)) is not None:
                found.append((features, np.array([right(s.start, s.end) for s in clause.sentences]), weight))
    return found


def reader_pairs(index: store.Index, embedder: Embedder, questions: list[evaluation.BenchQuestion]) -> list[reader.Pair]:
    """What `reader.fit` reads: each question of a policy in `index` (as searched) with the ten clauses retrieval
    ranks first for it, a clause answering when it overlaps the question's spans (none for an unanswerable one)."""
    pairs = []
    for q in (q for q in questions if q.policy in index.policies):
        found = answer.assess(index, embedder, q.question, policy=q.policy)
        pairs += [(found.query, h.clause.text, evaluation.overlaps(h.clause.start, h.clause.end, q.spans))
                  for h in found.hits]
    return pairs


def gold_reader_pairs(index: store.Index, embedder: Embedder, cases: list[evaluation.GoldCase]) -> list[reader.Pair]:
    """`reader_pairs` of gold-format cases (a deployer's own questions) over the corpus in `index`."""
    questions = []
    for case in (c for c in cases if c.expected_policy in index.policies):
        at = evaluation.anchor_offset(case)
        if not case.anchor or at is not None:
            questions.append(evaluation.BenchQuestion(case.expected_policy, case.question,
                                                      ((at, at + len(case.anchor)),) if case.anchor else (), ()))
    return reader_pairs(index, embedder, questions)


def held_out_readers(folds: list[evaluation.Fold], customers: list[evaluation.BenchQuestion], embedder: Embedder,
                     work: Path, progress=None) -> list[reader.Reader]:
    """One reader per PolicyQA fold, fitted on the customer questions over the other folds' policies (as each fold
    is asked: with its topic model). Each is kept in `work` under a digest of its pairs: the same pairs are not
    fitted twice (a fit takes minutes)."""
    per_fold = []
    for fold in folds:
        with topics.using(fold.topic_model):
            per_fold.append(reader_pairs(fold.index, embedder, customers))
    readers = []
    for k in range(len(folds)):
        pairs = [pair for j, pairs_ in enumerate(per_fold) if j != k for pair in pairs_]
        path = work / f"reader-{hashlib.sha256(json.dumps(pairs).encode('utf-8')).hexdigest()[:16]}.onnx"
        readers.append(reader.Reader(path) if path.is_file() else reader.fit(pairs, path, progress))
    return readers


def fit(policyqa: list[adapter.Example], customer: list[adapter.Example]) -> adapter.Adapter:
    return adapter.fit(policyqa + customer * CUSTOMER_WEIGHT)


def held_out(folds: list[evaluation.Fold], questions: list[evaluation.BenchQuestion], seed_index: store.Index,
             cases: list[evaluation.GoldCase], embedder: Embedder
             ) -> tuple[list[evaluation.HeldOut], dict[str, evaluation.HeldOut], dict[str, float]]:
    """What `policyqa eval` asks each PolicyQA fold and each seed policy with: the adapter, the excerpt model and the
    ranking weights fitted without it. And the ranking weights fitted on every policy, which `--calibrate` ships."""
    fold_adapters, policy_adapters = held_out_adapters(folds, questions, seed_index, cases, embedder)
    fold_excerpts, policy_excerpts = held_out_excerpts(folds, questions, seed_index, cases, embedder)
    asked = ranking_questions(folds, fold_adapters, questions, seed_index, policy_adapters, cases, embedder)

    def ranking(without: str | None) -> dict[str, float]:
        return calibration.fit_ranking([q for group, q in asked if group != without])

    return ([evaluation.HeldOut(fitted, ranking(f"policyqa-{k}"), fold_excerpts[k])
             for k, fitted in enumerate(fold_adapters)],
            {policy: evaluation.HeldOut(fitted, ranking(policy), policy_excerpts[policy])
             for policy, fitted in policy_adapters.items()},
            ranking(None))


def held_out_excerpts(folds: list[evaluation.Fold], questions: list[evaluation.BenchQuestion], seed_index: store.Index,
                      cases: list[evaluation.GoldCase], embedder: Embedder
                      ) -> tuple[list[excerpts.Model], dict[str, excerpts.Model]]:
    """Excerpt models fitted without the policies they are scored on, as `held_out_adapters` fits adapters."""
    policyqa = []
    for fold in folds:
        with topics.using(fold.topic_model):
            policyqa.append(policyqa_excerpts(fold.index, embedder, questions))
    customer = {policy: gold_excerpts(seed_index, embedder, [c for c in cases if c.expected_policy == policy])
                for policy in seed_index.policies}
    every_customer = [e for examples in customer.values() for e in examples]
    per_fold = [excerpts.fit([e for j, examples in enumerate(policyqa) if j != k for e in examples] + every_customer)
                for k in range(len(folds))]
    every_policyqa = [e for examples in policyqa for e in examples]
    per_policy = {policy: excerpts.fit(every_policyqa + [e for other, examples in customer.items() if other != policy
                                                         for e in examples])
                  for policy in seed_index.policies}
    return per_fold, per_policy


def ranking_questions(folds: list[evaluation.Fold], fold_adapters: list[adapter.Adapter],
                      questions: list[evaluation.BenchQuestion], seed_index: store.Index,
                      policy_adapters: dict[str, adapter.Adapter], cases: list[evaluation.GoldCase],
                      embedder: Embedder) -> list[tuple[str, tuple]]:
    """Each question with an answer among its candidates, as `calibration.fit_ranking` reads it, and the group it is
    held out with: PolicyQA's by fold (asked with the fold's topic model and adapter), the gold set's by policy
    (`customer_ranking_questions`)."""
    asked = []
    for k, fold in enumerate(evaluation.held_out(folds, [evaluation.HeldOut(fitted) for fitted in fold_adapters])):
        asked += [(f"policyqa-{k}", _ranking_question(fold.index, embedder, q.question, q.policy, 1.0,
                                                      lambda c, q=q: evaluation.overlaps(c.start, c.end, q.spans)))
                  for q in questions if q.policy in fold.held]
    asked = [(group, question) for group, question in asked if question is not None]
    return asked + customer_ranking_questions(seed_index, cases, embedder, policy_adapters)


def customer_ranking_questions(index: store.Index, cases: list[evaluation.GoldCase], embedder: Embedder,
                               adapters: dict[str, adapter.Adapter] | None = None) -> list[tuple[str, tuple]]:
    """The answerable `cases` with an answer among their candidates, each weighing CUSTOMER_WEIGHT and grouped by
    its policy: asked with its policy's adapter in `adapters`, or the shipped one."""
    asked = []
    for case in (c for c in cases if c.anchor):
        with adapter.using(adapters[case.expected_policy]) if adapters else nullcontext():
            asked.append((case.expected_policy, _ranking_question(
                index, embedder, case.question, case.policy, CUSTOMER_WEIGHT,
                lambda c, case=case: evaluation.holds(c.policy, c.start, c.end, case))))
    return [(group, question) for group, question in asked if question is not None]


def _ranking_question(index: store.Index, embedder: Embedder, question: str, policy: str | None, weight: float,
                      right) -> tuple | None:
    _, _, documents, query, vector = answer.read_question(index, embedder, question, policy)
    found = search.candidates(index, query, vector, documents)
    if found is None:
        return None
    marks = np.array([right(index.clauses[r]) for r in found.rows], dtype=bool)
    return (found.dense, found.signals, marks, weight) if marks.any() else None


def held_out_adapters(folds: list[evaluation.Fold], questions: list[evaluation.BenchQuestion], seed_index: store.Index,
             cases: list[evaluation.GoldCase], embedder: Embedder
             ) -> tuple[list[adapter.Adapter], dict[str, adapter.Adapter]]:
    """Adapters fitted without the policies they are scored on: one per PolicyQA fold (fitted on the other
    folds and every gold case) and one per seed policy (fitted on PolicyQA and the other seed policies)."""
    policyqa = [policyqa_examples(fold.index, embedder, questions) for fold in folds]
    every_customer = gold_examples(seed_index, embedder, cases)
    per_fold = [fit([e for j, examples in enumerate(policyqa) if j != k for e in examples], every_customer)
                for k in range(len(folds))]
    every_policyqa = [e for examples in policyqa for e in examples]
    per_policy = {policy: fit(every_policyqa, gold_examples(seed_index, embedder, [c for c in cases if c.expected_policy != policy]))
                  for policy in seed_index.policies}
    return per_fold, per_policy


def translated_questions() -> list[crosslingual.Translated]:
    """The customer questions over PolicyQA's policies as customers would type them in other languages
    (app/data/policyqa_customers_translated.jsonl: one {"id", "lang", "question"} per line, by the English row's id)."""
    english = {case.id: case for case in evaluation.load_gold(evaluation.data_file("policyqa_customers.jsonl"))}
    with evaluation.data_file("policyqa_customers_translated.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [crosslingual.Translated(english[row["id"]].policy, english[row["id"]].question, row["question"], row["lang"])
            for row in rows]


def student_lessons(index: store.Index, pairs: list[reader.Pair], translated: list[crosslingual.Translated]
                    ) -> list[multilingual_reader.Lesson]:
    """What the reader's multilingual student learns from: each of the reader's `pairs` as it is, and with its
    question as customers would type it in another language (`translated`); both questions searched as a question
    with no history is (answer.read_question: cleaned, company names out), the clause as it is. Questions with no
    translation are learnt in English alone."""
    def searched(question: str) -> str:
        return search.without_names(index, answer.clean_question(question))

    asked: dict[str, list[str]] = {}
    for t in translated:
        asked.setdefault(searched(t.english), []).append(searched(t.question))
    return [(question, clause, original) for original, clause, _ in pairs
            for question in (original, *asked.get(original, ()))]


def crosslingual_texts(bench_dir: Path) -> list[str]:
    """What crosslingual.fit maps, English texts of the policies and questions fitting may read: PolicyQA dev's
    questions and segments, PrivacyQA's questions, the topic seeds (topics.training_data), the labelled customer
    questions (questions.load) and the customer questions over PolicyQA's and the seeds' policies. No question any
    evaluation reports on."""
    texts = topics.training_data(bench_dir)[0] + [q.question for q in questions.load()]
    for name in ("policyqa_customers.jsonl", "gold.jsonl"):
        texts += [case.question for case in evaluation.load_gold(evaluation.data_file(name))]
    return list(dict.fromkeys(text.strip() for text in texts if text.strip()))
