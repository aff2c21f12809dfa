"""The agent end to end: the real server over stdio, its LLM a loopback fake that speaks the
Anthropic Messages and Ollama chat APIs (tests/agent/conftest.py), the editor a pytest-lsp client
that applies workspace/applyEdit to its copies and to disk and answers confirmations."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from server.protocol import to_plain
from tests.agent.conftest import (
    FakeHTTP,
    anthropic_error,
    anthropic_stream,
    apply_to_disk,
    ollama_stream,
    text,
    tool_use,
)
from tests.e2e.conftest import lsp_session, open_doc, request, wait_idle

CALC = "def add(a, b):\n    return a - b\n"
CHECK = f"{sys.executable} -c \"import calc; assert calc.add(2, 3) == 5; print('ok')\""
WITH_KEY = {"ANTHROPIC_API_KEY": "test", "OLLAMA_HOST": ""}
NO_PROVIDER = {"ANTHROPIC_API_KEY": "", "OLLAMA_HOST": ""}


@pytest.fixture
def fake() -> Iterator[FakeHTTP]:
    """The loopback LLM server of tests/agent (its own fixture is local to that folder)."""
    server = FakeHTTP()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)


def call(id_: str, name: str, **args: Any) -> tuple[str, ...]:
    raw = json.dumps(args)
    return tool_use(id_, name, raw[:5], raw[5:])


def options(fake: FakeHTTP, **agent: Any) -> dict[str, Any]:
    return {
        "capture": {"idleGapMs": 100},
        "agent": {"anthropic": {"baseUrl": fake.url}, "retries": 0, **agent},
    }


class Editor:
    """The client's side of the agent: applies edits (open copy via didChange, and disk)."""

    def __init__(self, client: Any, answers: list[str | None] | None = None) -> None:
        self.client = client
        self.answers: deque[str | None] = deque(answers or [])
        self.edits: list[dict[str, Any]] = []
        self.confirms: list[str] = []
        self.docs: dict[str, list[Any]] = {}  # uri -> [path, version]
        self.on_confirm: Any = None

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            edit = client.protocol._converter.unstructure(params.edit)
            self.edits.append(edit)
            apply_to_disk(edit)  # the editor saves what it applied
            touched = set(edit.get("changes") or {}) | {
                d["textDocument"]["uri"] for d in edit.get("documentChanges") or [] if "edits" in d
            }
            for uri, doc in self.docs.items():
                if uri not in touched:
                    continue
                doc[1] += 1
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(
                            uri=uri, version=doc[1]
                        ),
                        content_changes=[
                            types.TextDocumentContentChangeWholeDocument(text=doc[0].read_text())
                        ],
                    )
                )
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def confirm(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
            self.confirms.append(params.message)
            if self.on_confirm is not None:
                self.on_confirm()
            answer = self.answers.popleft() if self.answers else None
            return types.MessageActionItem(title=answer) if answer else None

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        open_doc(self.client, uri, path.read_text())
        self.docs[uri] = [path, 1]
        return uri


def project(workspace: Path) -> Path:
    (workspace / "pkg").mkdir()
    calc = workspace / "pkg" / "calc.py"
    calc.write_text(CALC)
    (workspace / "KENETIC.md").write_text("# Notes\n\nRun the calc check after every edit.\n")
    return calc


def _code_actions_keep_commands(client: Any) -> None:
    """lsprotocol's client hook reads a code action carrying a `command` as a bare Command;
    a bare Command is the one whose `command` is a string."""
    conv = client.protocol._converter

    def hook(obj: Any, _: Any) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return conv.structure(obj, kind)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def episodes(client: Any) -> list[dict[str, Any]]:
    await wait_idle(client)
    return (await request(client, "kenetic/episodes", {"kind": "agent"}))["episodes"]


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
        assert "Active learning state" in bodies[0]["system"]
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

        _code_actions_keep_commands(c)
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
