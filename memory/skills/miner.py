"""The skill miner: each new structural edit joins a skill, widens one, or pairs with a pending
edit into new ones (memory.skills.skill says what a skill is; memory.skills.hypotheses makes
the skills two edits mean). Edits meet in buckets: the same change root and kinds of nodes, or
the same changed subtree wherever it sits (memory.skills.subtree). An edit joins every
hypothesis it agrees with (memory.skills.widening); one that made a rewrite at several places
is also tried as each of them.
"""

from __future__ import annotations

from collections.abc import Callable

from memory.skills import mining
from memory.skills.edits import StructuralEdit
from memory.skills.hypotheses import hypotheses, single
from memory.skills.skill import Skill
from memory.skills.subtree import parent_type, parts, subtree_key
from memory.skills.widening import covers, widen


def _copy(skill: Skill) -> Skill:
    return Skill.from_json(skill.to_json())


def _supported(skill: Skill, examples: list[str]) -> Skill:
    """A copy of the skill with these examples added (what _support would make of it)."""
    out = _copy(skill)
    out.examples += [e for e in examples if e not in out.examples]
    out.support = len(out.examples)
    return out


class SkillMiner:
    """Incremental miner: each new edit joins a skill, widens one, or pairs with a pending edit."""

    max_pending = 64  # per bucket; older unpaired edits are forgotten first

    def __init__(self, min_examples: int = 2, skills: list[Skill] | None = None) -> None:
        self.min_examples = min_examples
        self._skills: dict[str, Skill] = {}
        self._buckets: dict[tuple[str, ...], list[str]] = {}
        self._pending: dict[tuple[str, ...], list[tuple[str, StructuralEdit]]] = {}
        # skills loaded from a store have no bucket key: they are checked for every edit
        self._loaded: list[str] = []
        for s in skills or []:
            self._skills[s.id] = s
            self._loaded.append(s.id)

    def skills(self) -> list[Skill]:
        return list(self._skills.values())

    def _where(self, edit: StructuralEdit) -> tuple[list[tuple[str, ...]], list[str], list[str]]:
        """The edit's bucket keys, the skill ids in those buckets, and every skill id to check
        the edit against (the buckets', then the loaded skills of its language)."""
        key = mining.bucket_key(edit)
        # the bucket of the changed subtree: edits of one rewrite in different statements meet
        # there (memory.skills.subtree)
        sub = subtree_key(edit)
        keys = [key] if sub is None else [key, sub]
        bucket = [sid for k in keys for sid in self._buckets.get(k, [])]
        candidates = [*bucket, *(s for s in self._loaded if self._skills[s].language == key[0])]
        return keys, bucket, list(dict.fromkeys(candidates))

    def _pending_for(
        self, keys: list[tuple[str, ...]], episode_id: str
    ) -> dict[str, StructuralEdit]:
        """Unpaired edits that may pair with one of these keys: the same statement context
        first, then the same subtree only; newest first. Never the episode's own: the places
        of one edit (memory.skills.subtree.parts) are one example, not two."""
        return {
            p[0]: p[1]
            for k in keys
            for p in reversed(self._pending.get(k, []))
            if p[0] != episode_id
        }

    def add(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        """Mine one edit episode; returns the skills it created or updated. An edit that made
        one rewrite at several places of a statement is also mined as each of them
        (memory.skills.subtree.parts), when the edit as a whole pairs with nothing."""
        return self._whole_or_parts(self._add_one, episode_id, edit)

    @staticmethod
    def _whole_or_parts(
        one: Callable[[str, StructuralEdit], list[Skill]], episode_id: str, edit: StructuralEdit
    ) -> list[Skill]:
        made = one(episode_id, edit)
        for part in [] if made else parts(edit):
            made = one(episode_id, part)
            if made:
                break
        return made

    def _add_one(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        keys, bucket, candidates = self._where(edit)
        for k in keys:
            self._buckets.setdefault(k, [])
            self._pending.setdefault(k, [])
        # every hypothesis the edit agrees with gains it (a waiting one may now be offered)
        covered = [
            self._support(skill, episode_id)
            for sid in candidates
            if (skill := self._skills.get(sid)) is not None and covers(skill, edit)
        ]
        if covered:
            for skill in covered:
                parents = skill.before_template.get("parents")
                if parents and parent_type(edit) not in parents:
                    skill.before_template.pop("parents")  # the developer did it there too
            return covered
        for sid in bucket:
            skill = self._skills.get(sid)
            if skill is not None and widen(skill, edit):
                return [self._support(skill, episode_id)]
        if self.min_examples <= 1:
            one = single(edit, episode_id)
            return [self._keep(keys, one)] if one is not None else []
        for other_id, other in self._pending_for(keys, episode_id).items():
            made = hypotheses(other, edit, [other_id, episode_id])
            if made:
                self._forget(other_id)
                return [self._keep(keys, s) for s in made]
        for k in keys:
            pending = self._pending[k]
            pending.append((episode_id, edit))
            del pending[: -self.max_pending]
        return []

    def peek(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        """What add() would return for the edit, as copies, leaving the miner as it was: the
        edit still being made is mined this way (server.suggest.provisional), and mined for
        real once its episode is stored."""
        return self._whole_or_parts(self._peek_one, episode_id, edit)

    def _peek_one(self, episode_id: str, edit: StructuralEdit) -> list[Skill]:
        keys, bucket, candidates = self._where(edit)
        covered = [
            _supported(skill, [episode_id])
            for sid in candidates
            if (skill := self._skills.get(sid)) is not None and covers(skill, edit)
        ]
        if covered:
            return covered
        for sid in bucket:
            if (skill := self._skills.get(sid)) is not None:
                trial = _copy(skill)  # widen() changes the skill it widens
                if widen(trial, edit):
                    return [_supported(trial, [episode_id])]
        if self.min_examples <= 1:
            one = single(edit, episode_id)
            return [one] if one is not None else []
        for other_id, other in self._pending_for(keys, episode_id).items():
            made = hypotheses(other, edit, [other_id, episode_id])
            if made:
                known = [self._skills.get(s.id) for s in made]
                return [
                    s if k is None else _supported(k, s.examples)
                    for s, k in zip(made, known, strict=True)
                ]
        return []

    def _forget(self, episode_id: str) -> None:
        """An edit that paired into a skill no longer waits in any bucket."""
        for pending in self._pending.values():
            pending[:] = [p for p in pending if p[0] != episode_id]

    def _support(self, skill: Skill, episode_id: str) -> Skill:
        if episode_id not in skill.examples:
            skill.examples.append(episode_id)
        skill.support = len(skill.examples)
        return skill

    def _keep(self, keys: list[tuple[str, ...]], skill: Skill) -> Skill:
        known = self._skills.get(skill.id)
        if known is not None:
            for e in skill.examples:
                self._support(known, e)
            return known
        self._skills[skill.id] = skill
        for key in keys:
            self._buckets[key].append(skill.id)
        return skill
