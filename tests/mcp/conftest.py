"""A real workspace for `kenetic mcp`: a store with a skill the real miner learned from two edits,
memory items, KENETIC.md, and files the sandbox must keep out; and the SDK's own client to the
server started as `python -m server.cli mcp` over stdio."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from memory.recall.api import WorkspaceMemory
from memory.skills.edits import structural_edit
from memory.store.database import Episode, Store
from server.suggest.library import Library

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

APP = """import logging

logger = logging.getLogger(__name__)


def first(a):
    print(a)
    return a


def second(b):
    print(b + 1)
    return b


def third(c):
    print(c * 2)
    return c
"""
# the two edits the developer made by hand: the skill is mined from them
EDITS = [("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")]
OTHER = 'import logging\n\nlogger = logging.getLogger(__name__)\nprint("ready")\n'


@dataclass
class Workspace:
    path: Path
    skill_id: str
    store_path: Path


def _teach(store: Store, folder: Path) -> str:
    """Two hand edits stored as edit episodes and mined by the library the server runs."""
    lib = Library(folder.as_uri(), store, 2)
    lib.load()
    doc, made = APP, []
    for old, new in EDITS:
        after = doc.replace(old, new, 1)
        edit = structural_edit("python", doc, after)
        assert edit is not None
        ids: list[int | None] = []
        now = time.time()
        episode = Episode(
            "edit", "s1", now, now, {"structural": edit.to_json()},
            uri=(folder / "app.py").as_uri(), language="python",
        )  # fmt: skip
        store.add_episode(episode, done=ids.append)
        assert store.flush() and ids and ids[0] is not None
        made = lib.mine(ids[0], edit.to_json())
        doc = after
    assert len(made) == 1, made
    (folder / "app.py").write_text(doc)
    skill = made[0]
    lib.record("sg1", skill.id, "shown")
    lib.record("sg1", skill.id, "accepted")
    return skill.id


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KENETIC_HOME", raising=False)
    folder = tmp_path / "ws"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "other.py").write_text(OTHER)
    (folder / "generated").mkdir()
    (folder / "generated" / "gen.py").write_text('print("generated")\n')
    (folder / ".gitignore").write_text("generated/\n")
    (folder / ".env").write_text(f"GITHUB_TOKEN={TOKEN}\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.py").write_text('print("far away")\n')
    (folder / "link.py").symlink_to(outside / "far.py")
    (folder / "KENETIC.md").write_text(
        "# Project\n\n## Conventions\n\nLog with `logger`, never `print`.\n\n"
        f'## Access\n\nGITHUB_TOKEN = "{TOKEN}"\n'
    )
    store_path = folder / ".kenetic" / "kenetic.db"
    store = Store(store_path)
    try:
        skill_id = _teach(store, folder)
        mem = WorkspaceMemory(store, folder)
        mem.store_item(
            "the deploy script is ops/deploy.sh; always run it with --dry-run first", "note"
        )
        mem.close()
        assert store.flush()
    finally:
        store.close()
    return Workspace(folder, skill_id, store_path)


@asynccontextmanager
async def mcp_session(folder: Path) -> AsyncIterator[ClientSession]:
    """`python -m server.cli mcp --workspace folder`, through the SDK's stdio client."""
    env = {k: v for k, v in os.environ.items() if k != "KENETIC_HOME"}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "server.cli", "mcp", "--workspace", str(folder)],
        env=env,
        cwd=str(ROOT),
    )
    # the server's stderr, kept beside the workspace for a failing test to be read
    with open(folder.parent / f"mcp-{folder.name}.log", "a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write, read_timeout_seconds=120) as session,
        ):
            await session.initialize()
            yield session


async def call(session: ClientSession, tool: str, **args: Any) -> Any:
    """A tool's structured result; the test fails with the tool's message if it errs."""
    result = await session.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    return result.structured_content


async def refused(session: ClientSession, tool: str, **args: Any) -> str:
    """A tool error's message (the test fails if the call succeeds)."""
    result = await session.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return text_of(result)


def text_of(result: Any) -> str:
    return "\n".join(getattr(b, "text", "") for b in result.content or [])
