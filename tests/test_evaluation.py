"""The PolicyQA bench on a small slice of the real data: held-out topic models, folds, figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from app import evaluation, topics, training

from conftest import ROOT

BENCH = ROOT.parent / "shared" / "bench"
needs_bench = pytest.mark.skipif(not (BENCH / "policyqa_dev.json").is_file(), reason="../shared/bench is not here")


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory):
    """Four PolicyQA policies (five segments each) and 80 PrivacyQA questions, in the real formats."""
    folder = tmp_path_factory.mktemp("bench")
    data = json.loads((BENCH / "policyqa_dev.json").read_text(encoding="utf-8"))
    data["data"] = [{**p, "paragraphs": p["paragraphs"][:5]} for p in data["data"][:4]]
    (folder / "policyqa_dev.json").write_text(json.dumps(data), encoding="utf-8")
    lines = (BENCH / "privacyqa_questions_train.tsv").read_text(encoding="utf-8").splitlines()[:81]
    (folder / "privacyqa_questions_train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@needs_bench
def test_each_fold_is_measured_with_a_topic_model_that_never_saw_it(small_bench, tmp_path, model):
    folds = evaluation.held_out_topic_models(small_bench, tmp_path, model)
    texts, labels, groups = topics.training_data(small_bench)
    policies = {evaluation.bench_policy_id(g) for g in groups if not g.startswith("privacyqa:") and g != "seeds"}
    held = [h for h, _ in folds]
    assert set().union(*held) == policies and sum(map(len, held)) == len(policies)
    vectors = model.encode(texts)
    for fold, fitted in folds:
        keep = [evaluation.bench_policy_id(g) not in fold for g in groups]
        refit = topics.fit(vectors[keep], [label for label, kept in zip(labels, keep) if kept])
        assert np.allclose(refit.weights, fitted.weights, atol=1e-3)  # trained on exactly the other policies


@needs_bench
def test_bench_reports_both_systems_from_held_out_folds(small_bench, tmp_path, model):
    bench = small_bench / "policyqa_dev.json"
    questions, folds = evaluation.policyqa_folds(bench, tmp_path, model)
    customers = evaluation.customer_questions(tmp_path / "corpus")
    assert customers and {q.policy for q in customers} <= {q.policy for q in questions}
    figures = evaluation.run_bench(questions, customers, tmp_path, model, folds, [evaluation.HeldOut()] * 2, threshold=0.5)
    asked = evaluation.bench_corpus(bench, tmp_path / "corpus")
    assert questions == asked
    assert figures["questions"] == len(asked) > 20
    for key in ("span_hit@3", "seg_hit@3", "every_span_hit@3", "every_seg_hit@3", "baseline_span_hit@3",
                "baseline_seg_hit@3", "declined", "unanswerable_declined", "customer_hit@3", "customer_declined"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["seg_hit@3"] >= figures["span_hit@3"] > 0
    # the 50 best-ranked clauses are among those the ranking scores
    assert figures["candidate_recall"] >= figures["recall@50"] > 0 and figures["candidates_median"] > 0
    # an answer cites some of the top 3 clauses or none: the ranking alone can only do better
    assert figures["every_span_hit@3"] >= figures["span_hit@3"] and figures["every_seg_hit@3"] >= figures["seg_hit@3"]
    fold_files = [{p.stem for p in (tmp_path / f"fold-{k}" / "corpus").glob("*.txt")} for k in (0, 1)]
    assert not fold_files[0] & fold_files[1] and fold_files[0] | fold_files[1] == {q.policy for q in asked}
    assert [f.held for f in folds] == fold_files
    cached = (tmp_path / "topic-training.npz").stat().st_mtime_ns
    again, refolded = evaluation.policyqa_folds(bench, tmp_path, model)
    nothing_declined = evaluation.run_bench(again, customers, tmp_path, model, refolded, [evaluation.HeldOut()] * 2, float("-inf"), limit=5)
    assert (tmp_path / "topic-training.npz").stat().st_mtime_ns == cached  # training texts not embedded again
    assert nothing_declined["declined"] == 0
    assert nothing_declined["span_hit@3"] == nothing_declined["every_span_hit@3"]
    all_declined = evaluation.run_bench(again, customers, tmp_path, model, refolded, [evaluation.HeldOut()] * 2, float("inf"), limit=5)
    assert all_declined["declined"] == 1 and all_declined["span_hit@3"] == all_declined["seg_hit@3"] == 0
    assert all_declined["every_seg_hit@3"] == nothing_declined["every_seg_hit@3"] > 0
    assert all_declined["customer_declined"] == all_declined["unanswerable_declined"] == 1
    assert nothing_declined["customer_declined"] == nothing_declined["unanswerable_declined"] == 0


@needs_bench
def test_held_out_adapters_are_fitted_without_the_policies_they_score(small_bench, tmp_path, model, engine):
    bench = small_bench / "policyqa_dev.json"
    questions, folds = evaluation.policyqa_folds(bench, tmp_path, model)
    cases = evaluation.load_gold()
    per_fold, per_policy = training.held_out_adapters(folds, questions, engine.index, cases, model)
    customer = training.gold_examples(engine.index, model, cases)
    other_fold = training.policyqa_examples(folds[1].index, model, questions)
    assert np.array_equal(per_fold[0].weights, training.fit(other_fold, customer).weights)
    assert set(per_policy) == set(engine.index.policies)
    every_policyqa = [e for fold in folds for e in training.policyqa_examples(fold.index, model, questions)]
    without_leje = training.gold_examples(engine.index, model, [c for c in cases if c.expected_policy != "leje"])
    assert np.array_equal(per_policy["leje"].weights, training.fit(every_policyqa, without_leje).weights)


@needs_bench
def test_held_out_ranking_weights_are_fitted_without_the_policies_they_score(small_bench, tmp_path, model, engine):
    from app import calibration

    questions, folds = evaluation.policyqa_folds(small_bench / "policyqa_dev.json", tmp_path, model)
    cases = evaluation.load_gold()
    per_fold, per_policy, every = training.held_out(folds, questions, engine.index, cases, model)
    fold_adapters, policy_adapters = training.held_out_adapters(folds, questions, engine.index, cases, model)
    asked = training.ranking_questions(folds, fold_adapters, questions, engine.index, policy_adapters, cases, model)
    groups = {group for group, _ in asked}
    assert {"policyqa-0", "policyqa-1"} <= groups and set(engine.index.policies) <= groups
    assert all(right.any() and len(right) == len(dense) == len(signals) for _, (dense, signals, right, _) in asked)
    assert per_fold[1].ranking == calibration.fit_ranking([q for g, q in asked if g != "policyqa-1"])
    assert per_policy["leje"].ranking == calibration.fit_ranking([q for g, q in asked if g != "leje"])
    assert every == calibration.fit_ranking([q for _, q in asked])
    assert np.array_equal(per_fold[0].adapter.weights, fold_adapters[0].weights)


def test_the_ranking_fit_finds_the_weights_that_put_answers_first():
    """Two kinds of question: one whose answer only the word match finds, one whose answer only opening its
    section marks. The fit weighs both enough to rank each answer first, and fits the same weights every time."""
    from app import calibration, search

    def question(column: int) -> tuple:
        signals = np.zeros((3, len(search.RANK_SIGNALS)))
        signals[2, column] = 1.0
        return np.array([0.60, 0.55, 0.50]), signals, np.array([False, False, True]), 1.0

    lexical, lead = search.RANK_SIGNALS.index("lexical"), search.RANK_SIGNALS.index("lead")
    asked = [question(lexical)] * 3 + [question(lead)] * 2
    weights = calibration.fit_ranking(asked)
    assert weights["lexical"] > 0.1 and weights["lead"] > 0.1 and set(weights) == set(search.RANK_SIGNALS)
    for dense, signals, _, _ in asked:
        assert np.argmax(search.Candidates([0, 1, 2], dense, dense, dense, signals).scores(weights)) == 2
    assert calibration.fit_ranking(list(reversed(asked))) == weights


def test_using_a_topic_model_is_undone_afterwards():
    shipped = topics.model()
    other = topics.TopicModel(np.zeros_like(shipped.weights), np.zeros_like(shipped.bias))
    with topics.using(other):
        assert topics.model() is other
    assert topics.model() is shipped


@needs_bench
def test_privacyqa_report_uses_a_model_that_never_saw_the_questions(small_bench, tmp_path, model, isolated_paths):
    figures = evaluation.run_privacyqa(small_bench, isolated_paths / "corpus", tmp_path, model)
    texts, labels, groups = topics.training_data(small_bench)
    assert figures["questions"] == sum(g.startswith("privacyqa:") for g in groups) > 30
    assert 0 < figures["topic_accuracy"] <= 1 and set(figures["per_topic"]) <= set(topics.NAMES)
    assert 0 < figures["on_covered_topics"] <= figures["questions"]
    assert 0 <= figures["baseline_on_topic@3"] <= 1 and 0 < figures["on_topic@3"] <= 1
    assert topics.model() is topics.shipped()  # the held-out model is not left in place


@needs_bench
def test_topic_training_data_is_the_same_in_every_process():
    """`policyqa train-topics` is reproducible: no label depends on the order of a set of strings (which
    Python salts per process), and a segment whose questions tie on two topics is left out."""
    script = ("import json, sys; from pathlib import Path; from app import topics; "
              "print(json.dumps(topics.training_data(Path(sys.argv[1]))))")
    runs = [subprocess.run([sys.executable, "-c", script, str(BENCH)], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")]
    assert runs[0] == runs[1] == runs[2]
    texts, labels, _ = json.loads(runs[0])
    segments = {para["context"]: [topics.from_opp115(qa["type"]) for qa in para["qas"]]
                for policy in json.loads((BENCH / "policyqa_dev.json").read_text(encoding="utf-8"))["data"]
                for para in policy["paragraphs"]}
    tied = [context for context, kinds in segments.items()
            if len(counts := sorted(Counter(kinds).values(), reverse=True)) > 1 and counts[0] == counts[1]]
    assert tied and not set(tied) & set(texts)


def test_the_support_weights_are_fitted_the_same_whatever_weights_the_support_used(engine, tmp_path, monkeypatch):
    """`policyqa eval --calibrate` refits the support's weights from each question's first-ranked clause, which the
    weights do not move: fitting again after saving other weights gives the same weights."""
    from app import calibration

    def fit() -> dict:
        results = evaluation.run_gold(engine.index, engine.embedder, evaluation.load_gold(), 0.0)
        return calibration.fit_support(evaluation.gold_asked(results))

    fitted = fit()
    weights = fitted["support"]
    assert set(weights) == set(calibration.SUPPORT_SIGNALS)
    assert 0.05 < weights["coverage"] < 2  # the word match counts for an answer, and less than the cosine does
    assert weights["absent"] < 0  # a question on a topic its policy never covers is less likely answered
    shipped = calibration.fitted()
    moved = tmp_path / "calibration.json"
    moved.write_text(json.dumps(shipped | {"support": {name: 3 * w for name, w in shipped["support"].items()}}),
                     encoding="utf-8")
    monkeypatch.setattr(calibration, "_path", lambda: moved)
    calibration.shipped.cache_clear()
    try:
        assert calibration.fitted()["support"] != shipped["support"]
        assert fit()["support"] == pytest.approx(weights, abs=0.002)
    finally:
        monkeypatch.undo()
        calibration.shipped.cache_clear()
