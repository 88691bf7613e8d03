"""The JSON API (/api/..., /healthz) and what guards it: one error shape, CORS, body and rate limits.

`install(app)` registers everything, the widget pages included (widget.py), before the Gradio UI
is mounted at "/": routes registered first win, and /api/{anything else} ends here as a JSON 404.
Deployment settings (embed origins, rate limit, admin token) are read when install() runs.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Callable, Literal, TypeVar
from urllib.parse import urlsplit

import anyio
import limits
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import changes, languages, phrases, settings, store, versions
from ..answer import Turn, clean_question
from ..engine import Engine
from ..errors import PolicyQAError
from ..feedback import MAX_TYPED_COMMENT, FeedbackStore, Rated
from ..records import Answer, Policy
from . import widget
from .workers import Workers

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BODY = 64 * 1024
ASK_WORKERS = 4  # answers computed at once (chat and API together); more only queue on the CPU
POLICY_ID = r"[a-z0-9][a-z0-9_-]{0,63}"
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "body_too_large", 422: "invalid_request", 429: "rate_limited", 500: "internal_error",
         503: "unavailable"}
OUR_PATHS = ("/api/", "/healthz", "/widget", "/embed.js", "/demo", "/docs", "/openapi.json")

PolicyId = Annotated[str, StringConstraints(pattern=f"^{POLICY_ID}$")]
AskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
RATINGS = {"up": 1, "down": -1}


# ---------------------------------------------------------------- request and response models


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TurnIn(Strict):
    question: str = Field(description="An earlier question of the conversation.")
    policy: PolicyId | None = Field(None, description="The policy that question was about, as the answer said.")


class AskRequest(Strict):
    question: str = Field(description="The customer's question, up to POLICYQA_MAX_QUESTION characters.",
                          examples=["How long do you keep payment records?"])
    policy: PolicyId | None = Field(None, description="Answer from this policy only; else the policy the question "
                                                      "names, else the conversation's, else all.")
    history: list[TurnIn] = Field(default_factory=list, max_length=20,
                                  description="Earlier turns, oldest first, so follow-ups are understood.")
    top_k: int | None = Field(None, ge=1, le=20, description="Citations at most; default POLICYQA_TOP_K.")
    as_of: str | None = Field(None, max_length=40, description="Answer from the policy versions in force on this "
                                                              "date (YYYY-MM-DD); default: the latest.",
                              examples=["2020-03-01"])
    lang: str | None = Field(None, max_length=8, description="The language to answer in (ISO 639-1: en, ko, ja, zh, "
                                                            "es, de, fr, pt, it); default: the question's own. The "
                                                            "quotes stay the policy's words.", examples=["ko"])


class CitationOut(BaseModel):
    policy: str
    title: str
    section: str = Field(description="The heading path of the clause quoted.")
    quote: str = Field(description="The policy's own words: its pieces joined by \" … \" where it leaves out words "
                                   "the page shows between them.")
    start: int = Field(description="Where the quote starts in the policy's source file (character offset).")
    end: int = Field(description="Where the quote ends in the policy's source file (exclusive).")
    pieces: list[tuple[int, int]] = Field(description="Each piece of the quote as [start, end) offsets into the source "
                                                      "file, in order: one piece unless the quote shows a gap.")
    score: float
    clause: int = Field(description="The clause's number within its policy.")
    url: str | None = Field(description="The policy's source URL, when known.")
    version: str | None = Field(description="The policy version quoted (the date it came into force; offsets are "
                                            "into that version's file); null for an undated policy.")
    probability: float | None = Field(description="The fitted probability that this clause answers the question; "
                                                  "null for an answer about changes between versions.")
    page: int | None = Field(None, description="The page of a PDF the quote starts on; null for other files.")


class AnswerOut(BaseModel):
    question: str
    answered: bool = Field(description="False when no policy says anything about the question.")
    answer: str = Field(description="The quotes introduced and numbered [1], [2], ...; or why there is none.")
    policy: str | None = Field(description="The policy the question was scoped to, if any.")
    as_of: str | None = Field(description="The date whose policy versions answered; null: the latest.")
    confidence: float | None = Field(description="The fitted probability that the first citation answers the "
                                                 "question (declined: that the best clause found does; see the "
                                                 "README); null for an answer about changes between versions.")
    declined_as: Literal["product", "not covered"] | None = Field(
        description="Why it was declined: \"product\" for a product or support question (prices, accounts, "
                    "features), which the policy's contact or the company's support answers; \"not covered\" when "
                    "the policy does not say; null when answered.")
    lang: str = Field(description="The language PolicyQA's own words are in (ISO 639-1): the question's, as "
                                  "detected, unless the request named one; an answer about changes between "
                                  "versions is in English.")
    citations: list[CitationOut]
    ask_id: str | None = Field(description="Rate this answer by it at POST /api/feedback; null when the server "
                                           "keeps no feedback or could not log the question.")


class FeedbackIn(Strict):
    ask_id: AskId = Field(description="The ask_id that POST /api/ask returned with the answer.")
    rating: Literal["up", "down"] = Field(description="Thumbs up or down.")
    comment: str = Field("", max_length=MAX_TYPED_COMMENT, description="What was missing or wrong, optionally.")


class FeedbackOut(BaseModel):
    ask_id: str
    rating: Literal["up", "down"]


class PolicyInfo(BaseModel):
    id: str
    title: str
    company: str
    source_url: str | None
    archive_url: str | None
    archived: str | None = Field(description="ISO date the page was archived, when stated.")
    version: str | None = Field(description="The date this version came into force (file name, or the effective "
                                            "or archive date the policy states); null when unknown.")
    lang: str = Field("en", description="The language the policy is written in (ISO 639-1), as detected when it "
                                        "was indexed; its quotes are in this language whatever the question's.")


class PolicySummary(PolicyInfo):
    clause_count: int
    versions: list[str] = Field(description="The dates of all its versions, oldest first (the last is this one).")


class VersionOut(BaseModel):
    version: str | None
    title: str
    archived: str | None
    clause_count: int


class ChangeOut(BaseModel):
    kind: Literal["added", "removed", "changed"]
    section: str
    summary: str = Field(description="One line saying what moved, e.g. \"Retention period: 5 years → 7 years\".")
    before: str | None = Field(description="The clause in the older version; null when added.")
    after: str | None = Field(description="The clause in the newer version; null when removed.")
    words_changed: bool = Field(description="False for an entry that changes no word (punctuation, formatting, link "
                                            "targets, where the clauses split), listed only with all=true.")


class ChangesOut(BaseModel):
    policy: str
    from_: str = Field(alias="from", description="The older version.")
    to: str = Field(description="The newer version.")
    changes: list[ChangeOut]
    hidden: int = Field(description="Entries that change no word, not listed (all=true lists them).")


class Span(BaseModel):
    clean_start: int = Field(description="Offset into the policy's clean `text`.")
    clean_end: int
    start: int = Field(description="Offset into the policy's source file, as citations give it.")
    end: int


class GapOut(BaseModel):
    clean_end: int = Field(description="Where the words before the gap end in the clean `text`.")
    end: int = Field(description="...and in the source file.")
    clean_start: int = Field(description="Where the words after the gap start in the clean `text`.")
    start: int = Field(description="...and in the source file.")


class ClauseOut(Span):
    number: int
    section: str
    topic: str
    sentences: list[Span]
    gaps: list[GapOut] = Field(description="Where the clause skips words the page shows (a table header, a table of "
                                           "contents): a quote across one shows … there.")
    labels: list[str] = Field([], description="A table row's column names, one for each line (cell) of its text.")


class PolicyDetail(PolicyInfo):
    contact: list[str]
    text: str = Field(description="The clean text; clause and sentence offsets point into it.")
    clauses: list[ClauseOut]
    pages: list[int] = Field([], description="A PDF's: where each page starts in its text, which source offsets "
                                             "point into; empty for other files.")


class LabelsOut(BaseModel):
    lang: str = Field(description="The labels' language (ISO 639-1).", examples=["ko"])
    labels: dict[str, str] = Field(description="The widget's words by key (button, close, title, ...); a {name} in "
                                               "one is a placeholder the widget fills in.")


class Health(BaseModel):
    ok: bool
    generation: str
    policies: int
    clauses: int
    worker: int = Field(description="The process id of the server process that answered (one of `serve --workers N`).")


class Reindexed(Health):
    rebuilt: bool = Field(description="True when the corpus had changed and a new index generation was built.")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(description="One line that says what is wrong.")


class ErrorOut(BaseModel):
    error: ErrorDetail


ERRORS = {status: {"model": ErrorOut} for status in (400, 403, 404, 413, 422, 429, 503)}


# ---------------------------------------------------------------- deployment settings


@dataclass(frozen=True)
class Origins:
    """Which sites may frame the widget and call the API from a browser."""

    listed: frozenset[str]
    anyone: bool

    @classmethod
    def parse(cls, value: str) -> Origins:
        names = value.lower().split()
        listed = frozenset(name.rstrip("/") for name in names if name != "*")
        for origin in listed:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise PolicyQAError(f"POLICYQA_EMBED_ORIGINS has {origin!r}; list origins like https://shop.example, or *.")
        return cls(listed, "*" in names)

    def allows(self, headers: Headers) -> bool:
        """Is the request's Origin listed, or is it the widget calling its own server?
        (Sec-Fetch-Site is set by the browser alone; it also holds behind a proxy that rewrites Host.)"""
        origin = headers["origin"]
        same_origin = headers.get("sec-fetch-site") == "same-origin" or urlsplit(origin).netloc == headers.get("host")
        return self.anyone or origin in self.listed or same_origin

    @property
    def frame_ancestors(self) -> str:
        return "frame-ancestors *" if self.anyone else " ".join(["frame-ancestors 'self'", *sorted(self.listed)])


class RateLimit:
    """Requests per client address in a moving window, counted in a `limits` storage: this process's memory, or
    Redis shared by every worker and machine. When the storage fails, requests go through (the limit is off,
    logged once) and it is tried again after RETRY seconds: answering matters more than limiting."""

    RETRY = 10.0
    TIMEOUT = 0.5  # seconds Redis may take to connect or reply: requests wait on it

    def __init__(self, spec: str, storage: str = "memory://"):
        try:
            self.item = limits.parse(spec)
        except ValueError:
            raise PolicyQAError(f"POLICYQA_RATE_LIMIT={spec!r} is not a rate like 60/minute.") from None
        options = {"socket_timeout": self.TIMEOUT, "socket_connect_timeout": self.TIMEOUT} if storage.startswith("redis") else {}
        try:
            self.storage = storage_from_string(storage, wrap_exceptions=True, **options)
        except (ConfigurationError, ValueError) as exc:
            raise PolicyQAError(f"POLICYQA_RATE_LIMIT_STORAGE={storage!r} is not a storage the limit can use ({exc}); "
                                "use memory:// or redis://host:6379.") from None
        self.where = storage.partition("@")[2] or storage  # no password in logs
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._off_until: float | None = None  # when the storage failed: retried after this (monotonic) time

    def hit(self, client: str) -> None:
        if self._off_until is not None and time.monotonic() < self._off_until:
            return
        try:
            allowed = self._limiter.hit(self.item, client)
            if not allowed:
                reset = self._limiter.get_window_stats(self.item, client).reset_time
        except StorageError as exc:
            if self._off_until is None:
                log.warning("The rate limit is off: its storage %s fails (%s); requests go through unlimited "
                            "until it answers again.", self.where, exc.storage_error)
            self._off_until = time.monotonic() + self.RETRY
            return
        if self._off_until is not None:
            log.warning("The rate limit is on again: its storage %s answers.", self.where)
            self._off_until = None
        if not allowed:
            wait = max(1, math.ceil(reset - time.time()))
            raise HTTPException(429, f"Too many requests; try again in {wait} seconds.", headers={"Retry-After": str(wait)})


async def rate_limited(request: Request) -> None:
    """Dependency of the public endpoints; async so it runs on the event loop, not in a worker thread."""
    request.app.state.rate_limit.hit(request.client.host if request.client else "unknown")


# ---------------------------------------------------------------- errors: one JSON shape


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": CODES.get(status, "error"), "message": " ".join(message.split())}}  # one line
    return JSONResponse(body, status, headers={**(headers or {}), "X-Content-Type-Options": "nosniff"})


def _too_large() -> str:
    return f"The request body is over {MAX_BODY // 1024} KB; send a shorter one."


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = _too_large() if exc.status_code == 413 else str(exc.detail)
    return error_response(exc.status_code, message, exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if errors[0]["type"] == "json_invalid":
        return error_response(400, f"The body is not valid JSON: {errors[0]['ctx']['error']} at character {errors[0]['loc'][-1]}.")
    return error_response(422, "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in errors[:3]) + ".")


def _where(loc: tuple) -> str:
    """("body", "history", 0, "question") -> "history[0].question"."""
    text = ""
    for part in loc[1:] or loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


async def _refused(request: Request, exc: PolicyQAError) -> JSONResponse:
    return error_response(400, str(exc))


async def _crashed(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Something went wrong on our side; it has been logged. Please try again later.")


# ---------------------------------------------------------------- middleware


class ApiGate:
    """For /api/: a browser request from an origin not allowed is refused, a declared body over
    MAX_BODY too (chunked bodies are counted by the routes' max_body_size); allowed origins get CORS."""

    def __init__(self, app: ASGIApp, origins: Origins):
        self.app = app
        self.origins = origins
        self.cors = CORSMiddleware(app, allow_origins=["*"] if origins.anyone else sorted(origins.listed),
                                   allow_methods=["GET", "POST"], allow_headers=["Content-Type"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and not self.origins.allows(headers):
            message = f"Origin {origin[:100]} may not call this API; add it to POLICYQA_EMBED_ORIGINS."
            return await error_response(403, message)(scope, receive, send)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            return await error_response(413, _too_large(), {"Connection": "close"})(scope, receive, send)
        await (self.app if origin is None else self.cors)(scope, receive, send)


class NoSniff:
    """X-Content-Type-Options: nosniff on everything this module and widget.py serve."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(OUR_PATHS):
            return await self.app(scope, receive, send)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_header)


class FollowIndex:
    """Before a request, load the generation index/CURRENT names if it is not the one served: a build by another
    process (`policyqa index`, another worker's re-index) reaches every worker. Unchanged, it costs one small read."""

    def __init__(self, app: ASGIApp, engine: Engine):
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.engine.behind():
            await anyio.to_thread.run_sync(self.engine.follow)  # loading takes a while: not on the event loop
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- endpoints


async def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _index(engine: Engine) -> store.Index:
    try:
        return engine.index
    except PolicyQAError as exc:
        raise HTTPException(503, str(exc)) from None


def _policy_in(index: store.Index, policy_id: str) -> None:
    if not re.fullmatch(POLICY_ID, policy_id):
        raise HTTPException(400, f"{policy_id[:80]!r} is not a policy id: ids are lowercase letters, digits, - and _.")
    if policy_id not in index.policies:
        raise HTTPException(404, f"Unknown policy {policy_id!r}; choose one of: {', '.join(sorted(index.policies))}.")


def _turns(history: list[TurnIn]) -> list[Turn]:
    turns = []
    for n, turn in enumerate(history):
        try:
            turns.append(Turn(clean_question(turn.question), turn.policy))
        except PolicyQAError as exc:
            raise PolicyQAError(f"history[{n}].question: {exc}") from None
    return turns


router = APIRouter(prefix="/api", responses=ERRORS, max_body_size=MAX_BODY)
bearer = HTTPBearer(auto_error=False, description="POLICYQA_ADMIN_TOKEN")


async def _feedback(request: Request) -> FeedbackStore | None:
    return getattr(request.app.state, "feedback", None)


async def _logged(feedback: FeedbackStore | None, answer: Answer) -> str | None:
    """Log the question with a fresh token to rate it by; None when there is no store or it cannot be written."""
    if feedback is None:
        return None
    token = secrets.token_urlsafe(16)
    try:
        await anyio.to_thread.run_sync(feedback.record_ask, answer, token)
    except PolicyQAError:
        return None  # the store has logged why; the answer matters more than its log
    return token


@router.post("/ask", response_model=AnswerOut, dependencies=[Depends(rate_limited)], tags=["answers"])
async def ask(body: AskRequest, request: Request, engine: Annotated[Engine, Depends(_engine)],
              feedback: Annotated[FeedbackStore | None, Depends(_feedback)]) -> dict:
    """Answer a question with quotes from the policies, cited: the object of `policyqa ask --json`, plus its `ask_id`."""
    index = _index(engine)
    if body.policy:
        _policy_in(index, body.policy)
    top_k = body.top_k or settings.get_int("top_k")
    answer = await _computed(request, engine.ask, body.question, body.policy, _turns(body.history), top_k, body.as_of,
                             body.lang)
    return {**answer.to_json(), "ask_id": await _logged(feedback, answer)}


async def _computed(request: Request, fn: Callable[..., T], *args: object) -> T:
    """fn(*args) on the answer workers (CPU work: the model, the index), within the request time limit: 503 when it
    runs out."""
    workers: Workers = request.app.state.ask_workers
    try:
        return await workers.run_async(fn, *args)
    except TimeoutError as exc:
        raise HTTPException(503, str(exc)) from None


@router.post("/feedback", status_code=201, response_model=FeedbackOut, dependencies=[Depends(rate_limited)],
             tags=["answers"], responses={409: {"model": ErrorOut}})
async def rate(body: FeedbackIn, feedback: Annotated[FeedbackStore | None, Depends(_feedback)]) -> dict:
    """Rate an answer thumbs up or down, once, with an optional comment; the same store as the chat's thumbs."""
    if feedback is None:
        raise HTTPException(404, "This server keeps no feedback.")
    try:
        rated = await anyio.to_thread.run_sync(feedback.rate, body.ask_id, RATINGS[body.rating], body.comment)
    except PolicyQAError as exc:
        raise HTTPException(503, str(exc)) from None
    if rated is Rated.UNKNOWN:
        raise HTTPException(404, f"No answer has ask_id {body.ask_id!r}; send the ask_id that /api/ask returned.")
    if rated is Rated.ALREADY:
        raise HTTPException(409, "That answer is rated already; each answer takes one rating.")
    return {"ask_id": body.ask_id, "rating": body.rating}


@router.get("/policies", response_model=list[PolicySummary], tags=["policies"])
async def policies(engine: Annotated[Engine, Depends(_engine)]) -> list[dict]:
    """Every policy served, with its clause count."""
    index = _index(engine)
    return [{**p.meta(), "clause_count": _clause_count(index, p), "versions": versions.dates(index, pid)}
            for pid, p in sorted(index.policies.items())]


def _clause_count(index: store.Index, version: Policy) -> int:
    first, last = index.ranges[version.key]
    return last - first


def _version(index: store.Index, policy_id: str, version: str | None) -> Policy:
    """The policy's version dated `version` (its latest when None); 404 for a version it does not have."""
    _policy_in(index, policy_id)
    if version is None:
        return index.policies[policy_id]
    try:
        return versions.named(index, policy_id, version)
    except PolicyQAError as exc:
        raise HTTPException(404 if re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) else 400, str(exc)) from None


@router.get("/policies/{policy_id}", response_model=PolicyDetail, tags=["policies"])
async def policy(policy_id: str, engine: Annotated[Engine, Depends(_engine)], version: str | None = None) -> dict:
    """One policy version's clean text and its clauses, with offsets into the clean text and the source file:
    the latest, or `?version=YYYY-MM-DD` (the file citations with that `version` point into)."""
    index = _index(engine)
    chosen = _version(index, policy_id, version)
    first, last = index.ranges[chosen.key]
    return {**chosen.meta(), "text": chosen.text, "clauses": [c.to_json() for c in index.clauses[first:last]]}


@router.get("/policies/{policy_id}/versions", response_model=list[VersionOut], tags=["policies"])
async def policy_versions(policy_id: str, engine: Annotated[Engine, Depends(_engine)]) -> list[dict]:
    """The versions of one policy, oldest first, each dated by when it came into force."""
    index = _index(engine)
    _policy_in(index, policy_id)
    return [{"version": v.version, "title": v.title, "archived": v.archived, "clause_count": _clause_count(index, v)}
            for v in versions.of(index, policy_id)]


@router.get("/policies/{policy_id}/changes", response_model=ChangesOut, tags=["policies"])
async def policy_changes(policy_id: str, request: Request, engine: Annotated[Engine, Depends(_engine)],
                         since: Annotated[str | None, Query(alias="from", description="The older version.")] = None,
                         until: Annotated[str | None, Query(alias="to", description="The newer version.")] = None,
                         everything: Annotated[bool, Query(alias="all", description="Also list the entries that "
                                                                                    "change no word.")] = False
                         ) -> dict:
    """What changed, clause by clause, between two versions (default: the two latest); as `policyqa changes`."""
    index = _index(engine)
    for version in (since, until):
        if version is not None:
            _version(index, policy_id, version)
    _policy_in(index, policy_id)
    diff = await _computed(request, changes.between, index, engine.embedder, policy_id, since, until)
    return diff.to_json(everything)


@router.get("/labels", response_model=LabelsOut, tags=["widget"])
async def labels(lang: Annotated[str, Query(max_length=8, description="ISO 639-1, one of: "
                                                                      + ", ".join(languages.LANGUAGES))] = "en") -> dict:
    """The widget's own words in one language: what embed.js puts on its button, and what /widget?lang= shows."""
    code = languages.named(lang)
    return {"lang": code, "labels": phrases.LABELS[code]}


@router.post("/admin/reindex", response_model=Reindexed, tags=["admin"], responses={401: {"model": ErrorOut}})
def reindex(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> dict:
    """Re-index the corpus if it changed and swap the new index in; needs `Authorization: Bearer <token>`."""
    token = request.app.state.admin_token
    if not token:
        raise HTTPException(404, "Admin endpoints are off; set POLICYQA_ADMIN_TOKEN to turn them on.")
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        raise HTTPException(401, "Send the admin token as 'Authorization: Bearer <token>'.",
                            headers={"WWW-Authenticate": "Bearer"})
    engine: Engine = request.app.state.engine
    try:
        report = engine.refresh()
    except PolicyQAError as exc:
        raise HTTPException(503, str(exc)) from None
    return {**engine.health(), "worker": os.getpid(), "rebuilt": report is not None}


async def healthz(engine: Annotated[Engine, Depends(_engine)]) -> JSONResponse:
    """Whether an index is loaded: 200 with its size, or 503 with why not."""
    health = engine.health()
    if not health["ok"]:
        return error_response(503, health["error"])
    return JSONResponse({**health, "worker": os.getpid()})


def _no_route(request: Request) -> None:
    """The last /api route: a wrong method on a known path is 405, anything else 404."""
    allowed = sorted({m for r in router.routes if r.matches(request.scope)[0] is Match.PARTIAL for m in r.methods})
    if allowed:
        raise HTTPException(405, f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                            headers={"Allow": ", ".join(allowed)})
    raise HTTPException(404, f"No endpoint {request.method} {request.url.path}; see /docs for the API.")


# ---------------------------------------------------------------- wiring


def install(app: FastAPI) -> None:
    """Register the API, the widget and their guards on `app`; `app.state.engine` must be set."""
    origins = Origins.parse(settings.get("embed_origins"))
    app.state.rate_limit = RateLimit(settings.get("rate_limit"), settings.get("rate_limit_storage"))
    app.state.admin_token = settings.get("admin_token")
    app.state.ask_workers = Workers.from_settings(ASK_WORKERS)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(PolicyQAError, _refused)
    app.add_exception_handler(Exception, _crashed)
    app.add_middleware(ApiGate, origins=origins)
    app.add_middleware(NoSniff)
    app.add_middleware(FollowIndex, engine=app.state.engine)
    app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["health"],
                      responses={503: {"model": ErrorOut}})
    widget.install(app, limit=Depends(rate_limited), frame_ancestors=origins.frame_ancestors)
    app.add_api_route("/api/{path:path}", _no_route, include_in_schema=False,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
