"""One badly framed message must not leave the server alive and deaf (issue 16, item 14).

A real `kenetic serve` subprocess gets raw bytes on stdin: a wrong, missing or negative
Content-Length, one counted in characters with "é" in the body, a body that is not JSON, bytes
with no header at all. Each time the next well-framed request must be answered; a body that is
not JSON is answered ParseError (-32700, id null).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SERVER, server_env

HANG_GUARD_S = 30  # a deaf server never answers: fail instead of hanging the suite


def frame(body: bytes, length: int | None = None, *, header: bytes | None = None) -> bytes:
    if header is None:
        header = b"Content-Length: %d\r\n" % (len(body) if length is None else length)
    return header + b"\r\n" + body


def request(msg_id: int, method: str, params: Any) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}, ensure_ascii=False
    ).encode()


class RawServer:
    """The server over stdio, written to byte by byte and read message by message."""

    def __init__(self, home: Path, folder: Path) -> None:
        self.proc = subprocess.Popen(
            SERVER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(home),
        )
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.responses: dict[int | None, dict[str, Any]] = {}
        threading.Thread(target=self._read, daemon=True).start()
        init = {"capabilities": {}, "workspaceFolders": [{"uri": folder.as_uri(), "name": "ws"}]}
        self.send(frame(request(0, "initialize", init)))
        self.answer(0)
        self.send(frame(b'{"jsonrpc": "2.0", "method": "initialized", "params": {}}'))

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line in (b"\r\n", b"\n"):
                    break
            assert length is not None
            self.answers.put(json.loads(out.read(length)))

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def answer(self, msg_id: int | None) -> dict[str, Any]:
        """The response to msg_id (None: a response with id null); notifications are skipped,
        other responses kept for their turn."""
        while msg_id not in self.responses:
            try:
                msg = self.answers.get(timeout=HANG_GUARD_S)
            except queue.Empty:
                raise AssertionError(f"no answer to id {msg_id}: the server went deaf") from None
            if "method" not in msg:
                self.responses[msg.get("id")] = msg
        return self.responses.pop(msg_id)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.send(frame(request(999, "shutdown", None)))
            self.send(frame(b'{"jsonrpc": "2.0", "method": "exit"}'))
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=HANG_GUARD_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def raw(workspace: Path, home: Path):  # type: ignore[no-untyped-def]
    server = RawServer(home, workspace)
    try:
        yield server
    finally:
        server.close()


ACCENTED = request(1, "kenetic/episodes", {"uri": "file:///tmp/café.py", "limit": 3})
STATS = request(1, "kenetic/stats", {})

BAD_FRAMES = {
    # counted in characters, not UTF-8 bytes: one byte short
    "length in characters": frame(ACCENTED, len(ACCENTED.decode())),
    "length too long": frame(STATS, len(STATS) + 40),
    "length too short": frame(STATS, len(STATS) - 10),
    "negative length": frame(STATS, header=b"Content-Length: -5\r\n"),
    "length not a number": frame(STATS, header=b"Content-Length: lots\r\n"),
    "no length header": frame(STATS, header=b"Content-Type: application/vscode-jsonrpc\r\n"),
    "no header at all": STATS,
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
@pytest.mark.parametrize("together", [False, True], ids=["then-pause", "next-glued"])
def test_a_badly_framed_message_is_answered_and_the_next_one_too(
    raw: RawServer, case: str, together: bool
) -> None:
    good = frame(request(2, "kenetic/stats", {}))
    if together:  # the next message arrives in the same write, glued to the broken one
        raw.send(BAD_FRAMES[case] + good)
    else:  # the client waits for an answer before it sends anything else
        raw.send(BAD_FRAMES[case])
        assert "result" in raw.answer(1)  # a whole JSON value: answered, not left waiting
        raw.send(good)
    assert raw.answer(2)["result"]["pending"] >= 0
    if together:
        # the broken message was not lost either: its JSON ends before the next header
        assert "result" in raw.answer(1)


@pytest.mark.parametrize(
    "junk",
    [
        b'{"jsonrpc": "2.0", "id": 1, "method": ',  # cut short
        b'{"jsonrpc": "2.0", "id": 1, "method": "kenetic/stats", }',  # a trailing comma
        b"\xff\xfe not utf-8 at all",
    ],
)
def test_a_body_that_is_not_json_is_answered_parse_error(raw: RawServer, junk: bytes) -> None:
    raw.send(frame(junk))
    error = raw.answer(None)["error"]
    assert error["code"] == -32700
    raw.send(frame(request(2, "kenetic/stats", {})))
    assert raw.answer(2)["result"]["pending"] >= 0


def test_a_message_split_across_writes_is_not_cut_early(raw: RawServer) -> None:
    body = request(3, "kenetic/episodes", {"limit": 2, "uri": "file:///tmp/a}.py"})
    cut = body.index(b"}") + 1  # the first write ends on a "}" that ends no JSON value
    raw.send(frame(body)[: len(frame(body)) - len(body) + cut])
    raw.send(body[cut:])
    assert raw.answer(3)["result"]["episodes"] == []
