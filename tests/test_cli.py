"""The `policyqa` command as other tools drive it: a real process, a real index."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import store

from conftest import ROOT
from reading import CONTENTS_PAGE

POLICYQA = str(Path(sys.executable).parent / "policyqa")
HEAVY = {"torch", "sentence_transformers", "transformers", "gradio", "sklearn"}
IN_PROCESS = """
import contextlib, io, json, sys
from app.cli import cli
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        cli(sys.argv[1:], prog_name="policyqa")
    except SystemExit as exit:
        code = exit.code or 0
print(json.dumps({"exit": code, "stdout": out.getvalue(), "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def in_process(*args: str, env: dict | None = None) -> dict:
    """Run the CLI in a fresh interpreter; its exit code, output and the top-level modules it imported."""
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


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


def test_a_quote_that_skips_words_of_the_page_shows_the_gap_and_each_pieces_offsets(model, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "acme.md").write_text(CONTENTS_PAGE, encoding="utf-8")
    assert run("index", "--corpus", str(corpus), "--index", str(tmp_path / "index")).returncode == 0
    asked = ("ask", "--index", str(tmp_path / "index"), "--policy", "acme", "which products does this policy apply to?")
    citation = json.loads(run(*asked, "--json").stdout)["citations"][0]
    assert citation["quote"] == ("This policy is split into sections, as follows: … "
                                 "It applies to every product Acme makes and to the sites where we sell them.")
    source = (corpus / "acme.md").read_text(encoding="utf-8")
    (a, b), (c, d) = citation["pieces"]
    assert source[a:b] == "This policy is split into sections, as follows:" and source[c:d].startswith("It applies")
    assert (citation["start"], citation["end"]) == (a, d)
    assert f"chars {a}-{b}, {c}-{d}" in run(*asked).stdout


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
    shutil.copytree(engine.corpus, tmp_path / "corpus")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    first = run("index", "--corpus", str(corpus), "--index", str(index))
    assert first.returncode == 0, first.stderr
    assert "Indexed 5 policies" in first.stdout
    with open(corpus / "leje.md", "a", encoding="utf-8") as out:
        out.write("\n\n## Zebras\n\nWe never share data about zebras with anyone.\n")
    again = run("index", "--corpus", str(corpus), "--index", str(index))
    assert again.returncode == 0, again.stderr
    assert "changed 1" in again.stdout and "embedded 1 texts" in again.stdout and "reused 0" not in again.stdout


def test_a_no_op_index_does_nothing_and_loads_no_model(engine, tmp_path):
    """Nothing changed: `index` says so, leaves CURRENT and the generations alone, and imports no embedding stack."""
    shutil.copytree(engine.index_dir, tmp_path / "index")
    index = tmp_path / "index"
    before = {p.name: p.stat().st_mtime_ns for p in index.iterdir()}
    result = in_process("index", "--corpus", str(engine.corpus), "--index", str(index))
    assert result["exit"] == 0 and "is up to date" in result["stdout"] and "nothing to do" in result["stdout"]
    assert {p.name: p.stat().st_mtime_ns for p in index.iterdir()} == before
    assert HEAVY.isdisjoint(result["modules"]) and "onnxruntime" not in result["modules"]


def test_an_index_built_by_another_version_is_rebuilt_reusing_its_vectors(engine, tmp_path):
    """A new PolicyQA version may clean and split differently: `index` rebuilds, embedding only texts that changed."""
    import json

    shutil.copytree(engine.index_dir, tmp_path / "index")
    index = tmp_path / "index"
    written = store.current_generation(index) / store.MANIFEST
    manifest = json.loads(written.read_text(encoding="utf-8"))
    written.write_text(json.dumps(store.seal({**manifest, "app_version": "0.0.1"})), encoding="utf-8")
    result = in_process("index", "--corpus", str(engine.corpus), "--index", str(index))
    assert result["exit"] == 0 and "Indexed 5 policies" in result["stdout"] and "embedded 0 texts" in result["stdout"]
    assert store.load(index).manifest["app_version"] == manifest["app_version"]


def test_a_backend_or_corpus_change_is_not_a_no_op(engine, tmp_path):
    shutil.copytree(engine.index_dir, tmp_path / "index")
    index = tmp_path / "index"
    result = run("index", "--corpus", str(engine.corpus), "--index", str(index), env={"POLICYQA_EMBED_BACKEND": "torch"})
    assert result.returncode == 0, result.stderr
    assert "Indexed 5 policies" in result.stdout and "reused 0" in result.stdout  # vectors of one backend only
    assert store.load(index).manifest["backend"] == "torch"


@pytest.mark.parametrize("args", [["--help"], ["settings"], ["report", "--limit", "3"], ["index", "--help"]])
def test_light_commands_never_import_torch_or_gradio(args, tmp_path):
    result = in_process(*args, env={"POLICYQA_FEEDBACK_DB": str(tmp_path / "feedback.db")})
    assert result["exit"] == 0, result
    assert HEAVY.isdisjoint(result["modules"]), sorted(HEAVY & set(result["modules"]))


def test_ask_answers_without_importing_torch(engine):
    result = in_process("ask", "--index", str(engine.index_dir), "--policy", "leje", "how long do you keep payment records?")
    assert result["exit"] == 0 and "Retention period" in result["stdout"], result
    assert re.search(r"^\[1\] LEJE Privacy Policy — .* — answers it: (\d+%|<1%)$", result["stdout"], re.M), result["stdout"]
    assert "Confidence that" not in result["stdout"]  # only a decline says how sure it is in a line of its own
    assert HEAVY.isdisjoint(result["modules"]), sorted(HEAVY & set(result["modules"]))


def test_eval_prints_the_gold_figures(engine):
    result = run("eval", "--index", str(engine.index_dir), "--skip-bench", "--json")
    assert result.returncode == 0, result.stderr
    gold = json.loads(result.stdout)["gold"]
    assert gold["verbatim"] == 1.0
    assert gold["hit@3"] >= 0.9 and gold["decline_recall"] >= 0.6
    assert 0.8 <= gold["quoted@3"] <= gold["hit@3"]  # a quote lies inside its clause


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


def test_calibrate_on_a_deployers_own_questions_fits_the_ranking_on_them_alone(engine, tmp_path, monkeypatch):
    """Without PolicyQA dev, `eval --calibrate --gold their.jsonl` fits the ranking weights, the word-match weight
    and the threshold on the deployer's questions alone, and saves them where calibration.json lives."""
    from click.testing import CliRunner

    from app import calibration, evaluation, training
    from app.cli import cli

    theirs = tmp_path / "theirs.jsonl"
    lines = (ROOT / "app" / "data" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    theirs.write_text("\n".join(line for line in lines if '"leje"' in line or '"laneige"' in line) + "\n", encoding="utf-8")
    saved = tmp_path / "calibration.json"
    saved.write_text((ROOT / "app" / "data" / "calibration.json").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(calibration, "_path", lambda: saved)
    calibration.shipped.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["eval", "--index", str(engine.index_dir), "--gold", str(theirs),
                                          "--skip-bench", "--calibrate", "--json"])
        assert result.exit_code == 0, result.output
        cases = evaluation.load_gold(theirs)
        expected = calibration.fit_ranking([q for _, q in training.customer_ranking_questions(engine.index, cases, engine.embedder)])
        stored = json.loads(saved.read_text(encoding="utf-8"))
        assert stored["ranking"] == expected and set(expected) == set(calibration.RANKING_GRID)
        assert {"support", "clauses", "threshold", "cite", "curve"} <= set(stored) and set(stored["support"]) == set(calibration.SUPPORT_SIGNALS)
    finally:
        monkeypatch.undo()
        calibration.shipped.cache_clear()


def _rated(engine, db: Path, answers: list[tuple[str, str]]) -> None:
    """Thumbs up on each (question, policy) answer, in the feedback database `db`."""
    from app.feedback import FeedbackStore

    feedback = FeedbackStore(db)
    for question, policy in answers:
        feedback.add(engine.ask(question, policy=policy), 1)


@pytest.fixture
def shipped_files(tmp_path, monkeypatch):
    """The package's fitted files copied to `tmp_path`, where the fitting commands save in their place."""
    from app import adapter, calibration, excerpts, multilingual_reader, questions, reader

    fitted = ((calibration, "calibration.json"), (adapter, "adapter.npz"), (excerpts, "excerpts.json"),
              (questions, "questions.npz"), (reader, "reader.onnx"), (multilingual_reader, "multilingual_reader.npz"))
    paths = {}
    for module, name in fitted:
        paths[name] = tmp_path / name
        shutil.copy(ROOT / "app" / "data" / name, paths[name])
        monkeypatch.setattr(module, "_path" if module is calibration else "shipped_path", lambda p=paths[name]: p)
    for module, _ in fitted:
        module.shipped.cache_clear()
    yield paths
    monkeypatch.undo()
    for module, _ in fitted:
        module.shipped.cache_clear()


def test_calibrate_from_feedback_fits_on_the_thumbs_up_answers_and_declines(engine, tmp_path, monkeypatch, shipped_files):
    """A deployer's own ratings are training data: `eval --calibrate --from-feedback` fits the ranking, the support,
    the clause probability and both thresholds on the thumbs-up answers and declines, and saves them."""
    from click.testing import CliRunner

    from app.cli import cli

    db = tmp_path / "feedback.db"
    _rated(engine, db, [("how long do you keep my payment records?", "leje"), ("do you use cookies?", "clozette"),
                        ("how much is shipping to canada?", "clozette"), ("what is your refund policy?", "laneige")])
    monkeypatch.setenv("POLICYQA_FEEDBACK_DB", str(db))
    before = json.loads(shipped_files["calibration.json"].read_text(encoding="utf-8"))
    result = CliRunner().invoke(cli, ["eval", "--index", str(engine.index_dir), "--from-feedback", "--calibrate", "--json"])
    assert result.exit_code == 0, result.output
    stored = json.loads(shipped_files["calibration.json"].read_text(encoding="utf-8"))
    assert {"ranking", "support", "clauses", "threshold", "cite"} <= set(stored) and stored["clauses"] != before["clauses"]
    assert json.loads(result.stdout[result.stdout.index("{"):])["gold"]["answerable"] == 2


def test_calibrating_on_answers_alone_says_what_is_missing(engine, tmp_path, monkeypatch, shipped_files):
    from click.testing import CliRunner

    from app.cli import cli

    db = tmp_path / "feedback.db"
    _rated(engine, db, [("how long do you keep my payment records?", "leje")])
    monkeypatch.setenv("POLICYQA_FEEDBACK_DB", str(db))
    before = shipped_files["calibration.json"].read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", "--index", str(engine.index_dir), "--from-feedback", "--calibrate"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == ("Error: Calibrating needs questions the policies answer and "
                                                      "questions they do not; these are 1 answerable and 0 not.")
    assert shipped_files["calibration.json"].read_text(encoding="utf-8") == before  # nothing half-saved


def test_train_on_a_deployers_own_questions_alone_needs_no_policyqa(engine, tmp_path, shipped_files):
    """`train --skip-bench --gold their.jsonl`: the adapter and the excerpt model fitted on their questions alone, with
    no OPP-115 data, saved where the shipped ones live; questions with nothing to learn from are one clear line."""
    from click.testing import CliRunner

    from app import adapter, excerpts
    from app.cli import cli

    theirs = tmp_path / "theirs.jsonl"
    lines = (ROOT / "app" / "data" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
    theirs.write_text("\n".join(line for line in lines if '"leje"' in line or '"laneige"' in line) + "\n", encoding="utf-8")
    shipped_adapter = adapter.shipped().weights.copy()
    result = CliRunner().invoke(cli, ["train", "--index", str(engine.index_dir), "--gold", str(theirs), "--skip-bench"])
    assert result.exit_code == 0, result.output
    assert "Fitted on 0 PolicyQA and " in result.output
    adapter.shipped.cache_clear()
    excerpts.shipped.cache_clear()
    assert adapter.shipped().weights.shape == shipped_adapter.shape and not (adapter.shipped().weights == shipped_adapter).all()
    assert excerpts.shipped() is not None
    for name in ("reader.onnx", "multilingual_reader.npz"):  # refitted in place of the package's
        assert shipped_files[name].read_bytes() != (ROOT / "app" / "data" / name).read_bytes()
    assert "for its multilingual student (whose logits correlate" in result.output

    unanswerable = tmp_path / "unanswerable.jsonl"
    unanswerable.write_text("\n".join(line for line in lines if '"anchor": null' in line) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", "--index", str(engine.index_dir), "--gold", str(unanswerable), "--skip-bench"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == ("Error: None of the training questions has an answering clause "
                                                      "in the index; index the policies they ask about.")


def test_ask_lang_frames_the_answer_in_that_language(engine):
    asked = ("ask", "--index", str(engine.index_dir), "--policy", "leje", "--json", "how much is shipping?")
    answer = json.loads(run(*asked, "--lang", "es").stdout)
    assert answer["lang"] == "es" and answer["answer"].startswith("Parece una pregunta sobre el producto")
    assert json.loads(run(*asked).stdout)["lang"] == "en"
    wrong = run(*asked, "--lang", "klingon")
    assert wrong.returncode == 1 and wrong.stderr.strip() == ("Error: Unknown language 'klingon'; choose one of: en, "
                                                              "ko, ja, zh, es, de, fr, pt, it.")


def test_a_product_question_is_declined_as_one(engine):
    result = run("ask", "--index", str(engine.index_dir), "--policy", "leje", "--json", "how much is shipping?")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["answered"] is False and answer["declined_as"] == "product"
    plain = run("ask", "--index", str(engine.index_dir), "--policy", "leje", "how much is shipping?")
    assert "looks like a question about the product or service" in plain.stdout
