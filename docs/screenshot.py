"""Regenerate docs/chat.png (and docs/agents.png): the real app on the bundled corpus, in headless Chromium.

    .venv/bin/python docs/screenshot.py
"""

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def serve(work: Path) -> str:
    """The app on a free port of 127.0.0.1, its index and feedback database in `work`."""
    import uvicorn

    from app.engine import Engine
    from app.feedback import FeedbackStore
    from app.web.server import create_app

    engine = Engine(ROOT / "corpus", work / "index")
    engine.refresh()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(engine, FeedbackStore(work / "feedback.db")),
                                          host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return f"http://127.0.0.1:{port}"


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    work = Path(tempfile.mkdtemp(prefix="policyqa-screenshot-"))
    # The pictures are of answers, not of a busy machine: a compare asks every policy, which can outlast the
    # default time limit on a loaded 2-core machine.
    os.environ.update(POLICYQA_INDEX=str(work / "index"), POLICYQA_FEEDBACK_DB=str(work / "feedback.db"),
                      POLICYQA_REQUEST_TIMEOUT="300")
    url = serve(work)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 1000})
        expect.set_options(timeout=300_000)
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#pq-policy input").click()
        page.get_by_role("option", name="LEJE Privacy Policy", exact=True).click()
        page.get_by_placeholder("Ask about the policy").fill("how long do you keep my payment records?")
        page.get_by_placeholder("Ask about the policy").press("Enter")
        page.locator("#pq-chat .pq-source[data-cite='1']").click()
        expect(page.locator("#pq-viewer mark.pq-hit")).to_be_in_viewport()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "chat.png"))
        page.get_by_role("tab", name="Agents: compare").click()
        page.get_by_label("One question, asked of every policy").fill("do you use cookies?")
        page.locator("#pq-compare-go").click()
        expect(page.locator("#pq-compare tbody tr").first).to_be_visible()
        page.screenshot(path=str(DOCS / "agents.png"))
        browser.close()
    print(f"wrote {DOCS / 'chat.png'} and {DOCS / 'agents.png'}")


if __name__ == "__main__":
    main()
