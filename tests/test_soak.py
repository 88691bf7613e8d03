"""A bounded soak: clients ask, rate the answers and read policies against the real server for about
two minutes, while this process (the server runs in one of its threads) samples its resident memory
and open file descriptors from /proc. After a warm-up both must stay flat.
POLICYQA_SOAK_SECONDS sets the measured time (default 90), after a 20-second warm-up."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter

import httpx
import pytest

WARM_UP = 20.0
SECONDS = float(os.environ.get("POLICYQA_SOAK_SECONDS", "90"))
CLIENTS = 4
QUESTIONS = [("how long do you keep my payment records?", "leje"), ("do you use cookies?", None),
             ("Who do you share my information with?", "clozette"), ("Can I withdraw my consent?", "dr-esthetique"),
             ("Do you sell my personal information?", "herve-leger"), ("Is my information encrypted?", "laneige"),
             ("what's the weather tomorrow?", None)]
MB = 1024 * 1024


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmRSS:"))
    return int(kb) * 1024


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def customer(url: str, n: int, stop: threading.Event, done: Counter, failures: list[str]) -> None:
    """Ask, rate the answer, read the policies and one policy; again until told to stop."""
    def expect(reply: httpx.Response, status: int, name: str) -> httpx.Response:
        done[name] += 1
        if reply.status_code != status:
            failures.append(f"{name}: {reply.status_code} {reply.text[:200]}")
        return reply

    with httpx.Client(base_url=url, timeout=120) as http:
        turn = n
        while not stop.is_set():
            question, policy = QUESTIONS[turn % len(QUESTIONS)]
            answer = expect(http.post("/api/ask", json={"question": question, "policy": policy}), 200, "ask")
            if answer.status_code == 200:
                rating = {"ask_id": answer.json()["ask_id"], "rating": ("up", "down")[turn % 2], "comment": f"soak {turn}"}
                expect(http.post("/api/feedback", json=rating), 201, "feedback")
            expect(http.get("/api/policies"), 200, "policies")
            expect(http.get(f"/api/policies/{policy or 'leje'}"), 200, "policy")
            expect(http.get("/healthz"), 200, "health")
            turn += CLIENTS


@pytest.mark.soak
def test_memory_and_open_files_stay_flat_under_mixed_traffic(live_server, rate_limit):
    rate_limit("1000000/minute")
    stop, done, failures = threading.Event(), Counter(), []
    clients = [threading.Thread(target=customer, args=(live_server, n, stop, done, failures), daemon=True)
               for n in range(CLIENTS)]
    for client in clients:
        client.start()
    try:
        time.sleep(WARM_UP)
        samples, deadline = [], time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            samples.append((rss(), open_files()))
            time.sleep(1)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=120)

    third = len(samples) // 3
    first, last = samples[:third], samples[-third:]
    rss_growth = statistics.median(r for r, _ in last) - statistics.median(r for r, _ in first)
    fd_growth = max(f for _, f in last) - max(f for _, f in first)
    print(f"soak: {sum(done.values())} requests {dict(done)} in {WARM_UP + SECONDS:.0f}s; "
          f"RSS {samples[0][0] / MB:.0f} -> {samples[-1][0] / MB:.0f} MB (median growth {rss_growth / MB:+.1f} MB), "
          f"fds {samples[0][1]} -> {samples[-1][1]} (peak growth {fd_growth:+d})")
    assert failures == [], failures[:5]
    assert done["ask"] >= 50, done
    assert rss_growth < 50 * MB
    assert fd_growth < 20
