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


def _path_option(name: str, flag: str):
    return click.option(flag, name, type=click.Path(path_type=Path), default=None,
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
@_friendly
def index(corpus: Path | None, index: Path | None) -> None:
    """Index the corpus; re-embeds only policies added or changed since the last build."""
    from . import embedder, store

    corpus = corpus or settings.path("corpus")
    index = index or settings.path("index")
    report = store.build(corpus, index, embedder.get(), _progress_bars())
    for name, reason in report.skipped.items():
        click.echo(f"skipped {name}: {reason}", err=True)
    click.echo(
        f"Indexed {report.policies} policies, {report.clauses} clauses into {index / report.generation} "
        f"in {report.seconds:.1f}s: embedded {report.embedded}, reused {report.clauses - report.embedded}; "
        f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
        f"skipped {len(report.skipped)}."
    )


@cli.command()
@click.argument("question", required=False)
@_path_option("index", "--index")
@click.option("--policy", help="Answer from this policy only (its id, the file stem).")
@click.option("--top-k", type=click.IntRange(1, 20), default=None, help="Citations at most [default: 3].")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.option("--batch", type=click.File("r", encoding="utf-8"), help='JSONL of {"id", "question", "policy"?}; one answer per line.')
@_friendly
def ask(question: str | None, index: Path | None, policy: str | None, top_k: int | None, as_json: bool, batch) -> None:
    """Answer QUESTION with quotes from the policies."""
    from . import answer, embedder, store

    if (question is None) == (batch is None):
        raise PolicyQAError("Give either a QUESTION or --batch FILE.")
    top_k = top_k or settings.get_int("top_k")
    model = embedder.get()
    loaded = store.load(index or settings.path("index"), expect_dims=model.dims)
    if batch is None:
        result = answer.ask(loaded, model, question, policy=policy, top_k=top_k)
        click.echo(json.dumps(result.to_json(), ensure_ascii=False) if as_json else _render(result))
        return
    for number, line in enumerate(batch, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            result = answer.ask(loaded, model, item["question"], policy=item.get("policy") or policy, top_k=top_k)
            result.id = item.get("id")
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            click.echo(json.dumps({"id": None, "error": f"line {number}: not a JSON object with a question ({exc.__class__.__name__})"}))
        except PolicyQAError as exc:
            click.echo(json.dumps({"id": item.get("id"), "error": str(exc)}, ensure_ascii=False))


def _render(result) -> str:
    lines = [result.answer, ""]
    for n, c in enumerate(result.citations, 1):
        lines.append(f"[{n}] {c.title} — {c.section or '(opening)'} — chars {c.start}-{c.end} — score {c.score:.2f}")
    return "\n".join(lines).rstrip()


def main() -> None:
    cli()


@cli.command()
@_path_option("corpus", "--corpus")
@_path_option("index", "--index")
@click.option("--host", default=None, help="Address to bind [default: $POLICYQA_HOST or 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [default: $POLICYQA_PORT or 7860].")
@_friendly
def serve(corpus: Path | None, index: Path | None, host: str | None, port: int | None) -> None:
    """Serve the chat UI, the JSON API and the widget; builds or refreshes the index first."""
    import uvicorn

    from .engine import Engine
    from .feedback import FeedbackStore
    from .web.server import create_app

    engine = Engine(corpus or settings.path("corpus"), index or settings.path("index"))
    click.echo("Checking the index...", err=True)
    engine.refresh(_progress_bars())
    host = host or settings.get("host")
    port = port or settings.get_int("port")
    app = create_app(engine, FeedbackStore(settings.path("feedback_db")))
    click.echo(f"PolicyQA is serving {len(engine.index.policies)} policies on http://{host}:{port}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
