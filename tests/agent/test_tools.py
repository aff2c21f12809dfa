"""The tool registry, tool selection, and the built-in tools on a real workspace."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from server.agent.builtins import DONT_RUN, RUN, BuiltinTools
from server.agent.sandbox import PathSandbox
from server.agent.tools import (
    LexicalRanker,
    Tool,
    ToolRegistry,
    ToolResult,
    check_arguments,
    utf16_position,
)
from tests.agent.conftest import FakeEditor


def registry(workspace: Path, editor: FakeEditor, **options: Any) -> ToolRegistry:
    async def recall(query: str, k: int) -> list[dict[str, Any]]:
        return [{"id": 7, "kind": "command", "command": "pytest -q", "query": query}][:k]

    def apply_skill(**kw: Any) -> dict[str, Any]:
        return {"applied": kw["id"] == "s1", **kw}

    cb = editor.callbacks(recall=recall, apply_skill=apply_skill)
    return ToolRegistry(BuiltinTools(PathSandbox([workspace]), cb, **options).tools())


def noop_tool(name: str, description: str) -> Tool:
    async def handler(args: dict[str, Any]) -> ToolResult:
        return ToolResult(name)

    return Tool(name, description, {"type": "object", "properties": {}}, handler, "mcp:x")


def test_specs_are_mcp_shaped(workspace: Path) -> None:
    tools = registry(workspace, FakeEditor())
    assert tools.names() == [
        "read_file",
        "list_files",
        "search",
        "edit_file",
        "run_command",
        "recall_memory",
        "apply_skill",
    ]
    for spec in tools.specs():
        assert set(spec) == {"name", "description", "inputSchema"}
        assert spec["inputSchema"]["type"] == "object"
    bare = ToolRegistry(
        BuiltinTools(PathSandbox([workspace]), FakeEditor().callbacks().__class__()).tools()
    )
    assert bare.names() == ["read_file", "list_files", "search"]  # no callbacks, no acting tools


def test_argument_checks() -> None:
    schema = {
        "type": "object",
        "required": ["path"],
        "properties": {"path": {"type": "string"}, "k": {"type": "integer"}},
    }
    assert check_arguments(schema, {"path": "a"}) is None
    assert "missing" in (check_arguments(schema, {}) or "")
    assert "integer" in (check_arguments(schema, {"path": "a", "k": True}) or "")
    assert "string" in (check_arguments(schema, {"path": 3}) or "")


def test_selection_picks_relevant_tools_when_there_are_many(workspace: Path) -> None:
    tools = registry(workspace, FakeEditor())
    for i in range(30):
        tools.register(noop_tool(f"weather_{i}", "Forecast the weather for a city"))
    tools.register(noop_tool("jira_create_issue", "Create a Jira issue with a summary"))
    tools.register(noop_tool("github_pull_request", "Open a GitHub pull request for a branch"))
    chosen = tools.select({"task": "open a pull request on GitHub for this branch"}, limit=5)
    assert len(chosen) == 5
    assert chosen[:3] == ["read_file", "edit_file", "search"]
    assert "github_pull_request" in chosen

    class Ranker:
        def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
            return [1.0 if c["name"] == "jira_create_issue" else 0.0 for c in candidates]

    assert "jira_create_issue" in tools.select({"task": "x"}, limit=4, ranker=Ranker())

    class Broken:
        def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
            raise RuntimeError("model not loaded")

    assert len(tools.select({"task": "jira issue"}, limit=4, ranker=Broken())) == 4
    assert len(registry(workspace, FakeEditor()).select({"task": "x"}, limit=50)) == 7


def test_lexical_ranker_prefers_name_matches() -> None:
    scores = LexicalRanker().score(
        {"task": "run the tests"},
        [
            {"name": "run_tests", "description": "Run the test suite"},
            {"name": "lint", "description": "Run a linter over tests"},
            {"name": "deploy", "description": "Deploy the app"},
        ],
    )
    assert scores[0] > scores[1] > scores[2] == 0


async def test_read_prefers_open_buffer_and_reports_lines(workspace: Path) -> None:
    editor = FakeEditor()
    tools = registry(workspace, editor)
    result = await tools.call("read_file", {"path": "pkg/calc.py"})
    assert not result.is_error and "return a - b" in result.content
    assert result.content.startswith("pkg/calc.py (lines 1-2 of 2)")
    editor.open[(workspace / "pkg" / "calc.py").resolve().as_uri()] = "unsaved\ntext\n"
    result = await tools.call("read_file", {"path": "pkg/calc.py", "startLine": 2})
    assert result.content.endswith("text\n") and "unsaved" not in result.content
    result = await tools.call("read_file", {"path": "/etc/passwd"})
    assert result.is_error and "outside" in result.content
    assert (await tools.call("read_file", {})).is_error
    assert (await tools.call("nope", {})).is_error


async def test_list_files(workspace: Path) -> None:
    (workspace / ".env").write_text("SECRET=1")
    (workspace / "node_modules" / "x").mkdir(parents=True)
    result = await registry(workspace, FakeEditor()).call("list_files", {})
    lines = result.content.splitlines()
    assert "pkg/calc.py" in lines and "README.md" in lines
    assert not any(".env" in line or "node_modules" in line for line in lines)


@pytest.mark.parametrize("engine", ["rg", "python"])
async def test_search(workspace: Path, engine: str) -> None:
    if engine == "rg" and not shutil.which("rg"):
        pytest.skip("ripgrep is not installed")
    (workspace / ".env").write_text("return a - b")
    tools = registry(workspace, FakeEditor(), rg="auto" if engine == "rg" else None)
    result = await tools.call("search", {"query": "return a - b"})
    assert result.data["engine"] == engine
    assert result.content.splitlines() == ["pkg/calc.py:2:    return a - b"]
    result = await tools.call("search", {"query": r"def \w+\(", "regex": True, "glob": "*.py"})
    assert result.content.startswith("pkg/calc.py:1:")
    assert (await tools.call("search", {"query": "zzz-nothing"})).content == "no matches"


def test_utf16_positions() -> None:
    text = "a😀b\nxyz"
    assert utf16_position(text, 2) == {"line": 0, "character": 3}  # the emoji is two units
    assert utf16_position(text, 5) == {"line": 1, "character": 1}


async def test_edit_goes_through_the_editor(workspace: Path) -> None:
    editor = FakeEditor()
    tools = registry(workspace, editor)
    calc = workspace / "pkg" / "calc.py"
    result = await tools.call(
        "edit_file", {"path": "pkg/calc.py", "oldText": "a - b", "newText": "a + b"}
    )
    assert not result.is_error and result.data["applied"]
    assert calc.read_text() == "def add(a, b):\n    return a + b\n"
    uri = calc.resolve().as_uri()
    assert editor.edits[0] == {
        "changes": {
            uri: [
                {
                    "range": {
                        "start": {"line": 1, "character": 11},
                        "end": {"line": 1, "character": 16},
                    },
                    "newText": "a + b",
                }
            ]
        }
    }
    result = await tools.call("edit_file", {"path": "pkg/new.py", "newText": "x = 1\n"})
    assert not result.is_error and (workspace / "pkg" / "new.py").read_text() == "x = 1\n"
    assert editor.edits[-1]["documentChanges"][0]["kind"] == "create"
    result = await tools.call("edit_file", {"path": "pkg/calc.py", "oldText": "a", "newText": "z"})
    assert result.is_error and "times" in result.content
    result = await tools.call("edit_file", {"path": "pkg/calc.py", "newText": "z"})
    assert result.is_error and "overwrite" in result.content
    result = await tools.call("edit_file", {"path": "../x.py", "newText": "z"})
    assert result.is_error and not (workspace.parent / "x.py").exists()


async def test_edit_refused_by_the_editor_is_an_error(workspace: Path) -> None:
    tools = registry(workspace, FakeEditor(apply=False))
    result = await tools.call("edit_file", {"path": "README.md", "oldText": "demo", "newText": "x"})
    assert result.is_error and result.data["applied"] is False


async def test_run_command_confirmed_declined_blocked(workspace: Path) -> None:
    editor = FakeEditor(answers=[RUN, DONT_RUN, None])
    tools = registry(workspace, editor, command_timeout_s=20)
    cmd = f"{sys.executable} -c \"open('ran.txt', 'w').write('1'); print('hello')\""
    result = await tools.call("run_command", {"command": cmd})
    assert (
        not result.is_error
        and result.content.startswith("exit code 0")
        and "hello" in result.content
    )
    assert result.data["exitCode"] == 0 and result.data["confirmed"]
    assert editor.confirms[0] == (f"kenetic agent wants to run in .:\n{cmd}", [RUN, DONT_RUN])
    (workspace / "ran.txt").unlink()
    for _ in range(2):  # "Don't run", then the message dismissed
        result = await tools.call("run_command", {"command": cmd})
        assert result.is_error and result.data["declined"]
    assert not (workspace / "ran.txt").exists()
    result = await tools.call("run_command", {"command": "sudo rm -rf /"})
    assert result.is_error and result.data["blocked"] and len(editor.confirms) == 3
    result = await tools.call("run_command", {"command": "ls", "cwd": "/tmp"})
    assert result.is_error and "outside" in result.content


async def test_failing_command_reports_its_exit_code(workspace: Path) -> None:
    tools = registry(workspace, FakeEditor(answers=[RUN]))
    result = await tools.call("run_command", {"command": "exit 3"})
    assert result.is_error and result.data["exitCode"] == 3


async def test_memory_and_skills(workspace: Path) -> None:
    tools = registry(workspace, FakeEditor())
    result = await tools.call("recall_memory", {"query": "tests", "k": 3})
    assert "pytest -q" in result.content and result.data["count"] == 1
    result = await tools.call("apply_skill", {"id": "s1", "path": "pkg/calc.py"})
    assert not result.is_error and result.data["applied"]
    result = await tools.call("apply_skill", {"id": "s2", "path": "pkg/calc.py"})
    assert result.is_error
