"""Fakes that speak the real wire: an HTTP server on loopback for the Anthropic Messages API and
the Ollama chat API (scripted replies: SSE/NDJSON streams, tool calls, 429/529/500, cut streams),
and a fake editor for the agent's callbacks (applies WorkspaceEdits to disk, answers confirms).

The real SDKs are pointed at the server by base URL; nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from server.agent.llm import RetryPolicy

MAX_BODY = 4_000_000
FAST_RETRY = RetryPolicy(retries=3, base_s=0.001, max_s=0.01)
KEY = "sk-ant-test-SECRET-abcdef0123456789"

Reply = Callable[["Handler"], None]


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


def send(
    h: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    cut_at: int | None = None,
) -> None:
    """Write a response; with cut_at, announce the whole body but close after cut_at bytes."""
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    h.send_header("Connection", "close")
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body if cut_at is None else body[:cut_at])
    h.wfile.flush()


# ----------------------------------------------------------------------------- Anthropic


def anthropic_error(
    status: int, kind: str, message: str, *, retry_after: str | None = None
) -> Reply:
    body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    headers = {"retry-after": retry_after} if retry_after else None
    return lambda h: send(h, status, body, headers=headers)


def text(value: str) -> tuple[str, ...]:
    return ("text", value)


def tool_use(id_: str, name: str, *json_chunks: str) -> tuple[str, ...]:
    return ("tool_use", id_, name, *json_chunks)


def sse_events(
    blocks: list[tuple[str, ...]],
    *,
    stop: str | None = None,
    tokens_in: int = 25,
    tokens_out: int = 15,
    finish: bool = True,
) -> bytes:
    stop = stop or ("tool_use" if any(b[0] == "tool_use" for b in blocks) else "end_turn")
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "claude-test",
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": tokens_in, "output_tokens": 1},
                },
            },
        )
    ]
    for i, block in enumerate(blocks):
        if block[0] == "text":
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            half = len(block[1]) // 2
            for piece in (block[1][:half], block[1][half:]):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                )
        else:
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {
                            "type": "tool_use",
                            "id": block[1],
                            "name": block[2],
                            "input": {},
                        },
                    },
                )
            )
            for chunk in block[3:]:
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": chunk},
                        },
                    )
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(("ping", {"type": "ping"}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": tokens_out},
            },
        )
    )
    if finish:
        events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {e}\ndata: {json.dumps(d)}\n\n" for e, d in events).encode()


def anthropic_stream(
    *blocks: tuple[str, ...], cut: bool = False, finish: bool = True, **kw: Any
) -> Reply:
    body = sse_events(list(blocks), finish=finish, **kw)
    return lambda h: send(
        h, 200, body, content_type="text/event-stream", cut_at=len(body) // 2 if cut else None
    )


def anthropic_message(*blocks: tuple[str, ...], tokens_in: int = 11, tokens_out: int = 7) -> Reply:
    content = []
    for b in blocks:
        if b[0] == "text":
            content.append({"type": "text", "text": b[1]})
        else:
            content.append(
                {
                    "type": "tool_use",
                    "id": b[1],
                    "name": b[2],
                    "input": json.loads("".join(b[3:]) or "{}"),
                }
            )
    body = json.dumps(
        {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": content,
            "stop_reason": "tool_use" if len(content) > 1 else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    ).encode()
    return lambda h: send(h, 200, body)


# ----------------------------------------------------------------------------- Ollama


def ollama_chunks(
    content: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    counts: tuple[int, int] | None = (30, 9),
) -> list[dict[str, Any]]:
    base = {"model": "qwen-test", "created_at": "2025-01-01T00:00:00Z"}
    chunks = [
        {**base, "message": {"role": "assistant", "content": piece}, "done": False}
        for piece in (content[: len(content) // 2], content[len(content) // 2 :])
        if piece
    ]
    if tool_calls:
        chunks.append(
            {
                **base,
                "message": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": c} for c in tool_calls],
                },
                "done": False,
            }
        )
    final: dict[str, Any] = {
        **base,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 1000,
    }
    if counts:
        final.update(prompt_eval_count=counts[0], eval_count=counts[1])
    return [*chunks, final]


def ollama_stream(
    content: str = "",
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    cut: bool = False,
    counts: tuple[int, int] | None = (30, 9),
) -> Reply:
    lines = ollama_chunks(content, tool_calls, counts=counts)
    body = "".join(json.dumps(c) + "\n" for c in lines).encode()
    return lambda h: send(
        h, 200, body, content_type="application/x-ndjson", cut_at=len(body) // 2 if cut else None
    )


def ollama_reply(content: str = "", tool_calls: list[dict[str, Any]] | None = None) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"function": c} for c in tool_calls]
    body = json.dumps(
        {
            "model": "qwen-test",
            "created_at": "2025-01-01T00:00:00Z",
            "message": message,
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 40,
            "eval_count": 12,
        }
    ).encode()
    return lambda h: send(h, 200, body)


def ollama_error(status: int, message: str) -> Reply:
    return lambda h: send(h, status, json.dumps({"error": message}).encode())


@pytest.fixture
def fake_http() -> Iterator[FakeHTTP]:
    fake = FakeHTTP()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.httpd.shutdown()
        fake.httpd.server_close()
        fake.thread.join(5)


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
