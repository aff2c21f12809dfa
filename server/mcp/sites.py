"""Where a skill applies in a file or folder, the edits it makes, and writing them.

Files go through the agent's sandbox (server.agent.sandbox): inside the workspace, where a
symlink really leads; never `.git/`, `.kenetic/` or a secrets file. A folder is walked as the
agent's list_files walks it, and also skips what the folder's ignore rules keep from capture
(`.gitignore`, `.kenetic/ignore`, `capture.ignore`). A file is read as the agent's read_file
reads it (2 MB at most, not binary), and must be UTF-8: a rewrite written back into a file
decoded with replacement characters would corrupt it.

Writing: each file is written to a temporary file beside it and renamed over it, so a crash
leaves the old file or the new one, never half of each; a file whose bytes changed since they
were read (here, or since the `sha256` a dry run reported) is left alone and reported.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from memory.skills.matching import Match
from memory.skills.syntax import grammar_for
from server.agent.reading import SKIP_DIRS
from server.agent.sandbox import SandboxError, is_secret_name
from server.mcp.workspace import McpWorkspace, Refused
from server.suggest.documents import line_offsets, offset_of, split_lines
from server.suggest.sites import in_text

MAX_FILE_BYTES = 2_000_000  # the agent's read_file limit (server.agent.tools.read_text)
MAX_FILES = 2_000  # files of the skill's language read in one folder walk
TIME_BUDGET_S = 30.0  # one call's matching, whole folder
MAX_SITES = 1_000


class Source:
    """One file's text as read, with what identifies that version of it."""

    def __init__(self, path: Path, rel: str, data: bytes) -> None:
        self.path = path
        self.rel = rel
        self.sha256 = hashlib.sha256(data).hexdigest()
        try:
            self.text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused(f"{rel}: not UTF-8 text") from None
        self.lines = split_lines(self.text)
        self.offsets = line_offsets(self.lines)

    def offset(self, line: int, char: int) -> int:
        return offset_of(self.offsets, line, char)


