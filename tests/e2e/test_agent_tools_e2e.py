"""The agent's tools end to end: the path sandbox, and tools chosen by the project's ranker
with their history (the real server over stdio, its LLM the loopback fake of tests/agent)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.agent.conftest import FakeHTTP
from tests.agent.wire import anthropic_stream, text
from tests.e2e.agent_support import WITH_KEY, Editor, call, episodes, fake, options, project
from tests.e2e.conftest import lsp_session, request

__all__ = ["fake"]  # the fixture, imported for pytest


async def test_paths_outside_the_workspace_are_refused(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    project(workspace)
    outside = workspace.parent / "secret.txt"
    outside.write_text("TOP-SECRET-OUTSIDE")
    (workspace / ".env").write_text("API_KEY=TOP-SECRET-ENV")
    (workspace / "link").symlink_to(workspace.parent)
    fake.push(
        anthropic_stream(
            call("t1", "read_file", path="../secret.txt"),
            call("t2", "read_file", path=str(outside)),
            call("t3", "read_file", path="link/secret.txt"),
            call("t4", "read_file", path=".env"),
            call("t5", "edit_file", path="../evil.py", newText="print('pwned')\n"),
            call("t6", "list_files", path=".."),
        ),
        anthropic_stream(text("I cannot read those.")),
    )
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        editor = Editor(c)
        result = await request(c, "kenetic/agent/run", {"task": "read the secrets"})
        assert result["editsApplied"] == 0 and editor.edits == []
        assert not (workspace.parent / "evil.py").exists()
        sent = json.dumps(fake.bodies())
        assert "TOP-SECRET" not in sent
        results = fake.bodies()[1]["messages"][-1]["content"]
        assert len(results) == 6 and all(r["is_error"] for r in results)
        (episode,) = await episodes(c)
        assert all(e["isError"] for e in episode["trajectory"] if e["type"] == "tool")


async def test_tools_are_chosen_with_the_ranker_and_their_history(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    """agent.maxTools 4: read_file, edit_file and search always, and one more slot. A task
    sharing no word with the other tools fills it in registration order (list_files) until
    run_command has served a successful task here; then the ranker (rules: no TRM trained)
    gives it the slot."""
    project(workspace)
    ok = f"{sys.executable} -c \"print('ok')\""
    fake.push(
        anthropic_stream(text("Looked.")),
        anthropic_stream(call("t1", "run_command", command=ok)),
        anthropic_stream(text("It ran.")),
        anthropic_stream(text("Looked again.")),
    )
    init = options(fake, maxTools=4)
    async with lsp_session([workspace], home, init_options=init, env=WITH_KEY) as c:
        Editor(c, answers=["Run"])
        always = ["read_file", "edit_file", "search"]
        first = await request(c, "kenetic/agent/run", {"task": "tidy up calc"})
        assert first["outcome"] == "success", first
        assert [t["name"] for t in fake.bodies()[0]["tools"]] == [*always, "list_files"]
        ran = await request(c, "kenetic/agent/run", {"task": "run the check command"})
        assert ran["outcome"] == "success", ran
        assert [t["name"] for t in fake.bodies()[1]["tools"]] == [*always, "run_command"]
        again = await request(c, "kenetic/agent/run", {"task": "tidy up calc"})
        assert again["outcome"] == "success", again
        assert [t["name"] for t in fake.bodies()[3]["tools"]] == [*always, "run_command"]
