"""Writing files safely: whole or not at all, and one writer at a time.

A file is written to a temp file beside it (`.tmp-NAME-…`, never read as anything), fsynced and renamed over the
old one, so a reader sees the old file or the new one, never part of either; a crash leaves at most the temp file.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from .errors import PolicyQAError


def write_durably(path: Path, data: bytes, before_replace: Callable[[], None] | None = None) -> None:
    """Write `data` to `path` atomically and durably: temp file, fsync, rename over `path`, fsync the folder."""
    tmp = path.parent / f".tmp-{path.name}-{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # not mkstemp: its 0600 hides the file from others
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if before_replace:
            before_replace()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync(path.parent)


def fsync(path: Path) -> None:
    """Flush a file's or a folder's entries to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def exclusive(lock: Path, busy: str) -> Iterator[None]:
    """Hold the lock file `lock` while the block runs, across processes; `busy` is the error when another holds it."""
    held = FileLock(str(lock), timeout=0)
    try:
        held.acquire()
    except Timeout:
        raise PolicyQAError(busy) from None
    try:
        yield
    finally:
        held.release()