def read_source(ws: McpWorkspace, path: Path) -> Source:
    rel = ws.sandbox.relative(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{rel}: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise Refused(f"{rel}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise Refused(f"{rel}: cannot be read: {exc.strerror or exc}") from None
    if b"\x00" in data[:8192]:
        raise Refused(f"{rel}: looks binary")
    return Source(path, rel, data)


def _target(ws: McpWorkspace, path: str) -> Path:
    try:
        return ws.sandbox.resolve(path, must_exist=True)
    except SandboxError as exc:
        raise Refused(str(exc)) from None


def _walk(ws: McpWorkspace, base: Path, language: str) -> tuple[list[Path], int]:
    """Files of the language under a folder that a walk may read; (files, how many more there
    were past MAX_FILES)."""
    found: list[Path] = []
    more = 0
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not ws.ignore.ignored(here / d)
        )
        for name in sorted(filenames):
            if grammar_for(None, name) != language or is_secret_name(here / name):
                continue
            try:
                real = ws.sandbox.resolve(str(here / name))  # a symlink leading outside: no
            except SandboxError:
                continue
            if ws.ignore.ignored(here / name):
                continue
            if len(found) >= MAX_FILES:
                more += 1
                continue
            found.append(real)
    return found, more


def _sites(skill: Any, src: Source, deadline: float) -> tuple[list[Match], bool]:
    """The skill's sites in one file, overlapping ones dropped (the first kept); complete?"""
    found, complete = in_text([skill], skill.language, src.text, lines=src.lines, deadline=deadline)
    kept: list[Match] = []
    end = -1
    for m in sorted(found, key=lambda m: (m.start_line, m.start_char, m.end_line, m.end_char)):
        start = src.offset(m.start_line, m.start_char)
        if start < end:
            continue
        kept.append(m)
        end = src.offset(m.end_line, m.end_char)
    return kept, complete


def _site_json(src: Source, m: Match) -> dict[str, Any]:
    start, end = src.offset(m.start_line, m.start_char), src.offset(m.end_line, m.end_char)
    return {
        "path": src.rel,
        "range": {
            "start": {"line": m.start_line, "character": m.start_char},
            "end": {"line": m.end_line, "character": m.end_char},
        },
        "text": src.text[start:end],
        "replacement": m.new_text,
    }


def plan(ws: McpWorkspace, skill_id: str, path: str, limit: int = MAX_SITES) -> dict[str, Any]:
    """Every site of a skill under a path, per file: what find_sites and apply_skill answer."""
    skill = ws.usable(skill_id).skill
    target = _target(ws, path)
    skipped: list[dict[str, str]] = []
    if target.is_dir():
        files, more = _walk(ws, target, skill.language)
        if more:
            skipped.append({"path": ws.sandbox.relative(target), "reason": f"{more} more files"})
    else:
        if grammar_for(None, target.name) != skill.language:
            raise Refused(
                f"{ws.sandbox.relative(target)} is not a {skill.language} file; skill"
                f" {skill.id} rewrites {skill.language}"
            )
        files = [target]
    deadline = time.monotonic() + TIME_BUDGET_S
    out: list[dict[str, Any]] = []
    total, truncated = 0, bool(skipped)
    for file in files:
        if time.monotonic() > deadline or total >= limit:
            truncated = True
            break
        try:
            src = read_source(ws, file)
        except Refused as exc:
            if not target.is_dir():
                raise
            skipped.append({"path": ws.sandbox.relative(file), "reason": str(exc)})
            continue
        sites, complete = _sites(skill, src, deadline)
        truncated = truncated or not complete
        sites = sites[: limit - total]
        total += len(sites)
        if sites:
            out.append({"source": src, "matches": sites})
    return {
        "skillId": skill.id,
        "path": ws.sandbox.relative(target),
        "files": out,
        "scanned": len(files),
        "truncated": truncated,
        "skipped": skipped,
    }


def found_json(found: dict[str, Any]) -> dict[str, Any]:
    """find_sites' answer: the sites of every file, flat."""
    sites = [_site_json(f["source"], m) for f in found["files"] for m in f["matches"]]
    return {
        "skillId": found["skillId"],
        "path": found["path"],
        "sites": sites,
        "filesScanned": found["scanned"],
        "truncated": found["truncated"],
        "skipped": found["skipped"],
    }


def rewritten(src: Source, matches: list[Match]) -> str:
    """The file's text with every (non-overlapping) rewrite applied, the last first."""
    text = src.text
    for m in sorted(matches, key=lambda m: (m.start_line, m.start_char), reverse=True):
        start, end = src.offset(m.start_line, m.start_char), src.offset(m.end_line, m.end_char)
        text = text[:start] + m.new_text + text[end:]
    return text


def apply(
    ws: McpWorkspace,
    skill_id: str,
    path: str,
    *,
    write: bool,
    expected: dict[str, str] | None = None,
    limit: int = MAX_SITES,
) -> dict[str, Any]:
    """The edits of a skill under a path; with write, each file rewritten atomically unless it
    changed since it was read (or differs from the sha256 `expected` gives for its path)."""
    found = plan(ws, skill_id, path, limit)
    files = []
    for f in found["files"]:
        src: Source = f["source"]
        new_text = rewritten(src, f["matches"])
        new_data = new_text.encode("utf-8")
        entry: dict[str, Any] = {
            "path": src.rel,
            "sha256": src.sha256,
            "newSha256": hashlib.sha256(new_data).hexdigest(),
            "edits": [_site_json(src, m) for m in f["matches"]],
            "written": False,
        }
        want = (expected or {}).get(src.rel)
        if write and want is not None and want != src.sha256:
            entry["reason"] = "changed since the dry run (its sha256 differs); not written"
        elif write:
            entry["reason"] = _write(src, new_data)
            entry["written"] = entry["reason"] is None
        if entry.get("reason") is None:
            entry.pop("reason", None)
        files.append(entry)
    return {
        "skillId": found["skillId"],
        "path": found["path"],
        "applied": any(f["written"] for f in files),
        "files": files,
        "edits": sum(len(f["edits"]) for f in files),
        "truncated": found["truncated"],
        "skipped": found["skipped"],
    }


def _write(src: Source, data: bytes) -> str | None:
    """Replace the file's bytes atomically; why not, or None once written."""
    try:
        if hashlib.sha256(src.path.read_bytes()).hexdigest() != src.sha256:
            return "changed since it was read; not written (ask again)"
        mode = stat.S_IMODE(os.stat(src.path).st_mode)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{src.path.name}.", suffix=".kenetic", dir=src.path.parent
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            # the last look before the rename: an editor that saved meanwhile wins
            if hashlib.sha256(src.path.read_bytes()).hexdigest() != src.sha256:
                return "changed since it was read; not written (ask again)"
            os.replace(tmp, src.path)
            tmp = ""
        finally:
            if tmp:
                os.unlink(tmp)
        _sync_dir(src.path.parent)
    except OSError as exc:
        return f"not written: {exc.strerror or exc}"
    return None


def _sync_dir(folder: Path) -> None:
    """The rename itself survives a crash once its folder is synced (where the OS allows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
