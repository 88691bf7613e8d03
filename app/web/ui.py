"""The Gradio UI: the customers' chat with its source viewer, and the support agents' tools.

Everything shown is built here as HTML from escaped text: nothing a user types and nothing
from a policy file is ever run as markup or script. Clicks inside the HTML (citations, thumbs,
example questions) reach Python as custom events of gr.HTML, carrying only numbers and the
comment; the server looks everything else up in the session's own state.
"""

import hmac
import logging
import re
import time
from dataclasses import dataclass
from html import escape
from typing import Callable
from urllib.parse import urlparse

import gradio as gr

from .. import answer as answers, changes as diffs, phrases, quotes, search, settings, versions
from ..answer import Turn
from ..embedder import Embedder
from ..engine import Engine
from ..errors import PolicyQAError
from ..feedback import MAX_TYPED_COMMENT, FeedbackStore, Gap
from ..documents import document_key
from ..records import Answer, Citation, Clause, Policy
from ..store import Index
from ..text import plain
from ..topics import TOPICS
from .workers import Workers

log = logging.getLogger(__name__)

ALL = "*"  # the dropdown value for "all policies"
LATEST = ""  # the version dropdown's value for "the latest version"
HISTORY_TURNS = 6  # earlier exchanges passed to the engine as the conversation
AGENT_RESULTS = 10
I18N = gr.I18n(**phrases.CHAT)  # the page's own words, in the browser's language; server.py mounts the UI with it

# Questions each bundled policy answers (tests/test_ui.py checks that it does).
EXAMPLES: dict[str, tuple[str, ...]] = {
    ALL: ("Does Clozette use cookies?", "How long does LEJE keep my payment records?",
          "Does Herve Leger sell my personal information?"),
    "clozette": ("When do you collect my information?", "What do you use cookies for?",
                 "How do you protect my credit card number?"),
    "dr-esthetique": ("What information do you collect when I join?", "How long do you keep my information?",
                      "Can I withdraw my consent?"),
    "herve-leger": ("Do you sell my personal information?", "Who gets my credit card number?",
                    "How do you keep my data safe?"),
    "laneige": ("What personal information do you collect?", "Is my information encrypted?",
                "How do you use my reviews?"),
    "leje": ("How long do you keep my payment records?", "How can I delete my account?",
             "How do you destroy my data?"),
}
GENERIC_EXAMPLES = ("What personal information do you collect?", "Who do you share my information with?",
                    "How long do you keep my information?")


@dataclass
class Exchange:
    """One question of the conversation and what came of it."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    ask_id: int | None = None  # its row in the feedback database's asks table, when logged
    rating: int = 0  # the thumbs given, once saved
    notice: str = ""  # the feedback outcome shown under the answer


# ---------------------------------------------------------------- small HTML pieces


def safe_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) link; anything else is not made a link."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


def link(url: str | None, text: str) -> str:
    url = safe_url(url)
    if url is None:
        return ""
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{escape(text)}</a>'


def notice(text: str, kind: str = "note") -> str:
    return f'<p class="pq-notice pq-{kind}">{escape(text)}</p>'


def page_words(key: str) -> str:
    """The page's words `key` as the marker the browser replaces with them in its language. Not escaped (the marker is
    JSON, the words are ours), and one to an HTML value: the browser replaces only the first."""
    return str(I18N(key))


def chosen(value: str | None) -> str | None:
    """A dropdown's value, None for its "all" entry."""
    return None if value in (ALL, None, "") else value


# ---------------------------------------------------------------- the chat


def examples_for(choice: str) -> tuple[str, ...]:
    return EXAMPLES.get(choice or ALL, GENERIC_EXAMPLES)


def render_examples(choice: str) -> str:
    buttons = "".join(f'<button type="button" class="pq-example" data-example="{n}">{escape(q)}</button>'
                      for n, q in enumerate(examples_for(choice)))
    return f'<div class="pq-examples"><span>{page_words("try")}</span>{buttons}</div>'


def render_transcript(exchanges: list[Exchange]) -> str:
    if not exchanges:
        return f'<div class="pq-empty">{page_words("empty")}</div>'
    return "".join(_render_exchange(turn, x) for turn, x in enumerate(exchanges))


def _render_exchange(turn: int, exchange: Exchange) -> str:
    question = f'<div class="pq-q">{escape(exchange.question)}</div>'
    if exchange.answer is None:
        return f'<div class="pq-turn" data-turn="{turn}">{question}{notice(exchange.error or "", "error")}</div>'
    kind = "answered" if exchange.answer.answered else "declined"
    body = render_answer(turn, exchange.answer)
    return (f'<div class="pq-turn" data-turn="{turn}">{question}<div class="pq-a pq-{kind}">{body}</div>'
            f'{_render_rating(turn, exchange)}</div>')


_QUOTED = re.compile(r"^“(?P<quote>.*)” \[(?P<n>\d+)\]$", re.S)


