"""Skills from the edit still being made, so kenetic/nextEdits can mark the next site at once.

Capture closes a burst `capture.idleGapMs` (1.5 s by default) after its last change, and only
then is its episode stored and mined. A developer who has just made the second alike edit should
not wait that long for "here are the other places". So when nextEdits is asked while the
document has an open burst, the edit the burst would make is built now (bounded and redacted as
an episode's would be, never stored) and tried against the folder library's miner without
changing it (SkillMiner.peek). The skills it would make, or make offerable, are lent to the
library (Library.lend) and offered like the skills just mined; mining the real episode later
replaces them. One answer per burst version is kept, so the client's retries cost nothing.
"""

from __future__ import annotations

import threading

from memory.skills.skill import Skill
from server.capture.recorder import provisional_edit
from server.features.capture import CaptureService
from server.suggest.library import Library


class Provisional:
    """The latest provisional skills per document: (burst version, [(library, skill)])."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[int, list[tuple[Library, list[Skill]]]]] = {}

    def skills_for(
        self, capture: CaptureService, uri: str, libs: list[Library]
    ) -> list[tuple[Library, Skill]]:
        """The skills the open burst on `uri` would make or support, lent to their library;
        [] when no burst is open or it makes no skill. Runs in a worker thread (it parses)."""
        opened = capture.open_edit(uri)
        if opened is None:
            with self._lock:
                self._latest.pop(uri, None)
            return []
        before, after, version, doc = opened
        with self._lock:
            cached = self._latest.get(uri)
        if cached is not None and cached[0] == version:
            peeked = cached[1]
        else:
            known = capture.recorder.known_secrets(uri)
            structural = provisional_edit(before, after, doc, doc.capture.max_region_lines, known)
            peeked = []
            if structural is not None:
                # the folder's library, the one mining will add the episode to (on_stored)
                peeked = [(lib, lib.peek(structural)) for lib in libs if lib.store is doc.store]
            with self._lock:
                self._latest[uri] = (version, peeked)
        # lent again each time: the real episode may have been mined meanwhile
        return [(lib, s) for lib, skills in peeked if skills for s in lib.lend(skills)]

    def forget(self, uri: str) -> None:
        with self._lock:
            self._latest.pop(uri, None)
