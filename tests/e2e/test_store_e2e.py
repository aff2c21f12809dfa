"""Store behaviour through the real server: durability, bad stores, settings, multi-root."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from memory.store.database import Store
from tests.e2e.conftest import (
    FAST,
    SERVER,
    change,
    lsp_session,
    open_doc,
    request,
    server_env,
    wait_idle,
)


async def test_stored_episodes_survive_sigkill_mid_write(workspace: Path, home: Path) -> None:
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env=server_env(home))
    proc = client._server
    assert proc is not None
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
                initialization_options=FAST,
            )
        )
        stored = 0
        # keep the writer busy with commands while polling what it reports as stored
        for i in range(400):
            client.protocol.notify(
                "kenetic/didRunCommand", {"command": f"make step{i}", "exitCode": i % 2}
            )
            if i % 50 == 49:
                stats = await request(client, "kenetic/stats", {})
                stored = stats["episodes"]["command"]
        stats = await request(client, "kenetic/stats", {})
        stored = stats["episodes"]["command"]
        proc.send_signal(signal.SIGKILL)  # no shutdown, no flush: writes may be in flight
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
        await client.stop()
    assert stored > 0
    store = Store(workspace / ".kenetic" / "kenetic.db")
    try:
        assert store.health()["integrity"] == "ok"
        assert store.stats.episodes["command"] >= stored
        commands = [e.data["command"] for e in store.episodes(kind="command", limit=1000)]
        # what was acknowledged is a prefix of what was sent, in order, without gaps
        expected = [f"make step{i}" for i in range(len(commands))]
        assert sorted(commands, key=lambda c: int(c[9:])) == expected
    finally:
        store.close()


async def test_corrupt_store_reports_and_keeps_serving(workspace: Path, home: Path) -> None:
    db = workspace / ".kenetic" / "kenetic.db"
    db.parent.mkdir()
    garbage = b"definitely not sqlite\n" * 100
    db.write_bytes(garbage)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        uri = (workspace / "a.py").as_uri()
        open_doc(client, uri, "x = 1\n")
        change(client, uri, 2, (0, 4), (0, 5), "2")
        stats = await wait_idle(client)
        messages = [m.message for m in client.messages]
        assert stats["store"]["ok"] is False
        assert "not a SQLite database" in stats["store"]["error"]
        assert stats["episodes"]["edit"] == 0
    assert any("capture is off" in m and "not a SQLite database" in m for m in messages)
    assert db.read_bytes() == garbage  # never overwritten


async def test_settings_layers_and_invalid_values(workspace: Path, home: Path) -> None:
    (home / "config" / "kenetic").mkdir(parents=True)
    (home / "config" / "kenetic" / "config.toml").write_text(
        '[capture]\nignore = ["*.user.py"]\nidleGapMs = 60000\n'
    )
    (workspace / ".kenetic").mkdir()
    (workspace / ".kenetic" / "config.toml").write_text("[capture]\nidleGapMs = 100\n")
    init = {"capture": {"maxRegionLines": "many"}}
    async with lsp_session([workspace], home, init_options=init) as client:
        for name in ("a.user.py", "b.py"):
            uri = (workspace / name).as_uri()
            open_doc(client, uri, "x = 1\n")
            change(client, uri, 2, (0, 4), (0, 5), "2")
        await wait_idle(client)  # idle gap 100 ms comes from the workspace layer
        episodes = (await request(client, "kenetic/episodes", {}))["episodes"]
        assert [e["uri"].rsplit("/", 1)[-1] for e in episodes] == ["b.py"]
        # the top layer: didChangeConfiguration turns capture off
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={"kenetic": {"capture": {"enabled": False}}}
            )
        )
        uri = (workspace / "c.py").as_uri()
        open_doc(client, uri, "y = 1\n")
        change(client, uri, 2, (0, 4), (0, 5), "3")
        stats = await wait_idle(client)
        assert stats["episodes"]["edit"] == 1
        messages = [m.message for m in client.messages]
    assert any("maxRegionLines" in m or "max_region_lines" in m for m in messages)


async def test_multi_root_keeps_one_store_per_folder(tmp_path: Path, home: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    async with lsp_session([one, two], home, init_options=FAST) as client:
        for folder in (one, two, two):
            uri = (folder / f"f{len(list(folder.iterdir()))}.py").as_uri()
            (folder / uri.rsplit("/", 1)[-1]).write_text("a = 1\n")
            open_doc(client, uri, "a = 1\n")
            change(client, uri, 2, (0, 0), (0, 1), "b")
        stats = await wait_idle(client)
        assert stats["episodes"]["edit"] == 3
        assert {s["path"] for s in stats["stores"]} == {
            str(one / ".kenetic" / "kenetic.db"),
            str(two / ".kenetic" / "kenetic.db"),
        }
    counts = []
    for folder in (one, two):
        store = Store(folder / ".kenetic" / "kenetic.db")
        counts.append(store.stats.episodes["edit"])
        store.close()
    assert counts == [1, 2]
