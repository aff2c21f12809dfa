"""Notes: the human-readable memory, in Markdown files the developer can edit by hand.

`KENETIC.md` at the workspace root holds project notes, `$XDG_CONFIG_HOME/kenetic/user.md`
(default `~/.config/kenetic/user.md`) the user's own. Each file is split at its Markdown
headings into sections; every non-empty section becomes a pinned `note` memory item (ref
`<scope>:<heading path>`), re-read when the file changes and dropped when its section goes.

`remember` appends a line under a heading, creating the heading at the end of the file when it
is missing; every other byte of the file stays as it was. A nanobot-style `memory/MEMORY.md`
and `memory/HISTORY.md` found in the workspace is imported once as notes; the store remembers
the import (key `notes.imported`) so it is never repeated, even after the files change.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memory.recall.index import MemoryIndex
from memory.recall.items import MemoryItem
from memory.store.schema import get_state, put_state

Scope = Literal["project", "user"]
PROJECT_FILE = "KENETIC.md"
DEFAULT_HEADING = "Notes"
NANOBOT_FILES = ("memory/MEMORY.md", "memory/HISTORY.md")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


@dataclass
class NoteSection:
    scope: str  # "project", "user" or "nanobot"
    path: Path
    heading: str  # "" for the text before the first heading
    heading_path: str  # parent headings joined with " / "
    level: int  # 0 for the preamble
    text: str  # the section's own body, headings of sub-sections excluded
    line: int  # 0-based line of the heading (or 0)

    @property
    def ref(self) -> str:
        return f"{self.scope}:{self.heading_path or '(top)'}"


def user_notes_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(config) / "kenetic" / "user.md"


def notes_path(scope: Scope, workspace: Path | None = None) -> Path:
    if scope == "user":
        return user_notes_path()
    if scope == "project":
        if workspace is None:
            raise ValueError("project notes need a workspace folder")
        return workspace / PROJECT_FILE
    raise ValueError(f"unknown notes scope {scope!r}: expected project or user")


def split_sections(text: str, path: Path, scope: str) -> list[NoteSection]:
    """Split Markdown at ATX headings (not inside fenced code) into sections."""
    lines = text.splitlines()
    sections: list[NoteSection] = []
    stack: list[tuple[int, str]] = []
    heading, level, start = "", 0, 0
    body: list[str] = []
    in_fence = False

    def close() -> None:
        content = "\n".join(body).strip()
        if content:
            hp = " / ".join(h for _, h in stack)
            sections.append(NoteSection(scope, path, heading, hp, level, content, start))

    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m is None:
            body.append(line)
            continue
        close()
        level, heading, start, body = len(m.group(1)), m.group(2).strip(), i, []
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading))
    close()
    return sections


def read_notes(workspace: Path | None) -> list[NoteSection]:
    """The sections of KENETIC.md (when a workspace is given) and of user.md, if present."""
    out: list[NoteSection] = []
    for scope in ("project", "user"):
        if scope == "project" and workspace is None:
            continue
        path = notes_path(scope, workspace)  # type: ignore[arg-type]
        if path.is_file():
            out += split_sections(path.read_text(encoding="utf-8", errors="replace"), path, scope)
    return out


def _note_text(section: NoteSection) -> str:
    return f"{section.heading_path}\n{section.text}" if section.heading_path else section.text


def sync_notes(index: MemoryIndex, workspace: Path | None) -> dict[str, int]:
    """Index the notes files: new and changed sections in, vanished sections out."""
    sections = read_notes(workspace)
    have = {
        r["ref_id"]: (r["id"], r["data"])
        for r in index.store.query(
            "SELECT id, ref_id, data FROM memory_items WHERE kind = 'note'"
            # only sections read from notes files carry a ref: a note stored through
            # kenetic/memory/store (source "user", no ref) is not the files' to remove
            " AND source IN ('project', 'user') AND ref_id IS NOT NULL"
        )
    }
    seen: set[str] = set()
    added = changed = 0
    for section in sections:
        seen.add(section.ref)
        text = _note_text(section)
        digest = hashlib.sha1(text.encode()).hexdigest()[:16]
        old = have.get(section.ref)
        if old is not None and digest in old[1]:
            continue
        index.add(
            MemoryItem(
                kind="note",
                ref_id=section.ref,
                text=text,
                source=section.scope,
                uri=section.path.as_uri(),
                importance=0.8,
                pinned=True,
                data={"sha": digest, "heading": section.heading, "line": section.line},
            ),
            gate=False,
        )
        added += old is None
        changed += old is not None
    # without a workspace only user notes were read: project notes are left alone
    read = ("project:", "user:") if workspace is not None else ("user:",)
    gone = [i for ref, (i, _) in have.items() if ref.startswith(read) and ref not in seen]
    removed = index.delete(gone) if gone else 0
    return {"added": added, "changed": changed, "removed": removed}


def remember(
    text: str,
    heading: str | None = None,
    scope: Scope = "project",
    workspace: Path | None = None,
) -> Path:
    """Append `text` under `heading` in the notes file of `scope`; returns the file.

    The heading is found at any level (case-insensitively) and the text goes at the end of its
    own body, before the next heading; a missing heading is added as `## heading` at the end of
    the file. Single-line text becomes a `- ` bullet. Nothing else in the file changes.
    """
    text = text.strip()
    if not text:
        raise ValueError("nothing to remember: the text is empty")
    heading = (heading or DEFAULT_HEADING).strip()
    if "\n" in heading or not heading:
        raise ValueError("a heading is one non-empty line")
    path = notes_path(scope, workspace)
    raw = path.read_bytes().decode("utf-8") if path.exists() else ""
    newline = "\r\n" if "\r\n" in raw else "\n"
    entry = text if "\n" in text or text.startswith(("-", "*", "#", ">")) else f"- {text}"
    entry = entry.replace("\r\n", "\n").replace("\n", newline)
    lines = raw.splitlines(keepends=True)
    target = next(
        (s for s in _headings(raw, path, scope) if s.heading.lower() == heading.lower()), None
    )
    if target is None:
        sep = "" if not raw or raw.endswith(("\n", "\r")) else newline
        blank = newline if raw.strip() else ""
        out = f"{raw}{sep}{blank}## {heading}{newline}{newline}{entry}{newline}"
    else:
        end = _section_end(lines, target.line)
        # after the last non-blank line of the section's body, keeping the blank lines after it
        insert_at = end
        while insert_at > target.line + 1 and not lines[insert_at - 1].strip():
            insert_at -= 1
        before = "".join(lines[:insert_at])
        if before and not before.endswith(("\n", "\r")):
            before += newline
        if insert_at == target.line + 1:
            before += newline  # first entry under a bare heading: a blank line after it
        out = before + entry + newline + "".join(lines[insert_at:])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(out.encode("utf-8"))
    os.replace(tmp, path)
    return path


def _headings(raw: str, path: Path, scope: str) -> list[NoteSection]:
    """Every heading of a file, bodies left empty (split_sections skips empty sections)."""
    out: list[NoteSection] = []
    in_fence = False
    for i, line in enumerate(raw.splitlines()):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(line)
        if m:
            out.append(NoteSection(scope, path, m.group(2).strip(), "", len(m.group(1)), "", i))
    return out


def _section_end(lines: list[str], heading_line: int) -> int:
    """Index of the first line after a section's own body (the next heading, or the end)."""
    in_fence = False
    for i in range(heading_line + 1, len(lines)):
        if _FENCE.match(lines[i]):
            in_fence = not in_fence
        if not in_fence and _HEADING.match(lines[i].rstrip("\r\n")):
            return i
    return len(lines)