def render_answer(turn: int, answer: Answer) -> str:
    """The engine's answer text, its “quote” [n] paragraphs as quotations, then the numbered sources; the words
    around them in the answer's language."""
    parts, lang = [], answer.lang
    for paragraph in answer.answer.split("\n\n"):
        quoted = _QUOTED.match(paragraph)
        if quoted and 1 <= int(quoted["n"]) <= len(answer.citations):
            n = int(quoted["n"])
            parts.append(f'<blockquote class="pq-quote">{render_quote(quoted["quote"], lang)} '
                         f'<button type="button" class="pq-cite" data-turn="{turn}" data-cite="{n}" '
                         f'title="{escape(phrases.chat(lang, "show"))}">[{n}]</button></blockquote>')
        else:
            parts.append(f"<p>{escape(paragraph)}</p>")
    if answer.citations:
        sources = "".join(_render_source(turn, n, c, lang) for n, c in enumerate(answer.citations, 1))
        parts.append(f'<ol class="pq-sources">{sources}</ol>')
    return "".join(parts)


def _skip(lang: str) -> str:
    """The mark of a quote's gap, titled in `lang`."""
    return f' <span class="pq-skip" title="{escape(phrases.chat(lang, "gap"))}">…</span> '


def render_quote(quote: str, lang: str = "en") -> str:
    """A quote, escaped, its gap marks (where it leaves out words of the page) shown as such."""
    return _skip(lang).join(escape(piece) for piece in quote.split(quotes.MARK))


def _render_source(turn: int, n: int, citation: Citation, lang: str) -> str:
    """Source [n]: where the quote is from, and how likely its clause is to answer."""
    # not escaped, as ever: the words are ours, and a browser reads "<1%" as text
    likelihood = (f' <span class="pq-likelihood" title="{escape(phrases.chat(lang, "fitted"))}">'
                  f'{phrases.chat(lang, "answers_it", p=citation.likelihood)}</span>' if citation.likelihood else "")
    return (f'<li><button type="button" class="pq-source" data-turn="{turn}" data-cite="{n}">'
            f'[{n}] {escape(citation.title)} — {escape(_section(citation.section, lang))}'
            f'{escape(_page_note(citation, lang) + _version_note(citation.version, lang))}</button>{likelihood}</li>')


def _section(section: str, lang: str) -> str:
    return section or phrases.chat(lang, "opening")


def _page_note(citation: Citation, lang: str) -> str:
    return f", {phrases.chat(lang, 'at_page', page=citation.page)}" if citation.page else ""


def _version_note(version: str | None, lang: str) -> str:
    return f" {phrases.chat(lang, 'version', version=version)}" if version else ""


_THUMB = ('<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true"{flip}><path fill="currentColor" '
          'd="M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6V3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10'
          'a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z"/></svg>')
_FLIP = ' style="transform: scaleY(-1)"'


def _thumb(rating: int, lang: str) -> str:
    """A thumb up (1) or down (-1), named in `lang`."""
    up = rating > 0
    name = phrases.chat(lang, "helpful" if up else "not_helpful")
    return f'{_THUMB.format(flip="" if up else _FLIP)} {escape(name)}'


def _render_rating(turn: int, exchange: Exchange) -> str:
    lang = exchange.answer.lang
    if exchange.rating:
        return f'<div class="pq-rate pq-rated">{_thumb(exchange.rating, lang)} — {escape(exchange.notice)}</div>'
    status = notice(exchange.notice, "error") if exchange.notice else ""
    buttons = "".join(f'<button type="button" data-turn="{turn}" data-rate="{r}">{_thumb(r, lang)}</button>'
                      for r in (1, -1))
    return (f'<div class="pq-rate">{buttons}'
            f'<input class="pq-comment" type="text" maxlength="{MAX_TYPED_COMMENT}" '
            f'placeholder="{escape(phrases.chat(lang, "comment"))}">'
            f'{status}</div>')


def history_of(exchanges: list[Exchange]) -> list[Turn]:
    return [Turn(x.question, x.answer.policy) for x in exchanges if x.answer][-HISTORY_TURNS:]


def echoed(question: str) -> str:
    """A question the engine refused, as the transcript repeats it: plain text, cut at the longest accepted."""
    text, limit = plain(question or ""), settings.get_int("max_question")
    return text if len(text) <= limit else text[:limit] + "…"


def ask(engine: Engine, feedback: FeedbackStore, workers: Workers, question: str, choice: str,
        exchanges: list[Exchange], version: str = LATEST) -> list[Exchange]:
    """Answer `question` in the conversation so far, from the versions in force on `version` (a date; empty:
    the latest), and log its outcome; errors become a chat line."""
    exchange = Exchange(question=echoed(question))
    try:
        result = workers.run(engine.ask, question or "", chosen(choice), history_of(exchanges),
                             settings.get_int("top_k"), version or None)
        exchange.answer, exchange.question = result, result.question
    except (PolicyQAError, TimeoutError) as exc:
        exchange.error = str(exc)
    except Exception:  # the last guard: a bug is logged, the customer gets one line and a working chat
        log.exception("answering %r failed", question)
        exchange.error = "Something went wrong while answering; please try again."
    if exchange.answer is not None:
        try:
            exchange.ask_id = feedback.record_ask(exchange.answer)
        except PolicyQAError:
            pass  # best effort: the store has logged why, and the customer still gets the answer
    return [*exchanges, exchange]


