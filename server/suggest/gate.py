"""Whether a document may be offered suggestions now, and the sites the developer dismissed.

- Settings (per folder): `suggest.enabled`, `suggest.disabledLanguages` (languageIds) and
  `suggest.disabledGlobs` (matched against the workspace-relative path).
- kenetic.toggleSuggestions: this session's switch for every document, and one per document;
  an explicit switch wins over the settings, a document's over the session's.
- Dismissed sites: a suggestion the developer rejected (kenetic.recordOutcome "rejected") is
  never offered again in this session, by next edits, code actions or inline completions. A
  site is its document, skill, rewrite and the text of its line, so it stays dismissed when
  edits above it move its line.
- Undoing the developer: a rewrite that would put back what one of the developer's recent edits
  replaced (server.suggest.recent) is never offered either. `blocked` is the one test every
  kind of suggestion passes before it is offered.

Capture is not affected (capture.enabled is its own setting).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote

from memory.skills.syntax import grammar_for
from server.suggest.recent import RecentEdits
from server.workspaces import uri_to_path

if TYPE_CHECKING:
    from memory.skills.matching import Match
    from server.suggest.outcomes import Suggestion
    from server.workspaces import Folder

# (document uri, skill id, new text, the text of the site's first line)
DismissedSite = tuple[str, str, str, str]


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over "/"-separated relative paths: `*` and `?` stay within a folder,
    `**` spans folders, and a pattern without "/" matches a name in any folder."""
    pattern = pattern.strip().lstrip("/")
    if "/" not in pattern.rstrip("/"):
        pattern = "**/" + pattern
    out, k = "", 0
    while k < len(pattern):
        if pattern.startswith("**/", k):
            out, k = out + "(?:.*/)?", k + 3
        elif pattern.startswith("**", k):
            out, k = out + ".*", k + 2
        elif pattern[k] == "*":
            out, k = out + "[^/]*", k + 1
        elif pattern[k] == "?":
            out, k = out + "[^/]", k + 1
        else:
            out, k = out + re.escape(pattern[k]), k + 1
    return re.compile(out.rstrip("/") + r"\Z")


def glob_matches(patterns: list[str], relative: str) -> bool:
    """Does any pattern match the path or one of the folders it lies in?"""
    if not patterns:
        return False
    path = PurePosixPath(relative)
    candidates = [str(path), *(str(p) for p in path.parents if str(p) != ".")]
    return any(glob_regex(g).match(c) for g in patterns if g.strip() for c in candidates)


class Gate:
    def __init__(
        self,
        folder_for: Callable[[str], Folder | None],
        language_of: Callable[[str], str | None],
        folders: Callable[[], list[Folder]],
    ) -> None:
        self.folder_for = folder_for
        self.folders = folders
        self.language_of = language_of  # an open document's languageId, or None
        self.session: bool | None = None  # kenetic.toggleSuggestions without a uri
        self.documents: dict[str, bool] = {}  # ... with one
        self._dismissed: set[DismissedSite] = set()
        self._lock = threading.Lock()
        self.recent = RecentEdits()  # fed by SuggestService.on_change

    # -- on or off ----------------------------------------------------------------------------

    def allows(self, uri: str) -> bool:
        """May this document be offered suggestions now?"""
        key = unquote(uri)
        switched = self.documents.get(key)
        if switched is not None:
            return switched
        if self.session is not None:
            return self.session
        return self.by_settings(key)

    def by_settings(self, uri: str) -> bool:
        folder = self.folder_for(uri)
        if folder is None:
            return True
        s = folder.settings.suggest
        if not s.enabled:
            return False
        path = uri_to_path(uri)
        if s.disabled_languages:
            ids = {self.language_of(uri), grammar_for(None, path.name) if path else None}
            if {x.lower() for x in ids if x} & {x.lower() for x in s.disabled_languages}:
                return False
        if s.disabled_globs and path is not None:
            rel = path.as_posix()
            if folder.path is not None and folder.path in path.parents:
                rel = path.relative_to(folder.path).as_posix()
            if glob_matches(s.disabled_globs, rel):
                return False
        return True

    def toggle(self, uri: str | None, enabled: bool | None) -> bool:
        """kenetic.toggleSuggestions: set (or flip) the switch; the new state."""
        if uri:
            key = unquote(uri)
            on = (not self.allows(key)) if enabled is None else enabled
            self.documents[key] = on
            return on
        if enabled is None:
            current = self.session
            if current is None:  # as the settings have it: on when any folder has it on
                current = (
                    any(f.settings.suggest.enabled for f in self.folders()) or not self.folders()
                )
            enabled = not current
        self.session = enabled
        self.documents.clear()  # "for the whole session": no document keeps its own switch
        return enabled

    # -- dismissed sites ----------------------------------------------------------------------

    def dismiss(self, sug: Suggestion) -> None:
        """The developer rejected this suggestion: its sites are never offered again."""
        with self._lock:
            for (_, _, new), line in zip(sug.edits, sug.site_lines, strict=False):
                self._dismissed.add((unquote(sug.uri), sug.skill_id, new, line.strip()))

    def blocked(self, uri: str, m: Match, lines: list[str], offsets: list[int]) -> bool:
        """Must m (positions in `lines`, the document now, `offsets` their starts) not be
        offered: a dismissed site, or a rewrite that undoes a recent edit of the developer?"""
        line = lines[m.start_line] if m.start_line < len(lines) else ""
        return self.dismissed(uri, m, line) or self.recent.reverts(uri, m, lines, offsets)

    def dismissed(self, uri: str, m: Match, line: str) -> bool:
        """Was the site of m, whose first line reads `line`, dismissed?"""
        if not self._dismissed:
            return False
        return (unquote(uri), m.skill_id, m.new_text, line.strip()) in self._dismissed
