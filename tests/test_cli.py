"""The `policyqa` command as other tools drive it: a real process, a real index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

POLICYQA = str(Path(sys.executable).parent / "policyqa")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([POLICYQA, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_ask_json_gives_the_answer_object(engine):
    result = run("ask", "--index", str(engine.index_dir), "--policy", "leje", "--json", "how long do you keep payment records?")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is True and answer["citations"]
    citation = answer["citations"][0]
    assert set(citation) >= {"policy", "title", "section", "quote", "start", "end", "score"}
    assert citation["policy"] == "leje" and citation["end"] > citation["start"]


def test_batch_answers_in_order_and_echoes_ids(engine, tmp_path):
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "Does Clozette use cookies?"},
        {"id": 7, "question": "what is your return policy", "policy": "clozette"},
        {"id": "c", "question": "do you sell my email?", "policy": "nope"},
    ]) + "\nnot json\n", encoding="utf-8")
    result = run("ask", "--index", str(engine.index_dir), "--json", "--batch", str(batch), "--top-k", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line.get("id") for line in lines] == ["a", 7, "c", None]
    assert lines[0]["answered"] and len(lines[0]["citations"]) <= 2
    assert lines[1]["answered"] is False and lines[1]["citations"] == []
    assert "Unknown policy" in lines[2]["error"] and "error" in lines[3]


def test_errors_are_one_line_without_traceback(engine, tmp_path):
    for args in (["ask", "--index", str(engine.index_dir), "--policy", "nope", "hi"],
                 ["ask", "--index", str(engine.index_dir), ""],
                 ["ask", "--index", str(tmp_path / "missing"), "do you sell my data?"],
                 ["index", "--corpus", str(tmp_path / "no-corpus"), "--index", str(tmp_path / "i")]):
        result = run(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr


def test_a_missing_or_broken_model_is_named_in_one_line(engine, tmp_path):
    (tmp_path / "empty-model").mkdir()
    for model, says in ((str(tmp_path / "no-such-model"), "does not exist"), (str(tmp_path / "empty-model"), "Cannot load")):
        result = run("ask", "--index", str(engine.index_dir), "do you sell my data?", env={"POLICYQA_MODEL": model})
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0] and model in lines[0], result.stderr


def test_index_reports_counts_and_reuses_unchanged_clauses(engine, tmp_path):
    index = tmp_path / "index"
    first = run("index", "--corpus", str(engine.corpus), "--index", str(index))
    assert first.returncode == 0, first.stderr
    assert "Indexed 5 policies" in first.stdout
    again = run("index", "--corpus", str(engine.corpus), "--index", str(index))
    assert "embedded 0" in again.stdout


def test_eval_prints_the_gold_figures(engine):
    result = run("eval", "--index", str(engine.index_dir), "--skip-bench", "--json")
    assert result.returncode == 0, result.stderr
    gold = json.loads(result.stdout)["gold"]
    assert gold["verbatim"] == 1.0
    assert gold["hit@3"] >= 0.9 and gold["decline_recall"] >= 0.6
    assert 0.8 <= gold["quoted@3"] <= gold["hit@3"]  # a quote lies inside its clause


def test_readme_settings_table_is_the_settings_table():
    from app import settings

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert settings.markdown_table() in readme


def test_eval_from_feedback_turns_thumbs_up_into_cases(engine, tmp_path):
    from app.feedback import FeedbackStore

    db = tmp_path / "feedback.db"
    store = FeedbackStore(db)
    store.add(engine.ask("how long do you keep my payment records?", policy="leje"), 1)
    store.add(engine.ask("how much is shipping to canada?", policy="clozette"), 1, "right, not a privacy question")
    store.add(engine.ask("do you sell my email?", policy="laneige"), -1, "wrong clause")
    result = run("eval", "--index", str(engine.index_dir), "--from-feedback", "--json", env={"POLICYQA_FEEDBACK_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert "2 cases from thumbs up; 1 thumbs down" in result.stderr
    gold = json.loads(result.stdout)["gold"]
    assert (gold["answerable"], gold["unanswerable"]) == (1, 1)
    assert gold["hit@1"] == gold["quoted@3"] == 1.0 and gold["decline_recall"] == 1.0
