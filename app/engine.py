"""The serving state shared by the CLI, the web UI and the API: one embedder, the current index.

Re-indexing swaps the new index in by reference: a request takes `engine.index` once and
keeps answering from that generation even if a swap happens meanwhile. A server follows builds made
by other processes (`follow`): every worker of `serve --workers N` serves the generation CURRENT names.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from . import answer, embedder as embedders, search, store
from .answer import Turn
from .errors import PolicyQAError
from .records import Answer

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, corpus: Path, index_dir: Path, model: embedders.Embedder | None = None):
        self.corpus = corpus
        self.index_dir = index_dir
        self.embedder = model or embedders.get()
        self._index: store.Index | None = None
        self._error: str | None = None
        self._build_lock = threading.Lock()
        self._tried: str | None = None  # the last generation CURRENT named that follow() loaded or failed to

    @property
    def index(self) -> store.Index:
        index = self._index
        if index is None:
            raise PolicyQAError(self._error or f"No index is loaded from {self.index_dir}; run `policyqa index`.")
        return index

    def load(self) -> None:
        """Load and validate the serving generation; on failure keep serving the one we had."""
        try:
            self._index = store.load(self.index_dir, embedder=self.embedder)
            self._error = None
        except PolicyQAError as exc:
            self._error = str(exc)
            raise

    def refresh(self, progress: store.Progress | None = None) -> store.BuildReport | None:
        """Build when the index is missing, stale or broken and the corpus is at hand; then load it."""
        with self._build_lock:
            fresh = not self.corpus.is_dir() or store.up_to_date(self.corpus, self.index_dir, self.embedder.name,
                                                                  self.embedder.backend)
            if fresh:
                try:
                    self.load()
                    return None
                except PolicyQAError as exc:
                    log.warning("index not usable, rebuilding: %s", exc)
            if not self.corpus.is_dir():
                raise PolicyQAError(f"No usable index in {self.index_dir} and no corpus at {self.corpus} to build one from.")
            report = store.build(self.corpus, self.index_dir, self.embedder, progress)
            self.load()
            return report

    def behind(self) -> bool:
        """Does index/CURRENT name a generation other than the one served (and not yet tried)?"""
        index = self._index
        serving = store.serving_name(self.index_dir)
        return index is not None and serving is not None and serving not in (index.generation, self._tried)

    def follow(self) -> None:
        """Load the generation CURRENT names when another process has committed one; a generation that fails
        to load is not tried again (the one loaded keeps serving and /healthz says why)."""
        if not self._build_lock.acquire(blocking=False):
            return  # this process is building or loading: it loads the newest when done
        try:
            if self.behind():
                self._tried = store.serving_name(self.index_dir)
                self.load()
                log.info("now serving %s", self.index.generation)
        except PolicyQAError as exc:
            log.warning("keeping %s: the new generation does not load: %s", self.index.generation, exc)
        finally:
            self._build_lock.release()

    def ask(self, question: str, policy: str | None = None, history: list[Turn] | None = None, top_k: int = 3,
            as_of: str | None = None, lang: str | None = None) -> Answer:
        return answer.ask(self.index, self.embedder, question, policy=policy, history=history, top_k=top_k, as_of=as_of,
                          lang=lang)

    def search(self, query: str, policy: str | None = None, k: int = 10) -> list[search.Hit]:
        """Ranked clauses for agents: no composed answer, no decline."""
        query = answer.clean_question(query)
        index = self.index
        if policy:
            answer.known_policy(index, policy)
        return search.retrieve(index, self.embedder, query, policy, k)

    def health(self) -> dict:
        index = self._index
        if index is None:
            return {"ok": False, "error": self._error or "index not loaded"}
        health = {"ok": True, "generation": index.generation, "policies": len(index.policies), "clauses": len(index.clauses)}
        if self._error:  # a reload failed: the generation loaded before keeps serving
            health["reload_error"] = self._error
        return health
