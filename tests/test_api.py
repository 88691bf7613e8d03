"""The JSON API, the widget's routes and their guards: over real HTTP against the live server and
in-process through httpx.ASGITransport. Settings that install() reads get an app of their own."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import sqlite3
import time
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from app import languages, phrases
from app.engine import Engine
from app.errors import PolicyQAError
from app.web import api, widget

QUESTION = "how long do you keep payment records?"
JSON = {"Content-Type": "application/json"}


def assert_error(response: httpx.Response, status: int) -> dict:
    """The one shape of every error: the status, JSON, nosniff, {"error": {"code", "message"}}, one line."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == api.CODES[status]
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip() and "\n" not in message and "Traceback" not in message
    return body["error"]


class InProcess:
    """httpx through ASGITransport, called synchronously: the app without a socket."""

    def __init__(self, app, client: tuple[str, int] = ("127.0.0.1", 50000), raise_app_exceptions: bool = True):
        self.transport = dict(app=app, client=client, raise_app_exceptions=raise_app_exceptions)

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(**self.transport)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@pytest.fixture(autouse=True)
def generous_limit(rate_limit):
    rate_limit("100000/minute")


@pytest.fixture(params=["http", "asgi"])
def client(request, live_server, web_app):
    """The same calls over a real socket and in-process."""
    if request.param == "asgi":
        yield InProcess(web_app)
        return
    with httpx.Client(base_url=live_server, timeout=120) as http:
        yield http


