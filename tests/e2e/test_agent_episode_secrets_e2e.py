"""An agent episode is stored text like any other (issue 16, secrets): the task's words, a
run_command line and its output carry a secret to the model, but never to the store."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.agent.conftest import FakeHTTP
from tests.agent.wire import anthropic_stream, text
from tests.e2e.agent_support import WITH_KEY, Editor, call, fake, options, project
from tests.e2e.conftest import lsp_session, request
from tests.unit.server.secret_corpus import samples

__all__ = ["fake"]  # the fixture, imported for pytest


async def test_secrets_in_an_agent_episode_are_cut_before_it_is_stored(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    project(workspace)
    secret = next(s for s in samples() if s.secret.startswith("gh"))
    # the command prints the secret too, so it is in the tool result as well as the arguments
    echo = f"{sys.executable} -c \"print('{secret.secret}')\""
    fake.push(
        anthropic_stream(call("t1", "run_command", command=echo)),
        anthropic_stream(text("Printed.")),
    )
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        Editor(c, answers=["Run"])
        task = f"print the token {secret.secret} for me"
        result = await request(c, "kenetic/agent/run", {"task": task})
        assert result["outcome"] == "success", result
        episodes = await request(c, "kenetic/episodes", {"kind": "agent"})
    (episode,) = episodes["episodes"]
    assert any(e.get("tool") == "run_command" for e in episode["trajectory"])
    assert secret.secret not in repr(episode)
    for path in (workspace / ".kenetic").iterdir():
        if path.is_file():
            assert secret.secret.encode() not in path.read_bytes(), path