def rate(feedback: FeedbackStore, exchanges: list[Exchange], turn: object, rating: object,
         comment: object) -> list[Exchange]:
    """Store a thumbs up/down on answer `turn`; the outcome is shown under that answer."""
    if not isinstance(turn, int) or not 0 <= turn < len(exchanges) or rating not in (1, -1):
        return exchanges
    exchange = exchanges[turn]
    if exchange.answer is None or exchange.rating:
        return exchanges
    try:
        feedback.add(exchange.answer, rating, comment if isinstance(comment, str) else "", exchange.ask_id)
        exchange.rating, exchange.notice = rating, phrases.chat(exchange.answer.lang, "thanks")
    except PolicyQAError as exc:
        exchange.notice = str(exc)
    return exchanges


# ---------------------------------------------------------------- the source viewer


def clause_of(index: Index, policy: str, number: int) -> Clause | None:
    lo, hi = index.ranges.get(policy, (0, 0))
    if lo + number < hi and index.clauses[lo + number].number == number:
        return index.clauses[lo + number]
    return next((c for c in index.clauses[lo:hi] if c.number == number), None)


def open_citation(engine: Engine, exchanges: list[Exchange], turn: object, n: object) -> str:
    """The source viewer for citation [n] of answer `turn`: the whole policy, the quote's pieces highlighted; its
    words in the answer's language."""
    if not isinstance(turn, int) or not 0 <= turn < len(exchanges) or exchanges[turn].answer is None:
        return render_viewer_empty()
    citations, lang = exchanges[turn].answer.citations, exchanges[turn].answer.lang
    if not isinstance(n, int) or not 1 <= n <= len(citations):
        return render_viewer_empty()
    citation = citations[n - 1]
    try:
        index = engine.index
    except PolicyQAError as exc:
        return notice(str(exc), "error")
    key = document_key(citation.policy, citation.version)
    policy = index.documents.get(key)
    if policy is None:
        return notice(phrases.chat(lang, "not_indexed", title=citation.title,
                                   version=_version_note(citation.version, lang)), "error")
    clause = clause_of(index, key, citation.clause)
    spans = quotes.clean_spans(clause, list(citation.pieces)) if clause else []
    if clause and len(spans) < len(citation.pieces):  # the clause changed since: show it whole
        spans = [(clause.clean_start, clause.clean_end)]
    return render_viewer(policy, citation, n, spans, lang)


def render_viewer_empty() -> str:
    return f'<div class="pq-viewer-empty">{page_words("viewer_empty")}</div>'


def _readable(text: str) -> str:
    """Escaped text whose block breaks (blank lines) show as small gaps rather than empty lines."""
    return escape(text).replace("\n\n", '<span class="pq-gap"></span>')


def render_viewer(policy: Policy, citation: Citation, n: int, spans: list[tuple[int, int]], lang: str = "en") -> str:
    """The whole policy, each piece of the quote (clean-text spans, in order) highlighted, … where it skips words;
    the viewer's own words in `lang`."""
    text, body, at = policy.text, [], 0
    for k, (a, b) in enumerate(spans):
        body += [_readable(text[at:a]), _skip(lang) if k else "", f'<mark class="pq-hit">{_readable(text[a:b])}</mark>']
        at = b
    body = "".join(body + [_readable(text[at:])])
    where = f"[{n}] {_section(citation.section, lang)}{_page_note(citation, lang)}" if spans else \
        f"[{n}] {phrases.chat(lang, 'gone')}"
    archived = f" ({policy.archived})" if policy.archived else ""
    links = " · ".join(x for x in (link(policy.source_url, f"{phrases.chat(lang, 'original')} ↗"),
                                   link(policy.archive_url, f"{phrases.chat(lang, 'archived_copy')}{archived} ↗"))
                       if x)
    links = f'<p class="pq-links">{links}</p>' if links else ""
    # data-opened changes on every click, so re-opening the same citation scrolls to it again
    return (f'<article class="pq-viewer" data-opened="{time.monotonic_ns()}">'
            f'<header><h3>{escape(policy.title + _version_note(policy.version, lang))}</h3>'
            f'<p class="pq-where">{escape(where)}</p>{links}</header>'
            f'<div class="pq-doc" tabindex="0">{body}</div></article>')


# ---------------------------------------------------------------- support agents: search, compare


