"""The `policyqa` command: a thin layer over the library."""

from __future__ import annotations

import json
import logging
import os
import sys
from functools import wraps
from pathlib import Path

import click

from . import settings
from .errors import PolicyQAError
from .languages import LANGUAGES

SETTINGS_HELP = "\n\n".join(f"{s.env} (default {s.default!r}): {s.help}" for s in settings.SETTINGS)


def _friendly(command):
    """PolicyQAError becomes one line on stderr and exit 1; no traceback reaches a user."""

    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PolicyQAError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:  # the last guard: a bug is still one line, with a way to see more
            if os.environ.get("POLICYQA_DEBUG"):
                raise
            click.echo(f"Error: unexpected {exc.__class__.__name__}: {exc}; rerun with POLICYQA_DEBUG=1 to see details.", err=True)
            sys.exit(2)

    return run


def _progress_bars():
    """A progress callback drawing one bar per stage on stderr."""
    bars: dict[str, object] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = click.progressbar(length=total, label=stage.ljust(9), file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return progress


def _path_option(name: str, flag: str, kind: click.ParamType = click.Path(path_type=Path)):
    return click.option(flag, name, type=kind, default=None,
                        help=f"{settings.SETTINGS[[s.name for s in settings.SETTINGS].index(name)].help} "
                             f"[default: ${'POLICYQA_' + name.upper()} or {settings.get(name)}]")


@click.group(epilog="Settings (environment variables):\n\n" + SETTINGS_HELP)
@click.version_option(package_name="policyqa")
@click.option("-v", "--verbose", is_flag=True, help="Log what happens, to stderr.")
def cli(verbose: bool) -> None:
    """PolicyQA: answers questions about policies with the policies' own words, cited."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@_path_option("corpus", "--corpus")
@_path_option("index", "--index")
@click.option("--rollback", is_flag=True, help="Serve the generation kept from before the last build again (a second --rollback undoes it).")
@_friendly
def index(corpus: Path | None, index: Path | None, rollback: bool = False) -> None:
    """Index the corpus; re-embeds only policies added or changed since the last build."""
    from . import embedder, store

    corpus = corpus or settings.path("corpus")
    index = index or settings.path("index")
    if rollback:
        click.echo(f"Serving {index / store.rollback(index)} again; restart or re-index running servers to pick it up.")
        return
    manifest = store.up_to_date(corpus, index, embedder.model_path(), embedder.backend())  # without loading the model
    if manifest is not None:
        skipped = store.skipped_files(manifest)
        _say_skipped(skipped)
        click.echo(f"The index {store.current_generation(index)} is up to date with {corpus}: "
                   f"{len(manifest['policies'])} policies, skipped {len(skipped)}; nothing to do.")
        return
    report = store.build(corpus, index, embedder.get(), _progress_bars())
    _say_skipped(report.skipped)
    versions = f" ({report.versions} versions)" if report.versions != report.policies else ""
    click.echo(
        f"Indexed {report.policies} policies{versions}, {report.clauses} clauses into {index / report.generation} "
        f"in {report.seconds:.1f}s: embedded {report.embedded} texts, reused {report.reused}; "
        f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
        f"skipped {len(report.skipped)}."
    )


def _say_skipped(skipped: dict[str, str]) -> None:
    for name, reason in skipped.items():
        click.echo(f"skipped {name}: {reason}", err=True)


@cli.command()
@click.argument("question", required=False)
@_path_option("index", "--index")
@click.option("--policy", help="Answer from this policy only (its id: the file stem, less any @YYYY-MM-DD).")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Answer from the policy versions in force on this date [default: the latest].")
@click.option("--top-k", type=click.IntRange(1, 20), default=None, help="Citations at most [default: 3].")
@click.option("--lang", metavar="CODE", help=f"Answer in this language ({', '.join(LANGUAGES)}) "
                                             "[default: the question's own]; the quotes stay the policy's words.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--batch", type=click.File("r", encoding="utf-8"),
              help='JSONL of {"id", "question", "policy"?, "as_of"?, "lang"?}; one answer per line.')
@_friendly
def ask(question: str | None, index: Path | None, policy: str | None, as_of: str | None, top_k: int | None,
        lang: str | None, as_json: bool, batch) -> None:
    """Answer QUESTION with quotes from the policies."""
    from . import answer, embedder, store

    if (question is None) == (batch is None):
        raise PolicyQAError("Give either a QUESTION or --batch FILE.")
    top_k = top_k or settings.get_int("top_k")
    model = embedder.get()
    loaded = store.load(index or settings.path("index"), embedder=model)
    if batch is None:
        result = answer.ask(loaded, model, question, policy=policy, top_k=top_k, as_of=as_of, lang=lang)
        click.echo(json.dumps(result.to_json(), ensure_ascii=False) if as_json else _render(result))
        return
    for number, line in enumerate(batch, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            result = answer.ask(loaded, model, item["question"], policy=item.get("policy") or policy, top_k=top_k,
                                as_of=item.get("as_of") or as_of, lang=item.get("lang") or lang)
            result.id = item.get("id")
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            click.echo(json.dumps({"id": None, "error": f"line {number}: not a JSON object with a question ({exc.__class__.__name__})"}))
        except PolicyQAError as exc:
            click.echo(json.dumps({"id": item.get("id"), "error": str(exc)}, ensure_ascii=False))


def _render(result) -> str:
    lines = [result.answer, ""]
    for n, c in enumerate(result.citations, 1):
        version = f" (version {c.version})" if c.version else ""
        answers = f" — answers it: {c.likelihood}" if c.likelihood else ""
        chars = ", ".join(f"{start}-{end}" for start, end in c.pieces)
        page = f" — {c.on_page}" if c.page else ""
        lines.append(f"[{n}] {c.title}{version} — {c.section or '(opening)'}{page} — chars {chars} — "
                     f"score {c.score:.2f}{answers}")
    if result.confidence is not None and not result.answered:
        lines.append(f"Confidence that the best clause found answers this: {result.confidence:.0%}")
    return "\n".join(lines).rstrip()


@cli.command()
@click.argument("policy")
@_path_option("index", "--index")
@click.option("--from", "since", metavar="YYYY-MM-DD", help="The older version [default: the one before --to].")
@click.option("--to", "until", metavar="YYYY-MM-DD", help="The newer version [default: the latest].")
@click.option("--all", "everything", is_flag=True, help="Also list the entries that change no word (punctuation, "
              "formatting, link targets, where the clauses split).")
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
@_friendly
def changes(policy: str, index: Path | None, since: str | None, until: str | None, everything: bool,
            as_json: bool) -> None:
    """List what changed, clause by clause, between two versions of POLICY (default: its two latest)."""
    from . import changes as diffs, embedder, store

    diff = diffs.between(store.load(index or settings.path("index")), embedder.get(), policy, since, until)
    if as_json:
        click.echo(json.dumps(diff.to_json(everything), ensure_ascii=False))
        return
    click.echo(_render_changes(diff, everything))


def _render_changes(diff, everything: bool = False) -> str:
    listed = diff.listed(everything)
    hidden = len(diff.changes) - len(listed)
    lines = [f"{diff.new.title}: {len(listed)} changes from {diff.old.version} to {diff.new.version}"
             + (f" ({hidden} that change no word not shown; --all shows them)" if hidden else "")]
    for change in listed:
        lines += ["", f"{change.kind.upper()} — {change.section or '(opening)'}", f"  {change.summary}"]
        if change.before:
            lines.append(f"  before: {' '.join(change.before_text.split())}")
        if change.after:
            lines.append(f"  after:  {' '.join(change.after_text.split())}")
    return "\n".join(lines)


@cli.command()
@click.argument("sources", type=click.Path(path_type=Path, dir_okay=False))
@_path_option("corpus", "--corpus")
@_path_option("index", "--index")
@click.option("--json", "as_json", is_flag=True, help="Print what was checked, stored and failed as JSON.")
@_friendly
def watch(sources: Path, corpus: Path | None, index: Path | None, as_json: bool) -> None:
    """Fetch the policies SOURCES lists (one `ID URL` a line), store each page whose words changed as a new dated
    version in the corpus, and re-index. Exits non-zero only when every page failed."""
    from . import watch as watcher

    report = watcher.watch(watcher.read_sources(sources), corpus or settings.path("corpus"),
                           index or settings.path("index"), limits=watcher.limits())
    click.echo(json.dumps(report.to_json(), ensure_ascii=False) if as_json else _render_watch(report))
    if report.failed and len(report.failed) == report.checked:
        sys.exit(1)


def _render_watch(report) -> str:
    lines = [f"Checked {report.checked} policies: {len(report.changed)} changed, {len(report.unchanged)} unchanged, "
             f"{len(report.failed)} failed."]
    for new in report.changed:
        found = new["changes"]
        lines.append(f"{new['policy']}: stored the version of {new['version']} ({new['file']})"
                     + (f", {len(found)} change{'s' * (len(found) != 1)}:" if found else ""))
        lines += [f"  {c['kind'].upper()} — {c['section'] or '(opening)'}: {c['summary']}" for c in found]
    lines += [f"{pid}: unchanged" for pid in report.unchanged]
    lines += [f"{failed['policy']}: failed: {failed['error']}" for failed in report.failed]
    if report.indexed:
        lines.append(f"Re-indexed in {report.indexed.seconds:.1f}s: embedded {report.indexed.embedded} texts, "
                     f"reused {report.indexed.reused}.")
    return "\n".join(lines)


def main() -> None:
    cli()


@cli.command()
@_path_option("corpus", "--corpus")
@_path_option("index", "--index")
@click.option("--host", default=None, help="Address to bind [default: $POLICYQA_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: $POLICYQA_PORT or 7860].")
@click.option("--workers", type=int, default=None, help="Server processes on the port [default: $POLICYQA_WORKERS or 1].")
@_friendly
def serve(corpus: Path | None, index: Path | None, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the chat UI, the JSON API and the widget; builds or refreshes the index first."""
    workers = workers if workers is not None else settings.get_int("workers")
    if workers < 1:
        raise PolicyQAError(f"--workers (or POLICYQA_WORKERS) is {workers}: give 1 or more server processes.")
    corpus, index = corpus or settings.path("corpus"), index or settings.path("index")
    host, port = host or settings.get("host"), port or settings.get_int("port")
    if workers > 1:
        _serve_workers(corpus, index, host, port, workers)
        return
    import uvicorn

    from .engine import Engine
    from .feedback import FeedbackStore
    from .web.server import create_app

    engine = Engine(corpus, index)
    click.echo("Checking the index...", err=True)
    engine.refresh(_progress_bars())
    app = create_app(engine, FeedbackStore.configured())
    click.echo(f"PolicyQA is serving {len(engine.index.policies)} policies on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _serve_workers(corpus: Path, index: Path, host: str, port: int, workers: int) -> None:
    """uvicorn's worker processes, each loading the index on its own (server.worker_app); uvicorn replaces any that dies.

    The index is checked, or built, in a process of its own first, so this one, which only watches the
    workers, never holds the model."""
    import multiprocessing

    import uvicorn

    from .feedback import FeedbackStore

    checker = multiprocessing.get_context("spawn").Process(target=_prepare_index, args=(corpus, index))
    checker.start()
    checker.join()
    if checker.exitcode:
        sys.exit(checker.exitcode)
    if settings.get("rate_limit_storage").startswith("memory"):
        click.echo(f"Warning: each of the {workers} workers counts POLICYQA_RATE_LIMIT on its own; set "
                   "POLICYQA_RATE_LIMIT_STORAGE=redis://HOST:PORT to share one limit.", err=True)
    feedback = FeedbackStore.configured()
    os.environ.update(POLICYQA_CORPUS=str(corpus), POLICYQA_INDEX=str(index),  # what the workers read
                      POLICYQA_FEEDBACK_DB=str(feedback.path or settings.get("feedback_db")))
    click.echo(f"PolicyQA is serving on http://{host}:{port}/ with {workers} worker processes (the API and the "
               "widget; the chat UI needs sticky sessions: see docs/deployment.md)", err=True)
    # a worker loading the model on a busy machine may not answer uvicorn's health ping for a while
    uvicorn.run("app.web.server:worker_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", timeout_worker_healthcheck=60)


@_friendly
def _prepare_index(corpus: Path, index: Path) -> None:
    from .engine import Engine

    engine = Engine(corpus, index)
    click.echo("Checking the index...", err=True)
    engine.refresh(_progress_bars())
    click.echo(f"Index ready: {len(engine.index.policies)} policies in {index}", err=True)


@cli.command("eval")
@_path_option("index", "--index")
@click.option("--gold", type=click.Path(path_type=Path, exists=True), help="Gold set JSONL [default: the bundled one].")
@click.option("--bench", type=click.Path(path_type=Path), default=None,
              help="PolicyQA dev JSON [default: ../shared/bench/policyqa_dev.json when present].")
@click.option("--policies", type=click.Path(path_type=Path), default=None,
              help="Folder of the current policies modern.jsonl asks about [default: ../shared/policies when present].")
@click.option("--bench-dir", type=click.Path(path_type=Path), default=None,
              help="Work folder for the PolicyQA corpus and index [default: <index>/../.bench].")
@click.option("--limit", type=int, default=None, help="Ask only this many PolicyQA questions (spread evenly).")
@click.option("--skip-bench", is_flag=True, help="Only the gold set, in-sample (no held-out adapters or ranking weights).")
@click.option("--calibrate", is_flag=True, help="Fit the ranking weights, the support's weights, the clause "
              "probability and the citing threshold (gold set and PolicyQA dev) and the decline threshold (gold set), "
              "and save them with the package.")
@click.option("--from-feedback", is_flag=True, help="Evaluate (or with --calibrate fit) on the thumbs-up answers and "
              "declines in the feedback database, in place of the gold set.")
@click.option("--unseen", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="A folder of policies nothing is fitted on, with questions.jsonl over them (the gold set's format), "
                   "measured beside the current policies (e.g. tests/data/unseen).")
@click.option("--ablation", is_flag=True, help="First measure every set with each step's calibration fitted without "
              "the signals later steps add (the question classifier, the reader, the fact-kind check); nothing is saved.")
@click.option("--languages", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="A folder of LANG.jsonl: the --unseen questions as customers ask them in other languages, each "
                   "language measured beside English (with --skip-bench too; e.g. tests/data/languages).")
@click.option("--foreign", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="A folder of policies written in other languages with questions.jsonl over them in several "
                   "languages (each line's \"lang\"): each policy's figures per question language (with --skip-bench "
                   "too; e.g. tests/data/foreign).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_friendly
def evaluate(index: Path | None, gold: Path | None, bench: Path | None, policies: Path | None, bench_dir: Path | None,
             limit: int | None, skip_bench: bool, calibrate: bool, from_feedback: bool, unseen: Path | None,
             ablation: bool, languages: Path | None, foreign: Path | None, as_json: bool) -> None:
    """Measure answer quality on policies held out from fitting: the gold set, PolicyQA dev, current policies."""
    from dataclasses import replace

    from . import calibration, embedder, evaluation, store, training

    if languages and not unseen:
        raise PolicyQAError("--languages needs --unseen: the policies its questions are about.")
    index = index or settings.path("index")
    model = embedder.get()
    loaded = store.load(index, embedder=model)
    cases = _customer_cases(gold, from_feedback)
    skip_bench = skip_bench or from_feedback
    shared = settings.shared_data()
    bench = bench or shared / "bench" / "policyqa_dev.json"
    work = bench_dir or index.parent / ".bench"
    with_bench = not skip_bench and bench.is_file()
    per_fold, per_policy, ranking = [], None, calibration.fitted()["ranking"]
    if with_bench:
        click.echo("Fitting held-out topic models, adapters, excerpt models and ranking weights...", err=True)
        questions, folds = evaluation.policyqa_folds(bench, work, model)
        customers = evaluation.customer_questions(work / "corpus")
        per_fold, per_policy, ranking = training.held_out(folds, questions, loaded, cases, model)
        readers = training.held_out_readers(folds, customers, model, work, _progress_bars())
        per_fold = [replace(fitted, reader=fold_reader) for fitted, fold_reader in zip(per_fold, readers)]
    elif calibrate:  # ranking weights fitted on the gold set alone (a deployer's own questions, `--gold`), in-sample
        ranking = calibration.fit_ranking([q for _, q in training.customer_ranking_questions(loaded, cases, model)])
    figures: dict = {"held_out": per_policy is not None}
    policies = policies or shared / "policies"
    unseen_sets = [("modern", policies, evaluation.data_file("modern.jsonl")),
                   ("modern_near", policies, evaluation.data_file("modern_near.jsonl")),
                   ("unseen", unseen, unseen / "questions.jsonl" if unseen else None)]
    unseen_sets = [(name, folder, asked) for name, folder, asked in unseen_sets
                   if with_bench and folder and folder.is_dir() and asked.is_file()]
    measured = lambda: _measured(loaded, model, cases, per_policy, (questions, customers, work, folds, per_fold, limit)  # noqa: E731
                                 if with_bench else None, unseen_sets)
    if calibrate or ablation:
        click.echo("Fitting the support's weights, the clause probability and the thresholds...", err=True)
        elsewhere = evaluation.policyqa_asked(questions, customers, model, folds, per_fold) if with_bench else []
    if ablation:
        figures["ablation"] = {}
        for step, left_out in ABLATION.items():
            with calibration.using(**_calibrated(loaded, model, cases, ranking, per_policy, elsewhere, left_out)):
                figures["ablation"][step] = measured()
    if calibrate:
        figures["calibration"] = _calibrated(loaded, model, cases, ranking, per_policy, elsewhere)
        calibration.save(figures["calibration"])
    figures["threshold"] = calibration.fitted()["threshold"]
    figures |= measured()
    if per_policy:
        figures["gold_in_sample"] = evaluation.gold_metrics(loaded, evaluation.run_gold(loaded, model, cases,
                                                                                        figures["threshold"]))
    if languages:
        figures["languages"] = evaluation.run_languages(unseen, languages, work / f"held-{unseen.name}", model,
                                                        figures["threshold"])
    if foreign:
        figures["foreign"] = evaluation.run_foreign(foreign, work / f"held-{foreign.name}", model, figures["threshold"])
    if with_bench and (bench.parent / "privacyqa_questions_train.tsv").is_file():
        figures["privacyqa"] = evaluation.run_privacyqa(bench.parent, settings.path("corpus"), work, model)
    click.echo(json.dumps(figures, indent=1) if as_json else _render_figures(figures))


# The sets over policies nothing is fitted on, as `eval` names them.
UNSEEN_SETS = {"modern": "Current policies (modern.jsonl)",
               "modern_near": "Current policies, near-topic questions (modern_near.jsonl)",
               "unseen": "Never-seen policies (--unseen)"}

# `eval --ablation`: each step's calibration is fitted with the signals named left out (they weigh 0).
ABLATION = {
    "today's ranking": {"product", "reads", "unstated"},
    "+ question classifier": {"reads", "unstated"},
    "+ reader": {"unstated"},
    "+ fact-kind check": set(),
}


def _measured(index, model, cases: list, per_policy: dict | None, bench: tuple | None,
              unseen_sets: list[tuple[str, Path, Path]]) -> dict:
    """The figures of every set at hand, with the calibration in use: the gold set (each policy's questions asked
    as `per_policy` says), PolicyQA dev with the team's customer questions over it (`bench`: its questions, customer
    questions, work folder, folds, per-fold fits and question limit) and each (name, policies, questions) of
    `unseen_sets`, policies nothing was fitted on."""
    from . import calibration, evaluation

    threshold = calibration.fitted()["threshold"]
    figures = {"gold": evaluation.gold_metrics(index, evaluation.run_gold(index, model, cases, threshold, per_policy))}
    if bench:
        questions, customers, work, folds, per_fold, limit = bench
        figures["policyqa_dev"] = evaluation.run_bench(questions, customers, work, model, folds, per_fold, threshold,
                                                       limit, _progress_bars())
        for name, policies, asked in unseen_sets:
            figures[name] = evaluation.run_modern(policies, work / f"held-{policies.name}", model, threshold, asked)
    return figures


def _calibrated(index, model, cases: list, ranking: dict[str, float], per_policy: dict | None, elsewhere: list,
                left_out: set[str] = frozenset()) -> dict:
    """What `eval --calibrate` saves, fitted with `ranking`: the support's weights and the clause probability on the
    customer `cases` (each asked as `per_policy` says) and the questions asked `elsewhere`, then the decline threshold
    on the cases (with its 2-fold check and curve) and the citing threshold; the signals `left_out` weigh 0.
    Nothing is saved here: a fit that fails leaves the shipped numbers as they were."""
    from . import calibration, evaluation, training

    with calibration.using(ranking=ranking):
        asked = calibration.without(evaluation.gold_asked(evaluation.run_gold(index, model, cases, 0.0, per_policy))
                                    + elsewhere, left_out)
        support = calibration.fit_support(asked)
        clauses = calibration.fit_clauses(asked, support["support"], training.CUSTOMER_WEIGHT)
        with calibration.using(**support, **clauses):
            outcomes = evaluation.gold_outcomes(evaluation.run_gold(index, model, cases, 0.0, per_policy))
            threshold = evaluation.fit_threshold(outcomes)
            return {"ranking": ranking, **support, **clauses, "threshold": threshold,
                    "cite": calibration.fit_citing(asked, threshold),
                    "cross_validated": evaluation.cross_validated(outcomes),
                    "curve": evaluation.decline_curve(outcomes, evaluation.threshold_grid(outcomes))}


def _customer_cases(gold: Path | None, from_feedback: bool) -> list:
    """The customer questions to measure or fit on: the gold set (`--gold`, else the bundled one), or the thumbs-up
    answers and declines in the feedback database."""
    from . import evaluation
    from .feedback import FeedbackStore

    if not from_feedback:
        return evaluation.load_gold(gold)
    feedback = FeedbackStore.configured()
    cases, down = evaluation.feedback_cases(feedback.ratings())
    if not cases:
        raise PolicyQAError(f"No thumbs-up feedback in {feedback} yet ({down} thumbs down); rate some answers in the chat first.")
    click.echo(f"{len(cases)} cases from thumbs up; {down} thumbs down left for curation (`policyqa report`).", err=True)
    return cases


def _render_languages(per_language: dict[str, dict]) -> list[str]:
    english = per_language["en"]
    lines = ["Never-seen policies, the same questions in each language (right clause cited in the top 3, x English; "
             "retrieved in the top 3; unanswerable declined; question's language detected):"]
    for lang, m in per_language.items():
        ratio = m["hit@3"] / english["hit@3"] if english["hit@3"] else 0.0
        lines.append(f"  {lang}  {m['hit@3']:.3f} (x{ratio:.2f})   {m['retrieval_hit@3']:.3f}   "
                     f"{m['decline_recall']:.3f} of {m['unanswerable']}   detected {m['detected']:.3f}")
    return lines


def _render_foreign(rows: list[dict]) -> list[str]:
    lines = ["Policies written in other languages (policy, its language, the questions' language: right clause cited "
             "in the top 3; retrieved in the top 3; unanswerable declined; verbatim quotes):"]
    for m in rows:
        lines.append(f"  {m['policy']} ({m['policy_lang']})  asked in {m['lang']}:  {m['hit@3']:.3f} of "
                     f"{m['answerable']}   {m['retrieval_hit@3']:.3f}   {m['decline_recall']:.3f} of "
                     f"{m['unanswerable']}   verbatim {m['verbatim']:.3f}")
    return lines


def _render_figures(figures: dict) -> str:
    g = figures["gold"]
    how = ("each seed policy held out of the adapter's and the ranking's fit" if figures["held_out"]
           else "in-sample: the shipped adapter and ranking")
    lines = [
        f"Gold set: {g['answerable']} answerable, {g['unanswerable']} unanswerable ({how}; decline threshold {figures['threshold']})",
        f"  hit@1 {g['hit@1']:.3f}   hit@3 {g['hit@3']:.3f}   retrieval hit@3 {g['retrieval_hit@3']:.3f}   MRR {g['mrr']:.3f}",
        f"  answer inside a top-3 quote {g['quoted@3']:.3f}",
        f"  decline precision {g['decline_precision']:.3f}   decline recall {g['decline_recall']:.3f}",
        f"  verbatim quotes {g['verbatim']:.3f} of {g['quotes']}   median quote {g['median_quote_chars']} chars",
    ]
    if "calibration" in figures:
        cv = figures["calibration"]["cross_validated"]
        weights = ", ".join(f"{name} {value}" for name, value in figures["calibration"]["ranking"].items())
        support = ", ".join(f"{name} {value}" for name, value in figures["calibration"]["support"].items())
        clauses = ", ".join(f"{name} {value}" for name, value in figures["calibration"]["clauses"].items())
        lines.append(f"Calibration: ranking weights {weights}; support weights {support}; clause probability {clauses}; "
                     f"threshold {figures['calibration']['threshold']}; citing threshold {figures['calibration']['cite']}; "
                     "held-out (2-fold) decline precision "
                     f"{cv['decline_precision']:.3f}, recall {cv['decline_recall']:.3f}, answered correctly {cv['answered_correct']:.3f}")
    if "gold_in_sample" in figures:
        i = figures["gold_in_sample"]
        lines.append(f"  in-sample (the shipped adapter and ranking, fitted on these questions too): hit@1 {i['hit@1']:.3f}   hit@3 {i['hit@3']:.3f}")
    if "policyqa_dev" in figures:
        b = figures["policyqa_dev"]
        lines += [
            f"PolicyQA dev: {b['questions']} questions, citations read for {400} chars, each half of the policies held out "
            f"of the topic model, adapter and ranking ({b['seconds']}s)",
            f"  span-hit@3 {b['span_hit@3']:.3f} vs baseline {b['baseline_span_hit@3']:.3f}  (x{b['span_ratio']})"
            "   as answered: a declined question is a miss",
            f"  seg-hit@3  {b['seg_hit@3']:.3f} vs baseline {b['baseline_seg_hit@3']:.3f}  (x{b['seg_ratio']})",
            f"  the ranking alone (every question answered, its top 3 clauses cited): span-hit@3 "
            f"{b['every_span_hit@3']:.3f} (x{b['every_span_ratio']}), seg-hit@3 {b['every_seg_hit@3']:.3f} (x{b['every_seg_ratio']})",
            f"  an answer among the 50 best-ranked clauses {b['recall@50']:.3f} (among the baseline's 50 windows "
            f"{b['baseline_recall@50']:.3f}); among every clause the ranking scores {b['candidate_recall']:.3f} "
            f"(median {b['candidates_median']:.0f} clauses)",
            f"  declined at the shipped threshold {b['declined']:.3f} (every question is answerable)",
            f"  the team's customer questions over the same policies (the clause probability is fitted on them): "
            f"{b['customer_answerable']} answerable, right clause cited in the top 3 {b['customer_hit@3']:.3f}, declined "
            f"{b['customer_declined']:.3f}; {b['unanswerable_declined']:.3f} of {b['unanswerable']} unanswerable declined",
        ]
    for name, m in ((name, figures[name]) for name in UNSEEN_SETS if name in figures):
        lines += [
            f"{UNSEEN_SETS[name]} (never fitted on): {m['answerable']} answerable, {m['unanswerable']} unanswerable",
            f"  right clause cited in the top 3 {m['hit@3']:.3f} (plain baseline's windows {m['baseline_hit@3']:.3f})   "
            f"hit@1 {m['hit@1']:.3f}   answer inside a top-3 quote {m['quoted@3']:.3f}",
            f"  declined {m['decline_recall']:.3f} of unanswerable, precision {m['decline_precision']:.3f}   verbatim {m['verbatim']:.3f}",
        ]
    if "languages" in figures:
        lines += _render_languages(figures["languages"])
    if "foreign" in figures:
        lines += _render_foreign(figures["foreign"])
    if "ablation" in figures:
        lines += _render_ablation(figures["ablation"])
    if "privacyqa" in figures:
        p = figures["privacyqa"]
        lines += [
            f"PrivacyQA: {p['questions']} crowd questions, topic model trained without them",
            f"  topic accuracy {p['topic_accuracy']:.3f}   "
            + "   ".join(f"{topic} {share:.2f}" for topic, share in p["per_topic"].items()),
            f"  on topics the seeds cover ({p['on_covered_topics']}): a top-3 clause of that topic "
            f"{p['on_topic@3']:.3f} vs plain dense {p['baseline_on_topic@3']:.3f}",
        ]
    return "\n".join(lines)


def _render_ablation(steps: dict[str, dict]) -> list[str]:
    """One row per step of `eval --ablation` (and plain retrieval's, which never declines): per set, the answerable
    questions whose right clause is cited in the top 3 and the unanswerable ones declined."""
    def cells(f: dict) -> list[str]:
        row = [f"{f['gold']['hit@3']:.3f} / {f['gold']['decline_recall']:.3f}"]
        if "policyqa_dev" in f:
            b = f["policyqa_dev"]
            row += [f"{b['span_hit@3']:.3f} (x{b['span_ratio']}) / {1 - b['declined']:.3f}",
                    f"{b['customer_hit@3']:.3f} / {b['unanswerable_declined']:.3f}"]
        row += [f"{f[name]['hit@3']:.3f} / {f[name]['decline_recall']:.3f}" for name in UNSEEN_SETS if name in f]
        return row

    first = next(iter(steps.values()))
    header = ["step", "gold: top 3 / declined"]
    plain = ["plain retrieval", "-"]
    if "policyqa_dev" in first:
        header += ["PolicyQA: span-hit@3 / answered", "customers over PolicyQA: top 3 / declined"]
        plain += [f"{first['policyqa_dev']['baseline_span_hit@3']:.3f} / 1.000", "-"]
    for name in UNSEEN_SETS:
        if name in first:
            header.append(f"{name}: top 3 / declined")
            plain.append(f"{first[name]['baseline_hit@3']:.3f} / 0.000")
    rows = [header, plain] + [[step, *cells(f)] for step, f in steps.items()]
    return ["Ablation (each step's calibration fitted without the signals after it; held out as above):"] + [
        "  | " + " | ".join(row) + " |" for row in rows]


@cli.command("train")
@_path_option("index", "--index")
@click.option("--gold", type=click.Path(path_type=Path, exists=True), help="Gold set JSONL [default: the bundled one].")
@click.option("--bench", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="PolicyQA dev JSON [default: ../shared/bench/policyqa_dev.json].")
@click.option("--bench-dir", type=click.Path(path_type=Path), default=None,
              help="Work folder for the PolicyQA corpus and index [default: <index>/../.bench].")
@click.option("--skip-bench", is_flag=True, help="Fit on the customer questions alone, with no PolicyQA (OPP-115) data.")
@click.option("--from-feedback", is_flag=True, help="Fit on the thumbs-up answers in the feedback database, in place "
              "of the gold set.")
@_friendly
def train(index: Path | None, gold: Path | None, bench: Path | None, bench_dir: Path | None, skip_bench: bool,
          from_feedback: bool) -> None:
    """Refit the query adapter (app/data/adapter.npz) and the excerpt model (app/data/excerpts.json) on PolicyQA dev
    and the gold set, the question classifier (app/data/questions.npz) on app/data/question_kinds.jsonl, and the
    reader (app/data/reader.onnx) and its multilingual student (app/data/multilingual_reader.npz) on the customer
    questions over PolicyQA's policies (with --skip-bench, the gold set's)."""
    from . import adapter, embedder, evaluation, excerpts, multilingual_reader, questions, reader, store, training
    from .tokens import search_text

    index = index or settings.path("index")
    bench = bench or settings.shared_data() / "bench" / "policyqa_dev.json"
    if not skip_bench and not bench.is_file():
        raise PolicyQAError(f"{bench} is missing; point --bench at PolicyQA's policyqa_dev.json, or fit on your own "
                            "questions alone with --skip-bench.")
    model = embedder.get()
    customer_index, cases = store.load(index, embedder=model), _customer_cases(gold, from_feedback)
    customer = training.gold_examples(customer_index, model, cases)
    sentences = training.gold_excerpts(customer_index, model, cases)
    policyqa: list = []
    if not skip_bench:
        work = bench_dir or index.parent / ".bench"
        asked = evaluation.bench_corpus(bench, work / "corpus")
        store.build(work / "corpus", work / "all", model, _progress_bars())
        policyqa_index = store.load(work / "all")
        policyqa = training.policyqa_examples(policyqa_index, model, asked)
        sentences = training.policyqa_excerpts(policyqa_index, model, asked) + sentences
        pairs = training.reader_pairs(policyqa_index, model, evaluation.customer_questions(work / "corpus"))
        lessons = training.student_lessons(policyqa_index, pairs, training.translated_questions())
    else:
        pairs = training.gold_reader_pairs(customer_index, model, cases)
        lessons = training.student_lessons(customer_index, pairs, [])
    labelled = questions.load()
    kinds = model.encode([search_text(q.question) for q in labelled])
    fitted_adapter, fitted_excerpts = training.fit(policyqa, customer), excerpts.fit(sentences)  # all, then save
    fitted_questions, accuracy = questions.fit(kinds, labelled), questions.held_out_accuracy(kinds, labelled)
    fitting = reader.shipped_path().with_name(".fitting-reader.onnx")  # published once every part is fitted
    try:
        student, correlation = multilingual_reader.taught(reader.fit(pairs, fitting, _progress_bars()), lessons)
        adapter.save(fitted_adapter, adapter.shipped_path())
        excerpts.save(fitted_excerpts, excerpts.shipped_path())
        questions.save(fitted_questions, questions.shipped_path())
        multilingual_reader.save(student, multilingual_reader.shipped_path())
        reader.publish(fitting)
    finally:
        fitting.unlink(missing_ok=True)
    click.echo(f"Fitted on {len(policyqa)} PolicyQA and {len(customer)} customer questions ({len(sentences)} answering "
               f"clauses for excerpts), {len(labelled)} labelled questions (held out by sector: product or policy "
               f"{accuracy['about']:.1%} right, fact asked for {accuracy['fact']:.1%}) and {len(pairs)} question-clause "
               f"pairs for the reader, {len(lessons)} in nine languages for its multilingual student (whose logits "
               f"correlate {correlation:.2f} with the reader's on every {multilingual_reader.HELD_OUT}th question held "
               f"out); saved {adapter.shipped_path()}, "
               f"{excerpts.shipped_path()}, {questions.shipped_path()}, {multilingual_reader.shipped_path()} and "
               f"{reader.shipped_path()}. "
               "Run `policyqa eval --calibrate` to refit the probability that reads them, on held-out policies.")


@cli.command("train-topics")
@click.option("--bench-dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Folder with policyqa_dev.json and privacyqa_questions_train.tsv [default: ../shared/bench].")
@_friendly
def train_topics(bench_dir: Path | None) -> None:
    """Retrain the topic classifier shipped in app/data/topics.npz; prints held-out accuracy."""
    from importlib.resources import files

    from . import embedder, topics

    bench_dir = bench_dir or settings.shared_data() / "bench"
    texts, labels, groups = topics.training_data(bench_dir)
    click.echo(f"Embedding {len(texts)} training texts...", err=True)
    vectors = embedder.get().encode(texts, progress=True)
    click.echo(f"Held out by policy: {json.dumps(topics.held_out_accuracy(vectors, labels, groups))}")
    topics.save(topics.fit(vectors, labels), Path(str(files("app") / "data" / "topics.npz")))
    click.echo("Saved app/data/topics.npz")


@cli.command("train-languages")
@click.option("--bench-dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Folder with policyqa_dev.json and privacyqa_questions_train.tsv [default: ../shared/bench].")
@_friendly
def train_languages(bench_dir: Path | None) -> None:
    """Refit the map that carries questions in other languages into the embedder's space (app/data/crosslingual.npz),
    on English texts and the team's customer questions in eight other languages; prints its held-out cosines."""
    from . import crosslingual, embedder, training

    bench_dir = bench_dir or settings.shared_data() / "bench"
    if not (bench_dir / "policyqa_dev.json").is_file():
        raise PolicyQAError(f"{bench_dir / 'policyqa_dev.json'} is missing; point --bench-dir at the folder with "
                            "PolicyQA's policyqa_dev.json and privacyqa_questions_train.tsv.")
    texts, translated = training.crosslingual_texts(bench_dir), training.translated_questions()
    click.echo(f"Embedding {len(texts)} English training texts and {len(translated)} translated questions...", err=True)
    fitted, cosine = crosslingual.fit(texts, translated, embedder.get())
    crosslingual.save(fitted, crosslingual.shipped_path())
    click.echo(f"Held out, mean cosine of the mapped vector with the embedder's: {cosine['english']:.3f} for every "
               f"{crosslingual.HELD_OUT}th English text, {cosine['translated']:.3f} for the translated questions about "
               f"every {crosslingual.HELD_OUT}th policy (to their English originals). Saved {crosslingual.shipped_path()}")


@cli.command("settings")
def show_settings() -> None:
    """Print the settings table (docs/settings.md's, as Markdown rows) with the values in force."""
    click.echo(settings.markdown_table())


@cli.command()
@_path_option("feedback_db", "--db", click.STRING)  # a file or a postgresql:// URL
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Groups to list at most.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per group.")
@_friendly
def report(feedback_db: str | None, limit: int, as_json: bool) -> None:
    """The questions most often declined or thumbed down, grouped: what the policies do not answer."""
    from .feedback import FeedbackStore

    db = FeedbackStore.configured(feedback_db)
    gaps = db.gaps(limit)
    if as_json:
        for gap in gaps:
            click.echo(json.dumps(gap.to_json(), ensure_ascii=False))
    elif not gaps:
        click.echo(f"No declined or disliked questions recorded in {db} yet.")
    else:
        click.echo(f"{'Declined':>8} {'Disliked':>8}  {'Policy':<16} Question (the wording asked most)")
        for gap in gaps:
            click.echo(f"{gap.declined:>8} {gap.disliked:>8}  {gap.policy or 'all policies':<16} {gap.question}"
                       + (f"  ({gap.wordings} wordings)" if gap.wordings > 1 else ""))


def _sizes(text: str, option: str = "--sizes", example: str = "1000,10000") -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise PolicyQAError(f"{option} {text!r} is not a comma-separated list of whole numbers, e.g. {example}.") from None
    if any(n < 1 for n in sizes):
        raise PolicyQAError(f"{option} {text!r} has a number below 1; give counts such as {example}.")
    return sizes


@cli.command()
@click.option("--sizes", default="1000,10000,100000", show_default=True,
              help="Synthetic corpus sizes in rows, comma-separated; add 1000000 for the 1M run (about 10 minutes).")
@click.option("--incremental-files", type=click.IntRange(0, 999), default=100, show_default=True,
              help="Generated policies (~88 clauses each) for the re-index-after-one-edit test; 0 skips it.")
@click.option("--questions", type=click.IntRange(1), default=None, help="Gold questions asked of each index [default: all].")
@click.option("--index", "index_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="Use this built index instead of building the bundled corpus into a fresh one.")
@click.option("--workers", "workers", default="1,2", show_default=True,
              help="Worker counts whose serving throughput (answers per second) is measured, comma-separated; 0 skips it.")
@click.option("--only-throughput", is_flag=True, help="Measure only the serving throughput (a few minutes).")
@click.option("--json", "json_file", type=click.Path(path_type=Path), default=None, help="Also write the figures to FILE.")
@click.option("--plot", "plot_file", type=click.Path(path_type=Path), default=None,
              help="Plot search latency against size to FILE (PNG), when matplotlib is installed.")
@click.option("--startup", is_flag=True, help="Instead: start-up and re-indexing per embedding backend, PyTorch the "
              "baseline: cold ask and serve, no-op and one-edit re-index, model start-up, question latency, throughput, "
              "memory (about 10 minutes).")
@click.option("--runs", type=click.IntRange(1, 20), default=3, show_default=True,
              help="With --startup: fresh processes per median.")
@click.option("--policies", type=click.IntRange(1, 999), default=25, show_default=True,
              help="With --startup: generated policies for the full build and the one-policy edit.")
@_friendly
def bench(sizes: str, incremental_files: int, questions: int | None, index_dir: Path | None, workers: str,
          only_throughput: bool, json_file: Path | None, plot_file: Path | None, startup: bool, runs: int,
          policies: int) -> None:
    """Measure index types on the bundled corpus and synthetic scale-ups, each against exact flat search, and the
    serving throughput; or, with --startup, what a user waits for on each embedding backend."""
    from . import bench as benchmark, embedder

    say = lambda message: click.echo(message, err=True)  # noqa: E731
    if startup:
        result = benchmark.startup(say, runs, policies)
        click.echo(benchmark.render_startup(result))
        if json_file:
            benchmark.save(result, json_file)
        return
    counts = [] if workers.strip() == "0" else _sizes(workers, "--workers", "1,2")
    result = benchmark.run(embedder.get(), _sizes(sizes), incremental_files, say, questions, index_dir, counts,
                           only_throughput)
    click.echo(benchmark.render(result))
    if json_file:
        benchmark.save(result, json_file)
    if plot_file and "rows" in result:
        click.echo(benchmark.plot(result, plot_file), err=True)
