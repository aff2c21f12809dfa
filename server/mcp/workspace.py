"""One workspace folder as `kenetic mcp` sees it: settings, sandbox, store, memory and skills.

The store is the one an editor's `kenetic serve` keeps for this folder, and that server may have
it open at the same time: it is opened only where it exists (never created: an MCP client
starting in the wrong folder must not leave a `.kenetic/` behind), in WAL like the server opens
it, so reads never wait on the server's writes. What this process writes is what `kenetic
memory recall` writes too: a recall reinforces the items it found and is kept as a moment.
Skills are read from the skill table at each call, so a skill the editor just learned counts.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from memory.recall.api import WorkspaceMemory
from memory.recall.items import ITEM_KINDS
from memory.recall.notes import notes_path
from memory.skills.skill_store import SkillStore, StoredSkill
from memory.skills.syntax import grammar_for
from memory.skills.templates import holes
from memory.store.database import Store, StoreError, project_store_path
from server.agent.sandbox import PathSandbox, SandboxError
from server.capture.privacy import IgnoreRules, redact
from server.settings import Settings, read_toml, resolve, user_config_path

log = logging.getLogger(__name__)

NOTES_CHARS = 60_000  # the notes resource, cut past this (KENETIC.md is meant to be short)
MAX_RECALL = 50
MAX_SKILLS = 500


class Refused(Exception):
    """What the calling agent is told instead of a result: one clear line."""


class McpWorkspace:
    """A workspace folder's knowledge for MCP tools; thread-safe (tools run on worker threads)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(os.path.realpath(folder))
        self.settings = _settings(self.folder)
        self.sandbox = PathSandbox([self.folder])
        self.ignore = IgnoreRules(self.folder, self.settings.capture.ignore)
        self.store_path = project_store_path(self.folder, self.settings.store.path or None)
        self._store: Store | None = None
        self._memory: WorkspaceMemory | None = None
        self._seen_version: int | None = None
        self._lock = threading.RLock()

    # -- the store, opened on first use ------------------------------------------------------

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                if not self.store_path.is_file():
                    raise Refused(
                        f"no kenetic store for {self.folder} (looked for {self.store_path}):"
                        " open the folder in an editor running `kenetic serve` first;"
                        " kenetic mcp never creates one"
                    )
                try:
                    self._store = Store(self.store_path, create=False)
                except (StoreError, OSError, sqlite3.Error) as exc:
                    raise Refused(f"the kenetic store cannot be opened: {exc}") from None
            return self._store

    def memory(self) -> WorkspaceMemory:
        """The folder's memory as the server builds it (its configured embedder), caught up
        with items the editor's server stored since the last call."""
        with self._lock:
            store = self.store()
            if self._memory is None:
                from server.features.memory import _embedder

                section = self.settings.memory
                self._memory = WorkspaceMemory(
                    store,
                    self.folder,
                    section.recall_settings(),
                    section.als_settings(),
                    embedder=_embedder(section.embedder),
                )
                self._seen_version = store.data_version()
            else:
                version = store.data_version()
                if version != self._seen_version:
                    self._memory.index.sync()  # items another process added or pruned
                    self._seen_version = version
                self._memory.refresh_notes()  # KENETIC.md edited since (a hash compare when not)
            return self._memory

    def close(self) -> None:
        with self._lock:
            if self._memory is not None:
                self._memory.close()
                self._memory = None
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- recall -------------------------------------------------------------------------------

    def recall(self, query: str, limit: int, kinds: list[str] | None) -> dict[str, Any]:
        if not query.strip():
            raise Refused("query is empty: say what to recall")
        unknown = sorted(set(kinds or ()) - set(ITEM_KINDS))
        if unknown:
            raise Refused(f"unknown kinds {unknown}: expected some of {', '.join(ITEM_KINDS)}")
        limit = max(1, min(limit, MAX_RECALL))
        with self._lock:
            # the query is kept in memory's moments: through the one redaction like any text
            found = self.memory().recall(
                redact(query, "query")[0], limit, kinds or None, trigger="mcp/recall_memory"
            )
        items = []
        for hit in found["items"]:
            item = hit["item"]
            items.append(
                {
                    "kind": item["kind"],
                    "text": redact(item["text"], "memory")[0],
                    "score": hit["score"],
                    "node": item["node"],
                    "uri": item["uri"],
                    "language": item["language"],
                    "createdAt": item["created_at"],
                }
            )
        return {"items": items}

    # -- skills -------------------------------------------------------------------------------

    def skills(self) -> list[StoredSkill]:
        try:
            return SkillStore(self.store()).load()
        except sqlite3.Error as exc:
            raise Refused(f"the skills could not be read: {exc}") from None

    def skill(self, skill_id: str) -> StoredSkill:
        wanted = skill_id.strip()
        if not wanted:
            raise Refused("id is empty: list_skills gives the ids")
        found = next((s for s in self.skills() if s.skill.id == wanted), None)
        if found is None:
            raise Refused(f"unknown skill id {wanted!r}: list_skills gives the ids")
        return found

    def usable(self, skill_id: str) -> StoredSkill:
        """A skill to find or apply: known, and not one the developer deleted."""
        stored = self.skill(skill_id)
        if stored.deleted:
            raise Refused(
                f"skill {skill_id} was deleted by the developer (muted): it is never applied"
            )
        return stored

    def list_skills(self, language: str | None, limit: int) -> dict[str, Any]:
        grammar = grammar_for(language) if language else None
        if language and grammar is None:
            raise Refused(f"unknown language {language!r}: use a language id such as python")
        chosen = [s for s in self.skills() if grammar is None or s.skill.language == grammar]
        # live skills first, the best supported first: the order kenetic/skills gives
        chosen.sort(key=lambda s: (s.deleted, -s.skill.support, s.skill.name))
        limit = max(1, min(limit, MAX_SKILLS))
        return {"skills": [summary(s) for s in chosen[:limit]], "total": len(chosen)}

    def skill_card(self, skill_id: str) -> dict[str, Any]:
        stored = self.skill(skill_id)
        return card(stored)

    # -- notes --------------------------------------------------------------------------------

    def notes(self) -> str:
        """KENETIC.md, redacted: the project notes the agent reads, for another agent."""
        try:
            path = self.sandbox.resolve(notes_path("project", self.folder).name)
        except SandboxError as exc:
            raise Refused(str(exc)) from None
        try:
            with path.open("rb") as f:
                data = f.read(NOTES_CHARS * 4 + 1)
        except FileNotFoundError:
            return (
                "<!-- no KENETIC.md in this workspace yet: `kenetic memory remember TEXT`"
                " starts one -->\n"
            )
        except OSError as exc:
            raise Refused(f"KENETIC.md cannot be read: {exc}") from None
        text = data.decode("utf-8", errors="replace")
        if len(text) > NOTES_CHARS:
            text = text[:NOTES_CHARS] + "\n\n… (cut: KENETIC.md is longer)\n"
        return redact(text, "KENETIC.md")[0]


