"""Tool calls cut by the output limit, or with malformed arguments, are never executed (issue 16,
item 7): the model's arguments are parsed strictly, and a reply that stopped on max_tokens has
its calls answered with an error instead of being run."""

from __future__ import annotations

import json
from pathlib import Path

from server.agent.builtins import BuiltinTools
from server.agent.llm import LLMGateway
from server.agent.loop import run_task
from server.agent.messages import parse_tool_arguments
from server.agent.providers import AnthropicProvider, OllamaProvider
from server.agent.sandbox import PathSandbox
from server.agent.tools import ToolRegistry
from tests.agent.conftest import FAST_RETRY, KEY, FakeEditor, FakeHTTP
from tests.agent.wire import anthropic_stream, send, text, tool_use

CALC = "def add(a, b):\n    return a - b\n"
WHOLE = json.dumps(
    {"path": "pkg/calc.py", "oldText": CALC, "newText": "def add(a, b):\n    return a + b\n"}
)
# the stream stopped mid-argument: the closing quote and brace never came
CUT = WHOLE[: WHOLE.index("return a + b")]


def test_tool_arguments_are_parsed_strictly() -> None:
    for broken in (CUT, '{"path": "a.py",}', "{'path': 'a.py'}", '{"path": "a.py"'):
        args, error = parse_tool_arguments(broken)
        assert args == {} and error is not None and "not executed" in error, broken
    assert parse_tool_arguments(WHOLE) == (json.loads(WHOLE), None)
    assert parse_tool_arguments("[1]")[1] is not None


def _tools(workspace: Path, editor: FakeEditor) -> ToolRegistry:
    return ToolRegistry(BuiltinTools(PathSandbox([workspace]), editor.callbacks()).tools())


async def test_an_edit_cut_by_max_tokens_is_not_applied(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    fake_http.push(
        anthropic_stream(tool_use("t1", "edit_file", CUT[:20], CUT[20:]), stop="max_tokens"),
        anthropic_stream(text("Done: add() adds now.")),
    )
    editor = FakeEditor()
    llm = LLMGateway(
        [AnthropicProvider(KEY, base_url=fake_http.url, timeout_s=10)], retry=FAST_RETRY
    )
    result = await run_task(
        "fix add", llm=llm, tools=_tools(workspace, editor), callbacks=editor.callbacks()
    )

    assert (workspace / "pkg" / "calc.py").read_text() == CALC
    assert editor.edits == []
    assert (result["outcome"], result["reason"], result["editsApplied"]) == (
        "failure",
        "editNotApplied",
        0,
    )
    tool = next(e for e in result["trajectory"] if e["type"] == "tool")
    assert tool["refused"] and tool["isError"] and "max_tokens" in tool["result"]
    # the model was told why, in the tool result of the call it sent
    answer = fake_http.bodies()[1]["messages"][-1]["content"][0]
    assert answer["type"] == "tool_result" and answer["is_error"]
    assert "max_tokens" in answer["content"]


async def test_a_complete_call_in_a_reply_cut_by_max_tokens_is_not_run(
    fake_http: FakeHTTP, workspace: Path
) -> None:
    """Even arguments that parse are not trusted from a cut reply: a second call may be gone."""
    fake_http.push(
        anthropic_stream(tool_use("t1", "edit_file", WHOLE), stop="max_tokens"),
        anthropic_stream(text("ok")),
    )
    editor = FakeEditor()
    llm = LLMGateway(
        [AnthropicProvider(KEY, base_url=fake_http.url, timeout_s=10)], retry=FAST_RETRY
    )
    result = await run_task(
        "fix add", llm=llm, tools=_tools(workspace, editor), callbacks=editor.callbacks()
    )
    assert (workspace / "pkg" / "calc.py").read_text() == CALC
    assert result["outcome"] == "failure"


async def test_ollama_length_stop_is_max_tokens(fake_http: FakeHTTP, workspace: Path) -> None:
    """Ollama says done_reason "length" when num_predict ran out: its calls are not run either."""
    call = {"name": "edit_file", "arguments": json.loads(WHOLE)}
    body = {
        "model": "qwen-test",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": "", "tool_calls": [{"function": call}]},
        "done": True,
        "done_reason": "length",
        "prompt_eval_count": 40,
        "eval_count": 12,
    }
    final = {**body, "message": {"role": "assistant", "content": "ok"}, "done_reason": "stop"}
    fake_http.push(
        lambda h: send(h, 200, json.dumps(body).encode()),
        lambda h: send(h, 200, json.dumps(final).encode()),
    )
    editor = FakeEditor()
    llm = LLMGateway([OllamaProvider(fake_http.url, stream=False, timeout_s=10)], retry=FAST_RETRY)
    result = await run_task(
        "fix add", llm=llm, tools=_tools(workspace, editor), callbacks=editor.callbacks()
    )
    assert (workspace / "pkg" / "calc.py").read_text() == CALC
    assert result["trajectory"][0]["stopReason"] == "max_tokens"
    assert result["outcome"] == "failure"
