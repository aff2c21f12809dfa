"""Memory through the real server: notes, remember, recall of episodes, skills and patterns,
outcomes moving the ALS (and its cool-down silencing next edits), checkpoints."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.protocol import to_plain
from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle
from tests.e2e.test_skills_e2e import SOURCE, Doc, code_actions, execute, learn, site


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
        assert "debounceMs" in als


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
        # a refused restore reopens the store and capture goes on into it
        change(client, uri, 5, (0, 4), (0, 5), "5")
        assert (await wait_idle(client))["episodes"]["edit"] == 3


async def _decide(client: Any, doc: Doc, k: int, outcome: str) -> None:
    """Get the skill's code action at the k-th site; apply it and accept it, or reject it."""
    actions = await code_actions(client, doc.uri, site(k))
    here = [a for a in actions if a["title"].startswith("Apply skill: ")]
    assert here, actions
    args = dict(here[0]["command"]["arguments"][0])
    if outcome == "accepted":
        doc.apply(here[0]["edit"])
    else:
        args["outcome"] = outcome
    assert (await execute(client, "kenetic.recordOutcome", args))["recorded"] is True


async def test_outcomes_move_the_als_knobs_and_they_persist(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        assert (await learn(client, doc))["skills"] == 1
        await wait_idle(client)
        start = await request(client, "kenetic/als", {})
        assert start["stage"] == "cold" and start["debounceMs"] == 300.0
        # the focus follows the last edit; the new skill is a reflection
        assert start["focus"]["uri"] == uri and start["focus"]["symbol"]
        assert [r["source"] for r in start["reflections"]] == ["mining"]
        assert start["reflections"][0]["text"].startswith("learned skill ")

        for k in (2, 3, 4):  # three dismissals in a row: quieter, then a cool-down
            await _decide(client, doc, k, "rejected")
        await wait_idle(client)
        quiet = await request(client, "kenetic/als", {})
        assert quiet["outcomes"]["rejected"] == 3 and quiet["stage"] == "learning"
        assert quiet["debounceMs"] == pytest.approx(300.0 * 1.5**3)
        assert quiet["acceptance"] < start["acceptance"]
        assert quiet["eagerness"] < start["eagerness"]
        assert quiet["minScore"] > start["minScore"]
        assert quiet["maxSuggestions"] <= start["maxSuggestions"]
        assert quiet["quietUntil"] > time.time()
        assert [r["source"] for r in quiet["reflections"]] == ["mining", "outcomes"]
        # the cool-down: no unasked-for suggestions (code actions, asked for, still come)
        nxt = await request(client, "kenetic/nextEdits", {"textDocument": {"uri": uri}})
        assert nxt == {"edits": [], "quiet": True}
        moments = (await request(client, "kenetic/moments", {"n": 50}))["moments"]
        moments = [m for m in moments if m["event"] == "outcome"]
        skill_id = (await request(client, "kenetic/skills", {}))["skills"][0]["id"]
        assert len(moments) == 3
        assert moments[0]["subject"] == f"skill:{skill_id}"
        assert moments[0]["data"]["outcome"] == "rejected"

        await _decide(client, doc, 5, "accepted")  # taking one: bolder, cool-down over
        await wait_idle(client)
        bold = await request(client, "kenetic/als", {})
        assert bold["outcomes"]["accepted"] == 1
        assert bold["debounceMs"] == pytest.approx(300.0 * 1.5**3 * 0.8)
        assert bold["acceptance"] > quiet["acceptance"]
        assert bold["eagerness"] > quiet["eagerness"]
        assert bold["minScore"] < quiet["minScore"]
        assert bold["quietUntil"] == 0.0
        nxt = await request(client, "kenetic/nextEdits", {"textDocument": {"uri": uri}})
        assert "quiet" not in nxt

    async with lsp_session([workspace], home, init_options=FAST) as client:
        again = await request(client, "kenetic/als", {})
        for knob in ("debounceMs", "acceptance", "eagerness", "minScore", "maxSuggestions"):
            assert again[knob] == bold[knob], knob
        assert again["outcomes"] == bold["outcomes"] and again["stage"] == "learning"


async def test_skills_and_patterns_are_recalled_by_kind(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, path.as_uri(), SOURCE)
        await learn(client, doc)
        skill = (await request(client, "kenetic/skills", {}))["skills"][0]
        await wait_idle(client)
        found = await request(
            client,
            "kenetic/memory/recall",
            {"query": "print to logger.info", "kinds": ["skill"]},
        )
        assert [h["item"]["node"] for h in found["items"]] == [f"skill:{skill['id']}"]
        assert "logger.info" in found["items"][0]["item"]["text"]
        # the skill hangs off the episodes it was learned from
        episode_ids = [e["id"] for e in (await request(client, "kenetic/episodes", {}))["episodes"]]
        way = await request(
            client,
            "kenetic/memory/path",
            {"from": f"episode:{min(episode_ids)}", "to": f"skill:{skill['id']}"},
        )
        assert way["found"]

        # the same two commands in two sessions: a reasoning pattern at kenetic.freeze
        for _ in range(2):
            for cmd in ("pytest -q tests/test_app.py", "ruff check app.py"):
                client.protocol.notify("kenetic/didRunCommand", {"command": cmd, "exitCode": 0})
            await wait_idle(client)
            frozen = await command(client, "kenetic.freeze")
        assert frozen["patterns"], frozen
        pattern = frozen["patterns"][0]
        found = await request(
            client, "kenetic/memory/recall", {"query": "run pytest then ruff", "kinds": ["pattern"]}
        )
        nodes = [h["item"]["node"] for h in found["items"]]
        assert f"pattern:{pattern['id']}" in nodes
        assert all(n.startswith("pattern:") for n in nodes)


async def test_episodes_leave_out_the_structural_payload_unless_asked(
    workspace: Path, home: Path
) -> None:
    uri = (workspace / "a.py").as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        open_doc(client, uri, "def f(a):\n    print(a)\n")
        change(client, uri, 2, (1, 4), (1, 9), "logger.info")
        await wait_idle(client)
        (slim,) = (await request(client, "kenetic/episodes", {"kind": "edit"}))["episodes"]
        (full,) = (await request(client, "kenetic/episodes", {"kind": "edit", "full": True}))[
            "episodes"
        ]
        assert "structural" not in slim and isinstance(full["structural"], dict)
        assert {k: v for k, v in full.items() if k != "structural"} == slim
        assert "logger.info" in slim["region"]["after"]
        with pytest.raises(JsonRpcInvalidParams):
            await request(client, "kenetic/episodes", {"full": "yes please"})


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
