"""A closed document leaves nothing behind (issue 16, item 18: RSS grew after closing large
documents and stayed).

The real server runs in this process on a pair of pipes (server.framing.serve_io, as `kenetic
serve` does on stdio), so the test can look inside it: after didClose every per-document
structure — capture's document, the recorder's parse, the suggestion side's parse, baseline,
undo watches and counted sites — holds nothing for that document.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from server.features.capture import CaptureService
from server.framing import serve_io
from server.server import KeneticServer
from server.setup import create_server
from server.suggest.actions import FileSites
from server.suggest.service import SuggestService

HANG_GUARD_S = 30


class Wire:
    """A JSON-RPC client on the server's pipes."""

    def __init__(self, to_server: BinaryIO, from_server: BinaryIO) -> None:
        self.out, self.ids = to_server, 0
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, args=(from_server,), daemon=True).start()

    def _read(self, stream: BinaryIO) -> None:
        while True:
            length = None
            while (line := stream.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line or length is None:
                return
            self.answers.put(json.loads(stream.read(length)))

    def notify(self, method: str, params: Any) -> None:
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()
        self.out.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.out.flush()

    def request(self, method: str, params: Any) -> Any:
        self.ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params})
        self.out.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
        self.out.flush()
        while True:
            msg = self.answers.get(timeout=HANG_GUARD_S)
            if msg.get("id") == self.ids and "method" not in msg:
                assert "error" not in msg, msg
                return msg["result"]
            if msg.get("method") == "workspace/configuration":
                self._reply(msg["id"], [None] * len(msg["params"]["items"]))
            elif "method" in msg and "id" in msg:
                self._reply(msg["id"], None)

    def _reply(self, msg_id: Any, result: Any) -> None:
        body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "result": result}).encode()
        self.out.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.out.flush()

    def idle(self) -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while self.request("kenetic/stats", {})["pending"] and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KeneticServer, Wire]]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("KENETIC_HOME", raising=False)
    server = create_server()
    c2s_r, c2s_w = os.pipe()
    s2c_r, s2c_w = os.pipe()
    to_server, from_server = os.fdopen(c2s_w, "wb"), os.fdopen(s2c_r, "rb")
    thread = threading.Thread(
        target=serve_io, args=(server, os.fdopen(c2s_r, "rb"), os.fdopen(s2c_w, "wb"))
    )
    thread.start()
    wire = Wire(to_server, from_server)
    try:
        yield server, wire
        wire.request("shutdown", None)
        wire.notify("exit", None)
    finally:
        to_server.close()  # the reader's last os.read returns: the serving thread ends
        thread.join(HANG_GUARD_S)


def test_a_closed_document_holds_nothing(served: tuple[KeneticServer, Wire], tmp_path: Path):
    server, wire = served
    folder = tmp_path / "ws"
    folder.mkdir()
    wire.request(
        "initialize",
        {
            "capabilities": {},
            "workspaceFolders": [{"uri": folder.as_uri(), "name": "ws"}],
            "initializationOptions": {"capture": {"idleGapMs": 100}},
        },
    )
    wire.notify("initialized", {})
    uri = (folder / "big.py").as_uri()
    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(3000))
    doc = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    wire.notify("textDocument/didOpen", {"textDocument": doc})
    for version, line in enumerate((1, 4, 7), start=2):
        edit = {
            "range": {
                "start": {"line": line, "character": 11},
                "end": {"line": line, "character": 12},
            },
            "text": "y",
        }
        wire.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [edit]},
        )
    wire.idle()
    where = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}}
    wire.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": where, "context": {"diagnostics": []},
    })  # fmt: skip
    suggest, capture = server.service(SuggestService), server.service(CaptureService)
    path = uri.removeprefix("file://")

    def held() -> dict[str, bool]:
        return {
            "tree": suggest.trees.cached(uri) is not None,
            "baseline": suggest.baselines.get(uri) is not None,
            "watches": suggest.suggestions.watching(uri),
            "allowed": uri in suggest._allowed,
            "sites": bool(server.service(FileSites).held(uri)),
            "capture": uri in capture.documents or path in capture.documents,
            "recorded parse": any(path in key for key in capture.recorder._trees),
            "text": uri in server.workspace.text_documents,
        }

    before = held()
    # what a large open document holds: the assertion below could fail
    assert before["tree"] and before["baseline"] and before["capture"], before
    assert before["recorded parse"] and before["text"], before

    # one more edit, closed at once: its burst is recorded (and parsed) after didClose
    edit = {"range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 12}}}
    wire.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 9}, "contentChanges": [{**edit, "text": "z"}]},
    )
    wire.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    wire.idle()
    wire.request("kenetic/stats", {})  # the close was handled before this answer
    assert not any(held().values()), held()
