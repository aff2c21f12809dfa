"""Whole agent tasks: a fake provider scripts the model, a fake editor plays the server."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from server.agent.builtins import RUN, BuiltinTools
from server.agent.llm import LLMGateway
from server.agent.loop import run_task
from server.agent.messages import NoProviderConfigured
from server.agent.providers import AnthropicProvider, OllamaProvider
from server.agent.sandbox import PathSandbox
from server.agent.tools import ToolRegistry
from tests.agent.conftest import FAST_RETRY, KEY, FakeEditor, FakeHTTP
from tests.agent.wire import anthropic_error, anthropic_stream, ollama_stream, send, text, tool_use

CHECK = f"{sys.executable} -c \"import calc; assert calc.add(2, 3) == 5; print('ok')\""


def call(id_: str, name: str, **args: Any) -> tuple[str, ...]:
    raw = json.dumps(args)
    return tool_use(id_, name, raw[:5], raw[5:])


def setup(
    fake: FakeHTTP,
    workspace: Path,
    editor: FakeEditor,
    **provider: Any,
) -> tuple[LLMGateway, ToolRegistry]:
    llm = LLMGateway(
        [AnthropicProvider(KEY, base_url=fake.url, timeout_s=10, **provider)], retry=FAST_RETRY
    )
    tools = ToolRegistry(
        BuiltinTools(PathSandbox([workspace]), editor.callbacks(), command_timeout_s=30).tools()
    )
    return llm, tools


async def test_reads_edits_runs_and_returns_the_trajectory(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    fake_http.push(
        anthropic_stream(text("Reading."), call("t1", "read_file", path="pkg/calc.py")),
        anthropic_stream(
            call("t2", "edit_file", path="pkg/calc.py", oldText="a - b", newText="a + b")
        ),
        anthropic_stream(call("t3", "run_command", command=CHECK, cwd="pkg")),
        anthropic_stream(text("Fixed add(): it subtracted. The check passes.")),
    )
    editor = FakeEditor(answers=[RUN])
    llm, tools = setup(fake_http, workspace, editor)
    calc = workspace / "pkg" / "calc.py"
    result = await run_task(
        "fix add in calc.py",
        textDocument={"uri": calc.as_uri()},
        range={"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
        llm=llm,
        tools=tools,
        callbacks=editor.callbacks(),
        budget={"maxSteps": 6},
    )

    assert result["outcome"] == "success", result["summary"]
    assert result["summary"] == "Fixed add(): it subtracted. The check passes."
    assert (result["editsApplied"], result["steps"]) == (1, 4)
    assert calc.read_text() == "def add(a, b):\n    return a + b\n"
    kinds = [(e["type"], e.get("tool")) for e in result["trajectory"]]
    assert kinds == [
        ("llm", None),
        ("tool", "read_file"),
        ("llm", None),
        ("tool", "edit_file"),
        ("llm", None),
        ("tool", "run_command"),
        ("llm", None),
    ]
    run = result["trajectory"][5]
    assert run["data"]["exitCode"] == 0 and "ok" in run["result"] and run["ms"] > 0
    assert [u["input_tokens"] for u in result["usage"]] == [25] * 4
    assert result["tokens"] == {"input": 100, "output": 60}
    assert len(editor.confirms) == 1 and CHECK in editor.confirms[0][0]
    assert (1, "thinking") in editor.progress and (1, "read_file pkg/calc.py") in editor.progress
    json.dumps(result)  # the episode payload is plain JSON

    bodies = fake_http.bodies()
    assert "The user is at" in bodies[0]["system"] and "def add" in bodies[0]["system"]
    assert [t["name"] for t in bodies[0]["tools"]] == [
        "read_file",
        "list_files",
        "search",
        "edit_file",
        "run_command",
    ]
    read_result = bodies[1]["messages"][-1]["content"][0]
    assert read_result["type"] == "tool_result" and "return a - b" in read_result["content"]
    # after the edit, the earlier read of the file is stale and no longer sent
    later = bodies[3]["messages"][2]["content"][0]
    assert later["tool_use_id"] == "t1" and later["content"].startswith("[stale: pkg/calc.py")


async def test_declined_confirmation_runs_nothing(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(
        anthropic_stream(call("t1", "run_command", command="touch marker")),
        anthropic_stream(text("You declined; nothing was run.")),
    )
    editor = FakeEditor(answers=[None])
    llm, tools = setup(fake_http, workspace, editor)
    result = await run_task("make a marker", llm=llm, tools=tools, callbacks=editor.callbacks())
    assert not (workspace / "marker").exists()
    tool = result["trajectory"][1]
    assert tool["isError"] and tool["data"]["declined"] and tool["data"]["exitCode"] is None
    assert "declined" in fake_http.bodies()[1]["messages"][-1]["content"][0]["content"]
    # nothing was done: the only step was declined (issue 16, item 12)
    assert (result["outcome"], result["reason"], result["editsApplied"]) == (
        "failure",
        "allRefused",
        0,
    )
    assert tool["refused"]


async def test_failing_last_command_is_a_failure(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(
        anthropic_stream(call("t1", "run_command", command="exit 1")),
        anthropic_stream(text("Tests fail.")),
    )
    editor = FakeEditor(answers=[RUN])
    llm, tools = setup(fake_http, workspace, editor)
    result = await run_task("run tests", llm=llm, tools=tools, callbacks=editor.callbacks())
    assert (result["outcome"], result["reason"]) == ("failure", "commandFailed")


async def test_cancellation_mid_task(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(
        anthropic_stream(call("t1", "edit_file", path="README.md", oldText="demo", newText="x")),
        anthropic_stream(text("never reached")),
    )
    editor = FakeEditor()
    apply = editor.apply_edit

    async def apply_then_cancel(edit: dict[str, Any]) -> bool:
        editor.cancel = True  # the user cancels while the edit is being applied
        return await apply(edit)

    cb = editor.callbacks()
    cb.apply_edit = apply_then_cancel
    llm, _ = setup(fake_http, workspace, editor)
    tools = ToolRegistry(BuiltinTools(PathSandbox([workspace]), cb).tools())
    result = await run_task("edit readme", llm=llm, tools=tools, callbacks=cb)
    assert (result["outcome"], result["reason"]) == ("cancelled", "cancelled")
    assert result["editsApplied"] == 1 and len(fake_http.requests) == 1


async def test_asyncio_cancellation_propagates(fake_http: FakeHTTP, workspace: Path) -> None:
    def slow(h: Any) -> None:
        time.sleep(1.5)
        send(h, 500, b"{}")

    fake_http.push(slow)
    editor = FakeEditor()
    llm, tools = setup(fake_http, workspace, editor)
    task = asyncio.create_task(run_task("x", llm=llm, tools=tools, callbacks=editor.callbacks()))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_step_budget(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(*[anthropic_stream(call(f"t{i}", "list_files")) for i in range(2)])
    editor = FakeEditor()
    llm, tools = setup(fake_http, workspace, editor)
    result = await run_task("loop", llm=llm, tools=tools, callbacks=editor.callbacks(), budget=2)
    assert (result["outcome"], result["reason"], result["steps"]) == ("failure", "maxSteps", 2)


async def test_llm_failure_is_a_failed_task(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(anthropic_error(400, "invalid_request_error", "bad model"))
    editor = FakeEditor()
    llm, tools = setup(fake_http, workspace, editor)
    result = await run_task("x", llm=llm, tools=tools, callbacks=editor.callbacks())
    assert (result["outcome"], result["reason"]) == ("failure", "llmError")
    assert "bad model" in result["summary"]


async def test_no_llm_is_a_clear_error(workspace: Path) -> None:
    with pytest.raises(NoProviderConfigured, match="ANTHROPIC_API_KEY"):
        await run_task("x", llm=None, tools=ToolRegistry())


async def test_old_tool_output_is_masked_when_over_budget(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    (workspace / "big.txt").write_text("word " * 3000)
    # the provider's counts calibrate the estimate: report realistic ones
    fake_http.push(
        anthropic_stream(call("t1", "read_file", path="big.txt"), tokens_in=600),
        anthropic_stream(call("t2", "list_files"), tokens_in=4400),
        anthropic_stream(call("t3", "list_files"), tokens_in=4500),
        anthropic_stream(text("done")),
    )
    editor = FakeEditor()
    llm, tools = setup(fake_http, workspace, editor)
    result = await run_task(
        "summarise big.txt",
        llm=llm,
        tools=tools,
        callbacks=editor.callbacks(),
        budget={"contextTokens": 4000, "maxOutputTokens": 1000},
    )
    assert result["outcome"] == "success"
    assert any(e["type"] == "compact" and e["masked"] for e in result["trajectory"])
    last = fake_http.bodies()[-1]["messages"]
    assert "masked to save context" in json.dumps(last)


async def test_a_task_on_ollama(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(
        ollama_stream("", [{"name": "read_file", "arguments": {"path": "README.md"}}]),
        ollama_stream("It is a demo."),
    )
    editor = FakeEditor()
    llm = LLMGateway([OllamaProvider(fake_http.url, timeout_s=10)], retry=FAST_RETRY)
    tools = ToolRegistry(BuiltinTools(PathSandbox([workspace]), editor.callbacks()).tools())
    result = await run_task("what is this?", llm=llm, tools=tools, callbacks=editor.callbacks())
    assert result["outcome"] == "success" and result["summary"] == "It is a demo."
    sent = fake_http.bodies()[1]["messages"]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_name"] == "read_file"
    assert "# demo" in sent[-1]["content"]
