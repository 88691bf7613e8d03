"""Keep policies current from their URLs: fetch each page, store it as a new dated version when its words changed,
re-index.

A sources file lists one `ID URL` per line. Each page is fetched politely: a User-Agent naming PolicyQA, a time
limit, a size cap, a few retries with growing waits after a time-out, a network error or a 5xx answer, and a
conditional request carrying the ETag and Last-Modified of the last good fetch (kept in WATCH_STATE in the corpus
folder), which a server answers with 304 when nothing changed. The page is read as the corpus reads it
(documents.py). When its words differ from the policy's latest version it is stored as `ID@YYYY-MM-DD.EXT`, dated by
the date the page states, else the day it was fetched, and the index is rebuilt (only what is new is embedded). A
page that cannot be fetched or read, or that suddenly lost most of its words (a maintenance or login page), is a
failure: the last good version stays, and answers go on from it.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from . import __version__, changes, documents, files, settings, store
from .embedder import Embedder
from .errors import PolicyQAError
from .records import Policy

log = logging.getLogger(__name__)

WATCH_STATE = ".watch.json"  # in the corpus folder; not a policy file (documents.SUFFIXES), so never indexed
USER_AGENT = f"PolicyQA/{__version__} (privacy policy watch; one request per policy a run)"
KINDS = {"text/html": ".html", "application/xhtml+xml": ".html", "application/pdf": ".pdf"}  # media type -> suffix
BACKOFF = 1.0  # seconds before the first retry; each later one waits twice as long
LONGEST_WAIT = 60.0  # seconds of a server's Retry-After honoured at most
MAX_REDIRECTS = 5
LOST = 0.5  # a page with fewer than this share of its last good version's words lost most of its text


@dataclass(frozen=True)
class Source:
    policy: str
    url: str


@dataclass(frozen=True)
class Limits:
    """How patient the watch is with each page (the watch_* settings)."""

    timeout: float = 30.0  # seconds for the whole page, connecting included
    max_bytes: int = 10_000_000
    retries: int = 2  # further tries after a time-out, a network error, a 5xx or a 429


def limits() -> Limits:
    """The limits the settings give (POLICYQA_WATCH_TIMEOUT, _MAX_BYTES, _RETRIES)."""
    found = Limits(settings.get_int("watch_timeout"), settings.get_int("watch_max_bytes"),
                   settings.get_int("watch_retries"))
    if found.timeout < 1 or found.max_bytes < 1 or found.retries < 0:
        raise PolicyQAError(f"POLICYQA_WATCH_TIMEOUT and _MAX_BYTES must be 1 or more, _RETRIES 0 or more; they are "
                            f"{found.timeout:g}, {found.max_bytes} and {found.retries}.")
    return found


@dataclass
class Report:
    checked: int = 0
    changed: list[dict] = field(default_factory=list)  # {"policy", "version", "file", "changes"}
    unchanged: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)  # {"policy", "error"}
    indexed: store.BuildReport | None = None  # the rebuild, when there was one

    def to_json(self) -> dict:
        return {"checked": self.checked, "changed": self.changed, "unchanged": self.unchanged, "failed": self.failed}


# ---------------------------------------------------------------- the sources file


def read_sources(path: Path) -> list[Source]:
    """The `ID URL` lines of a sources file (`#` comments and blank lines aside); a bad line is one error naming it."""
    try:
        lines = documents.decode(path.read_bytes(), str(path)).splitlines()
    except OSError as exc:
        raise PolicyQAError(f"Cannot read the sources file {path}: {exc.strerror}.") from None
    sources: dict[str, Source] = {}
    for number, line in enumerate(lines, 1):
        words = re.sub(r"(^|\s)#.*", "", line).split()
        if not words:
            continue
        where = f"{path}, line {number}"
        if len(words) != 2:
            raise PolicyQAError(f"{where}: expected a policy id and its URL, e.g. `leje https://leje.com/privacy`; "
                                f"found {line.strip()[:80]!r}.")
        policy, url = words
        if not documents.POLICY_ID.match(policy):
            raise PolicyQAError(f"{where}: {policy!r} is not a policy id (lower-case letters, digits, '-' or '_').")
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise PolicyQAError(f"{where}: {url[:80]!r} is not an http:// or https:// URL.")
        if policy in sources:
            raise PolicyQAError(f"{where}: {policy} is listed twice; keep one URL per policy.")
        sources[policy] = Source(policy, url)
    if not sources:
        raise PolicyQAError(f"{path} lists no policy; write one `ID URL` per line.")
    return list(sources.values())


# ---------------------------------------------------------------- checking every source


@dataclass(frozen=True)
class Stored:
    version: str
    file: str  # its name in the corpus folder


def watch(sources: list[Source], corpus: Path, index_dir: Path, embedder: Embedder | None = None,
          limits: Limits = Limits(), today: str | None = None) -> Report:
    """Check every source, store the pages whose words changed, and re-index when any did (only then is the model
    loaded)."""
    from . import embedder as embedders

    corpus.mkdir(parents=True, exist_ok=True)
    report = Report(checked=len(sources))
    stored: dict[str, Stored] = {}
    busy = f"Another `policyqa watch` is checking {corpus}; wait for it to finish."
    with files.exclusive(corpus / ".watch.lock", busy), httpx.Client(
            headers={"User-Agent": USER_AGENT}, timeout=limits.timeout, follow_redirects=True,
            max_redirects=MAX_REDIRECTS) as client:
        run = _Run(client, corpus, _read_state(corpus), limits, today or date.today().isoformat())
        for source in sources:
            try:
                found = run.check(source)
            except PolicyQAError as exc:
                report.failed.append({"policy": source.policy, "error": str(exc)})
                log.info("%s: %s", source.policy, exc)
                continue
            if found:
                stored[source.policy] = found
            else:
                report.unchanged.append(source.policy)
        files.write_durably(corpus / WATCH_STATE, json.dumps(run.state, indent=1, sort_keys=True).encode("utf-8"))
    if stored:
        model = embedder or embedders.get()
        report.indexed = _reindex(corpus, index_dir, model, stored)
        index = store.load(index_dir)
        report.changed = [{"policy": pid, "version": new.version, "file": new.file,
                           "changes": _changes(index, model, pid, new.version)} for pid, new in stored.items()]
    return report


def _reindex(corpus: Path, index_dir: Path, model: Embedder, stored: dict[str, Stored]) -> store.BuildReport:
    try:
        return store.build(corpus, index_dir, model)
    except PolicyQAError as exc:
        raise PolicyQAError(f"Stored {', '.join(new.file for new in stored.values())}, but re-indexing failed: "
                            f"{exc}") from None


def _changes(index: store.Index, model: Embedder, policy: str, version: str) -> list[dict]:
    """The changes from the version before `version`, as `policyqa changes --json` lists them ([] for a first one)."""
    if not any(v.version and v.version < version for v in index.versions.get(policy, [])):
        return []
    return changes.between(index, model, policy, until=version).to_json()["changes"]


def _read_state(corpus: Path) -> dict:
    """Per policy: the URL, ETag and Last-Modified of its last good fetch; a missing or damaged state file only costs
    unconditional requests."""
    try:
        state = json.loads((corpus / WATCH_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


# ---------------------------------------------------------------- one source


@dataclass(frozen=True)
class Held:
    """A version of a policy the corpus holds, as the index reads it."""

    path: Path
    version: str | None
    text: str


@dataclass
class _Run:
    """One run of the watch: its HTTP client, the corpus it writes, the state it updates."""

    client: httpx.Client
    corpus: Path
    state: dict
    limits: Limits
    today: str

    def check(self, source: Source) -> Stored | None:
        """Fetch one source and store it when its words changed (None: they did not); a failure raises, naming
        the version that stays."""
        latest = _latest(self.corpus, source.policy)
        try:
            return self._update(source, latest)
        except PolicyQAError as exc:
            kept = f"the version of {latest.version or latest.path.name} stays" if latest else "nothing is stored yet"
            raise PolicyQAError(f"{exc}; {kept}.") from None

    def _update(self, source: Source, latest: Held | None) -> Stored | None:
        known = self.state.get(source.policy, {}) if latest else {}
        asked = known if known.get("url") == source.url else {}  # conditional only against a version we hold
        fetched = _fetch(self.client, source.url, self.limits, asked.get("etag"), asked.get("last_modified"))
        if fetched is None:  # 304 Not Modified
            return None
        page = _read_page(source.policy, fetched)
        words, before = changes.wording(page.text), changes.wording(latest.text) if latest else []
        stored = None
        if latest is None or words != before:
            if len(words) < LOST * len(before):
                raise PolicyQAError(f"the page now has {len(words)} words where the version of {latest.version} "
                                    f"has {len(before)} (a maintenance, error or login page?)")
            if latest and latest.version is None:  # a dated version beside it would put it out of the index
                raise PolicyQAError(f"{latest.path.name} states no date; rename it {source.policy}@YYYY-MM-DD"
                                    f"{latest.path.suffix} with the date it came into force, so that new versions "
                                    "can stand beside it")
            stored = _store(self.corpus, source.policy, fetched, _version_date(page, latest, self.today), latest)
        self.state[source.policy] = {"url": source.url, "etag": fetched.etag, "last_modified": fetched.last_modified,
                                     "checked": self.today}
        return stored


def _latest(corpus: Path, policy: str) -> Held | None:
    """The latest readable version of `policy` in the corpus (files the index would skip aside)."""
    found = []
    for path in documents.corpus_files(corpus):
        if documents.policy_id(path) == policy:
            try:
                loaded, _ = documents.load(path)
            except PolicyQAError:
                continue
            found.append(Held(path, loaded.version, loaded.text))
    return max(found, key=lambda held: held.version or "", default=None)


def _version_date(page: Policy, latest: Held | None, today: str) -> str:
    """The date the page states it took effect, when later than the latest version's; else the day it was fetched
    (or the latest version's own date, if that is later still: the page replaces that version)."""
    stated = documents.stated_date(page.text) or page.version
    if stated and (latest is None or stated > latest.version):
        return stated
    return max(today, latest.version) if latest else today


def _store(corpus: Path, policy: str, fetched: Fetched, version: str, latest: Held | None) -> Stored:
    """Write the page as the version of `version` (replacing that day's in another format, if any)."""
    name = f"{policy}@{version}{fetched.suffix}"
    files.write_durably(corpus / name, fetched.body)
    if latest and latest.version == version and latest.path.name != name:
        latest.path.unlink()  # the same day's version, fetched again, in another format
    log.info("%s: stored %s", policy, name)
    return Stored(version, name)


def _read_page(policy: str, fetched: Fetched) -> Policy:
    """The page read as the corpus reads a file of its kind."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{policy}{fetched.suffix}"
        path.write_bytes(fetched.body)
        try:
            return documents.load(path)[0]
        except PolicyQAError as exc:
            raise PolicyQAError(str(exc).replace(str(path), "the page")) from None


# ---------------------------------------------------------------- fetching


@dataclass(frozen=True)
class Fetched:
    body: bytes
    suffix: str  # the corpus file's: ".html" or ".pdf"
    etag: str | None
    last_modified: str | None


class _Transient(Exception):
    """A failure worth another try (a time-out, a network error, a 5xx or 429 answer), after `wait` seconds if the
    server asked for that."""

    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def _fetch(client: httpx.Client, url: str, limits: Limits, etag: str | None, last_modified: str | None
           ) -> Fetched | None:
    headers = {name: value for name, value in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if value}
    for attempt in range(limits.retries + 1):
        try:
            return _get(client, url, headers, limits)
        except _Transient as exc:
            problem = exc
        if attempt < limits.retries:
            time.sleep(problem.wait if problem.wait is not None else BACKOFF * 2 ** attempt)
    tries = limits.retries + 1
    raise PolicyQAError(f"{problem} ({tries} {'try' if tries == 1 else 'tries'})")


def _get(client: httpx.Client, url: str, headers: dict[str, str], limits: Limits) -> Fetched | None:
    deadline = time.monotonic() + limits.timeout
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None
            if response.status_code >= 500 or response.status_code == 429:
                raise _Transient(f"HTTP {response.status_code} {response.reason_phrase}", _retry_after(response))
            if not response.is_success:
                raise PolicyQAError(f"HTTP {response.status_code} {response.reason_phrase}")
            body = _body(response, limits, deadline)
            return Fetched(body, _kind(response, body), response.headers.get("ETag"),
                           response.headers.get("Last-Modified"))
    except httpx.TimeoutException:
        raise _Transient(f"no answer within {limits.timeout:g} s") from None
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise _Transient(f"network error: {exc or exc.__class__.__name__}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # too many redirects, a redirect to another scheme, …
        raise PolicyQAError(f"cannot fetch it: {exc}") from None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return min(float(value), LONGEST_WAIT) if value.isdigit() else None


def _body(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    """The body, decoded from any transfer compression, within the size cap and the time limit."""
    too_big = f"the page is larger than {limits.max_bytes:,} bytes (POLICYQA_WATCH_MAX_BYTES)"
    stated = response.headers.get("Content-Length", "")
    if stated.isdigit() and int(stated) > limits.max_bytes:
        raise PolicyQAError(too_big)
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limits.max_bytes:
            raise PolicyQAError(too_big)
        if time.monotonic() > deadline:
            raise _Transient(f"no whole page within {limits.timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _kind(response: httpx.Response, body: bytes) -> str:
    """The corpus suffix for the page: by its Content-Type, or by its first bytes when it states none."""
    media = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    suffix = _sniffed(body) if media in ("", "application/octet-stream") else KINDS.get(media)
    if suffix is None:
        raise PolicyQAError(f"the page is {media or 'of no stated type'}, not HTML or PDF")
    if suffix not in documents.SUFFIXES:
        raise PolicyQAError(f"the page is {media}, which this version of PolicyQA does not read")
    return suffix


def _sniffed(body: bytes) -> str | None:
    if body.startswith(b"%PDF-"):
        return ".pdf"
    return ".html" if re.match(rb"\s*<(?:!doctype html|html)\b", body[:512], re.I) else None
