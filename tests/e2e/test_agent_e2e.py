"""The agent end to end: the real server over stdio, its LLM a loopback fake that speaks the
Anthropic Messages and Ollama chat APIs (tests/agent/conftest.py), the editor a pytest-lsp client
that applies workspace/applyEdit to its copies and to disk and answers confirmations."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from server.protocol import to_plain
from tests.agent.conftest import FakeHTTP
from tests.agent.wire import anthropic_error, anthropic_stream, ollama_stream, text
from tests.e2e.agent_support import (
    CHECK,
    NO_PROVIDER,
    WITH_KEY,
    Editor,
    call,
    code_actions_keep_commands,
    episodes,
    fake,
    options,
    project,
)
from tests.e2e.conftest import lsp_session, request, wait_idle

__all__ = ["fake"]  # the fixture, imported for pytest


async def test_task_reads_edits_runs_is_recorded_and_becomes_a_pattern(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    calc = project(workspace)
    fix = [
        anthropic_stream(text("Reading."), call("t1", "read_file", path="pkg/calc.py")),
        anthropic_stream(
            call("t2", "edit_file", path="pkg/calc.py", oldText="a - b", newText="a + b")
        ),
        anthropic_stream(call("t3", "run_command", command=CHECK, cwd="pkg")),
        anthropic_stream(text("Fixed add(): it subtracted. The check passes.")),
    ]
    swap = [
        anthropic_stream(call("u1", "read_file", path="pkg/calc.py")),
        anthropic_stream(
            call("u2", "edit_file", path="pkg/calc.py", oldText="a + b", newText="b + a")
        ),
        anthropic_stream(call("u3", "run_command", command=CHECK, cwd="pkg")),
        anthropic_stream(text("Swapped the operands; the check passes.")),
    ]
    # kenetic.freeze asks the summarisation model too: a fenced reply with a trailing comma
    named = (
        "Here you go:\n```json\n"
        '[{"name": "Fix and check", "steps": ["read the code", "edit it", "run the check"],'
        ' "template": "{task} Then run the calc check.", "episodeIds": [1, 2],},]\n```'
    )
    fake.push(*fix, *swap, anthropic_stream(text(named)))
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        editor = Editor(c, answers=["Run", "Run"])
        uri = editor.open(calc)
        result = await request(
            c, "kenetic/agent/run", {"task": "fix add in calc.py", "textDocument": {"uri": uri}}
        )
        assert result["outcome"] == "success", result
        assert result["summary"] == "Fixed add(): it subtracted. The check passes."
        assert (result["editsApplied"], result["steps"]) == (1, 4)
        assert isinstance(result["episodeId"], int)
        assert calc.read_text() == "def add(a, b):\n    return a + b\n"
        assert len(editor.edits) == 1 and len(editor.confirms) == 1
        assert CHECK in editor.confirms[0]

        # $/progress: begin, a report per step and tool, end
        (token, reports), *_ = c.progress_reports.items()
        kinds = [r.kind for r in reports]
        assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("report") >= 4
        assert reports[0].cancellable is True

        bodies = fake.bodies()
        assert "Run the calc check after every edit." in bodies[0]["system"]  # KENETIC.md
        assert "Active learning state" not in bodies[0]["system"]  # kenetic's tuning, not context
        assert [t["name"] for t in bodies[0]["tools"]][:5] == [
            "read_file",
            "list_files",
            "search",
            "edit_file",
            "run_command",
        ]

        (episode,) = await episodes(c)
        assert episode["id"] == result["episodeId"] and episode["outcome"] == "success"
        assert episode["uri"] == uri and episode["language"] == "python"
        tools = [e["tool"] for e in episode["trajectory"] if e["type"] == "tool"]
        assert tools == ["read_file", "edit_file", "run_command"]
        run = [e for e in episode["trajectory"] if e.get("tool") == "run_command"][0]
        assert run["data"]["exitCode"] == 0
        assert episode["tokens"] == {"input": 100, "output": 60}
        assert episode["durationMs"] > 0
        assert (await wait_idle(c))["episodes"]["agent"] == 1

        second = await request(
            c, "kenetic/agent/run", {"task": "swap the operands", "textDocument": {"uri": uri}}
        )
        assert second["outcome"] == "success", second
        assert calc.read_text() == "def add(a, b):\n    return b + a\n"

        frozen = await c.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kenetic.freeze", arguments=[])
        )
        frozen = to_plain(frozen)
        by_source = {p["source"]: p for p in frozen["patterns"]}
        assert set(by_source) == {"miner", "llm"}, frozen
        mined = by_source["miner"]
        assert mined["steps"][:2] == ["read_file", "edit_file"] and mined["support"] == 2
        assert sorted(mined["episodeIds"]) == sorted([result["episodeId"], second["episodeId"]])
        assert by_source["llm"]["name"] == "Fix and check"
        assert "{task}" in by_source["llm"]["template"]

        listed = (await request(c, "kenetic/patterns", {}))["patterns"]
        assert {p["id"] for p in listed} == {p["id"] for p in frozen["patterns"]}
        one = await request(c, "kenetic/pattern", {"id": mined["id"]})
        assert one["steps"] == mined["steps"] and one["template"] == mined["template"]

        code_actions_keep_commands(c)
        actions = c.protocol._converter.unstructure(
            await c.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=types.Range(
                        start=types.Position(line=1, character=4),
                        end=types.Position(line=1, character=4),
                    ),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
        )
        runs = [a for a in actions if a["title"].startswith("Run pattern: ")]
        assert {a["title"] for a in runs} >= {f"Run pattern: {mined['name']}"}
        action = next(a for a in runs if a["title"] == f"Run pattern: {mined['name']}")
        assert action["kind"] == "refactor.rewrite.kenetic"
        assert action["command"]["command"] == "kenetic.runPattern"
        assert action["command"]["arguments"][0]["id"] == mined["id"]

        # the action's command starts an agent task from the pattern's template
        fake.push(anthropic_stream(text("Nothing left to fix.")))
        ran = to_plain(
            await c.workspace_execute_command_async(
                types.ExecuteCommandParams(
                    command="kenetic.runPattern", arguments=action["command"]["arguments"]
                )
            )
        )
        assert ran["outcome"] == "success" and ran["summary"] == "Nothing left to fix."
        prompt = fake.bodies()[-1]["messages"][0]["content"]
        prompt = prompt if isinstance(prompt, str) else prompt[0]["text"]
        assert "Steps that worked for tasks like this here" in prompt
        latest = (await episodes(c))[0]
        assert latest["patternId"] == mined["id"]

        # the user undoes the second task's edit in the editor: that task becomes a failure
        editor.docs[uri][1] += 1
        c.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=editor.docs[uri][1]
                ),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(
                        text="def add(a, b):\n    return a + b\n"
                    )
                ],
            )
        )
        undone = {e["id"]: e for e in await episodes(c)}[second["episodeId"]]
        assert (undone["outcome"], undone["reason"]) == ("failure", "undone")
        assert {e["id"]: e for e in await episodes(c)}[result["episodeId"]]["outcome"] == "success"


async def test_declined_command_is_not_run(fake: FakeHTTP, workspace: Path, home: Path) -> None:
    project(workspace)
    fake.push(
        anthropic_stream(call("t1", "run_command", command="touch marker")),
        anthropic_stream(text("You declined; nothing was run.")),
    )
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        editor = Editor(c, answers=["Don't run"])
        result = await request(c, "kenetic/agent/run", {"task": "make a marker"})
        assert len(editor.confirms) == 1 and "touch marker" in editor.confirms[0]
        assert not (workspace / "marker").exists()
        assert "declined" in json.dumps(fake.bodies()[1]["messages"][-1])
        assert result["editsApplied"] == 0
        (episode,) = await episodes(c)
        run = episode["trajectory"][1]
        assert run["tool"] == "run_command" and run["isError"] and run["data"]["declined"]


async def test_cancel_by_progress_and_by_cancel_request(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    project(workspace)
    pid_file = workspace / "pid"
    sleeper = (
        f'{sys.executable} -c "import os, time; '
        f"open('pid', 'w').write(str(os.getpid())); time.sleep(60)\""
    )
    fake.push(
        anthropic_stream(call("t1", "run_command", command="echo first")),
        anthropic_stream(call("t2", "run_command", command=sleeper)),
    )
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        editor = Editor(c, answers=["Run", "Run"])

        def cancel_progress() -> None:
            token = list(c.progress_reports)[-1]
            c.protocol.notify(
                types.WINDOW_WORK_DONE_PROGRESS_CANCEL,
                types.WorkDoneProgressCancelParams(token=token),
            )

        # the progress notification's cancel button: the task stops at its next step
        editor.on_confirm = cancel_progress
        result = await request(c, "kenetic/agent/run", {"task": "echo something"})
        assert result["outcome"] == "cancelled" and result["steps"] == 1
        assert len(fake.requests) == 1

        # $/cancelRequest while a confirmed command runs: the command is killed
        editor.on_confirm = None
        pending = asyncio.ensure_future(
            c.protocol.send_request_async(
                "kenetic/agent/run", {"task": "wait for a long time"}, msg_id="agent-long"
            )
        )
        deadline = time.monotonic() + 20
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the command never started"
            await asyncio.sleep(0.05)
        pid = int(pid_file.read_text())
        c.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="agent-long"))
        with pytest.raises(JsonRpcException):
            await asyncio.wait_for(pending, 20)
        deadline = time.monotonic() + 10
        while _alive(pid):
            assert time.monotonic() < deadline, "the cancelled command is still running"
            await asyncio.sleep(0.05)

        cancelled = await episodes(c)
        assert [e["outcome"] for e in cancelled] == ["cancelled", "cancelled"]
        assert cancelled[0]["task"] == "wait for a long time"
        assert cancelled[0]["summary"].startswith("cancelled by the user")
        assert (await wait_idle(c))["episodes"]["agent"] == 2


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


async def test_no_provider_is_a_clear_error_and_bad_params_are_refused(
    workspace: Path, home: Path
) -> None:
    async with lsp_session([workspace], home, env=NO_PROVIDER) as c:
        with pytest.raises(JsonRpcException) as err:
            await request(c, "kenetic/agent/run", {"task": "anything"})
        assert err.value.code == -32803
        assert "ANTHROPIC_API_KEY" in err.value.message and "OLLAMA_HOST" in err.value.message
        assert "Traceback" not in err.value.message
        deadline = time.monotonic() + 5
        while not any("ANTHROPIC_API_KEY" in m.message for m in c.messages):
            assert time.monotonic() < deadline, "no window/showMessage"
            await asyncio.sleep(0.05)
        with pytest.raises(JsonRpcException):  # asked again: told again, once, as a warning
            await request(c, "kenetic/agent/run", {"task": "anything else"})
        await asyncio.sleep(0.2)
        shown = [m for m in c.messages if "ANTHROPIC_API_KEY" in m.message]
        assert [m.type for m in shown] == [types.MessageType.Warning] * 2

        for method, params in [
            ("kenetic/agent/run", {}),
            ("kenetic/agent/run", {"task": ""}),
            ("kenetic/agent/run", {"task": 3}),
            ("kenetic/agent/run", {"task": "x", "textDocument": "file:///x"}),
            ("kenetic/agent/run", {"task": "x", "steps": 3}),
            ("kenetic/patterns", {"limit": 0}),
            ("kenetic/pattern", {}),
            ("kenetic/pattern", {"id": "nope"}),
        ]:
            with pytest.raises(JsonRpcException) as bad:
                await request(c, method, params)
            assert bad.value.code == -32602, (method, params)
        with pytest.raises(JsonRpcException) as bad:
            await c.workspace_execute_command_async(
                types.ExecuteCommandParams(command="kenetic.runPattern", arguments=[{}])
            )
        assert bad.value.code == -32602
        # freeze without a provider: the miner alone (nothing to mine in an empty session)
        frozen = to_plain(
            await c.workspace_execute_command_async(
                types.ExecuteCommandParams(command="kenetic.freeze", arguments=[])
            )
        )
        assert frozen["patterns"] == []


async def test_falls_back_from_an_overloaded_provider(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    project(workspace)
    fake.push(
        anthropic_error(529, "overloaded_error", "Overloaded"),
        ollama_stream("Nothing to change."),
    )
    init = options(fake, ollama={"host": fake.url})
    async with lsp_session([workspace], home, init_options=init, env=WITH_KEY) as c:
        Editor(c)
        result = await request(c, "kenetic/agent/run", {"task": "look around"})
        assert result["outcome"] == "success" and result["summary"] == "Nothing to change."
        assert [r["path"] for r in fake.requests] == ["/v1/messages", "/api/chat"]
        (episode,) = await episodes(c)
        assert [u["provider"] for u in episode["usage"]] == ["ollama"]
