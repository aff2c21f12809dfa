"""The built-in tools: read, list, search, edit (via the editor), run (with confirmation), memory.

`builtin_tools(...)` returns the tools whose callbacks the server supplied; paths go through the
`PathSandbox`, commands through the `CommandPolicy` and then the user's confirmation. The tools
that only read live in server.agent.reading.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from server.agent.reading import ReadingTools
from server.agent.sandbox import CommandPolicy, PathSandbox, SandboxError
from server.agent.sandbox import run_shell as _run_shell
from server.agent.tools import (
    REFUSED,
    AgentCallbacks,
    Tool,
    ToolResult,
    maybe_await,
    schema,
    text_result,
    utf16_position,
)

RUN = "Run"
DONT_RUN = "Don't run"


class BuiltinTools(ReadingTools):
    """The built-in tools: the reading ones, and those that act (through the editor, after
    the user's confirmation, or on memory)."""

    def __init__(
        self,
        sandbox: PathSandbox,
        callbacks: AgentCallbacks,
        *,
        policy: CommandPolicy | None = None,
        command_timeout_s: float = 120.0,
        output_cap: int = 16_000,
        rg: str | None = "auto",
        pass_env: list[str] | None = None,
    ) -> None:
        super().__init__(sandbox, callbacks, output_cap=output_cap, rg=rg)
        self.policy = policy or CommandPolicy()
        self.command_timeout_s = command_timeout_s
        self.pass_env = list(pass_env or [])  # agent.passEnv

    def tools(self) -> list[Tool]:
        out = [
            Tool(
                "read_file",
                "Read a text file of the workspace (the editor's unsaved text if "
                "it is open). Lines are 1-based; give startLine/endLine for a part of a large "
                "file.",
                schema(
                    {
                        "path": {"type": "string"},
                        "startLine": {"type": "integer"},
                        "endLine": {"type": "integer"},
                    },
                    ["path"],
                ),
                self.read_file,
            ),
            Tool(
                "list_files",
                "List files and directories under a workspace path, to find where code lives.",
                schema(
                    {
                        "path": {"type": "string"},
                        "depth": {"type": "integer"},
                        "glob": {"type": "string"},
                    }
                ),
                self.list_files,
            ),
            Tool(
                "search",
                "Search the workspace's files for text (or a regular expression "
                "with regex=true); returns path:line: text.",
                schema(
                    {
                        "query": {"type": "string"},
                        "path": {"type": "string"},
                        "regex": {"type": "boolean"},
                        "glob": {"type": "string"},
                        "limit": {"type": "integer"},
                    },
                    ["query"],
                ),
                self.search,
            ),
        ]
        if self.cb.apply_edit is not None:
            out.append(
                Tool(
                    "edit_file",
                    "Edit a file through the editor (the user can undo it): replace oldText, "
                    "which must occur exactly once unless replaceAll, with newText. Without "
                    "oldText, creates a new file (or with overwrite=true replaces its whole "
                    "text).",
                    schema(
                        {
                            "path": {"type": "string"},
                            "oldText": {"type": "string"},
                            "newText": {"type": "string"},
                            "replaceAll": {"type": "boolean"},
                            "overwrite": {"type": "boolean"},
                        },
                        ["path", "newText"],
                    ),
                    self.edit_file,
                )
            )
        if self.cb.confirm is not None:
            out.append(
                Tool(
                    "run_command",
                    "Run a shell command in the workspace after the user confirms "
                    "it; returns its exit code and output (tests, builds, linters).",
                    schema(
                        {
                            "command": {"type": "string"},
                            "cwd": {"type": "string"},
                            "timeoutS": {"type": "number"},
                        },
                        ["command"],
                    ),
                    self.run_command,
                )
            )
        if self.cb.recall is not None:
            out.append(
                Tool(
                    "recall_memory",
                    "Recall past episodes of this project similar to a query "
                    "(edits, commands and agent tasks the developer did before).",
                    schema({"query": {"type": "string"}, "k": {"type": "integer"}}, ["query"]),
                    self.recall_memory,
                )
            )
        if self.cb.apply_skill is not None:
            out.append(
                Tool(
                    "apply_skill",
                    "Apply a learned skill (a rewrite rule the developer taught "
                    "kenetic) to a file: scope here, file or workspace.",
                    schema(
                        {
                            "id": {"type": "string"},
                            "path": {"type": "string"},
                            "scope": {"type": "string", "enum": ["here", "file", "workspace"]},
                        },
                        ["id", "path"],
                    ),
                    self.apply_skill,
                )
            )
        return out

    # ------------------------------------------------------------------------- acting

    async def edit_file(self, args: dict[str, Any]) -> ToolResult:
        try:
            path = self.sandbox.resolve(args["path"], for_write=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True, dict(REFUSED))
        rel, uri = self.sandbox.relative(path), path.as_uri()
        new, old = str(args["newText"]), args.get("oldText")
        current = await asyncio.to_thread(self.current_text, path)
        if current is None:
            if old:
                return ToolResult(f"{rel} does not exist; omit oldText to create it", True)
            edit: dict[str, Any] = {
                "documentChanges": [
                    {"kind": "create", "uri": uri, "options": {"ignoreIfExists": True}},
                    {
                        "textDocument": {"uri": uri, "version": None},
                        "edits": [
                            {
                                "range": {
                                    "start": {"line": 0, "character": 0},
                                    "end": {"line": 0, "character": 0},
                                },
                                "newText": new,
                            }
                        ],
                    },
                ]
            }
            what = f"created {rel}"
        elif not old:
            if not args.get("overwrite"):
                return ToolResult(f"{rel} exists: give oldText to replace, or overwrite=true", True)
            edits = [
                {
                    "range": {
                        "start": {"line": 0, "character": 0},
                        "end": utf16_position(current, len(current)),
                    },
                    "newText": new,
                }
            ]
            edit, what = {"changes": {uri: edits}}, f"replaced the whole text of {rel}"
        else:
            starts = [m.start() for m in re.finditer(re.escape(old), current)]
            if not starts:
                return ToolResult(
                    f"oldText not found in {rel}; read the file again and copy the text exactly",
                    True,
                )
            if len(starts) > 1 and not args.get("replaceAll"):
                return ToolResult(
                    f"oldText occurs {len(starts)} times in {rel}; add context to "
                    "make it unique, or set replaceAll",
                    True,
                )
            edits = [
                {
                    "range": {
                        "start": utf16_position(current, s),
                        "end": utf16_position(current, s + len(old)),
                    },
                    "newText": new,
                }
                for s in starts
            ]
            edit, what = {"changes": {uri: edits}}, f"edited {rel} ({len(starts)} place(s))"
        applied = bool(await maybe_await(self.cb.apply_edit(edit))) if self.cb.apply_edit else False
        data = {"path": rel, "uri": uri, "applied": applied, "edit": edit}
        if not applied:
            return ToolResult(f"the editor did not apply the edit to {rel}", True, data)
        return ToolResult(what, data=data)

    async def run_command(self, args: dict[str, Any]) -> ToolResult:
        command = str(args["command"]).strip()
        data: dict[str, Any] = {"command": command, "exitCode": None}
        if not command:
            return ToolResult("an empty command", True, data)
        rule = self.policy.blocked(command)
        if rule is not None:
            data["blocked"] = True
            return ToolResult(
                f"refused: this command matches a blocked pattern ({rule}); it is "
                "not run and must not be retried in another form",
                True,
                data,
            )
        try:
            cwd = self.sandbox.resolve(args.get("cwd") or ".", must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True, {**data, **REFUSED})
        if not cwd.is_dir():
            return ToolResult(f"{args.get('cwd')} is not a directory", True, data)
        rel = self.sandbox.relative(cwd)
        assert self.cb.confirm is not None
        answer = await self.cb.confirm(
            f"kenetic agent wants to run in {rel}:\n{command}", [RUN, DONT_RUN]
        )
        data["confirmed"] = answer == RUN
        if answer != RUN:
            data["declined"] = True
            return ToolResult(
                "the user declined to run this command; do not run it again unless they ask",
                True,
                data,
            )
        timeout = min(float(args.get("timeoutS") or self.command_timeout_s), self.command_timeout_s)
        start = time.monotonic()
        code, output, timed_out = await _run_shell(
            command, cwd, timeout_s=timeout, output_cap=self.output_cap, pass_env=self.pass_env
        )
        data.update(
            exitCode=code, timedOut=timed_out, ms=round((time.monotonic() - start) * 1000, 1)
        )
        status = f"timed out after {timeout:g}s" if timed_out else f"exit code {code}"
        return ToolResult(f"{status}\n{output}".rstrip(), code != 0, data)

    async def recall_memory(self, args: dict[str, Any]) -> ToolResult:
        assert self.cb.recall is not None
        k = max(1, min(int(args.get("k") or 5), 20))
        items = await maybe_await(self.cb.recall(str(args["query"]), k))
        return ToolResult(
            text_result(items or "nothing similar in memory", self.output_cap),
            data={"count": len(items or [])},
        )

    async def apply_skill(self, args: dict[str, Any]) -> ToolResult:
        assert self.cb.apply_skill is not None
        try:
            path = self.sandbox.resolve(args["path"], must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True, dict(REFUSED))
        result = await maybe_await(
            self.cb.apply_skill(
                id=str(args["id"]), uri=path.as_uri(), scope=args.get("scope") or "here"
            )
        )
        ok = bool(result.get("applied", True)) if isinstance(result, dict) else bool(result)
        data = {"path": self.sandbox.relative(path), "applied": ok, "skillId": args["id"]}
        text = (
            json.dumps(result, default=str)
            if isinstance(result, dict)
            else ("applied" if ok else "the skill did not apply here")
        )
        return ToolResult(text, not ok, data)


def builtin_tools(sandbox: PathSandbox, callbacks: AgentCallbacks, **options: Any) -> list[Tool]:
    return BuiltinTools(sandbox, callbacks, **options).tools()
