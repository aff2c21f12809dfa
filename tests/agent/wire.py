"""The wire formats the loopback LLM server speaks: a raw HTTP response (whole, or cut short),
Anthropic Messages replies (SSE streams, whole messages, typed errors) and Ollama chat replies
(NDJSON streams, whole replies, errors), as scripted replies for tests/agent/conftest.FakeHTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

Reply = Callable[[BaseHTTPRequestHandler], None]


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
