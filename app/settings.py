"""Every setting in one table: name, environment variable, default and help.

The table drives the CLI help and the docs' settings page (docs/settings.md); paths go through
`path()` so the test suite can point all of them at a temporary folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "POLICYQA_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("corpus", "corpus", "Folder of policy files (.md, .txt, .html, .pdf); a policy's id is its file stem, "
                                "ID@YYYY-MM-DD its version from that date."),
    Setting("index", "index", "Folder holding the built index generations."),
    Setting("feedback_db", "feedback.db", "Feedback database: a SQLite file, or a PostgreSQL URL "
                                          "(postgresql://user@host:port/db) that every worker and machine shares."),
    Setting("model", "", "Sentence-transformers model folder or name; empty means the bundled all-MiniLM-L6-v2."),
    Setting("embed_backend", "onnx", "How the model runs: onnx (ONNX Runtime, exported once from the model; no PyTorch "
                                     "import) or torch (sentence-transformers). The index records it; changing it rebuilds."),
    Setting("model_cache", "~/.cache/policyqa", "Folder for the model's ONNX export, made once at the first index or question."),
    Setting("top_k", "3", "Citations per answer at most."),
    Setting("max_question", "1000", "Longest question accepted, in characters."),
    Setting("host", "127.0.0.1", "Address the server binds to."),
    Setting("port", "7860", "Port the server listens on."),
    Setting("admin_token", "", "Token required by admin actions (re-index endpoint, the Gaps tab); empty disables them."),
    Setting("embed_origins", "*", "Origins allowed to embed the widget and call the API (space-separated, or *)."),
    Setting("rate_limit", "60/minute", "Requests per client to the public API and widget."),
    Setting("rate_limit_storage", "memory://", "Where the rate limit counts (a `limits` storage URI): memory:// per "
                                               "process, redis://host:port shared by every worker and machine."),
    Setting("workers", "1", "Server processes on the one port (`serve --workers`); more than 1 needs the shared "
                            "storage above to keep one rate limit."),
    Setting("request_timeout", "30", "Seconds an answer may take, queueing included, before the API answers 503 "
                                     "and the chat says the server is busy."),
    Setting("watch_timeout", "30", "Seconds `policyqa watch` gives each page to arrive, connecting included."),
    Setting("watch_max_bytes", "10000000", "Largest page `policyqa watch` downloads, in bytes; a larger one fails."),
    Setting("watch_retries", "2", "Further tries of a page that timed out, failed on the network or answered 5xx or "
                                  "429 (`policyqa watch`), after 1 s, 2 s, 4 s… or the server's Retry-After."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    """The setting's value: its environment variable when set, else its default."""
    setting = _BY_NAME[name]
    return os.environ.get(setting.env, setting.default)


def get_int(name: str) -> int:
    from .errors import PolicyQAError

    value = get(name)
    try:
        return int(value)
    except ValueError:
        raise PolicyQAError(f"{_BY_NAME[name].env}={value!r} is not a whole number; set it to one.") from None


def path(name: str) -> Path:
    """A path setting, resolved against the working directory."""
    return Path(get(name)).expanduser().resolve()


def shared_data() -> Path:
    """The team's shared data beside the project (../shared: bench/, policies/), where evaluation and training look
    when not told otherwise."""
    return path("corpus").parent.parent / "shared"


def markdown_table() -> str:
    """The settings as the docs' table rows (docs/settings.md)."""
    return "\n".join(f"| `{s.env}` | `{s.default}` | {s.help} |" for s in SETTINGS)