def _settings(folder: Path) -> Settings:
    """The folder's settings from the user's and the project's config files (a client's
    initializationOptions do not exist here); bad values are logged and dropped."""
    user, errors = read_toml(user_config_path())
    project, more = read_toml(folder / ".kenetic" / "config.toml")
    settings, invalid = resolve([user, project])
    for message in [*errors, *more, *invalid]:
        log.warning("%s", message)
    return settings


def summary(stored: StoredSkill) -> dict[str, Any]:
    skill = stored.skill
    return {
        "id": skill.id,
        "name": skill.name,
        "language": skill.language,
        "support": skill.support,
        "neededSupport": skill.needed_support(),
        "trusted": skill.support >= skill.needed_support(),
        "outcomes": stored.outcomes.to_json(),
        "muted": stored.deleted,
    }


def card(stored: StoredSkill) -> dict[str, Any]:
    """A skill's card for another agent: the rewrite as pattern text, its holes and guards, and
    how many examples taught it. Never the examples' text (the edits it was mined from)."""
    skill = stored.skill
    before = {n: t for p in skill.before_template["parts"] for n, t in holes(p).items()}
    after = {n: t for p in skill.after_template["parts"] for n, t in holes(p).items()}
    derived = skill.after_template.get("derive") or {}
    return {
        **summary(stored),
        "before": redact(skill.pattern_text("before"), "skill")[0],
        "after": redact(skill.pattern_text("after"), "skill")[0],
        "holes": [
            {
                "name": name,
                "nodeType": before.get(name) or after.get(name),
                "inBefore": name in before,
                "inAfter": name in after or any(src == name for src, _ in derived.values()),
            }
            for name in sorted({*before, *after})
        ],
        "guards": {
            "root": skill.root,
            "mode": skill.mode,
            "unusedNames": skill.unused_holes,
            # in every example the hole's text did (present) or did not use a word the edit
            # added or removed (a parameter dropped only where the body never uses it)
            "uses": [{"hole": h, "word": w, "present": bool(p)} for h, w, p in skill.uses],
            # a hole moved between a string and code held this class of literal in every example
            "literals": [{"hole": h, "class": c} for h, c in skill.literals],
            "returns": skill.before_template.get("returns"),
        },
        "examples": len(skill.examples),
        "specificity": round(skill.specificity, 3),
        "createdAt": stored.created_at,
        "updatedAt": stored.updated_at,
    }