def ranked_clauses(index: Index, embedder: Embedder, query: str, policies: list[str], topic: str | None,
                   k: int = AGENT_RESULTS) -> list[search.Hit]:
    """The best clauses for `query` in the chosen policies (all when none), of `topic` when given."""
    hits: list[search.Hit] = []
    for pid in policies or [None]:
        lo, hi = index.ranges[pid] if pid else (0, len(index.clauses))
        hits += search.retrieve(index, embedder, query, pid, (hi - lo) if topic else k)  # a topic filter ranks all
    if topic:
        hits = [h for h in hits if h.clause.topic == topic]
    return sorted(hits, key=lambda h: -h.score)[:k]


def search_clauses(engine: Engine, query: str, policies: list[str] | None, topic: str) -> str:
    try:
        query = answers.clean_question(query or "")
        index = engine.index
        unknown = [p for p in policies or [] if p not in index.policies]
        if unknown:
            raise PolicyQAError(f"Unknown policy {unknown[0]!r}; reload the page to see the current policies.")
        hits = ranked_clauses(index, engine.embedder, query, list(policies or []), chosen(topic))
    except PolicyQAError as exc:
        return notice(str(exc), "error")
    if not hits:
        return notice("No clause matches; try other words or another topic.")
    return "".join(_render_hit(rank, hit, index.policies[hit.clause.policy]) for rank, hit in enumerate(hits, 1))


def copy_text(clause: Clause, policy: Policy) -> str:
    """What "copy citation" puts on the clipboard: the quote, where it is from, and the link."""
    where = f"{policy.title}, {clause.section}" if clause.section else policy.title
    url = safe_url(policy.source_url) or safe_url(policy.archive_url)
    return f"“{clause.text}”\n— {where}" + (f"\n{url}" if url else "")


def _render_hit(rank: int, hit: search.Hit, policy: Policy) -> str:
    clause = hit.clause
    return (f'<section class="pq-card" data-rank="{rank}" data-policy="{escape(clause.policy)}" '
            f'data-topic="{escape(clause.topic)}" data-score="{hit.score:.4f}">'
            f'<header><span class="pq-rank">#{rank}</span> <span class="pq-score">score {hit.score:.2f}</span> '
            f'<strong>{escape(policy.title)}</strong> — {escape(clause.section or "opening")} '
            f'<span class="pq-topic">{escape(TOPICS.get(clause.topic, clause.topic))}</span></header>'
            f'<div class="pq-text">{escape(clause.text)}</div>'
            f'<button type="button" class="pq-copy" data-copy="{escape(copy_text(clause, policy))}">'
            'Copy citation</button>'
            f'</section>')


