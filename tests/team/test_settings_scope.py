"""team.* is honoured only from the developer's own configuration: a repository merely opened
cannot, through its committed .kenetic/config.toml, send the developer's skill cards to a
database its author controls, nor pull that author's cards in (docs/team.md).

No PostgreSQL is started: the user's URL points where nothing listens, so an honoured setting
shows as team state "offline", a dropped one as "off"."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from server.workspaces import Workspaces
from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle

NOWHERE = "postgresql://kenetic@127.0.0.1:1/team"  # port 1: refused at once, never data
PLANTED = f'[team]\nurl = "{NOWHERE}"\nshare = "skills"\nsyncIntervalMs = 50\n'


def _user_config(home: Path, text: str) -> None:
    path = home / "config" / "kenetic" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(text)


def _project_config(workspace: Path, text: str) -> None:
    (workspace / ".kenetic").mkdir()
    (workspace / ".kenetic" / "config.toml").write_text(text)


async def _team_state(client: Any, until: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        state = (await request(client, "kenetic/stats", {}))["team"]["state"]
        if state == until or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.1)


async def test_team_settings_in_the_project_file_are_dropped_with_a_message(
    workspace: Path, home: Path
) -> None:
    # the user's idle gap is a minute: only the project's 100 ms lets the edit below close in
    # time, so the rest of the project file is still honoured
    _user_config(home, "[capture]\nidleGapMs = 60000\n")
    _project_config(workspace, f"[capture]\nidleGapMs = 100\n\n{PLANTED}")
    async with lsp_session([workspace], home) as client:
        uri = (workspace / "a.py").as_uri()
        open_doc(client, uri, "x = 1\n")
        change(client, uri, 2, (0, 4), (0, 5), "2")
        stats = await wait_idle(client)
        assert stats["pending"] == 0 and stats["episodes"]["edit"] == 1
        await asyncio.sleep(0.5)  # a sync thread, had one started, would be "offline" by now
        assert (await request(client, "kenetic/stats", {}))["team"]["state"] == "off"
        messages = [m.message for m in client.messages]
    dropped = [m for m in messages if "[team]" in m]
    assert len(dropped) == 1, messages  # shown once, however often settings are re-read
    assert str(workspace / ".kenetic" / "config.toml") in dropped[0]
    assert "read only from the user config file or the editor's user settings" in dropped[0]


async def test_team_settings_in_the_user_config_are_honoured(workspace: Path, home: Path) -> None:
    _user_config(home, PLANTED)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        assert await _team_state(client, "offline") == "offline"
        messages = [m.message for m in client.messages]
    assert not [m for m in messages if "[team]" in m]


async def test_team_settings_from_the_client_are_honoured(workspace: Path, home: Path) -> None:
    # initializationOptions come from the editor's user settings (VS Code sends team.* only from
    # them: package.json scope "machine"), so the server takes them
    options = {"team": {"url": NOWHERE, "share": "skills", "syncIntervalMs": 50}}
    async with lsp_session([workspace], home, init_options=options) as client:
        assert await _team_state(client, "offline") == "offline"


@pytest.mark.parametrize(
    "planted",
    [
        PLANTED,
        f'[kenetic.team]\nurl = "{NOWHERE}"\nshare = "skills"\n',
        f'"team.url" = "{NOWHERE}"\n"team.share" = "skills"\n',
        f'[kenetic]\n"team.url" = "{NOWHERE}"\n"team.share" = "skills"\n',
        # one kenetic too many: never a setting, and the server's own unwrap must not lift it
        f'[kenetic.kenetic.team]\nurl = "{NOWHERE}"\nshare = "skills"\n',
    ],
    ids=["table", "kenetic-table", "dotted", "kenetic-dotted", "kenetic-kenetic"],
)
def test_every_spelling_of_team_in_the_project_file_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user config
    workspace = tmp_path / "ws"
    workspace.mkdir()
    # planted first: a bare dotted key after [capture] would belong to that table
    _project_config(workspace, f"{planted}\n[capture]\nidleGapMs = 100\n")
    messages: list[str] = []
    workspaces = Workspaces(messages.append)
    try:
        folder = workspaces.add_folder(workspace.as_uri())
        assert folder is not None and folder.store is not None
        assert folder.settings.team.url == "" and folder.settings.team.share == "off"
        assert workspaces.team.stats()["state"] == "off"
        if not planted.startswith("[kenetic"):  # else [capture] is outside the [kenetic] used
            assert folder.settings.capture.idle_gap_ms == 100
    finally:
        workspaces.close()
    if "kenetic.kenetic" not in planted:
        assert any("[team]" in m and "user config" in m for m in messages), messages
