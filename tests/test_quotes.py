"""No hidden gaps: every quote is its pieces joined by the gap mark, each piece word for word at its offsets in the
source as a reader sees it (tests/reading.py: markdown-it's rendering, a browser's visible text).

Checked on every quote the excerpt picker can cut (each run of sentences of each clause, and each whole clause) of
the seeds, ../shared/policies and PolicyQA dev's policies, on generated Markdown and HTML pages with tables, lists,
tables of contents and site chrome, and on the answers to real questions (the gold set, the modern policies'
questions, PolicyQA's, and questions made from the clauses' headings).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import example, given, strategies as st

from app import answer, clauses as clause_split, documents, evaluation, excerpts
from app.engine import Engine
from app.errors import PolicyQAError
from app.records import Citation, Clause, Policy
from conftest import EXAMPLES, ROOT
from reading import CONTENTS_PAGE, GAP, quote_problem, seen_words

SHARED = ROOT.parent / "shared"
needs_shared = pytest.mark.skipif(not (SHARED / "policies").is_dir() or not (SHARED / "bench").is_dir(),
                                  reason="../shared is not here")
SEEDS = sorted(p for p in (ROOT / "corpus").glob("*.md") if p.name != "README.md")
MODERN = sorted(p for p in (SHARED / "policies").glob("*.md") if p.name != "README.md")
POLICYQA_SAMPLE = 3  # PolicyQA dev policies indexed for the questions (all 20 are checked quote by quote)


def every_quote(policy: Policy, clauses: list[Clause]) -> list[Citation]:
    """Every quote the excerpt picker can cut (each run of sentences that fits, from each start) and each clause whole
    (as `changes` quotes a short clause)."""
    quotes = []
    for clause in clauses:
        n = len(clause.sentences)
        runs = {(a, excerpts.run_end(clause, a)) for a in range(n)} | {(0, n)}
        quotes += [answer.cite(policy, clause, run, 1.0) for run in sorted(runs)]
    return quotes


def hidden_gaps(source: str, suffix: str, citations: list[Citation]) -> list[str]:
    """What is wrong with each citation that does not stand in the source (empty: all do)."""
    seen = seen_words(source, suffix)
    return [f"{c.quote[:80]!r}: {problem}" for c in citations if (problem := quote_problem(seen, c.quote, c.pieces))]


def check_file(path: Path) -> int:
    """Check every quote of one policy file; the number of quotes."""
    policy, blocks = documents.load(path)
    quotes = every_quote(policy, clause_split.split(policy, blocks))
    assert not hidden_gaps(policy.source_text, path.suffix, quotes)
    return len(quotes)


@pytest.mark.parametrize("path", SEEDS + MODERN, ids=lambda p: p.name)
def test_every_quote_of_a_real_policy_stands_in_its_source(path):
    assert check_file(path) > 0


@needs_shared
def test_every_quote_of_policyqa_dev_stands_in_its_source(tmp_path):
    evaluation.bench_corpus(SHARED / "bench" / "policyqa_dev.json", tmp_path)
    files = sorted(tmp_path.glob("*.txt"))
    assert len(files) == 20 and sum(check_file(p) for p in files) > 1000


# ---------------------------------------------------------------- the gap is marked where the page has words


def only_quote(text: str, suffix: str, tmp_path: Path) -> tuple[str, Citation]:
    """The source and the quote of the one clause of a page that has words besides its heading, whole."""
    path = tmp_path / f"acme{suffix}"
    path.write_text(text, encoding="utf-8")
    policy, blocks = documents.load(path)
    (clause,) = clause_split.split(policy, blocks)
    return policy.source_text, answer.cite(policy, clause, (0, len(clause.sentences)), 1.0)


DROPPED = {  # a page whose one clause runs across words that cleaning leaves out, and the words either side of them
    "a table of contents": (CONTENTS_PAGE, ".md", "as follows:", "It applies"),
    "an e-mail address in a form": (
        "<html><body><main><h1>Acme Privacy Policy</h1><p>Questions about this policy go to our privacy team "
        "<form><label>Email:</label> <button>privacy@acme.com</button></form> or by post to 1 Main Street, "
        "Springfield.</p></main></body></html>", ".html", "privacy team", "or by post"),
}


@pytest.mark.parametrize("page, suffix, before, after", DROPPED.values(), ids=DROPPED.keys())
def test_a_quote_across_words_the_page_shows_marks_the_gap(page, suffix, before, after, tmp_path):
    source, citation = only_quote(page, suffix, tmp_path)
    assert f"{before} … {after}" in citation.quote
    assert len(citation.pieces) == 2 and citation.start == citation.pieces[0][0] and citation.end == citation.pieces[-1][1]
    seen = seen_words(source, suffix)
    assert quote_problem(seen, citation.quote, citation.pieces) is None
    unmarked = citation.quote.replace(" … ", " ")
    assert quote_problem(seen, unmarked, [(citation.start, citation.end)]) is not None  # the oracle sees the gap


MARKUP_ONLY = {  # a page whose one clause skips only markup and what a reader never sees
    "html": ("<html><body><main><h1>Acme Privacy Policy</h1><p>We keep <b>payment records</b> <span hidden>draft</span>"
             "for <a href='#years'>five years</a><script>var years = 5;</script> after your last purchase at AT&amp;T "
             "stores, as the caf&eacute; tax law requires.</p></main></body></html>", ".html"),
    "markdown": ("# Acme Privacy Policy\n\nWe keep<br>payment records&amp;[receipts](https://acme.com/receipts) "
                 "for **five** years <!-- check --> after your `last` purchase, as the tax law requires.\n", ".md"),
}


@pytest.mark.parametrize("page, suffix", MARKUP_ONLY.values(), ids=MARKUP_ONLY.keys())
def test_hidden_text_and_markup_leave_no_gap(page, suffix, tmp_path):
    source, citation = only_quote(page, suffix, tmp_path)
    assert len(citation.pieces) == 1 and GAP not in citation.quote
    assert quote_problem(seen_words(source, suffix), citation.quote, citation.pieces) is None


# ---------------------------------------------------------------- generated pages: tables, lists, chrome

WORDS = ["we", "collect", "your", "data", "personal", "information", "cookies", "partners", "retain", "years", "email",
         "address", "payment", "records", "consent", "delete", "request", "service", "law", "settings", "unique",
         "identifiers", "device", "location", "purchases", "analytics", "account", "support", "U.S.", "e.g.", "50%"]
TITLES = ["Cookies", "Your Rights", "Data We Collect", "Retention", "Contact Us", "Sharing"]
CHROME_MD = ["* [Home](/)\n* [Account settings](/account)", "Skip to content", "[Back to top](#top)"]
CHROME_HTML = ["<nav><a href='/'>Home</a> <a href='/account'>Account settings</a></nav>",
               "<header><p>Acme Store</p></header>", "<div class='cookie-banner'>We use cookies <button>Accept</button></div>",
               "<form><label>Search</label><button>Go</button></form>", "<div hidden>Draft text nobody sees</div>",
               "<script>var data = 'unique identifiers';</script>", "<!-- reviewed by legal -->"]

phrase = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)


@st.composite
def sentence(draw) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=3, max_size=12))
    return words[0][:1].upper() + words[0][1:] + " " + " ".join(words[1:]) + draw(st.sampled_from([".", ".", ";", "?"]))


paragraph = st.lists(sentence(), min_size=1, max_size=4).map(" ".join)
lead_in = paragraph.map(lambda p: p.rstrip(".;?") + ", as follows:")


@st.composite
def table(draw) -> tuple[list[str], list[list[str]]]:
    """A header and rows; a row's cell may repeat the row above's (a data category in every row) or be a list."""
    columns = draw(st.integers(2, 3))
    header = draw(st.lists(st.sampled_from(["Purpose", "Data", "Legal basis", "Retention", "Cookie"]),
                           min_size=columns, max_size=columns))
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(1, 5))):
        if rows and draw(st.booleans()):
            rows.append(list(rows[-1]))  # repeated across rows: still policy text
        else:
            rows.append([draw(st.one_of(phrase, st.lists(phrase, min_size=2, max_size=3).map("\n".join)))
                         for _ in range(columns)])
    return header, rows


@st.composite
def markdown_page(draw) -> str:
    parts = ["# Acme Privacy Policy"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["heading", "paragraph", "list", "contents", "table", "html table", "chrome",
                                     "definition", "contact"]))
        if kind == "heading":
            parts.append("## " + draw(st.sampled_from(TITLES)))
        elif kind == "paragraph":
            parts.append(draw(paragraph))
        elif kind == "list":
            marker = draw(st.sampled_from(["-", "*", "1."]))
            parts += [draw(lead_in), "\n".join(f"{marker} {draw(sentence())}" for _ in range(draw(st.integers(1, 4))))]
        elif kind == "contents":
            parts += [draw(lead_in), "\n".join(f"* [{t}](#{t.lower().replace(' ', '-')})" for t in TITLES[:3])]
        elif kind == "table":
            header, rows = draw(table())
            lines = [" | ".join(header), " | ".join("---" for _ in header)]
            lines += [" | ".join(cell.replace("\n", ", ") for cell in row) for row in rows]
            parts += [draw(lead_in), "\n".join(lines)]
        elif kind == "html table":
            parts += [draw(lead_in), html_table(*draw(table()))]
        elif kind == "chrome":
            parts.append(draw(st.sampled_from(CHROME_MD)))
        elif kind == "definition":
            parts += [draw(paragraph) + " See [our partners][partners].", "[partners]: https://example.com/partners"]
        else:
            parts.append(f"{draw(sentence())} Write to [privacy@acme.com](mailto:privacy@acme.com) or call us.")
    return "\n\n".join(parts) + "\n"


def html_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        lines = text.split("\n")
        return lines[0] if len(lines) == 1 else "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"

    head = "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}</tbody>\n</table>"


@st.composite
def html_page(draw) -> str:
    parts = ["<h1>Acme Privacy Policy</h1>"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["heading", "paragraph", "list", "table", "chrome", "contact"]))
        if kind == "heading":
            parts.append(f"<h2>{draw(st.sampled_from(TITLES))}</h2>")
        elif kind == "paragraph":
            parts.append(f"<p>{draw(paragraph)}</p>")
        elif kind == "list":
            tag = draw(st.sampled_from(["ul", "ol"]))
            items = "".join(f"<li>{draw(sentence())}</li>" for _ in range(draw(st.integers(1, 4))))
            parts.append(f"<p>{draw(lead_in)}</p><{tag}>{items}</{tag}>")
        elif kind == "table":
            parts.append(f"<p>{draw(lead_in)}</p>" + html_table(*draw(table())))
        elif kind == "chrome":
            parts.append(draw(st.sampled_from(CHROME_HTML)))
        else:
            inline = draw(st.sampled_from(CHROME_HTML))
            parts.append(f"<p>{draw(sentence())} Contact us {inline} <b>Email:</b> "
                         f"<a href='mailto:privacy@acme.com'>privacy@acme.com</a> or by post.</p>")
    chrome = draw(st.lists(st.sampled_from(CHROME_HTML), max_size=2))
    return ("<!doctype html><html><head><title>Acme</title><style>p { color: black; }</style></head><body>"
            + "".join(chrome) + "<main>\n" + "\n".join(parts) + "\n</main><footer>© Acme Store</footer></body></html>")


def check_page(text: str, suffix: str, tmp_path_factory) -> None:
    path = tmp_path_factory.getbasetemp() / f"generated{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        policy, blocks = documents.load(path)
    except PolicyQAError as exc:
        assert "no policy text left" in str(exc)
        return
    quotes = every_quote(policy, clause_split.split(policy, blocks))
    assert not hidden_gaps(policy.source_text, suffix, quotes)


@EXAMPLES
@given(page=markdown_page())
@example(page="# Acme Privacy Policy\n\nWe keep these records, as follows:\n\n| Data | Period |\n| --- | --- |\n"
              "| payment | 5 years |\n| payment | 5 years |\n")
def test_every_quote_of_a_generated_markdown_page_stands_in_its_source(page, tmp_path_factory):
    check_page(page, ".md", tmp_path_factory)


@EXAMPLES
@given(page=html_page())
def test_every_quote_of_a_generated_web_page_stands_in_its_source(page, tmp_path_factory):
    check_page(page, ".html", tmp_path_factory)


# ---------------------------------------------------------------- answers to real questions


def heading_questions(engine: Engine, per_policy: int) -> list[tuple[str, str]]:
    """(question, policy) made from the clauses' headings: "What does the policy say about Data retention?"."""
    asked = []
    for key, document in sorted(engine.index.documents.items()):
        lo, hi = engine.index.ranges[key]
        sections = dict.fromkeys(c.section.split(" › ")[-1] for c in engine.index.clauses[lo:hi] if c.section)
        asked += [(f"What does the policy say about {s}?", document.id) for s in list(sections)[:per_policy]]
    return asked