def compare(engine: Engine, question: str) -> str:
    """One question asked of every policy, side by side; "not stated" where a policy is silent."""
    try:
        index = engine.index
        question = answers.clean_question(question or "")
        top_k = settings.get_int("top_k")
        rows = [_compare_row(index, engine, question, pid, top_k)
                for pid in sorted(index.policies, key=lambda p: index.policies[p].title.lower())]
    except PolicyQAError as exc:
        return notice(str(exc), "error")
    return (f'<table class="pq-compare"><caption>{escape(question)}</caption>'
            f'<thead><tr><th>Policy</th><th>What it says</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _compare_row(index: Index, engine: Engine, question: str, pid: str, top_k: int) -> str:
    policy = index.policies[pid]
    result = answers.ask(index, engine.embedder, question, policy=pid, top_k=top_k)
    if not result.answered:
        contact = ", ".join(policy.contact)
        contact = f' <span class="pq-contact">Contact: {escape(contact)}</span>' if contact else ""
        cell, kind = f'<em class="pq-not-stated">not stated</em>{contact}', "not-stated"
    else:
        cell = "".join(f'<blockquote class="pq-quote">{render_quote(c.quote)}'
                       f'<footer>{escape(c.section or "opening")}</footer></blockquote>' for c in result.citations)
        kind = "stated"
    return (f'<tr class="pq-{kind}" data-policy="{escape(pid)}">'
            f'<th scope="row">{escape(policy.title)}</th><td>{cell}</td></tr>')


# ---------------------------------------------------------------- what changed between versions


def version_choices(engine: Engine, choice: str | None) -> list[tuple[str, str]]:
    """("Latest version", "") and then ("In force on <date>", date) for the version dates of the chosen policy (of
    every policy for "all"), newest first; only of policies with more than one version, where a date makes a
    difference. The browser shows the words in its language, the date after them."""
    try:
        index = engine.index
        pids = [chosen(choice)] if chosen(choice) in index.versions else list(index.versions)
        found = sorted({v.version for pid in pids if len(index.versions[pid]) > 1 for v in index.versions[pid]},
                       reverse=True)
    except PolicyQAError:
        found = []
    return [(page_words("latest"), LATEST)] + [(f"{page_words('in_force_on')} {d}", d) for d in found]


def versioned_choices(engine: Engine) -> list[tuple[str, str]]:
    """(title, id) of the policies that have more than one version."""
    try:
        many = {pid for pid, found in engine.index.versions.items() if len(found) > 1}
    except PolicyQAError:
        many = set()
    return [(title, pid) for title, pid in policy_choices(engine, False) if pid in many]


def show_changes(engine: Engine, policy: str | None, since: str | None, until: str | None, section: str | None = ALL,
                 everything: bool = False) -> tuple[str, list[tuple[str, str]]]:
    """The Changes view: each change of `policy` between two versions with its summary, differing words marked,
    only those of one top-level `section` when chosen; and the sections to choose from."""
    if not policy:
        return notice("Choose a policy with more than one version."), []
    try:
        diff = diffs.between(engine.index, engine.embedder, policy, since or None, until or None)
    except PolicyQAError as exc:
        return notice(str(exc), "error"), []
    return render_changes(diff, section, everything), section_choices(diff, everything)


def _top_section(change: diffs.Change) -> str:
    return change.section.partition(" › ")[0]


def section_choices(diff: diffs.Diff, everything: bool = False) -> list[tuple[str, str]]:
    """Each top-level section with changes, with their number, in the policy's order."""
    counts: dict[str, int] = {}
    for change in diff.listed(everything):
        counts[_top_section(change)] = counts.get(_top_section(change), 0) + 1
    return [(f"{name or '(opening)'} ({n})", name) for name, n in counts.items()]


def render_changes(diff: diffs.Diff, section: str | None = ALL, everything: bool = False) -> str:
    listed = diff.listed(everything)
    hidden = len(diff.changes) - len(listed)
    shown = listed if section in (ALL, None) else [c for c in listed if _top_section(c) == section]
    head = (f'<p class="pq-changes-head">{escape(diff.new.title)}: {len(listed)} changes from the version of '
            f'{escape(diff.old.version or "")} to the version of {escape(diff.new.version or "")}.'
            + (f" {hidden} that change no word (punctuation, formatting, links) are not shown." if hidden else "")
            + (f" Showing the {len(shown)} in “{escape(section or '(opening)')}”." if shown is not listed else "")
            + "</p>")
    return head + "".join(_render_change(change) for change in shown)


_CHANGE_LABELS = {"changed": "Changed", "added": "Added", "removed": "Removed"}
_MARKS = {"added": "ins", "removed": "del"}


def _render_change(change: diffs.Change) -> str:
    before, after = change.before_text or "", change.after_text or ""
    words = "".join(escape(text) if kind == "same" else f'<{_MARKS[kind]} class="pq-{kind}">{escape(text)}</{_MARKS[kind]}>'
                    for kind, text in diffs.word_diff(before, after))
    return (f'<section class="pq-change pq-change-{change.kind}" data-kind="{change.kind}" '
            f'data-section="{escape(_top_section(change))}">'
            f'<header><strong>{_CHANGE_LABELS[change.kind]}</strong> — {escape(change.section or "opening")}</header>'
            f'<p class="pq-summary">{escape(change.summary)}</p><div class="pq-text">{words}</div></section>')


# ---------------------------------------------------------------- support agents: gaps


def show_gaps(engine: Engine, feedback: FeedbackStore, token: str) -> str:
    """The gaps report; customers' questions are private, so it needs the admin token."""
    expected = settings.get("admin_token")
    if not expected:
        return notice("The gaps report is off here: set POLICYQA_ADMIN_TOKEN on the server to open it, "
                      "or run `policyqa report` there.")
    if not hmac.compare_digest((token or "").encode(), expected.encode()):
        return notice("That is not the admin token.", "error")
    try:
        gaps = feedback.gaps(limit=50)
        titles = {pid: p.title for pid, p in engine.index.policies.items()}
    except PolicyQAError as exc:
        return notice(str(exc), "error")
    return render_gaps(gaps, titles)


def render_gaps(gaps: list[Gap], titles: dict[str, str]) -> str:
    if not gaps:
        return notice("No declined or disliked questions yet.")
    rows = "".join(_render_gap(g, titles) for g in gaps)
    return ('<table class="pq-gaps"><thead><tr><th>Policy</th><th>Question (most asked wording)</th>'
            f'<th>Declined</th><th>Disliked</th><th>Last</th></tr></thead><tbody>{rows}</tbody></table>')


def _render_gap(gap: Gap, titles: dict[str, str]) -> str:
    policy = titles.get(gap.policy, gap.policy) if gap.policy else "All policies"
    wordings = f" <small>({gap.wordings} wordings)</small>" if gap.wordings > 1 else ""
    return (f'<tr><td>{escape(policy)}</td><td>{escape(gap.question)}{wordings}</td>'
            f'<td class="pq-n">{gap.declined}</td><td class="pq-n">{gap.disliked}</td>'
            f'<td>{escape(gap.last[:10])}</td></tr>')


# ---------------------------------------------------------------- the page

CSS = """
.pq-empty, .pq-viewer-empty { color: var(--body-text-color-subdued); padding: 1rem 0; }
.pq-examples { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; }
.pq-examples span { color: var(--body-text-color-subdued); }
.pq-example { cursor: pointer; border: 1px solid var(--border-color-primary); border-radius: 999px;
  background: var(--block-background-fill); color: var(--body-text-color); padding: .2rem .75rem; font: inherit; }
.pq-example:hover { border-color: var(--color-accent); }
.pq-turn { margin: 0 0 1.25rem; }
.pq-q { margin-left: auto; width: fit-content; max-width: 85%; background: var(--color-accent-soft);
  padding: .5rem .8rem; border-radius: 12px 12px 2px 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.pq-a { margin-top: .5rem; padding: .6rem .9rem; border: 1px solid var(--border-color-primary);
  border-radius: 12px 12px 12px 2px; background: var(--block-background-fill); }
.pq-a p { margin: .25rem 0; }
.pq-declined { border-left: 4px solid #d97706; }
.pq-quote { margin: .5rem 0; padding: .35rem .8rem; border-left: 4px solid var(--color-accent);
  white-space: pre-line; font-style: normal; overflow-wrap: anywhere; }
.pq-quote footer { color: var(--body-text-color-subdued); font-size: .85em; }
.pq-cite, .pq-source { cursor: pointer; border: none; background: none; padding: 0; font: inherit;
  color: var(--link-text-color); text-decoration: underline; text-align: left; }
.pq-sources { margin: .5rem 0 0; padding: 0; list-style: none; font-size: .9em; }
.pq-rate { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin-top: .35rem; font-size: .9em; }
.pq-rate button { display: inline-flex; align-items: center; gap: .3rem; white-space: nowrap; cursor: pointer;
  border: 1px solid var(--border-color-primary); border-radius: 6px; background: var(--block-background-fill);
  color: var(--body-text-color); padding: .1rem .5rem; font: inherit; }
.pq-comment { flex: 1; min-width: 10rem; padding: .2rem .45rem; border: 1px solid var(--border-color-primary);
  border-radius: 6px; background: var(--input-background-fill); color: var(--body-text-color); }
.pq-notice { margin: .4rem 0; }
.pq-error { color: var(--error-text-color, #b91c1c); }
.pq-viewer h3 { margin: 0 0 .25rem; }
.pq-where, .pq-links { margin: 0 0 .25rem; }
.pq-doc { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 70vh; overflow-y: auto; line-height: 1.5;
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .75rem; margin-top: .5rem; }
.pq-gap { display: block; height: .5em; }
.pq-hit { background: #fde68a; color: #1f2937; border-radius: 3px; }
.pq-skip { color: var(--body-text-color-subdued); cursor: help; }
.pq-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .8rem; margin: 0 0 .6rem; }
.pq-rank { font-weight: 700; }
.pq-score, .pq-topic, .pq-likelihood { color: var(--body-text-color-subdued); font-size: .85em; }
.pq-text { white-space: pre-wrap; overflow-wrap: anywhere; margin: .4rem 0; }
.pq-copy { cursor: pointer; border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--block-background-fill); padding: .15rem .6rem; font: inherit; font-size: .9em; }
.pq-compare, .pq-gaps { width: 100%; border-collapse: collapse; }
.pq-compare caption { text-align: left; font-weight: 600; padding: .25rem 0; }
.pq-compare th, .pq-compare td, .pq-gaps th, .pq-gaps td { vertical-align: top; text-align: left;
  border-bottom: 1px solid var(--border-color-primary); padding: .4rem .5rem; }
.pq-compare tbody th { width: 14rem; }
.pq-not-stated { color: #b45309; }
.pq-n { text-align: right; }
.pq-change { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .8rem; margin: 0 0 .6rem; }
.pq-change-added { border-left: 4px solid #16a34a; }
.pq-change-removed { border-left: 4px solid #dc2626; }
.pq-change-changed { border-left: 4px solid #d97706; }
.pq-summary { margin: .2rem 0 .4rem; font-weight: 600; }
.pq-added { background: #bbf7d0; color: #14532d; text-decoration: underline; }
.pq-removed { background: #fecaca; color: #7f1d1d; text-decoration: line-through; }
"""

CHAT_JS = """
element.addEventListener('click', (event) => {
  const cite = event.target.closest('[data-cite]');
  if (cite) {
    trigger('cite', {turn: Number(cite.dataset.turn), n: Number(cite.dataset.cite)});
    return;
  }
  const thumb = event.target.closest('[data-rate]');
  if (thumb) {
    const comment = thumb.closest('.pq-rate').querySelector('.pq-comment');
    trigger('rate', {turn: Number(thumb.dataset.turn), rating: Number(thumb.dataset.rate),
                     comment: comment ? comment.value : ''});
  }
});
"""

EXAMPLES_JS = """
element.addEventListener('click', (event) => {
  const example = event.target.closest('[data-example]');
  if (example) trigger('example', {n: Number(example.dataset.example)});
});
"""

VIEWER_JS = """
watch('value', () => {
  const hit = element.querySelector('.pq-hit');
  if (hit) hit.scrollIntoView({block: 'center'});
});
"""

COPY_JS = """
element.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
  } catch (error) {  // no clipboard API (plain http on another host): the old way
    const area = document.createElement('textarea');
    area.value = button.dataset.copy;
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = 'Copy citation'; }, 1500);
});
"""


def policy_choices(engine: Engine, everything: bool = True) -> list[tuple[str, str]]:
    """(title, id) of the serving policies by title, after an "All policies" entry when `everything`."""
    try:
        policies = engine.index.policies
    except PolicyQAError:
        policies = {}
    ordered = sorted(((p.title, pid) for pid, p in policies.items()), key=lambda c: c[0].lower())
    return ([(page_words("all_policies"), ALL)] if everything else []) + ordered


def _event(evt: gr.EventData, name: str) -> object:
    return getattr(evt, name, None)


def _html(value: str, elem_id: str, js: str | None = None, **kwargs) -> gr.HTML:
    return gr.HTML(value, elem_id=elem_id, js_on_load=js, css_template=CSS, **kwargs)


def within(workers: Workers, render: Callable[..., str], *args: object) -> str:
    """An agents' tab's HTML computed by `workers`, or a notice when it takes too long."""
    try:
        return workers.run(render, *args)
    except TimeoutError as exc:
        return notice(str(exc), "error")


def build(engine: Engine, feedback: FeedbackStore, workers: Workers) -> gr.Blocks:
    """The whole UI; server.py mounts it at /. Answers are computed by `workers`, within their time limit."""
    with gr.Blocks(title="PolicyQA", fill_width=True, analytics_enabled=False) as demo:
        exchanges = gr.State([])
        gr.Markdown(f"## PolicyQA\n{page_words('intro')}")
        with gr.Tabs():
            with gr.Tab(I18N("tab_ask"), id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        with gr.Row():
                            policy = gr.Dropdown(policy_choices(engine), value=ALL, label=I18N("choose_policy"),
                                                 elem_id="pq-policy", scale=3)
                            version = gr.Dropdown(version_choices(engine, ALL), value=LATEST,
                                                  label=I18N("choose_version"), elem_id="pq-version", scale=1)
                        examples = _html(render_examples(ALL), "pq-examples", EXAMPLES_JS)
                        transcript = _html(render_transcript([]), "pq-chat", CHAT_JS, max_height="65vh", autoscroll=True)
                        with gr.Row():
                            question = gr.Textbox(show_label=False, scale=5, elem_id="pq-question",
                                                  placeholder=I18N("placeholder"))
                            send = gr.Button(I18N("ask"), variant="primary", scale=1, elem_id="pq-ask")
                        restart = gr.Button(I18N("new_conversation"), size="sm", elem_id="pq-new")
                    with gr.Column(scale=2):
                        viewer = _html(render_viewer_empty(), "pq-viewer", VIEWER_JS)
            with gr.Tab(I18N("tab_search"), id="search"):
                with gr.Row():
                    query = gr.Textbox(label="Search the policies' clauses", scale=3, elem_id="pq-query")
                    chosen = gr.Dropdown(policy_choices(engine, False), value=[], multiselect=True, scale=2,
                                         label="Policies (none chosen: all)", elem_id="pq-chosen")
                    topic = gr.Dropdown([("Any topic", ALL)] + [(label, key) for key, label in TOPICS.items()],
                                        value=ALL, label="Topic", scale=1, elem_id="pq-topic")
                find = gr.Button("Search", variant="primary", elem_id="pq-find")
                hits = _html("", "pq-hits", COPY_JS)
            with gr.Tab(I18N("tab_compare"), id="compare"):
                with gr.Row():
                    compared = gr.Textbox(label="One question, asked of every policy", scale=4,
                                          elem_id="pq-compare-question")
                    go = gr.Button("Compare", variant="primary", scale=1, elem_id="pq-compare-go")
                table = _html("", "pq-compare")
            with gr.Tab(I18N("tab_changes"), id="changes"):
                gr.Markdown("What changed between two versions of a policy, clause by clause, each change summed up "
                            "in a line: removed words struck through, added words underlined.")
                with gr.Row():
                    changed_policy = gr.Dropdown(versioned_choices(engine), value=None, label="Policy", scale=2,
                                                 elem_id="pq-changes-policy")
                    since = gr.Dropdown([], value=None, label="From version (default: the one before)", scale=1,
                                        elem_id="pq-changes-from")
                    until = gr.Dropdown([], value=None, label="To version (default: the latest)", scale=1,
                                        elem_id="pq-changes-to")
                with gr.Row():
                    compare_versions = gr.Button("Show changes", variant="primary", scale=2, elem_id="pq-changes-go")
                    changed_section = gr.Dropdown([("All sections", ALL)], value=ALL, label="Section", scale=2,
                                                  elem_id="pq-changes-section")
                    everything = gr.Checkbox(False, label="Also entries that change no word", scale=1,
                                             elem_id="pq-changes-all")
                changed = _html("", "pq-changes")
            with gr.Tab(I18N("tab_gaps"), id="gaps"):
                gr.Markdown("The questions customers ask most often that the policies decline or that customers "
                            "thumb down, similar wordings grouped: what the policies do not answer.")
                with gr.Row():
                    token = gr.Textbox(label="Admin token", type="password", scale=4, elem_id="pq-token")
                    show = gr.Button("Show gaps", scale=1, elem_id="pq-show-gaps")
                gaps = _html("", "pq-gaps")

        def on_ask(text: str, choice: str, when: str, state: list[Exchange]) -> tuple[str, list[Exchange], str]:
            state = ask(engine, feedback, workers, text, choice, state, when)
            return render_transcript(state), state, ""

        def on_example(choice: str, when: str, state: list[Exchange], evt: gr.EventData) -> tuple[str, list[Exchange]]:
            n, shown = _event(evt, "n"), examples_for(choice)
            if isinstance(n, int) and 0 <= n < len(shown):
                state = ask(engine, feedback, workers, shown[n], choice, state, when)
            return render_transcript(state), state

        def on_policy(choice: str) -> tuple[str, gr.Dropdown]:
            return render_examples(choice), gr.Dropdown(choices=version_choices(engine, choice), value=LATEST)

        def on_changes_policy(choice: str | None) -> tuple[gr.Dropdown, gr.Dropdown]:
            dates = [d for _, d in version_choices(engine, choice)[1:]] if choice else []
            return gr.Dropdown(choices=dates, value=None), gr.Dropdown(choices=dates, value=None)

        def on_cite(state: list[Exchange], evt: gr.EventData) -> str:
            return open_citation(engine, state, _event(evt, "turn"), _event(evt, "n"))

        def on_rate(state: list[Exchange], evt: gr.EventData) -> tuple[str, list[Exchange]]:
            state = rate(feedback, state, _event(evt, "turn"), _event(evt, "rating"), _event(evt, "comment"))
            return render_transcript(state), state

        def on_load() -> tuple[gr.Dropdown, gr.Dropdown, gr.Dropdown, gr.Dropdown]:
            return (gr.Dropdown(choices=policy_choices(engine)), gr.Dropdown(choices=policy_choices(engine, False)),
                    gr.Dropdown(choices=version_choices(engine, ALL), value=LATEST),
                    gr.Dropdown(choices=versioned_choices(engine)))

        # Every event that computes answers draws on one group, so the queue's concurrency limit bounds them
        # together (by default Gradio gives each function a limit of its own).
        answering = {"concurrency_id": "answers"}
        for submitted in (question.submit, send.click):
            submitted(on_ask, [question, policy, version, exchanges], [transcript, exchanges, question],
                      show_progress="minimal", **answering)
        examples.example(on_example, [policy, version, exchanges], [transcript, exchanges], show_progress="minimal",
                         **answering)
        transcript.cite(on_cite, [exchanges], [viewer], show_progress="hidden")
        transcript.rate(on_rate, [exchanges], [transcript, exchanges], show_progress="hidden")
        policy.change(on_policy, [policy], [examples, version], show_progress="hidden")
        changed_policy.change(on_changes_policy, [changed_policy], [since, until], show_progress="hidden")
        def on_changes(choice: str | None, a: str | None, b: str | None, every: bool) -> tuple[str, gr.Dropdown]:
            try:
                html, sections = workers.run(show_changes, engine, choice, a, b, ALL, every)
            except TimeoutError as exc:
                html, sections = notice(str(exc), "error"), []
            return html, gr.Dropdown(choices=[("All sections", ALL)] + sections, value=ALL)

        def on_section(choice: str | None, a: str | None, b: str | None, part: str, every: bool) -> str:
            return within(workers, lambda *args: show_changes(*args)[0], engine, choice, a, b, part, every)

        compare_versions.click(on_changes, [changed_policy, since, until, everything], [changed, changed_section],
                               **answering)
        for picked in (changed_section.input, everything.input):
            picked(on_section, [changed_policy, since, until, changed_section, everything], [changed], **answering)
        restart.click(lambda: ([], render_transcript([]), render_viewer_empty()), None, [exchanges, transcript, viewer])
        for submitted in (query.submit, find.click):
            submitted(lambda q, c, t: within(workers, search_clauses, engine, q, c, t), [query, chosen, topic], [hits],
                      **answering)
        for submitted in (compared.submit, go.click):
            submitted(lambda q: within(workers, compare, engine, q), [compared], [table], **answering)
        for submitted in (token.submit, show.click):
            submitted(lambda t: show_gaps(engine, feedback, t), [token], [gaps])
        demo.load(on_load, None, [policy, chosen, version, changed_policy], show_progress="hidden")
    return demo
