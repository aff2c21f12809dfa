"""The store through the real server over stdio (issue 16, items 1, 2 and 4): a lone surrogate
stops no saving, a full disk is reported once and caught up, and two servers on one folder
agree on what is stored and learned."""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path
from typing import Any

from memory.store.database import Store
from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle
from tests.e2e.test_skills_e2e import SOURCE, Doc, code_actions, learn, site


async def _until(client: Any, check: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = await request(client, "kenetic/stats", {})
        if check(stats) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


async def test_surrogates_in_commands_and_documents_stop_no_saving(
    workspace: Path, home: Path
) -> None:
    async with lsp_session([workspace], home, init_options=FAST) as client:
        client.protocol.notify(
            "kenetic/didRunCommand",
            {"command": "ls", "cwd": str(workspace) + "/\udcff", "exitCode": 0},
        )
        # in the command line itself too: made storable where it enters, not refused
        client.protocol.notify("kenetic/didRunCommand", {"command": "cat \udcff"})
        # a document whose URI and languageId carry one, edited once
        open_doc(client, workspace.as_uri() + "/odd\udcff.py", "x = 1\n", "python\udcff")
        change(client, workspace.as_uri() + "/odd\udcff.py", 2, (0, 4), (0, 5), "2")
        for n in range(3):
            client.protocol.notify("kenetic/didRunCommand", {"command": f"make {n}"})
        stats = await _until(client, lambda s: s["pending"] == 0 and s["episodes"]["command"] == 5)
        assert stats["pending"] == 0, "the store's writer stopped draining"
        assert stats["episodes"]["command"] == 5
        assert stats["episodes"]["edit"] == 1
        assert stats["failedWrites"] == 0
        episodes = await request(client, "kenetic/episodes", {"kind": "command", "limit": 10})
        cwds = [e.get("cwd") for e in episodes["episodes"] if e["command"] == "ls"]
        assert cwds == [str(workspace) + "/\ufffd"]
        assert "cat \ufffd" in [e["command"] for e in episodes["episodes"]]
        edits = await request(client, "kenetic/episodes", {"kind": "edit"})
        assert [e["uri"] for e in edits["episodes"]] == [workspace.as_uri() + "/odd\ufffd.py"]


async def test_a_full_disk_is_shown_once_and_caught_up(workspace: Path, home: Path) -> None:
    async with lsp_session([workspace], home, init_options=FAST) as client:
        client.protocol.notify("kenetic/didRunCommand", {"command": "make first"})
        await wait_idle(client)
        proc = client._server
        assert proc is not None
        files = list((workspace / ".kenetic").iterdir())
        full = max(f.stat().st_size for f in files)
        hard = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)[1]
        # the server's own file-size limit (as `ulimit -f`): its store cannot grow past here
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (full, hard))
        try:
            for n in range(40):
                client.protocol.notify(
                    "kenetic/didRunCommand", {"command": f"make {n} " + "x" * 20_000}
                )
            stats = await _until(client, lambda s: s["writeError"] is not None)
            assert stats["writeError"], "kenetic/stats does not show the failing writes"
            assert stats["store"]["writeError"] == stats["writeError"]
            assert stats["pending"] > 0 and stats["failedWrites"] == 0
            await asyncio.sleep(0.5)  # more retries fail meanwhile: still one message
        finally:
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        told = [m.message for m in client.messages if "cannot write to the store" in m.message]
        assert len(told) == 1, told
        stats = await _until(client, lambda s: s["pending"] == 0, timeout=30)
        assert stats["episodes"]["command"] == 41
        assert stats["writeError"] is None and stats["failedWrites"] == 0
        told = [m.message for m in client.messages if "cannot write to the store" in m.message]
        assert len(told) == 1
    store = Store(workspace / ".kenetic" / "kenetic.db")
    try:
        assert store.stats.episodes["command"] == 41
    finally:
        store.close()


async def test_two_servers_on_one_folder_agree(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with (
        lsp_session([workspace], home, init_options=FAST) as one,
        lsp_session([workspace], home, init_options=FAST) as two,
    ):
        before = await request(two, "kenetic/stats", {})
        assert before["skills"] == 0
        Doc(two, uri, SOURCE)  # the same file open in both windows
        for n in range(3):
            one.protocol.notify("kenetic/didRunCommand", {"command": f"make {n}"})
        stats = await learn(one, Doc(one, uri, SOURCE))
        assert stats["skills"] == 1 and stats["episodes"]["command"] == 3
        # the second window counts what the first stored, and offers what it learned
        other = await request(two, "kenetic/stats", {})
        assert other["episodes"]["command"] == 3 and other["episodes"]["edit"] == 2
        assert other["skills"] == 1
        actions = await code_actions(two, uri, site(2))
        assert [a for a in actions if a["title"].startswith("Apply skill: ")]
