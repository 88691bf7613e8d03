"""`policyqa watch` against a real web server on 127.0.0.1 (http.server in a thread) whose pages change, fail with
500, turn into a near-empty maintenance page, serve an image, and come back. LEJE's two dated versions
(tests/data/versions) are served as full web pages with site chrome; a second policy's page changes only in its
chrome (a timestamp, a script token). The real command stores what changed, re-indexes, and answers by date."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from app import store, watch
from app.errors import PolicyQAError

from conftest import POLICYQA, VERSIONS

OLD, NEW, THEN = "2019-01-01", "2021-06-01", "2020-03-01"
PAYMENT = "how long do you keep my payment records?"


# ---------------------------------------------------------------- a real web server whose pages the tests change


@dataclass
class Page:
    body: bytes
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before answering
    failures: int = 0  # answer 500 this many times first
    retry_after: str | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class Site:
    """Pages by path; every request is logged as (path, its headers, the status answered)."""

    url: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    log: list[tuple[str, dict, int]] = field(default_factory=list)

    def answered(self, path: str) -> list[tuple[dict, int]]:
        return [(headers, status) for asked, headers, status in self.log if asked == path]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            page = site.pages.get(self.path)
            status = 404 if page is None else page.status
            if page and page.failures:
                page.failures, status = page.failures - 1, 500
            elif page and status == 200 and self.headers.get("If-None-Match") == page.etag:
                status = 304
            time.sleep(page.delay if page else 0)
            site.log.append((self.path, dict(self.headers), status))
            self.send_response(status)
            body = page.body if page and status == 200 else b"" if status == 304 else b"<h1>Error</h1>"
            if page and status == 200:
                self.send_header("ETag", page.etag)
                if page.content_type:
                    self.send_header("Content-Type", page.content_type)
            if page and page.retry_after and status >= 500:
                self.send_header("Retry-After", page.retry_after)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body if status != 304 else b"")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the time-out test) is no error of the site's


@contextmanager
def serving() -> Iterator[Site]:
    """A Site served on 127.0.0.1 at a free port, in a thread of this process."""
    server = _Server(("127.0.0.1", 0), _handler(site := Site()))
    site.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    with serving() as served:
        yield served


def web_page(markdown: str, title: str, updated: str | None, visit: int) -> bytes:
    """A policy as a site publishes it: its paragraphs ("● Heading", "○ Subheading", text) inside an article, with a
    navigation bar, a cookie banner, a footer stamped with the time of the visit and a script token that changes on
    every visit."""
    body = []
    for block in (b.strip() for b in markdown.split("\n\n")):
        if block and block[0] in "●○":
            level = 2 if block[0] == "●" else 3
            body.append(f"<h{level}>{escape(block[1:].strip())}</h{level}>")
        elif block:
            body.append(f"<p>{escape(block)}</p>")
    stated = f"<p>Last updated: {updated}</p>" if updated else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Example</title>
<script>window.visit = "{hashlib.sha1(str(visit).encode()).hexdigest()}";</script></head>
<body>
<header><nav><a href="/">Home</a> <a href="/shop">Shop</a> <a href="/help">Help</a></nav></header>
<div id="cookie-banner" class="cookie-consent">We use cookies. <button>Accept</button></div>
<main><article><h1>{title}</h1>{stated}
{"".join(body)}
</article></main>
<footer>© Example Co. · Page generated at 2024-0{visit % 9 + 1}-0{visit % 9 + 1} 10:{visit:02d} for visit {visit}</footer>
</body></html>""".encode("utf-8")


def leje(version: str, visit: int) -> bytes:
    markdown = (VERSIONS / f"leje@{version}.md").read_text(encoding="utf-8")
    return web_page(markdown, "LEJE Privacy Policy", "January 1, 2019" if version == OLD else "June 1, 2021", visit)


ACME = """Acme Tools collects your name, e-mail address and shipping address when you place an order, so that we can
deliver it and send you its invoice.

● Cookies

We use cookies to keep you signed in and to remember the contents of your basket between visits.

● Keeping your data

We keep order records for six years, as tax law requires, and delete your account data within thirty days of
your request to close your account.

● Contact

Write to privacy@acme-tools.example with any question about your data."""


# ---------------------------------------------------------------- the command, run after run


def policyqa(*args: str, base: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "POLICYQA_CORPUS": str(base / "corpus"), "POLICYQA_INDEX": str(base / "index"),
           "POLICYQA_WATCH_TIMEOUT": "5", "POLICYQA_WATCH_RETRIES": "1"}
    return subprocess.run([POLICYQA, *args], capture_output=True, text=True, timeout=600, env=env)