def answered_quotes(engine: Engine, questions: list[tuple[str, str | None]]) -> tuple[int, list[str]]:
    """How many quotes the answers carry, and what is wrong with those that do not stand in their sources."""
    sources = {documents.policy_id(p): p for p in documents.corpus_files(engine.corpus)}
    count, problems = 0, []
    for question, policy in questions:
        result = engine.ask(question, policy=policy)
        for citation in result.citations:
            path = sources[citation.policy]
            count += 1
            problems += hidden_gaps(documents.read_source(path), path.suffix, [citation])
    return count, problems


def test_answers_to_the_gold_questions_quote_without_hidden_gaps(engine):
    questions = [(c.question, c.policy) for c in evaluation.load_gold()] + heading_questions(engine, 8)
    count, problems = answered_quotes(engine, questions)
    assert count > 200 and not problems


@needs_shared
def test_answers_on_modern_and_policyqa_policies_quote_without_hidden_gaps(tmp_path, model):
    """The modern policies and a sample of PolicyQA dev's, indexed for real, asked their own questions."""
    policyqa = evaluation.bench_corpus(SHARED / "bench" / "policyqa_dev.json", tmp_path / "policyqa")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in MODERN + sorted((tmp_path / "policyqa").glob("*.txt"))[:POLICYQA_SAMPLE]:
        (corpus / path.name).write_bytes(path.read_bytes())
    engine = Engine(corpus, tmp_path / "index", model)
    engine.refresh()
    modern = [json.loads(line) for name in ("modern.jsonl", "modern_near.jsonl")
              for line in (ROOT / "app" / "data" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = random.Random(31)
    questions = chosen.sample([(q["question"], q["policy"]) for q in modern if q["policy"] in engine.index.policies], 100)
    questions += [(q.question, q.policy) for q in chosen.sample([q for q in policyqa if q.policy in engine.index.policies], 40)]
    count, problems = answered_quotes(engine, questions + heading_questions(engine, 5))
    assert count > 300 and not problems
