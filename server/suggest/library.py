"""A library: the skills of one store (a workspace folder's, or the user's), live.

It holds the incremental miner, the match index the request handlers read, and each skill's
outcome counts. Mining runs on the mining thread and request handlers on the event loop, so the
index is only touched under `lock`, and the index holds copies of the miner's skills (the miner
widens its own skills in place).
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
import time
from typing import Any

from memory.skills.edits import StructuralEdit
from memory.skills.entry import skill_words
from memory.skills.matching import SkillIndex
from memory.skills.miner import SkillMiner
from memory.skills.skill import Skill
from memory.skills.skill_store import OUTCOMES, OutcomeCounts, SkillStore, StoredSkill
from memory.store.database import Store

log = logging.getLogger(__name__)

# edit episodes replayed into the miner at load, so unpaired examples survive a restart
REPLAY_EPISODES = 64
# a skill mined or accepted this recently counts as "just used" for kenetic/nextEdits
RECENT_S = 600.0
# the example id of an edit mined before its episode is stored (Library.peek)
PROVISIONAL = "provisional"
MAX_LENT = 64  # lent skills kept at most (a request may still rank the ones it was given)
# how far back `refresh` looks past the newest skill it has seen: another process may commit a
# skill saved (stamped) a while before, its writer queue behind or its disk full meanwhile
REFRESH_SLACK_S = 600.0


def copy_skill(skill: Skill) -> Skill:
    return Skill.from_json(skill.to_json())


def refreshed(libs: list[Library]) -> list[Library]:
    """Libraries caught up with the skills another process (a second editor window on the same
    folder) saved in their stores: one PRAGMA each when none did."""
    for lib in libs:
        lib.refresh()
    return libs


class Library:
    def __init__(self, name: str, store: Store, min_examples: int) -> None:
        self.name = name  # the folder URI, or "user"
        self.store = store
        self.skill_store = SkillStore(store)
        self.miner = SkillMiner(min_examples)
        self.index = SkillIndex([])
        # skills too general to trust yet (Skill.needed_support): only a code action under the
        # cursor offers them, never nextEdits, inline completions or a whole file
        self.held_back = SkillIndex([], held_back=True)
        self.skills: dict[str, StoredSkill] = {}
        self.words: dict[str, list[bytes]] = {}
        self.custom_names: dict[str, str] = {}
        self.recent: dict[str, float] = {}  # skill id -> time.time() of its latest use
        self.totals = dict.fromkeys(OUTCOMES, 0)
        # the skills the latest hand-made edit was mined into, and when (the TRM's justApplied)
        self.just_mined: tuple[frozenset[str], float] = (frozenset(), 0.0)
        self._texts: dict[str, tuple[int, str]] = {}  # skill id -> (support, template text)
        # skill id -> a number that changes whenever the skill does (sites counted per version)
        self._stamps: dict[str, int] = {}
        self._next_stamp = itertools.count(1)
        self.lock = threading.RLock()
        # the miner is changed on the mining thread and peeked at from requests (provisional)
        self.mining_lock = threading.Lock()
        # skills of the edit still being made (server.suggest.provisional): offered by
        # kenetic/nextEdits until its episode is mined, which replaces them; never saved
        self.lent: dict[str, StoredSkill] = {}
        self.loaded = False
        self._version: int | None = None  # the store's data_version refresh last looked at
        self._seen_at = 0.0  # the newest updated_at of a skill row refresh has seen

    # -- mining thread ------------------------------------------------------------------------

    def load(self) -> None:
        """Read the skills and outcomes from the store and replay recent edits into the miner."""
        stored = self.skill_store.load()
        totals = self.skill_store.totals()
        with self.lock:
            self.miner = SkillMiner(self.miner.min_examples, [s.skill for s in stored])
            for s in stored:
                self.skills[s.skill.id] = s
                if s.renamed:
                    self.custom_names[s.skill.id] = s.skill.name
                self._index(s)
            self.totals = totals
            self._seen_at = max((s.updated_at for s in stored), default=0.0)
        for episode_id, structural in self.skill_store.recent_edits(REPLAY_EPISODES):
            self.mine(episode_id, structural, replay=True)
        self.loaded = True
        log.info("library %s: %d skills loaded", self.name, len(stored))

    def mine(
        self, episode_id: int, structural: dict[str, Any], *, replay: bool = False
    ) -> list[Skill]:
        """Mine one edit episode; returns the skills it created or supported."""
        prior = {sid: st.skill.support for sid, st in self.skills.items()} if replay else {}
        try:
            edit = StructuralEdit.from_json(structural)
            with self.mining_lock:
                made = self.miner.add(str(episode_id), edit)
        except Exception:  # one odd edit must not stop mining
            log.exception("mining episode %s failed", episode_id)
            return []
        out = []
        for skill in made:
            known = self.skills.get(skill.id)
            if replay and known is not None and prior.get(skill.id) == skill.support:
                continue  # replaying an example the store already has
            out.append(self.adopt(skill, used=not replay))
        if not replay:
            self.just_mined = (frozenset(s.id for s in out), time.time())
        return out

    def peek(self, structural: dict[str, Any]) -> list[Skill]:
        """The skills an edit not yet stored would make or support (copies; the miner is left
        as it was)."""
        try:
            edit = StructuralEdit.from_json(structural)
            with self.mining_lock:
                return self.miner.peek(PROVISIONAL, edit)
        except Exception:  # an odd edit must not fail a request
            log.exception("provisional mining failed")
            return []

    def lend(self, skills: list[Skill]) -> list[Skill]:
        """Lend the skills of an edit still being made (adopt() takes a lent skill back when the
        miner makes it); returns those worth offering: not deleted, and the library's own copy
        where it already has the skill with as much support."""
        out = []
        with self.lock:
            for skill in skills:
                stored = self.skills.get(skill.id)
                if stored is not None and (stored.deleted or stored.skill.support >= skill.support):
                    if not stored.deleted:
                        out.append(copy_skill(stored.skill))
                    continue
                if skill.id in self.custom_names:
                    skill.name = self.custom_names[skill.id]
                lent = StoredSkill(skill)
                if stored is not None:
                    lent.outcomes = stored.outcomes
                self.lent.pop(skill.id, None)
                self.lent[skill.id] = lent
                self._stamps[skill.id] = next(self._next_stamp)
                out.append(copy_skill(skill))
            for sid in list(self.lent)[:-MAX_LENT]:
                del self.lent[sid]  # the oldest: edits since abandoned, never mined into them
        return out

    def adopt(self, skill: Skill, *, used: bool = True) -> Skill:
        """Keep a skill the miner made (or another library published) and persist it."""
        with self.lock:
            stored = self.skills.get(skill.id)
            if stored is None:
                stored = self.skills[skill.id] = StoredSkill(skill)
                lent = self.lent.pop(skill.id, None)
                if lent is not None:  # accepted or dismissed while it was lent
                    stored.outcomes = lent.outcomes
            stored.skill = skill
            if skill.id in self.custom_names:
                skill.name = self.custom_names[skill.id]
            self._index(stored)
            if used:
                now = time.time()
                self.recent[skill.id] = now
                stored.outcomes.last_used = now
        self.skill_store.save(stored)
        return skill

    def _index(self, stored: StoredSkill) -> None:
        sid = stored.skill.id
        self._stamps[sid] = next(self._next_stamp)
        if stored.deleted:
            self.index.remove(sid)
            self.held_back.remove(sid)
            self.words.pop(sid, None)
            return
        # one copy serves both: each index keeps the skill only if it belongs there
        skill = copy_skill(stored.skill)
        self.index.add(skill)
        self.held_back.add(skill)
        self.words[sid] = skill_words(stored.skill)

    # -- event loop ---------------------------------------------------------------------------

    def refresh(self) -> int:
        """Pick up skills another process (a second editor window on this folder) saved in
        this store; returns how many changed. Costs one PRAGMA when the store has not changed
        since the last look, and otherwise reads only the skill rows newer than ours."""
        if not self.loaded:
            return 0
        try:
            version = self.store.data_version()
            if version == self._version:
                return 0
            rows = self.store.query(
                "SELECT id, updated_at FROM skills WHERE updated_at >= ?",
                (self._seen_at - REFRESH_SLACK_S,),
            )
            newer = [
                r["id"]
                for r in rows
                if (known := self.skills.get(r["id"])) is None or r["updated_at"] > known.updated_at
            ]
            found = self.skill_store.load_some(newer) if newer else []
        except sqlite3.Error:  # a store closed under us (restored, folder removed): nothing new
            return 0
        self._version = version
        self._seen_at = max([self._seen_at, *(r["updated_at"] for r in rows)])
        with self.lock:
            for stored in found:
                known = self.skills.get(stored.skill.id)
                if known is not None:
                    if known.updated_at >= stored.updated_at:
                        continue  # saved here meanwhile
                    stored.outcomes = known.outcomes
                self.skills[stored.skill.id] = stored
                if stored.renamed:
                    self.custom_names[stored.skill.id] = stored.skill.name
                self._index(stored)
        if found:
            log.info("library %s: %d skills picked up from the store", self.name, len(found))
        return len(found)

    def stamp(self, skill_id: str) -> int:
        """Which version of the skill `get` gives now: it changes whenever the skill is indexed
        again (mined, widened, renamed, deleted, lent), so sites counted for it stay its own."""
        return self._stamps.get(skill_id, 0)

    def live(self) -> list[StoredSkill]:
        with self.lock:
            return [s for s in self.skills.values() if not s.deleted]

    def get(self, skill_id: str) -> StoredSkill | None:
        stored = self.skills.get(skill_id)
        if stored is None:
            return self.lent.get(skill_id)
        return stored if not stored.deleted else None

    def delete(self, skill_id: str) -> bool:
        with self.lock:
            stored = self.get(skill_id)
            if stored is None:
                return False
            # kept in the miner (so the next such edit is not learned again), never offered
            stored.deleted = True
            self._index(stored)
            self.recent.pop(skill_id, None)
        self.skill_store.save(stored)
        return True

    def rename(self, skill_id: str, name: str) -> bool:
        with self.lock:
            stored = self.get(skill_id)
            if stored is None:
                return False
            stored.skill.name = name
            stored.renamed = True
            self.custom_names[skill_id] = name
            self._index(stored)
        self.skill_store.save(stored)
        return True

    def record(self, suggestion_id: str, skill_id: str, outcome: str) -> None:
        now = time.time()
        stored = self.skills.get(skill_id) or self.lent.get(skill_id)
        if stored is not None:
            stored.outcomes.add(outcome, now)
        self.totals[outcome] += 1
        if outcome == "accepted":
            self.recent[skill_id] = now
        self.skill_store.record_outcome(suggestion_id, skill_id, outcome, now)

    def recently_used(self, now: float | None = None) -> list[str]:
        """Skills used (mined from an edit or accepted) in the last RECENT_S, newest first."""
        now = time.time() if now is None else now
        fresh = [(t, sid) for sid, t in self.recent.items() if now - t < RECENT_S]
        return [sid for _, sid in sorted(fresh, reverse=True) if self.get(sid) is not None]

    def candidate(self, skill_id: str) -> dict[str, Any]:
        """The ranker's view of a skill (trm.ranker's keys and trm.features' skill keys); the
        service adds the site's keys (matchText, distance, lineDelta, sameFile)."""
        stored = self.skills.get(skill_id) or self.lent[skill_id]
        skill = stored.skill
        counts: OutcomeCounts = stored.outcomes
        just, at = self.just_mined
        just_applied = skill_id in self.lent or (skill_id in just and time.time() - at < RECENT_S)
        return {
            "skillId": skill_id,
            "name": skill.name,
            "templateText": self._template_text(skill),
            "root": skill.before_template.get("root"),
            "support": skill.support,
            "specificity": skill.specificity,
            "lastUsed": counts.last_used,
            **counts.to_json(),
            "justApplied": just_applied,
        }

    def _template_text(self, skill: Skill) -> str:
        """ "before => after" with holes as ${}: rendered once per skill version."""
        cached = self._texts.get(skill.id)
        if cached is not None and cached[0] == skill.support:
            return cached[1]
        try:
            with self.lock:
                text = skill.pattern_text("before") + " => " + skill.pattern_text("after")
        except Exception:  # an odd template must not fail a ranking
            text = skill.name
        self._texts[skill.id] = (skill.support, text)
        return text
