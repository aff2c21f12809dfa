"""The built-in tools that only read: read_file, list_files and search.

Paths go through the `PathSandbox`; open documents are read as the editor has them (unsaved
text included); secret-looking files are never listed or searched. `search` uses ripgrep when
it is on PATH, else a Python scan.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.agent.sandbox import PathSandbox, SandboxError, cap, is_secret_name
from server.agent.tools import AgentCallbacks, ToolResult, read_text

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


class ReadingTools:
    """read_file, list_files and search over a sandbox (the base of BuiltinTools)."""

    def __init__(
        self,
        sandbox: PathSandbox,
        callbacks: AgentCallbacks,
        *,
        output_cap: int = 16_000,
        rg: str | None = "auto",
    ) -> None:
        self.sandbox = sandbox
        self.cb = callbacks
        self.output_cap = output_cap
        self.rg = shutil.which("rg") if rg == "auto" else rg

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


def _files(base: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name
