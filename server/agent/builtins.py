"""The built-in tools: read, list, search, edit (via the editor), run (with confirmation), memory.

`builtin_tools(...)` returns the tools whose callbacks the server supplied; paths go through the
`PathSandbox`, commands through the `CommandPolicy` and then the user's confirmation.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.agent.sandbox import CommandPolicy, PathSandbox, SandboxError, cap, is_secret_name
from server.agent.sandbox import run_shell as _run_shell
from server.agent.tools import (
    AgentCallbacks,
    Tool,
    ToolResult,
    maybe_await,
    read_text,
    schema,
    text_result,
    utf16_position,
)

SKIP_DIRS = {
    ".git",
    ".kenetic",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".tox",
    "dist",
    "build",
    "target",
    ".idea",
}
RUN = "Run"
DONT_RUN = "Don't run"


class BuiltinTools:
    def __init__(
        self,
        sandbox: PathSandbox,
        callbacks: AgentCallbacks,
        *,
        policy: CommandPolicy | None = None,
        command_timeout_s: float = 120.0,
        output_cap: int = 16_000,
        rg: str | None = "auto",
    ) -> None:
        self.sandbox = sandbox
        self.cb = callbacks
        self.policy = policy or CommandPolicy()
        self.command_timeout_s = command_timeout_s
        self.output_cap = output_cap
        self.rg = shutil.which("rg") if rg == "auto" else rg

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

    # ------------------------------------------------------------------------- reading

    def current_text(self, path: Path) -> str | None:
        if self.cb.document_text is not None:
            text = self.cb.document_text(path.as_uri())
            if text is not None:
                return text
        return read_text(path) if path.is_file() else None

    async def read_file(self, args: dict[str, Any]) -> ToolResult:
        try:
            path = self.sandbox.resolve(args["path"], must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True)
        if path.is_dir():
            return ToolResult(f"{args['path']} is a directory; use list_files", True)
        text = await asyncio.to_thread(self.current_text, path) or ""
        lines = text.splitlines(keepends=True)
        start = max(1, int(args.get("startLine") or 1))
        end = min(len(lines), int(args.get("endLine") or len(lines)))
        body = "".join(lines[start - 1 : end])
        rel = self.sandbox.relative(path)
        note = ""
        if len(body) > self.output_cap:
            body = body[: self.output_cap]
            note = "\n… [cut: read a smaller part with startLine/endLine]"
        header = f"{rel} (lines {start}-{end} of {len(lines)})\n"
        return ToolResult(header + body + note, data={"path": rel})

    async def list_files(self, args: dict[str, Any]) -> ToolResult:
        try:
            base = self.sandbox.resolve(args.get("path") or ".", must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True)
        depth = max(1, min(int(args.get("depth") or 2), 8))
        glob = args.get("glob")
        entries = await asyncio.to_thread(self._walk, base, depth, glob, 500)
        return ToolResult("\n".join(entries) or "(empty)", data={"count": len(entries)})

    def _walk(self, base: Path, depth: int, glob: str | None, limit: int) -> list[str]:
        out: list[str] = []
        base_depth = len(base.parts)
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            level = len(here.parts) - base_depth
            if level + 1 >= depth:
                for d in dirnames:
                    out.append(self.sandbox.relative(here / d) + "/")
                dirnames[:] = []
            for name in sorted(filenames):
                if is_secret_name(name) or (glob and not fnmatch.fnmatch(name, glob)):
                    continue
                out.append(self.sandbox.relative(here / name))
            if len(out) >= limit:
                return out[:limit] + [f"… (more than {limit}; narrow path or glob)"]
        return out

    async def search(self, args: dict[str, Any]) -> ToolResult:
        try:
            base = self.sandbox.resolve(args.get("path") or ".", must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True)
        query, regex = str(args["query"]), bool(args.get("regex"))
        limit = max(1, min(int(args.get("limit") or 50), 500))
        try:
            pattern = re.compile(query if regex else re.escape(query))
        except re.error as exc:
            return ToolResult(f"invalid regular expression: {exc}", True)
        if self.rg:
            hits = await self._rg(query, regex, base, args.get("glob"), limit)
        else:
            hits = await asyncio.to_thread(self._grep, pattern, base, args.get("glob"), limit)
        text = "\n".join(hits[:limit]) or "no matches"
        if len(hits) > limit:
            text += f"\n… (more than {limit} matches)"
        return ToolResult(
            cap(text, self.output_cap),
            data={"matches": min(len(hits), limit), "engine": "rg" if self.rg else "python"},
        )

    async def _rg(
        self, query: str, regex: bool, base: Path, glob: str | None, limit: int
    ) -> list[str]:
        argv = [
            self.rg or "rg",
            "--line-number",
            "--with-filename",
            "--no-heading",
            "--color",
            "never",
            "--max-columns",
            "300",
            "--max-count",
            "50",
        ]
        argv += [] if regex else ["--fixed-strings"]
        for skip in (*SKIP_DIRS, ".env*", "*.pem", "*.key", "id_*"):
            argv += ["--glob", f"!{skip}"]
        if glob:
            argv += ["--glob", glob]
        argv += ["-e", query, "--", str(base)]
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return ["search timed out; narrow the path"]
        hits = []
        for line in out.decode(errors="replace").splitlines()[: limit + 1]:
            path, _, rest = line.partition(":")
            hits.append(f"{self.sandbox.relative(Path(path))}:{rest}")
        return hits

    def _grep(
        self, pattern: re.Pattern[str], base: Path, glob: str | None, limit: int
    ) -> list[str]:
        hits: list[str] = []
        for path in [base] if base.is_file() else _files(base):
            if is_secret_name(path.name) or (glob and not fnmatch.fnmatch(path.name, glob)):
                continue
            try:
                text = read_text(path, 1_000_000)
            except (OSError, ValueError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if pattern.search(line):
                    hits.append(f"{self.sandbox.relative(path)}:{number}:{line[:300]}")
                    if len(hits) > limit:
                        return hits
        return hits

    # ------------------------------------------------------------------------- acting

    async def edit_file(self, args: dict[str, Any]) -> ToolResult:
        try:
            path = self.sandbox.resolve(args["path"], for_write=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True)
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
            return ToolResult(str(exc), True, data)
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
            command, cwd, timeout_s=timeout, output_cap=self.output_cap
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
            return ToolResult(str(exc), True)
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


def _files(base: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def builtin_tools(sandbox: PathSandbox, callbacks: AgentCallbacks, **options: Any) -> list[Tool]:
    return BuiltinTools(sandbox, callbacks, **options).tools()
