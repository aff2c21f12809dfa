"""Refused, blocked and declined tool calls are no steps (issue 16, item 12): they make no
reasoning pattern, and a task whose every call was refused is a failure, not a success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.agent.builtins import BuiltinTools
from server.agent.llm import LLMGateway
from server.agent.loop import run_task
from server.agent.patterns import episode_steps, mine_patterns
from server.agent.providers import AnthropicProvider
from server.agent.sandbox import PathSandbox
from server.agent.tools import ToolRegistry
from tests.agent.conftest import FAST_RETRY, KEY, FakeEditor, FakeHTTP
from tests.agent.wire import anthropic_stream, text, tool_use


def call(id_: str, name: str, **args: Any) -> tuple[str, ...]:
    return tool_use(id_, name, json.dumps(args))


async def _run(fake: FakeHTTP, workspace: Path, editor: FakeEditor, task: str) -> dict[str, Any]:
    llm = LLMGateway([AnthropicProvider(KEY, base_url=fake.url, timeout_s=10)], retry=FAST_RETRY)
    tools = ToolRegistry(BuiltinTools(PathSandbox([workspace]), editor.callbacks()).tools())
    return await run_task(task, llm=llm, tools=tools, callbacks=editor.callbacks())


async def test_a_task_whose_every_call_was_refused_is_a_failure(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    (workspace / ".env").write_text("API_TOKEN=abc\n")
    fake_http.push(
        anthropic_stream(call("t1", "read_file", path=".env")),
        anthropic_stream(call("t2", "read_file", path="../outside.txt")),
        anthropic_stream(call("t3", "edit_file", path=".env", oldText="abc", newText="xyz")),
        anthropic_stream(call("t4", "run_command", command="sudo ls")),
        anthropic_stream(text("Done.")),
    )
    editor = FakeEditor()
    result = await _run(fake_http, workspace, editor, "rotate the token")
    assert (result["outcome"], result["reason"]) == ("failure", "allRefused")
    tools = [e for e in result["trajectory"] if e["type"] == "tool"]
    assert len(tools) == 4 and all(e.get("refused") for e in tools)
    assert episode_steps(result) == []
    assert (workspace / ".env").read_text() == "API_TOKEN=abc\n"


async def test_one_executed_call_among_refused_ones_is_a_success(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    fake_http.push(
        anthropic_stream(call("t1", "read_file", path=".git/config")),
        anthropic_stream(call("t2", "read_file", path="pkg/calc.py")),
        anthropic_stream(text("add() subtracts.")),
    )
    result = await _run(fake_http, workspace, FakeEditor(), "what does add do")
    assert (result["outcome"], result["reason"]) == ("success", "answered")
    assert episode_steps(result) == ["read_file"]


async def test_refused_steps_make_no_pattern(fake_http: FakeHTTP, workspace: Path) -> None:
    """Two tasks that each tried sudo (blocked), a declined command and a refused read, then
    read and edited: only the executed steps are mined."""
    episodes = []
    for n in (1, 2):
        (workspace / "pkg" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
        fake_http.push(
            anthropic_stream(call(f"a{n}", "run_command", command="sudo apt install x")),
            anthropic_stream(call(f"b{n}", "run_command", command="make deploy")),
            anthropic_stream(call(f"c{n}", "read_file", path=".env")),
            anthropic_stream(call(f"d{n}", "read_file", path="pkg/calc.py")),
            anthropic_stream(
                call(f"e{n}", "edit_file", path="pkg/calc.py", oldText="a - b", newText="a + b")
            ),
            anthropic_stream(text("Fixed.")),
        )
        editor = FakeEditor(answers=[None])  # "make deploy" declined
        result = await _run(fake_http, workspace, editor, "fix add")
        assert result["outcome"] == "success"
        episodes.append({**result, "kind": "agent", "id": n})
    assert episode_steps(episodes[0]) == ["read_file", "edit_file"]
    patterns = mine_patterns(episodes)
    steps = {s for p in patterns for s in p["steps"]}
    assert steps == {"read_file", "edit_file"}, patterns


def test_episodes_recorded_before_the_mark_are_judged_by_their_data() -> None:
    """Stored agent episodes carry the tools' data (blocked, declined, applied): read too."""
    episode = {
        "kind": "agent",
        "trajectory": [
            {
                "type": "tool",
                "tool": "run_command",
                "arguments": {"command": "sudo x"},
                "data": {"blocked": True},
            },
            {
                "type": "tool",
                "tool": "run_command",
                "arguments": {"command": "make"},
                "data": {"declined": True, "confirmed": False},
            },
            {"type": "tool", "tool": "edit_file", "arguments": {}, "data": {"applied": False}},
            {
                "type": "tool",
                "tool": "run_command",
                "arguments": {"command": "pytest"},
                "data": {"confirmed": True, "exitCode": 0},
            },
        ],
    }
    assert episode_steps(episode) == ["run pytest"]