@pytest.fixture
def app_with(monkeypatch, engine, feedback_store):
    """A fresh app built after setting POLICYQA_* variables: app_with(rate_limit="2/minute")."""
    from app.web.server import create_app

    def build(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(f"POLICYQA_{name.upper()}", value)
        return create_app(engine, feedback_store)

    return build


def api_alone(engine: Engine) -> FastAPI:
    """The API without the Gradio UI, for what the UI cannot be built with (no index) or would shadow (extra routes)."""
    app = FastAPI()
    app.state.engine = engine
    api.install(app)
    return app


def raw_get(base: str, path: str) -> httpx.Response:
    """GET with the path sent byte for byte (httpx would normalise ../)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return httpx.Response(reply.status, headers=reply.getheaders(), content=reply.read())
    finally:
        connection.close()


# ---------------------------------------------------------------- endpoints


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True and response.json()["policies"] == 5


def test_without_an_index_health_and_api_say_why(model, tmp_path):
    app = InProcess(api_alone(Engine(tmp_path / "no-corpus", tmp_path / "no-index", model)))
    for method, path, body in [("GET", "/healthz", None), ("GET", "/api/policies", None),
                               ("GET", "/api/policies/leje", None), ("POST", "/api/ask", {"question": "cookies?"})]:
        error = assert_error(app.request(method, path, json=body), 503)
        assert "index" in error["message"]


def test_policies_are_listed_with_clause_counts(client, engine):
    listed = client.get("/api/policies").json()
    index = engine.index
    assert [p["id"] for p in listed] == sorted(index.policies)
    for p in listed:
        first, last = index.ranges[p["id"]]
        assert p["clause_count"] == last - first > 0
        assert p["title"] == index.policies[p["id"]].title
        assert set(p) == {"id", "title", "company", "source_url", "archive_url", "archived", "clause_count", "version",
                          "versions", "lang"}
        assert p["lang"] == "en"  # the bundled policies are all written in English
        assert p["versions"] == ([p["version"]] if p["version"] else [])  # one version each; LEJE's states no date


def test_policy_has_clean_text_and_clause_offsets(client, engine, isolated_paths):
    policy = client.get("/api/policies/leje").json()
    source = (isolated_paths / "corpus" / "leje.md").read_text(encoding="utf-8")
    assert policy["text"] == engine.index.policies["leje"].text
    first, last = engine.index.ranges["leje"]
    assert [c["number"] for c in policy["clauses"]] == [c.number for c in engine.index.clauses[first:last]]
    for clause in policy["clauses"]:
        assert 0 <= clause["clean_start"] < clause["clean_end"] <= len(policy["text"])
        assert 0 <= clause["start"] < clause["end"] <= len(source)
        for sentence in clause["sentences"]:
            assert clause["clean_start"] <= sentence["clean_start"] < sentence["clean_end"] <= clause["clean_end"]
            first_word = policy["text"][sentence["clean_start"]:sentence["clean_end"]].split()[0]
            assert first_word in source[sentence["start"]:sentence["end"]]


def test_ask_gives_the_cli_answer_object(client, engine):
    response = client.post("/api/ask", json={"question": QUESTION, "policy": "leje"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", answer.pop("ask_id"))  # logged, to be rated by (test_api_feedback.py)
    assert answer == engine.ask(QUESTION, "leje", top_k=3).to_json()
    assert answer["answered"] and answer["policy"] == "leje"
    assert any("payment" in c["quote"].lower() for c in answer["citations"])
    assert answer["confidence"] == answer["citations"][0]["probability"] > 0.5
    assert all(c["pieces"] == [[c["start"], c["end"]]] for c in answer["citations"])  # no gap in LEJE's quotes
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "pieces" in schema["CitationOut"]["required"] and "gaps" in schema["ClauseOut"]["properties"]


def test_ask_answers_in_the_questions_language_or_the_one_asked_for(client, engine):
    chosen = client.post("/api/ask", json={"question": QUESTION, "policy": "leje", "lang": "fr"}).json()
    english = engine.ask(QUESTION, "leje", top_k=3)
    assert chosen["lang"] == "fr" and chosen["citations"] == english.to_json()["citations"]
    assert chosen["answer"].startswith(english.citations[0].title) and " indique" in chosen["answer"].split("\n")[0]
    detected = client.post("/api/ask", json={"question": "wie lange speichert ihr meine zahlungsdaten?",
                                             "policy": "leje"}).json()
    assert detected["lang"] == "de"
    error = assert_error(client.post("/api/ask", json={"question": QUESTION, "lang": "xx"}), 400)
    assert error["message"].startswith("Unknown language 'xx'; choose one of: en, ko")
    assert "lang" in client.get("/openapi.json").json()["components"]["schemas"]["AnswerOut"]["required"]


def test_widget_labels_in_every_language(client):
    korean = client.get("/api/labels", params={"lang": "ko"})
    assert korean.status_code == 200 and korean.json()["lang"] == "ko"
    assert korean.json()["labels"]["close"] == "닫기"
    english = client.get("/api/labels").json()
    assert english["lang"] == "en" and english["labels"]["button"] == "Questions about our privacy policy?"

    def fields(text: str) -> list[str]:
        return sorted(re.findall(r"\{(\w+)\}", text))

    for lang in languages.LANGUAGES:
        labels = client.get("/api/labels", params={"lang": lang.upper()}).json()["labels"]
        assert labels.keys() == english["labels"].keys(), lang
        for key, text in labels.items():
            assert text.strip() and fields(text) == fields(english["labels"][key]), (lang, key)
    error = assert_error(client.get("/api/labels", params={"lang": "xx"}), 400)
    assert error["message"].startswith("Unknown language 'xx'; choose one of: en, ko")
    assert "/api/labels" in client.get("/openapi.json").json()["paths"]


def test_follow_up_keeps_the_conversations_policy(client):
    history = [{"question": QUESTION, "policy": "leje"}]
    answer = client.post("/api/ask", json={"question": "and what about cookies?", "history": history}).json()
    assert answer["policy"] == "leje"


def test_top_k_caps_the_citations(client):
    answer = client.post("/api/ask", json={"question": QUESTION, "policy": "leje", "top_k": 1}).json()
    assert len(answer["citations"]) == 1


def test_openapi_schema_and_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/feedback", "/api/policies", "/api/policies/{policy_id}", "/api/admin/reindex",
            "/healthz"} <= set(schema["paths"])
    assert {"AskRequest", "AnswerOut", "FeedbackIn", "PolicyDetail", "PolicySummary", "ErrorOut"} <= set(schema["components"]["schemas"])
    ask = schema["paths"]["/api/ask"]["post"]
    assert ask["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert ask["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AnswerOut")
    docs = client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]


# ---------------------------------------------------------------- every bad request, one shape

HISTORY_21 = [{"question": "cookies?"}] * 21
BAD_REQUESTS = {
    "empty question": ("POST", "/api/ask", {"json": {"question": ""}}, 400),
    "blank question": ("POST", "/api/ask", {"json": {"question": " \n\t\u200b "}}, 400),
    "over-long question": ("POST", "/api/ask", {"json": {"question": "why " * 300}}, 400),
    "over-long earlier question": ("POST", "/api/ask", {"json": {"question": "and?", "history": [{"question": "y" * 1001}]}}, 400),
    "malformed JSON": ("POST", "/api/ask", {"content": b'{"question": "cookies?"', "headers": JSON}, 400),
    "JSON that is not an object": ("POST", "/api/ask", {"json": ["cookies?"]}, 422),
    "no body": ("POST", "/api/ask", {}, 422),
    "no content type": ("POST", "/api/ask", {"content": b'{"question": "cookies?"}'}, 422),
    "question not text": ("POST", "/api/ask", {"json": {"question": 5}}, 422),
    "question missing": ("POST", "/api/ask", {"json": {"policy": "leje"}}, 422),
    "top_k as text": ("POST", "/api/ask", {"json": {"question": "q", "top_k": "3"}}, 422),
    "top_k zero": ("POST", "/api/ask", {"json": {"question": "q", "top_k": 0}}, 422),
    "top_k 21": ("POST", "/api/ask", {"json": {"question": "q", "top_k": 21}}, 422),
    "history not a list": ("POST", "/api/ask", {"json": {"question": "q", "history": "cookies?"}}, 422),
    "history turn without question": ("POST", "/api/ask", {"json": {"question": "q", "history": [{"policy": "leje"}]}}, 422),
    "too much history": ("POST", "/api/ask", {"json": {"question": "q", "history": HISTORY_21}}, 422),
    "unknown field": ("POST", "/api/ask", {"json": {"question": "q", "polcy": "leje"}}, 422),
    "unknown policy": ("POST", "/api/ask", {"json": {"question": "q", "policy": "acme"}}, 404),
    "policy path trick": ("POST", "/api/ask", {"json": {"question": "q", "policy": "../leje"}}, 422),
    "policy not text": ("POST", "/api/ask", {"json": {"question": "q", "policy": ["leje"]}}, 422),
    "body over 64 KB": ("POST", "/api/ask", {"content": b'{"question": "' + b"x" * 70_000 + b'"}', "headers": JSON}, 413),
    "unknown policy page": ("GET", "/api/policies/acme", {}, 404),
    "upper-case policy id": ("GET", "/api/policies/LEJE", {}, 400),
    "encoded dot-dot": ("GET", "/api/policies/%2e%2e", {}, 400),
    "backslashes": ("GET", "/api/policies/..%5C..%5Capp", {}, 400),
    "drive path": ("GET", "/api/policies/c:%5Cwindows", {}, 400),
    "encoded slashes": ("GET", "/api/policies/..%2F..%2Fetc%2Fpasswd", {}, 404),
    "id too long": ("GET", "/api/policies/" + "a" * 65, {}, 400),
    "unknown route": ("GET", "/api/nope", {}, 404),
    "unknown nested route": ("GET", "/api/policies/leje/clauses", {}, 404),
    "newline in the path": ("GET", "/api/x%0A%0Dy", {}, 404),
    "newline in a field name": ("POST", "/api/ask", {"json": {"question": "q", "a\nb": 1}}, 422),
    "GET on ask": ("GET", "/api/ask", {}, 405),
    "DELETE on policies": ("DELETE", "/api/policies", {}, 405),
    "PUT on a policy": ("PUT", "/api/policies/leje", {"json": {}}, 405),
    "admin off": ("POST", "/api/admin/reindex", {"headers": {"Authorization": "Bearer guess"}}, 404),
    "unknown widget asset": ("GET", "/widget/assets/api.py", {}, 404),
}


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_request_gets_a_json_error(client, name):
    method, path, kwargs, status = BAD_REQUESTS[name]
    assert_error(client.request(method, path, **kwargs), status)


def test_wrong_method_says_which_are_allowed(client):
    assert client.get("/api/ask").headers["allow"] == "POST"


@pytest.mark.parametrize("path, status", [
    ("/api/policies/../../etc/passwd", 404),
    ("/api/policies/..%2F..%2Fapp%2Fweb%2Fapi.py", 404),
    ("/api/policies//etc/passwd", 404),
    ("/api/policies/%2Fetc%2Fpasswd", 404),
    ("/api/policies/..\\..\\app", 400),
    ("/api/policies/%2e%2e%2f", 404),
])
def test_raw_path_tricks_get_a_json_error(live_server, path, status):
    assert_error(raw_get(live_server, path), status)


def test_asset_path_tricks_never_reach_files(live_server):
    for path in ("/widget/assets/..%2Fapi.py", "/widget/assets/../api.py", "/widget/assets/%2e%2e%2fapi.py"):
        response = raw_get(live_server, path)
        assert "def install" not in response.text and response.status_code >= 400, path


def test_chunked_body_over_the_limit(live_server):
    def chunks():
        for _ in range(10):
            yield b" " * 10_000

    response = httpx.post(f"{live_server}/api/ask", content=chunks(), headers=JSON, timeout=60)
    assert_error(response, 413)


def test_unexpected_error_is_generic_and_logged(engine, caplog):
    app = api_alone(engine)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    error = assert_error(InProcess(app, raise_app_exceptions=False).get("/boom"), 500)
    assert "secret" not in error["message"]
    assert "secret internals" in caplog.text


# ---------------------------------------------------------------- markup, content types, headers


def test_markup_comes_back_only_as_json(client):
    markup = "<img src=x onerror=alert(1)>"
    response = client.post("/api/ask", json={"question": markup})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["question"] == markup
    assert_error(client.get("/api/policies/%3Cscript%3E"), 400)
    page = client.get("/widget", params={"policy": "<script>alert(1)</script>"})
    assert page.status_code == 200 and "alert(1)" not in page.text


def test_widget_pages_and_scripts(client):
    for path, kind in [("/widget?policy=leje", "text/html"), ("/widget/policy/leje?start=1&end=9", "text/html"),
                       ("/demo", "text/html"), ("/embed.js", "text/javascript"),
                       ("/widget/assets/widget.js", "text/javascript"), ("/widget/assets/viewer.js", "text/javascript"),
                       ("/widget/assets/widget.css", "text/css"), ("/widget/assets/demo.css", "text/css")]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind), path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert 'src="embed.js" data-policy="leje"' in client.get("/demo").text


def test_widget_may_be_framed_anywhere_by_default(client):
    policy = client.get("/widget").headers["content-security-policy"]
    assert "frame-ancestors *" in policy and "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in client.get("/demo").headers["content-security-policy"]


def labels_block(page: httpx.Response) -> dict[str, str]:
    """The labels a widget page gives its script: its JSON data block."""
    return json.loads(re.search(r'<script type="application/json" id="labels">(.*?)</script>', page.text).group(1))


def test_widget_pages_in_the_language_asked_for(client):
    german = client.get("/widget", params={"policy": "leje", "lang": "de"})
    assert german.status_code == 200 and '<html lang="de">' in german.text
    assert "<title>Fragen zu unserer Datenschutzerklärung</title>" in german.text
    assert 'placeholder="z. B. Wie lange bewahren Sie Zahlungsbelege auf?"' in german.text
    assert '<button type="submit" id="send">Fragen</button>' in german.text and "Your question" not in german.text
    assert labels_block(german)["show"] == "In der Erklärung zeigen"
    assert "script-src 'self'" in german.headers["content-security-policy"]
    assert german.headers["cache-control"] == "no-cache" and german.headers["x-content-type-options"] == "nosniff"
    viewer = client.get("/widget/policy/leje", params={"pieces": "1-9", "lang": "ko"})
    assert '<html lang="ko">' in viewer.text and "<title>개인정보 처리방침</title>" in viewer.text
    assert "frame-ancestors" in viewer.headers["content-security-policy"]
    for lang in ("xx", "", "<script>alert(1)</script>"):  # a widget on a shop's page never breaks: English
        page = client.get("/widget", params={"lang": lang})
        assert page.status_code == 200 and '<html lang="en">' in page.text and "alert(1)" not in page.text
        assert ">Your question</label>" in page.text and labels_block(page)["close"] == "Close"


def test_labels_cannot_break_out_of_the_page(web_app, monkeypatch):
    hostile = '</script><img src=x onerror=alert(1)> "quoted" & more'
    monkeypatch.setitem(phrases.LABELS["en"], "hint", hostile)
    monkeypatch.setitem(phrases.LABELS["en"], "placeholder", hostile)
    widget._rendered.cache_clear()
    try:
        page = InProcess(web_app).get("/widget")
    finally:
        monkeypatch.undo()
        widget._rendered.cache_clear()
    assert "<img" not in page.text and page.text.count("</script>") == 2  # the data block's and widget.js's
    assert 'placeholder="&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; more"' in page.text
    assert labels_block(page)["hint"] == hostile


def test_any_origin_may_call_the_api_by_default(client):
    response = client.get("/api/policies", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    preflight = client.request("OPTIONS", "/api/ask", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]


def test_listed_origins_only(app_with):
    app = InProcess(app_with(embed_origins="https://shop.example http://localhost:8080/"))
    allowed = app.get("/api/policies", headers={"Origin": "https://shop.example"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://shop.example"
    preflight = app.request("OPTIONS", "/api/ask", headers={
        "Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "http://localhost:8080"
    for origin in ("https://evil.example", "null", "https://shop.example.evil.example"):
        assert_error(app.get("/api/policies", headers={"Origin": origin}), 403)
        assert_error(app.post("/api/ask", json={"question": QUESTION}, headers={"Origin": origin}), 403)
        assert_error(app.request("OPTIONS", "/api/ask", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST"}), 403)
    assert app.get("/api/policies", headers={"Origin": "http://testserver"}).status_code == 200  # the widget itself
    proxied = {"Origin": "https://qa.example", "Sec-Fetch-Site": "same-origin"}  # behind a proxy that rewrites Host
    assert app.get("/api/policies", headers=proxied).status_code == 200
    assert app.get("/api/policies").status_code == 200  # not a browser
    csp = app.get("/widget").headers["content-security-policy"]
    assert "frame-ancestors 'self' http://localhost:8080 https://shop.example" in csp


def test_bad_origin_setting_is_refused(app_with):
    with pytest.raises(PolicyQAError, match="POLICYQA_EMBED_ORIGINS"):
        app_with(embed_origins="shop.example")


# ---------------------------------------------------------------- load and limits


def test_40_concurrent_asks(live_server):
    questions = [QUESTION, "do you use cookies?", "who do I contact about my data?", "do you sell my information?"]

    def ask(n: int) -> httpx.Response:
        body = {"question": questions[n % len(questions)], "policy": ["leje", None][n % 2]}
        return httpx.post(f"{live_server}/api/ask", json=body, timeout=300)

    started = time.monotonic()
    with ThreadPoolExecutor(40) as pool:
        replies = pool.map(ask, range(40))
        assert httpx.get(f"{live_server}/healthz", timeout=60).status_code == 200  # answered meanwhile
        replies = list(replies)
    assert [r.status_code for r in replies] == [200] * 40, [r.text for r in replies if r.status_code != 200]
    assert all(r.json()["question"] for r in replies)
    print(f"40 concurrent asks answered in {time.monotonic() - started:.1f}s")


def test_rate_limit_per_client(live_server, web_app, rate_limit):
    rate_limit("5/minute")
    with httpx.Client(base_url=live_server, timeout=60) as http:
        assert [http.get("/widget").status_code for _ in range(3)] == [200] * 3
        assert http.post("/api/ask", json={"question": ""}).status_code == 400  # counted all the same
        assert http.post("/api/ask", json={"question": QUESTION, "policy": "leje"}).status_code == 200
        for response in (http.post("/api/ask", json={"question": QUESTION}), http.get("/widget?policy=leje")):
            assert_error(response, 429)
            assert 1 <= int(response.headers["retry-after"]) <= 60
        assert http.get("/api/policies").status_code == 200  # not a public answering endpoint
    assert InProcess(web_app, client=("10.0.0.2", 4000)).get("/widget").status_code == 200  # another client


def test_rate_limit_comes_from_the_setting(app_with):
    app = InProcess(app_with(rate_limit="2/minute"))
    assert [app.get("/widget").status_code for _ in range(3)] == [200, 200, 429]
    with pytest.raises(PolicyQAError, match="POLICYQA_RATE_LIMIT"):
        app_with(rate_limit="lots")


# ---------------------------------------------------------------- admin


def test_reindex_needs_the_admin_token(app_with):
    app = InProcess(app_with(admin_token="s3cret"))
    missing = app.post("/api/admin/reindex")
    assert_error(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_error(app.post("/api/admin/reindex", headers={"Authorization": "Bearer s3cre"}), 401)
    assert_error(app.post("/api/admin/reindex", headers={"Authorization": "Basic s3cret"}), 401)
    done = app.post("/api/admin/reindex", headers={"Authorization": "Bearer s3cret"})
    assert done.status_code == 200, done.text
    assert done.json()["ok"] is True and done.json()["rebuilt"] is False


# ---------------------------------------------------------------- hostile questions

HOSTILE_QUESTIONS = {
    "NUL": b'{"question": "do you use\\u0000 cookies?"}',
    "lone surrogate": b'{"question": "do you use cookies\\ud800?"}',
    "bidi override": '{"question": "\u202edo you use cookies?\u202c"}'.encode(),
    "zero-width": '{"question": "do you use coo\u200bkies?\ufeff"}'.encode(),
    "emoji": '{"question": "do you use cookies? 🍪👨‍👩‍👧"}'.encode(),
    "javascript: link": b'{"question": "[me](javascript:alert(1)) do you use cookies?"}',
    "invalid UTF-8": b'{"question": "do you use cookies\xff\xfe?"}',
}


@pytest.mark.parametrize("name", HOSTILE_QUESTIONS)
def test_hostile_questions_get_an_answer_or_one_line(client, feedback_store, name):
    response = client.post("/api/ask", content=HOSTILE_QUESTIONS[name], headers=JSON)
    if response.status_code != 200:
        assert_error(response, 400)
        return
    answer = response.json()
    assert answer["answered"] and answer["citations"][0]["policy"], answer
    with closing(sqlite3.connect(feedback_store.path)) as db:
        (stored,) = db.execute("SELECT question FROM asks WHERE token = ?", (answer["ask_id"],)).fetchone()
    assert stored.encode("utf-8") and "\x00" not in stored and "\u202e" not in stored, repr(stored)


def test_a_declined_answer_says_why(client):
    data = client.post("/api/ask", json={"question": "what are your store hours", "policy": "leje"}).json()
    assert data["answered"] is False and data["declined_as"] == "product" and "product or service" in data["answer"]
    data = client.post("/api/ask", json={"question": "how long do you keep my payment records?", "policy": "leje"}).json()
    assert data["answered"] is True and data["declined_as"] is None