def answer(base: Path, *args: str) -> dict:
    done = policyqa("ask", "--policy", "leje", "--json", *args, PAYMENT, base=base)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def quoted_years(result: dict) -> tuple[str, str]:
    """The retention period the first citation quotes for payment records, and the version it quotes."""
    first = result["citations"][0]
    return ("7 years" if "7 years" in first["quote"] else "5 years" if "5 years" in first["quote"] else "?",
            first["version"])


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Five runs of `policyqa watch --json` over LEJE and Acme, with the answers asked between them."""
    base = tmp_path_factory.mktemp("watched")
    runs, files, answers = [], [], {}
    with serving() as site:
        sources = base / "sources.txt"
        sources.write_text(f"# policies to keep current\n\nleje {site.url}/leje\nacme {site.url}/privacy/acme  # Acme\n",
                           encoding="utf-8")

        def run(leje_page: Page, acme_page: Page) -> None:
            site.pages = {"/leje": leje_page, "/privacy/acme": acme_page}
            done = policyqa("watch", str(sources), "--json", base=base)
            assert "Traceback" not in done.stderr, done.stderr
            runs.append((done.returncode, json.loads(done.stdout)))
            files.append(sorted(p.name for p in (base / "corpus").iterdir() if not p.name.startswith(".")))

        run(Page(leje(OLD, 1)), Page(web_page(ACME, "Acme Tools Privacy Policy", None, 1)))
        run(Page(leje(NEW, 2)), Page(web_page(ACME, "Acme Tools Privacy Policy", None, 2)))  # Acme: new chrome only
        answers["new"], answers["then"] = answer(base), answer(base, "--as-of", THEN)
        changes = policyqa("changes", "leje", base=base)
        run(Page(b"<h1>Internal Server Error</h1>", status=500), Page(web_page(ACME, "Acme Tools Privacy Policy", None, 2)))
        answers["after 500"] = answer(base)
        maintenance = web_page("We are down for maintenance. We'll be back soon!", "Maintenance", None, 4)
        run(Page(maintenance), Page(b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png"))
        answers["after maintenance"] = answer(base)
        run(Page(leje(NEW, 5)), Page(web_page(ACME, "Acme Tools Privacy Policy", None, 5)))
        plain = policyqa("watch", str(sources), base=base)
    return {"base": base, "site": site, "runs": runs, "files": files, "answers": answers, "changes": changes,
            "plain": plain}


def test_the_first_run_stores_each_page_dated_by_the_date_it_states_else_the_day(history):
    code, report = history["runs"][0]
    today = date.today().isoformat()
    assert code == 0 and report["checked"] == 2 and report["unchanged"] == [] and report["failed"] == []
    assert report["changed"] == [
        {"policy": "leje", "version": OLD, "file": f"leje@{OLD}.html", "changes": []},
        {"policy": "acme", "version": today, "file": f"acme@{today}.html", "changes": []}]
    assert history["files"][0] == [f"acme@{today}.html", f"leje@{OLD}.html"]


def test_a_changed_page_is_a_new_dated_version_with_its_changes(history):
    code, report = history["runs"][1]
    assert code == 0 and report["unchanged"] == ["acme"] and report["failed"] == []
    [new] = report["changed"]
    assert (new["policy"], new["version"], new["file"]) == ("leje", NEW, f"leje@{NEW}.html")
    # the date line the page states, then the edits of tests/data/versions
    assert [(c["kind"], c["summary"]) for c in new["changes"]][:2] == [
        ("changed", "Last updated: January 1, 2019 → June 1, 2021"), ("changed", "Retention period: 5 years → 7 years")]
    assert [c["kind"] for c in new["changes"][2:]] == ["removed", "added"]
    assert "Records of consumer complaints" in new["changes"][2]["before"]
    assert "Republic of Korea" in new["changes"][3]["after"]
    assert f"leje@{NEW}.html" in history["files"][1] and len(history["files"][1]) == 3


def test_the_new_version_answers_by_default_and_the_earlier_one_as_of_its_date(history):
    assert quoted_years(history["answers"]["new"]) == ("7 years", NEW)
    assert quoted_years(history["answers"]["then"]) == ("5 years", OLD)
    listed = history["changes"]
    assert listed.returncode == 0 and "4 changes from 2019-01-01 to 2021-06-01" in listed.stdout
    assert "Retention period: 5 years → 7 years" in listed.stdout


def test_a_page_whose_words_did_not_change_stores_nothing_and_a_304_is_honoured(history):
    site = history["site"]
    acme = site.answered("/privacy/acme")
    assert [status for _, status in acme] == [200, 200, 304, 200, 200, 304]  # the last: the plain run
    etags = [headers.get("If-None-Match") for headers, _ in acme]
    assert etags[0] is None and all(etags[1:])  # asked conditionally once there was a good version
    assert etags[2] == etags[3]  # the 304 kept the validator of the version that stays
    assert history["runs"][2][1]["unchanged"] == ["acme"]  # the 304
    assert history["runs"][1][1]["unchanged"] == ["acme"]  # new chrome, the same words
    assert history["files"][1] == history["files"][2] == history["files"][3] == history["files"][4]
    assert all("PolicyQA/" in headers.get("User-Agent", "") for headers, _ in acme)


def test_a_500_fails_after_a_retry_and_the_last_good_version_keeps_answering(history):
    code, report = history["runs"][2]
    assert code == 0 and report["changed"] == []
    assert report["failed"] == [{"policy": "leje", "error": "HTTP 500 Internal Server Error (2 tries); the version "
                                                            f"of {NEW} stays."}]
    assert [status for _, status in history["site"].answered("/leje")][2:4] == [500, 500]
    assert quoted_years(history["answers"]["after 500"]) == ("7 years", NEW)


def test_a_maintenance_page_and_an_image_fail_and_when_every_page_fails_the_exit_is_non_zero(history):
    code, report = history["runs"][3]
    assert code == 1 and report["changed"] == [] and report["unchanged"] == []
    errors = {failed["policy"]: failed["error"] for failed in report["failed"]}
    assert "words where the version of 2021-06-01 has" in errors["leje"] and "maintenance" in errors["leje"]
    assert errors["acme"].startswith("the page is image/png, not HTML or PDF;")
    assert quoted_years(history["answers"]["after maintenance"]) == ("7 years", NEW)


def test_when_the_pages_come_back_unchanged_nothing_is_stored(history):
    code, report = history["runs"][4]
    assert code == 0 and report == {"checked": 2, "changed": [], "unchanged": ["leje", "acme"], "failed": []}
    plain = history["plain"]
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        0, "Checked 2 policies: 0 changed, 2 unchanged, 0 failed.\nleje: unchanged\nacme: unchanged\n", "")
    assert store.staleness(history["base"] / "corpus", history["base"] / "index") == {
        "added": [], "changed": [], "removed": []}


# ---------------------------------------------------------------- the library, one behaviour at a time


def test_the_sources_file_takes_comments_and_blank_lines_and_names_a_bad_line(tmp_path):
    good = tmp_path / "sources.txt"
    good.write_text("# ours\n\nleje https://leje.example/privacy   # the shop\nacme http://acme.example/p?x=1#top\n")
    assert watch.read_sources(good) == [watch.Source("leje", "https://leje.example/privacy"),
                                        watch.Source("acme", "http://acme.example/p?x=1#top")]
    for line, says in [("leje", "line 2: expected a policy id and its URL"),
                       ("leje https://a.example b", "line 2: expected a policy id and its URL"),
                       ("LEJE https://a.example", "line 2: 'LEJE' is not a policy id"),
                       ("leje ftp://a.example/p", "line 2: 'ftp://a.example/p' is not an http:// or https:// URL"),
                       ("leje file:///etc/passwd", "is not an http:// or https:// URL"),
                       ("acme https://b.example", "line 2: acme is listed twice")]:
        bad = tmp_path / "bad.txt"
        bad.write_text(f"acme https://a.example\n{line}\n")
        with pytest.raises(PolicyQAError) as error:
            watch.read_sources(bad)
        assert f"{bad}, {says}" in str(error.value) if "line" in says else says in str(error.value)
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    with pytest.raises(PolicyQAError, match="lists no policy"):
        watch.read_sources(tmp_path / "empty.txt")


def test_cli_a_bad_sources_file_is_one_line(tmp_path):
    (tmp_path / "sources.txt").write_text("leje\n")
    for args, says in [(["watch", str(tmp_path / "sources.txt")], "line 1: expected a policy id and its URL"),
                       (["watch", str(tmp_path / "missing.txt")], "Cannot read the sources file")]:
        done = policyqa(*args, base=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0]


def check(site: Site, tmp_path: Path, page: Page, limits: watch.Limits = watch.Limits(retries=0), **kwargs
          ) -> watch.Report:
    site.pages = {"/p": page}
    return watch.watch([watch.Source("acme", f"{site.url}/p")], tmp_path / "corpus", tmp_path / "index",
                       limits=limits, **kwargs)


def test_a_slow_page_times_out(site, tmp_path):
    report = check(site, tmp_path, Page(web_page(ACME, "Acme", None, 1), delay=2), watch.Limits(timeout=1, retries=0))
    assert report.failed == [{"policy": "acme", "error": "no answer within 1 s (1 try); nothing is stored yet."}]
    assert not list((tmp_path / "corpus").glob("acme*"))


def test_a_page_over_the_size_cap_fails_without_retrying(site, tmp_path):
    report = check(site, tmp_path, Page(web_page(ACME, "Acme", None, 1)), watch.Limits(max_bytes=500, retries=2))
    assert report.failed[0]["error"].startswith("the page is larger than 500 bytes (POLICYQA_WATCH_MAX_BYTES)")
    assert len(site.log) == 1


def test_a_missing_page_fails_at_once_and_a_5xx_is_retried_after_growing_waits(site, tmp_path, monkeypatch):
    report = check(site, tmp_path, Page(b"", status=404), watch.Limits(retries=2))
    assert report.failed[0]["error"] == "HTTP 404 Not Found; nothing is stored yet." and len(site.log) == 1
    monkeypatch.setattr(watch, "BACKOFF", 0.2)
    began = time.monotonic()
    report = check(site, tmp_path, Page(b"", status=503), watch.Limits(retries=2))
    assert report.failed[0]["error"].startswith("HTTP 503 Service Unavailable (3 tries)")
    assert time.monotonic() - began >= 0.2 + 0.4 and len(site.log) == 4
    began = time.monotonic()
    check(site, tmp_path, Page(b"", status=503, retry_after="1"), watch.Limits(retries=1))
    assert time.monotonic() - began >= 1  # the server's Retry-After, not the shorter backoff


def test_a_page_that_fails_once_is_stored_on_the_retry_even_with_no_content_type(site, tmp_path, model, monkeypatch):
    monkeypatch.setattr(watch, "BACKOFF", 0.1)
    page = Page(web_page(ACME, "Acme Tools Privacy Policy", None, 1), failures=1, content_type=None)
    report = check(site, tmp_path, page, watch.Limits(retries=1), embedder=model, today="2026-01-05")
    assert report.failed == [] and [c["file"] for c in report.changed] == ["acme@2026-01-05.html"]
    assert [status for _, _, status in site.log] == [500, 200]
    assert report.indexed and report.indexed.policies == 1


def test_a_second_change_on_the_same_day_replaces_that_days_version(site, tmp_path, model):
    check(site, tmp_path, Page(web_page(ACME, "Acme Tools Privacy Policy", None, 1)), embedder=model, today="2026-01-05")
    edited = ACME.replace("six years", "ten years")
    report = check(site, tmp_path, Page(web_page(edited, "Acme Tools Privacy Policy", None, 2)), embedder=model,
                   today="2026-01-05")
    assert [c["file"] for c in report.changed] == ["acme@2026-01-05.html"]
    assert sorted(p.name for p in (tmp_path / "corpus").glob("acme*")) == ["acme@2026-01-05.html"]
    assert b"ten years" in (tmp_path / "corpus" / "acme@2026-01-05.html").read_bytes()


def test_a_plain_file_that_states_no_date_is_kept_and_named_in_the_failure(site, tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "acme.md").write_text(ACME.replace("six years", "five years"), encoding="utf-8")
    report = check(site, tmp_path, Page(web_page(ACME, "Acme Tools Privacy Policy", None, 1)))
    assert report.failed[0]["error"].startswith("acme.md states no date; rename it acme@YYYY-MM-DD.md")
    assert sorted(p.name for p in (tmp_path / "corpus").iterdir() if not p.name.startswith(".")) == ["acme.md"]


def test_no_half_written_file_is_left_behind(site, tmp_path, model):
    check(site, tmp_path, Page(web_page(ACME, "Acme Tools Privacy Policy", None, 1)), embedder=model, today="2026-01-05")
    assert not [p.name for p in (tmp_path / "corpus").iterdir() if p.name.startswith(".tmp-")]
    state = json.loads((tmp_path / "corpus" / watch.WATCH_STATE).read_text())
    assert state["acme"]["url"] == f"{site.url}/p" and state["acme"]["etag"]
