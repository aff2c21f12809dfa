"""End-to-end fixtures: the real `kenetic serve` over stdio, driven by pytest-lsp's client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import LanguageClient, make_test_lsp_client

from server.protocol import to_plain

SERVER = [sys.executable, "-m", "server.cli", "serve"]
REPO = Path(__file__).resolve().parents[2]


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PYTHONPATH=str(REPO),
        **extra,
    )
    env.pop("KENETIC_HOME", None)
    return env


@contextlib.asynccontextmanager
async def lsp_session(
    folders: list[Path],
    home: Path,
    *,
    capabilities: str = "visual-studio-code",
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[LanguageClient]:
    """A started, initialised client; shut down cleanly afterwards."""
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env={**server_env(home), **(env or {})})
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(capabilities),
                workspace_folders=[
                    types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders
                ],
                initialization_options=init_options,
            )
        )
        yield client
        await asyncio.wait_for(client.shutdown_session(), 20)
    finally:
        # pygls's stop() waits for the server to exit: after a failed test it never would
        proc = client._server
        if proc is not None and proc.returncode is None:
            proc.kill()
        await client.stop()


async def request(client: LanguageClient, method: str, params: Any = None) -> Any:
    result = await asyncio.wait_for(client.protocol.send_request_async(method, params), 60)
    return to_plain(result)


async def wait_idle(client: LanguageClient, timeout: float = 20) -> dict[str, Any]:
    """Poll kenetic/stats until no capture or background work is pending."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await request(client, "kenetic/stats", {})
        if stats["pending"] == 0 or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


def open_doc(client: LanguageClient, uri: str, text: str, language: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=text
            )
        )
    )


def change(
    client: LanguageClient,
    uri: str,
    version: int,
    start: tuple[int, int],
    end: tuple[int, int],
    text: str,
) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=start[0], character=start[1]),
                        end=types.Position(line=end[0], character=end[1]),
                    ),
                    text=text,
                )
            ],
        )
    )


FAST = {"capture": {"idleGapMs": 100}}


def store_bytes(workspace: Path) -> bytes:
    """Everything the folder's store holds on disk, its write-ahead log included."""
    raw = (workspace / ".kenetic" / "kenetic.db").read_bytes()
    wal = workspace / ".kenetic" / "kenetic.db-wal"
    return raw + (wal.read_bytes() if wal.exists() else b"")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def raw_exchange(home: Path, folder: Path, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send hand-written JSON-RPC (which no typed client would produce) and read the answers."""
    import json
    import subprocess

    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "capabilities": {},
            "workspaceFolders": [{"uri": folder.as_uri(), "name": folder.name}],
        },
    }
    tail = [
        {"jsonrpc": "2.0", "id": 999, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    data = b""
    for m in [init, {"jsonrpc": "2.0", "method": "initialized", "params": {}}, *messages, *tail]:
        body = json.dumps(m).encode()
        data += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    proc = subprocess.run(SERVER, input=data, capture_output=True, timeout=60, env=server_env(home))
    out, answers = proc.stdout, []
    while out:
        head, _, rest = out.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        answers.append(json.loads(rest[:length]))
        out = rest[length:]
    return answers
