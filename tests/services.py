"""Real redis-server and PostgreSQL for the tests, started on free ports of 127.0.0.1 and stopped after.

Both come from Debian packages that `make test` installs when missing (`make services`). PostgreSQL
refuses to run as root, so as root its data folder belongs to the `postgres` user and it runs as that user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from glob import glob
from pathlib import Path
from typing import Iterator

import pytest

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Redis:
    def __init__(self, url: str, process: subprocess.Popen):
        self.url = url
        self.process = process

    def stop(self) -> None:
        stop(self.process)


@contextmanager
def redis_server() -> Iterator[Redis]:
    """A redis-server of its own, nothing saved to disk."""
    if not Path(REDIS).exists():
        pytest.fail("redis-server is missing; run `make services` (Debian's redis-server package).")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="policyqa-redis-") as work:
        process = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                    "--dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(port, process, "redis-server")
            yield Redis(f"redis://127.0.0.1:{port}", process)
        finally:
            stop(process)


def postgres_bin() -> Path:
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("PostgreSQL is missing; run `make services` (Debian's postgresql package).")
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    """One PostgreSQL server in a data folder of its own: initialised once, started and stopped at will."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.work = Path(tempfile.mkdtemp(prefix="policyqa-pg-"))  # not under pytest's 0700 folders: postgres reads it
        self.data = self.work / "data"
        if os.geteuid() == 0:
            shutil.chown(self.work, "postgres", "postgres")
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "policyqa", "-A", "trust",
                                     "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        self.running = False
        self.url = f"postgresql://policyqa@127.0.0.1:{self.port}/policyqa"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c max_connections=200"
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.work / "log"),
                                     "-o", options, "-w", "-t", "60", "start"]), check=True, capture_output=True)
        self.running = True

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, as when the database goes down under the server."""
        if self.running:
            subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
                           check=True, capture_output=True)
            self.running = False

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(f"postgresql://policyqa@127.0.0.1:{self.port}/postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://policyqa@127.0.0.1:{self.port}/{name}"

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    server = Postgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