def import_nanobot(index: MemoryIndex, workspace: Path) -> dict[str, int]:
    """Import nanobot's memory/MEMORY.md and memory/HISTORY.md once; {file: items} imported."""
    imported = get_state(index.store, "notes.imported", {})
    if not isinstance(imported, dict):
        imported = {}
    done: dict[str, int] = {}
    for rel in NANOBOT_FILES:
        path = workspace / rel
        if rel in imported or not path.is_file():
            continue
        raw = path.read_text(encoding="utf-8", errors="replace")
        sections = split_sections(raw, path, "nanobot")
        if rel.endswith("HISTORY.md") and len(sections) <= 1:
            # nanobot's history is a log of paragraphs ("[2025-01-02 10:00] ..."), not headings
            sections = [
                NoteSection("nanobot", path, "", "", 0, para.strip(), 0)
                for para in re.split(r"\n\s*\n", raw)
                if para.strip()
            ]
        count = 0
        for n, section in enumerate(sections):
            _, stored = index.add(
                MemoryItem(
                    kind="note",
                    ref_id=f"nanobot:{rel}#{n}",
                    text=_note_text(section),
                    source="nanobot",
                    uri=path.as_uri(),
                    importance=0.5,
                    data={"heading": section.heading, "file": rel},
                )
            )
            count += stored
        done[rel] = count
        imported[rel] = {"at": time.time(), "items": count, "sections": len(sections)}
        put_state(index.store, "notes.imported", imported)
    return done
