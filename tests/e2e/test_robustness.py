"""Bad input gets a clear answer and loses nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from tests.e2e.conftest import (
    FAST,
    change,
    lsp_session,
    open_doc,
    raw_exchange,
    request,
    store_bytes,
    wait_idle,
)

CUSTOM_REQUESTS = {
    "kenetic/stats": [{"extra": 1}, [1, 2], "junk"],
    "kenetic/episodes": [
        {"limit": "ten"},
        {"kind": "nope"},
        {"limit": 5, "junk": True},
        {"limit": -1},
        42,
    ],
}


@pytest.mark.parametrize("method", sorted(CUSTOM_REQUESTS))
async def test_custom_methods_answer_invalid_params(workspace: Path, home: Path, method: str):
    async with lsp_session([workspace], home) as client:
        for bad in CUSTOM_REQUESTS[method]:
            with pytest.raises(JsonRpcInvalidParams):
                await request(client, method, bad)
        # still serving afterwards
        assert (await request(client, "kenetic/stats", {}))["pending"] == 0


def test_malformed_requests_are_answered_not_dropped(workspace: Path, home: Path) -> None:
    answers = raw_exchange(
        home,
        workspace,
        [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "workspace/executeCommand",
                "params": {"junk": 1},
            },
            {"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction", "params": {"bad": 1}},
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "workspace/executeCommand",
                "params": {"command": "kenetic.newSession", "arguments": [{"x": 1}]},
            },
            {"jsonrpc": "2.0", "id": 4, "method": "kenetic/episodes", "params": "junk"},
            {"jsonrpc": "2.0", "method": "kenetic/didRunCommand", "params": {"exitCode": "no"}},
            {"jsonrpc": "2.0", "id": 5, "method": "kenetic/stats"},
        ],
    )
    by_id = {a.get("id"): a for a in answers if "id" in a}
    for i in (1, 2, 3, 4):
        assert by_id[i]["error"]["code"] == -32602, by_id[i]
    assert by_id[5]["result"]["episodes"]["command"] == 0
    warnings = [a for a in answers if a.get("method") == "window/showMessage"]
    assert any("didRunCommand" in w["params"]["message"] for w in warnings)


async def test_bad_documents_are_skipped_and_serving_continues(workspace: Path, home: Path):
    big_lines = "".join(f"value_{i} = {i}\n" for i in range(50_000))
    docs = {
        "binary.py": "\x00\x01\x02PNG\x00" * 100,
        "latin.py": "name = 'caf\udce9'\n",  # a lone surrogate: bytes that were not UTF-8
        "huge.py": big_lines,
        "notes.weird": "some text\n",
    }
    async with lsp_session([workspace], home, init_options=FAST) as client:
        # a didChange for a document that was never opened
        change(client, (workspace / "ghost.py").as_uri(), 2, (0, 0), (0, 0), "x")
        for name, text in docs.items():
            open_doc(
                client,
                (workspace / name).as_uri(),
                text,
                "python" if name.endswith(".py") else "weird-lang",
            )
        open_doc(client, "untitled:Untitled-1", "print(1)\n")
        open_doc(client, (workspace.parent / "outside.py").as_uri(), "x = 1\n")
        # edits to each
        change(client, (workspace / "latin.py").as_uri(), 2, (0, 0), (0, 4), "title")
        change(client, (workspace / "huge.py").as_uri(), 2, (25_000, 0), (25_000, 9), "renamed")
        change(client, (workspace / "notes.weird").as_uri(), 2, (0, 0), (0, 4), "more")
        change(client, (workspace / "binary.py").as_uri(), 2, (0, 0), (0, 1), "y")
        change(client, "untitled:Untitled-1", 2, (0, 0), (0, 5), "log")
        change(client, (workspace.parent / "outside.py").as_uri(), 2, (0, 0), (0, 1), "y")
        # the small edits close as their own bursts before the paste arrives;
        # otherwise the title edit and the paste may share one (truncated) burst
        await wait_idle(client, timeout=60)
        # a 10 MB paste into a captured document
        paste = "z = 0\n" * (10 * 1024 * 1024 // 6)
        change(client, (workspace / "latin.py").as_uri(), 3, (1, 0), (1, 0), paste)
        stats = await wait_idle(client, timeout=60)
        episodes = (await request(client, "kenetic/episodes", {"limit": 20}))["episodes"]
    by_uri = {e["uri"].rsplit("/", 1)[-1]: e for e in episodes}
    assert set(by_uri) == {"latin.py", "huge.py", "notes.weird"}, set(by_uri)
    assert stats["skipped"] == 3  # binary, untitled, outside
    latin = [e for e in episodes if e["uri"].endswith("latin.py")]
    texts = [e["region"]["after"] for e in latin]
    assert any(t is not None and "title = 'caf\ufffd'" in t for t in texts)
    assert any(e["region"]["truncated"] for e in latin)  # the paste: no text kept
    assert by_uri["notes.weird"]["node"] is None  # unknown language: text only
    assert by_uri["notes.weird"]["region"]["after"] == "more text\n"
    assert by_uri["huge.py"]["node"]["after"]["type"] == "identifier"


async def test_ignored_and_secret_files_are_never_captured(workspace: Path, home: Path):
    (workspace / ".gitignore").write_text("dist/\n")
    (workspace / ".kenetic").mkdir()
    (workspace / ".kenetic" / "ignore").write_text("scratch.py\n")
    names = ["dist/out.py", "scratch.py", ".env", "server.pem", "id_rsa", "ok.py"]
    init = {"capture": {"idleGapMs": 100, "ignore": ["*.tmp.py"]}}
    async with lsp_session([workspace], home, init_options=init) as client:
        for name in [*names, "x.tmp.py"]:
            uri = (workspace / name).as_uri()
            open_doc(client, uri, "SECRET = 1\n")
            change(client, uri, 2, (0, 0), (0, 6), "TOKEN_NAME")
        await wait_idle(client)
        episodes = (await request(client, "kenetic/episodes", {}))["episodes"]
    assert [e["uri"].rsplit("/", 1)[-1] for e in episodes] == ["ok.py"]


async def test_secrets_are_redacted_before_storage(workspace: Path, home: Path):
    uri = (workspace / "config.py").as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        open_doc(client, uri, "x = 1\n")
        change(client, uri, 2, (0, 0), (0, 5), 'aws_key = "AKIAIOSFODNN7EXAMPLE"')
        client.protocol.notify(
            "kenetic/didRunCommand",
            {
                "command": "curl -H 'Authorization: token ghp_16C7e42F292c6912E7710c838347Ae178B4a'"
                " https://api.github.com",
                "exitCode": 0,
                "source": "terminal",
            },
        )
        await wait_idle(client)
    raw = store_bytes(workspace)
    assert b"AKIAIOSFODNN7EXAMPLE" not in raw
    assert b"16C7e42F292c6912E7710" not in raw
    assert "«redacted»".encode() in raw
