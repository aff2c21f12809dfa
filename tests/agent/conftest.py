"""Fakes that speak the real wire: an HTTP server on loopback for the Anthropic Messages API and
the Ollama chat API (scripted replies: SSE/NDJSON streams, tool calls, 429/529/500, cut streams),
and a fake editor for the agent's callbacks (applies WorkspaceEdits to disk, answers confirms).

The real SDKs are pointed at the server by base URL; nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from server.agent.llm import RetryPolicy
from tests.agent.wire import Reply, send

MAX_BODY = 4_000_000
FAST_RETRY = RetryPolicy(retries=3, base_s=0.001, max_s=0.01)
KEY = "sk-ant-test-SECRET-abcdef0123456789"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer
    timeout = 10

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"raw": raw.decode(errors="replace")}
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            reply = fake.script.popleft() if fake.script else None
        self.close_connection = True
        if reply is None:
            send(self, 500, json.dumps({"error": "script exhausted"}).encode())
            return
        reply(self)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTP

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (cancelled, cut) is part of the script


class FakeHTTP:
    """A loopback HTTP server in a thread that answers POSTs from a script, in order."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.httpd = FakeServer(("127.0.0.1", 0), Handler)
        self.httpd.fake = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *replies: Reply) -> FakeHTTP:
        self.script.extend(replies)
        return self

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]

    @contextmanager
    def running(self) -> Iterator[FakeHTTP]:
        """Serve in its thread for the block, then shut down and join."""
        self.thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)


@pytest.fixture
def fake_http() -> Iterator[FakeHTTP]:
    with FakeHTTP().running() as fake:
        yield fake


# ----------------------------------------------------------------------------- the editor


def _offset(text: str, pos: dict[str, int]) -> int:
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: pos["line"]])
    line = lines[pos["line"]] if pos["line"] < len(lines) else ""
    units = 0
    for i, ch in enumerate(line):
        if units >= pos["character"]:
            return start + i
        units += len(ch.encode("utf-16-le")) // 2
    return start + len(line)


def apply_to_disk(edit: dict[str, Any]) -> None:
    """Apply a WorkspaceEdit (changes / documentChanges with create) to files on disk."""
    items: list[tuple[str, list[dict[str, Any]]]] = list((edit.get("changes") or {}).items())
    for change in edit.get("documentChanges") or []:
        if change.get("kind") == "create":
            path = Path(unquote(urlparse(change["uri"]).path))
            if not path.exists():
                path.write_text("")
        elif "textDocument" in change:
            items.append((change["textDocument"]["uri"], change["edits"]))
    for uri, edits in items:
        path = Path(unquote(urlparse(uri).path))
        text = path.read_text()
        for e in sorted(
            edits,
            key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
            reverse=True,
        ):
            a, b = _offset(text, e["range"]["start"]), _offset(text, e["range"]["end"])
            text = text[:a] + e["newText"] + text[b:]
        path.write_text(text)


class FakeEditor:
    """The server's side of the callbacks, recorded."""

    def __init__(self, *, answers: list[str | None] | None = None, apply: bool = True) -> None:
        self.answers = deque(answers or [])
        self.apply = apply
        self.edits: list[dict[str, Any]] = []
        self.confirms: list[tuple[str, list[str]]] = []
        self.progress: list[tuple[int, str]] = []
        self.cancel = False
        self.open: dict[str, str] = {}

    async def apply_edit(self, edit: dict[str, Any]) -> bool:
        self.edits.append(edit)
        if self.apply:
            apply_to_disk(edit)
        return self.apply

    async def confirm(self, message: str, actions: list[str]) -> str | None:
        self.confirms.append((message, actions))
        return self.answers.popleft() if self.answers else None

    def report(self, step: int, message: str) -> None:
        self.progress.append((step, message))

    def callbacks(self, **extra: Any) -> Any:
        from server.agent.tools import AgentCallbacks

        return AgentCallbacks(
            apply_edit=self.apply_edit,
            confirm=self.confirm,
            progress=self.report,
            is_cancelled=lambda: self.cancel,
            document_text=self.open.get,
            **extra,
        )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "README.md").write_text("# demo\n")
    return root
