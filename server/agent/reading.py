"""The built-in tools that only read: read_file, list_files and search.

Paths go through the `PathSandbox`; open documents are read as the editor has them (unsaved
text included); secret-looking files are never listed or searched. `search` uses ripgrep when
it is on PATH, else a Python scan. The scan judges every file it opens by the sandbox (a symlink
to a file outside the workspace is skipped), opens regular files only (a FIFO would block it
forever) and matches with the `regex` package under a deadline: it releases the GIL while it
matches, so the server keeps answering, and a catastrophic pattern (`(a|aa)+c`) ends in an error
for the model instead of a frozen server.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import regex

from server.agent.sandbox import PathSandbox, SandboxError, cap, is_secret_name
from server.agent.tools import REFUSED, AgentCallbacks, ToolResult, read_text
from server.capture.privacy import SECRET_FILE_PATTERNS

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


SEARCH_TIMEOUT_S = 20.0  # the whole Python scan, every file's matching included


class SearchTimeout(Exception):
    """The scan ran past its deadline (most often a pattern that backtracks catastrophically)."""


class ReadingTools:
    """read_file, list_files and search over a sandbox (the base of BuiltinTools)."""

    def __init__(
        self,
        sandbox: PathSandbox,
        callbacks: AgentCallbacks,
        *,
        output_cap: int = 16_000,
        rg: str | None = "auto",
        search_timeout_s: float = SEARCH_TIMEOUT_S,
    ) -> None:
        self.sandbox = sandbox
        self.cb = callbacks
        self.output_cap = output_cap
        self.rg = shutil.which("rg") if rg == "auto" else rg
        self.search_timeout_s = search_timeout_s

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
            return ToolResult(str(exc), True, dict(REFUSED))
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
            return ToolResult(str(exc), True, dict(REFUSED))
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
                if is_secret_name(here / name) or (glob and not fnmatch.fnmatch(name, glob)):
                    continue
                out.append(self.sandbox.relative(here / name))
            if len(out) >= limit:
                return out[:limit] + [f"… (more than {limit}; narrow path or glob)"]
        return out

    async def search(self, args: dict[str, Any]) -> ToolResult:
        try:
            base = self.sandbox.resolve(args.get("path") or ".", must_exist=True)
        except SandboxError as exc:
            return ToolResult(str(exc), True, dict(REFUSED))
        query, is_regex = str(args["query"]), bool(args.get("regex"))
        limit = max(1, min(int(args.get("limit") or 50), 500))
        try:
            pattern = regex.compile(query if is_regex else regex.escape(query))
        except regex.error as exc:
            return ToolResult(f"invalid regular expression: {exc}", True)
        if self.rg:
            hits = await self._rg(query, is_regex, base, args.get("glob"), limit)
        else:
            try:
                hits = await asyncio.to_thread(self._grep, pattern, base, args.get("glob"), limit)
            except SearchTimeout:
                return ToolResult(
                    f"search stopped after {self.search_timeout_s:g}s: the pattern is too slow "
                    "(nested repetition backtracks); simplify it or narrow the path",
                    True,
                )
        text = "\n".join(hits[:limit]) or "no matches"
        if len(hits) > limit:
            text += f"\n… (more than {limit} matches)"
        return ToolResult(
            cap(text, self.output_cap),
            data={"matches": min(len(hits), limit), "engine": "rg" if self.rg else "python"},
        )

    async def _rg(
        self, query: str, is_regex: bool, base: Path, glob: str | None, limit: int
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
        argv += [] if is_regex else ["--fixed-strings"]
        # capture's one list of secret files (ripgrep reads gitignore-style globs too)
        for skip in (*SKIP_DIRS, *SECRET_FILE_PATTERNS):
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
            if is_secret_name(path):
                continue
            hits.append(f"{self.sandbox.relative(Path(path))}:{rest}")
        return hits

    def _grep(self, pattern: Any, base: Path, glob: str | None, limit: int) -> list[str]:
        """The Python scan; SearchTimeout past the deadline."""
        hits: list[str] = []
        deadline = time.monotonic() + self.search_timeout_s
        for found in [base] if base.is_file() else _files(base):
            if is_secret_name(found) or (glob and not fnmatch.fnmatch(found.name, glob)):
                continue
            path = self._searchable(found)
            if path is None:
                continue
            try:
                text = read_text(path, 1_000_000)
            except (OSError, ValueError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SearchTimeout()
                try:
                    matched = pattern.search(line, timeout=left)
                except TimeoutError:
                    raise SearchTimeout() from None
                if matched:
                    hits.append(f"{self.sandbox.relative(path)}:{number}:{line[:300]}")
                    if len(hits) > limit:
                        return hits
        return hits

    def _searchable(self, found: Path) -> Path | None:
        """The real path of a file the scan may open: inside the sandbox (where a symlink
        leads), not a secret, and a regular file (a FIFO or device would block or never end)."""
        try:
            real = self.sandbox.resolve(str(found))
            mode = os.stat(real).st_mode
        except (SandboxError, OSError):
            return None
        return real if stat.S_ISREG(mode) else None


def _files(base: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name
