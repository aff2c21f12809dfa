"""Memory through the real server: notes, remember, recall of episodes, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.protocol import to_plain
from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle


async def command(client, name: str, args: dict | None = None):
    params = types.ExecuteCommandParams(command=name, arguments=[args] if args else [])
    return to_plain(await client.workspace_execute_command_async(params))


async def test_notes_remember_and_recall(workspace: Path, home: Path) -> None:
    (workspace / "KENETIC.md").write_text(
        "# Project notes\n\n## Testing\nThe flaky test is test_login_redirect; rerun it once.\n"
    )
    async with lsp_session([workspace], home, init_options=FAST) as client:
        found = await request(client, "kenetic/memory/recall", {"query": "flaky login test"})
        texts = [hit["item"]["text"] for hit in found["items"]]
        assert any("test_login_redirect" in t for t in texts), texts
        result = await command(
            client,
            "kenetic.remember",
            {"text": "Deploys need the VPN.", "heading": "Deploy", "scope": "project"},
        )
        assert result["path"] == str(workspace / "KENETIC.md")
        found = await request(client, "kenetic/memory/recall", {"query": "deploy VPN", "k": 3})
        assert "Deploys need the VPN." in found["items"][0]["item"]["text"]
    notes = (workspace / "KENETIC.md").read_text()
    assert "## Testing" in notes and "## Deploy" in notes and "Deploys need the VPN." in notes


async def test_episodes_are_indexed_and_linked(workspace: Path, home: Path) -> None:
    uri = (workspace / "cart.py").as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        open_doc(client, uri, "def total(items):\n    return sum(items)\n")
        change(client, uri, 2, (1, 11), (1, 21), "sum(i.price for i in items)")
        client.protocol.notify(
            "kenetic/didRunCommand", {"command": "pytest tests/test_cart.py", "exitCode": 0}
        )
        await wait_idle(client)
        found = await request(
            client, "kenetic/memory/recall", {"query": "price sum items", "kinds": ["episode"]}
        )
        assert found["items"] and "price" in found["items"][0]["item"]["text"]
        moments = await request(client, "kenetic/moments", {"n": 5})
        assert any(m["event"] == "captured" for m in moments["moments"])
        stored = await request(
            client, "kenetic/memory/store", {"text": "cart totals use item prices", "kind": "note"}
        )
        node = stored["node"]
        episode_node = found["items"][0]["item"]["node"]
        await request(
            client, "kenetic/memory/link", {"from": node, "to": episode_node, "type": "related"}
        )
        path = await request(client, "kenetic/memory/path", {"from": node, "to": episode_node})
        assert path["found"] and path["nodes"] == [node, episode_node]
        als = await request(client, "kenetic/als", {})
        assert "debounce_ms" in als


async def test_checkpoint_and_restore(workspace: Path, home: Path) -> None:
    uri = (workspace / "a.py").as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        open_doc(client, uri, "x = 1\n")
        change(client, uri, 2, (0, 4), (0, 5), "2")
        await wait_idle(client)
        saved = await command(client, "kenetic.checkpoint", {"description": "one edit"})
        change(client, uri, 3, (0, 4), (0, 5), "3")
        assert (await wait_idle(client))["episodes"]["edit"] == 2
        listed = await request(client, "kenetic/checkpoints", {})
        assert [c["id"] for c in listed["checkpoints"]] == [saved["id"]]
        restored = await command(client, "kenetic.restore", {"id": saved["id"]})
        assert restored["restored"] == saved["id"]
        stats = await wait_idle(client)
        assert stats["episodes"]["edit"] == 1
        # capture goes on into the restored store
        change(client, uri, 4, (0, 4), (0, 5), "4")
        assert (await wait_idle(client))["episodes"]["edit"] == 2
        with pytest.raises(JsonRpcInvalidParams):
            await command(client, "kenetic.restore", {"id": "../../etc/passwd"})


@pytest.mark.parametrize(
    "method, bad",
    [
        ("kenetic/memory/recall", {"query": ""}),
        ("kenetic/memory/recall", {"query": "x", "k": "many"}),
        ("kenetic/memory/store", {"text": "x", "kind": "gossip"}),
        ("kenetic/memory/link", {"from": "a"}),
        ("kenetic/memory/path", {"from": "episode:1", "to": "nonsense"}),
        ("kenetic/moments", {"n": 0}),
        ("kenetic/als", {"junk": 1}),
        ("kenetic/checkpoints", [1]),
    ],
)
async def test_memory_methods_answer_invalid_params(
    workspace: Path, home: Path, method: str, bad: object
) -> None:
    async with lsp_session([workspace], home) as client:
        with pytest.raises(JsonRpcInvalidParams):
            await request(client, method, bad)
