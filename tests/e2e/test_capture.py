"""Edit and command episodes captured end to end through the real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from server.protocol import to_plain
from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle

SOURCE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.mark.parametrize("caps", ["visual-studio-code", "neovim"])
async def test_edit_burst_becomes_episode(workspace: Path, home: Path, caps: str) -> None:
    path = workspace / "calc.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, capabilities=caps, init_options=FAST) as client:
        open_doc(client, uri, SOURCE)
        change(client, uri, 2, (1, 15), (1, 16), "b * 2")
        stats = await wait_idle(client)
        assert stats["episodes"]["edit"] == 1
        episodes = (await request(client, "kenetic/episodes", {"kind": "edit"}))["episodes"]
        ep = episodes[0]
        assert ep["uri"] == uri and ep["language"] == "python"
        assert ep["region"]["before"] == "    return a + b\n"
        assert ep["region"]["after"] == "    return a + b * 2\n"
        assert ep["node"]["before"]["type"] == "identifier"
        assert ep["node"]["after"]["type"] == "binary_operator"
        assert ep["firstVersion"] == 2 and ep["sessionId"] == stats["sessionId"]
    assert (workspace / ".kenetic" / "kenetic.db").exists()
    assert (workspace / ".kenetic" / ".gitignore").read_text() == "*\n"


async def test_jump_elsewhere_closes_burst(workspace: Path, home: Path) -> None:
    path = workspace / "calc.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    # a long idle gap: only the jump can split the two edits
    async with lsp_session([workspace], home, init_options={"capture": {"idleGapMs": 60000}}) as c:
        open_doc(c, uri, SOURCE)
        change(c, uri, 2, (0, 4), (0, 7), "plus")
        change(c, uri, 3, (5, 15), (5, 16), "c")  # 5 lines away: a new burst
        stats = await request(c, "kenetic/stats", {})
        assert stats["pending"] >= 1
        c.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        stats = await wait_idle(c)
        assert stats["episodes"]["edit"] == 2
        eps = (await request(c, "kenetic/episodes", {}))["episodes"]
        regions = sorted(e["region"]["after"] for e in eps)
        assert regions == ["    return a - c\n", "def plus(a, b):\n"]


async def test_commands_become_episodes(workspace: Path, home: Path) -> None:
    async with lsp_session([workspace], home, init_options=FAST) as client:
        client.protocol.notify(
            "kenetic/didRunCommand",
            {
                "command": "pytest -q",
                "cwd": str(workspace),
                "exitCode": 1,
                "source": "terminal",
                "durationMs": 1200,
            },
        )
        result = to_plain(
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="kenetic.newSession")
            )
        )
        stats = await wait_idle(client)
        assert stats["episodes"]["command"] == 2
        assert stats["sessionId"] == result["sessionId"]
        eps = (await request(client, "kenetic/episodes", {"kind": "command"}))["episodes"]
        by_command = {e["command"]: e for e in eps}
        assert by_command["pytest -q"]["exitCode"] == 1
        assert by_command["pytest -q"]["source"] == "terminal"
        assert by_command["kenetic.newSession"]["source"] == "editor"
        assert by_command["kenetic.newSession"]["sessionId"] != result["sessionId"]
