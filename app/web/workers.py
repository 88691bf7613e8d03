"""Where the web computes answers: a few threads of their own, and a time limit per request.

The chat and the API share one pool, so at most `size` answers use the CPU at once whoever asks.
A request waits at most POLICYQA_REQUEST_TIMEOUT seconds, queueing included, then gets a clear
error instead of hanging. A Python thread cannot be stopped, so a call that overran keeps its
thread until it returns: its slot stays taken, and work given up on never lets more than `size`
answers run at once (requests queued behind it time out in the queue, costing no CPU).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

from .. import settings
from ..errors import PolicyQAError

T = TypeVar("T")


class Workers:
    """`size` threads that compute answers; callers wait for them at most `timeout` seconds."""

    def __init__(self, size: int, timeout: float):
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(size, thread_name_prefix="policyqa-answer")

    @classmethod
    def from_settings(cls, size: int) -> Workers:
        timeout = settings.get_int("request_timeout")
        if timeout < 1:
            raise PolicyQAError(f"POLICYQA_REQUEST_TIMEOUT={timeout} is too short; give it 1 second or more.")
        return cls(size, timeout)

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) on a worker, waited for here; TimeoutError, its message for people, when time runs out."""
        future = self._pool.submit(fn, *args)
        try:
            return future.result(self.timeout)
        except TimeoutError:
            return self._after_timeout(future)

    async def run_async(self, fn: Callable[..., T], *args: object) -> T:
        """The same, awaited: the event loop serves other requests meanwhile."""
        future = self._pool.submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            return self._after_timeout(future)

    def _after_timeout(self, future: Future[T]) -> T:
        future.cancel()  # still queued: it never runs; already running: it runs on, unwaited for
        if future.done() and not future.cancelled():  # it finished as time ran out, or raised TimeoutError itself
            return future.result()
        seconds = f"{self.timeout:g} second" + ("" if self.timeout == 1 else "s")
        raise TimeoutError(f"No answer within {seconds}: the server is busy or stuck. Please try again in a moment.")
