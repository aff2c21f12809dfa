"""Skill cards: what of a skill the team store holds, its merge key, and the checks on it.

A card is the rewrite rule and its record, never code beyond it: the before- and after-template
(with the guards that say where they apply), name, language, support, specificity, the outcome
counts, the anonymous developer id and timestamps. A skill's examples (episode ids), file paths
and episodes stay in the local store.

Two developers who learn the same rewrite get templates that differ only in hole names (`$h0`
here, `$h1` there): cards carry their holes renamed by first appearance (`$t0`, `$t1`, ...), so
the merge key, a hash of the canonical templates, is the same for both and the team holds one
skill. Everything read back from the database goes through `card_from_row`, which refuses
(CardError) what is not a well-formed card instead of letting it reach the matcher.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from memory.skills.hypotheses import _skill_id
from memory.skills.skill import Skill
from memory.skills.syntax import grammars
from memory.skills.templates import Template, shape

# a card larger than this (its JSON) is refused both ways: a rule, not a file
MAX_CARD_BYTES = 64 * 1024
MAX_DEPTH = 200
MAX_NAME = 200
OUTCOME_KINDS = ("accepted", "rejected", "undone")
# the team's verdict: a skill rejected at least this often, and more than twice as often as it
# was accepted, is no longer offered to the other developers of the team (docs/team.md)
TEAM_REJECT_MIN = 5
TEAM_REJECT_RATIO = 2.0

# pulled skills' examples: "team:0", "team:1", ... (no episode of this store has such an id)
TEAM_EXAMPLE = "team:"
MAX_STAND_INS = 64

_BEFORE_KEYS = {"root", "mode", "parts", "skeleton", "indent", "unused", "parents", "returns"}
_AFTER_KEYS = {"parts", "skeleton", "derive"}
_GUARD_KEYS = {"height", "anchors", "blank", "line_insert", "uses", "literals", "wait"}


class CardError(ValueError):
    """A card that is not well formed: refused, never stored or offered."""


@dataclass
class SkillCard:
    key: str
    developer: str
    name: str
    language: str
    before: dict[str, Any]
    after: dict[str, Any]
    guards: dict[str, Any]
    support: int
    specificity: float
    created_at: float
    updated_at: float
    # the team's outcome totals (read back from the database; deltas go up on their own)
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KINDS, 0))

    def content(self) -> str:
        """The card as pushed, minus timestamps: its hash says whether it changed."""
        return json.dumps(
            [self.name, self.language, self.before, self.after, self.guards, self.support,
             round(self.specificity, 6)],
            sort_keys=True, ensure_ascii=False,
        )  # fmt: skip

    def digest(self) -> str:
        return hashlib.sha256(self.content().encode("utf-8", "replace")).hexdigest()[:24]

    def team_rejected(self) -> bool:
        rejected, accepted = self.totals.get("rejected", 0), self.totals.get("accepted", 0)
        return rejected >= TEAM_REJECT_MIN and rejected > TEAM_REJECT_RATIO * accepted

    def to_skill(self, *, share: bool = False) -> Skill:
        """The local skill a pulled card becomes; its id is what the miner would give the same
        templates, so a developer who then learns the rewrite too adds to this skill. share:
        the skill holds the card's own templates (to render them once, not to keep)."""
        before, after = self.before, self.after
        if not share:
            before, after = copy.deepcopy(before), copy.deepcopy(after)
        skill = Skill(
            id=_skill_id(self.language, before["mode"], before["parts"], after["parts"],
                         after.get("derive")),
            name=self.name,
            language=self.language,
            before_template=before,
            after_template=after,
            # stand-ins for the examples, which stay with their developers: the miner counts a
            # skill's support as its examples, so one more edit here adds to the team's support
            examples=[f"{TEAM_EXAMPLE}{k}" for k in range(min(self.support, MAX_STAND_INS))],
            support=self.support,
            specificity=self.specificity,
        )  # fmt: skip
        for k, v in self.guards.items():
            setattr(skill, k, v if share else copy.deepcopy(v))
        return skill


# -- canonical hole names ------------------------------------------------------------------


def _walk_holes(t: Template, order: list[str]) -> None:
    if t[0] in ("h", "o"):
        if t[1] not in order:
            order.append(t[1])
    elif t[0] == "n":
        for c in t[2]:
            _walk_holes(c, order)


def _rename(t: Template, names: dict[str, str]) -> Template:
    if t[0] in ("h", "o"):
        return [t[0], names.get(t[1], t[1]), *t[2:]]
    if t[0] == "n":
        return ["n", t[1], [_rename(c, names) for c in t[2]], *t[3:]]
    return list(t)


def canonical(skill: Skill) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The skill's templates and guards with holes renamed by first appearance (before-parts,
    then after-parts, then derived holes)."""
    order: list[str] = []
    for t in skill.before_template["parts"]:
        _walk_holes(t, order)
    for t in skill.after_template["parts"]:
        _walk_holes(t, order)
    derive = skill.after_template.get("derive") or {}
    for name in derive:
        if name not in order:
            order.append(name)
    names = {old: f"t{k}" for k, old in enumerate(order)}
    before = copy.deepcopy(skill.before_template)
    after = copy.deepcopy(skill.after_template)
    before["parts"] = [_rename(t, names) for t in before["parts"]]
    after["parts"] = [_rename(t, names) for t in after["parts"]]
    if "unused" in before:
        before["unused"] = [names.get(n, n) for n in before["unused"]]
    if derive:
        after["derive"] = {
            names.get(n, n): [names.get(src, src), tr] for n, (src, tr) in derive.items()
        }
    guards = {
        "height": skill.height,
        "anchors": list(skill.anchors),
        "blank": skill.blank,
        "line_insert": skill.line_insert,
        "uses": [[names.get(g[0], g[0]), *g[1:]] for g in skill.uses],
        "literals": [[names.get(g[0], g[0]), *g[1:]] for g in skill.literals],
        "wait": skill.wait,
    }
    return before, after, guards


def merge_key(language: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """Equal for the same rewrite whatever its holes were called (templates canonical)."""
    parts = [language, str(before.get("mode")), str(before.get("root"))]
    parts += [shape(t) for t in before["parts"]] + ["=>"] + [shape(t) for t in after["parts"]]
    if after.get("derive"):
        parts.append(json.dumps(after["derive"], sort_keys=True))
    return hashlib.sha256("\x01".join(parts).encode("utf-8", "replace")).hexdigest()[:32]


def skill_key(skill: Skill) -> str:
    before, after, _ = canonical(skill)
    return merge_key(skill.language, before, after)


def card_from_skill(
    skill: Skill, developer: str, created_at: float, updated_at: float
) -> SkillCard:
    before, after, guards = canonical(skill)
    return SkillCard(
        key=merge_key(skill.language, before, after),
        developer=developer,
        name=skill.name,
        language=skill.language,
        before=before,
        after=after,
        guards=guards,
        support=int(skill.support),
        specificity=float(skill.specificity),
        created_at=created_at,
        updated_at=updated_at,
    )


# -- checks on what the database gives back ------------------------------------------------


def _str(v: Any, what: str, limit: int = MAX_CARD_BYTES) -> str:
    if not isinstance(v, str) or len(v) > limit:
        raise CardError(f"{what} is not a string (or too long)")
    return v


def _int(v: Any, what: str, lo: int = 0, hi: int = 10**9) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise CardError(f"{what} is not an integer in [{lo}, {hi}]")
    return v


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise CardError(f"{what} is not a finite number")
    return float(v)


def _str_list(v: Any, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise CardError(f"{what} is not a list of strings")
    return v


def check_template(t: Any, limit: int, depth: int = 0) -> None:
    """A template node as memory.skills.templates defines it, its span [start, end) inside the
    skeleton text of `limit` characters it renders from, or CardError."""
    if depth > MAX_DEPTH:
        raise CardError("template nested too deep")
    if not isinstance(t, list) or not t:
        raise CardError("template node is not a list")
    tag = t[0]
    if tag == "h" and len(t) == 5:
        _str(t[1], "hole name", 100)
        if t[2] is not None:
            _str(t[2], "hole type", 200)
    elif tag == "o" and len(t) == 7:
        _str(t[1], "hole name", 100)
        if t[2] is not None:
            _str(t[2], "hole type", 200)
        _str(t[5], "optional spacing")
        _str(t[6], "optional spacing")
    elif tag == "c" and len(t) == 5:
        _str(t[1], "node type", 200)
        _str(t[2], "constant text")
    elif tag == "n" and len(t) == 5:
        _str(t[1], "node type", 200)
        if not isinstance(t[2], list):
            raise CardError("node children are not a list")
        for c in t[2]:
            check_template(c, limit, depth + 1)
    else:
        raise CardError(f"unknown template node {str(tag)[:20]!r}")
    start = _int(t[3], "template start", 0, limit)
    _int(t[4], "template end", start, limit)


def _check_side(d: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise CardError(f"{what} template is not an object")
    extra = set(d) - keys
    if extra:
        raise CardError(f"{what} template has unknown fields {sorted(extra)}")
    if not isinstance(d.get("parts"), list):
        raise CardError(f"{what} template has no parts")
    skeleton = _str(d.get("skeleton"), f"{what} skeleton")
    for t in d["parts"]:
        check_template(t, len(skeleton))
    return d


def _json(v: Any, what: str) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError as exc:
            raise CardError(f"{what} is not JSON") from exc
    return v


def card_from_row(row: dict[str, Any]) -> SkillCard:
    """A card read from the team database, checked field by field; CardError when any field is
    missing, of the wrong type, unknown (a language kenetic has no grammar for) or too big."""
    if not isinstance(row, dict):
        raise CardError("row is not a record")
    missing = {"key", "developer", "name", "language", "before", "after", "guards", "support",
               "specificity", "created_at", "updated_at"} - set(row)  # fmt: skip
    if missing:
        raise CardError(f"missing fields {sorted(missing)}")
    size = sum(len(v) if isinstance(v, str) else 16 for v in row.values())
    if size > MAX_CARD_BYTES:
        raise CardError(f"card is {size} bytes, over {MAX_CARD_BYTES}")
    language = _str(row["language"], "language", 40)
    if language not in grammars():
        raise CardError(f"unknown language {language[:40]!r}")
    before = _check_side(_json(row["before"], "before"), _BEFORE_KEYS, "before")
    after = _check_side(_json(row["after"], "after"), _AFTER_KEYS, "after")
    if before.get("mode") not in ("node", "window"):
        raise CardError("before template has no mode")
    _str(before.get("root"), "root", 200)
    _str(before.get("indent", ""), "indent", 1000)
    _str_list(before.get("unused", []), "unused")
    _str_list(before.get("parents", []), "parents")
    if before.get("returns") not in (None, True, False):
        raise CardError("returns is not a boolean")
    derive = after.get("derive") or {}
    if not isinstance(derive, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], list)
        for v in derive.values()
    ):
        raise CardError("derive is not {hole: [source, transform]}")
    guards = _json(row["guards"], "guards")
    if not isinstance(guards, dict) or set(guards) - _GUARD_KEYS:
        raise CardError("guards are not an object of known fields")
    _int(guards.get("height", 0), "height", -1, 1000)
    anchors = guards.get("anchors", [0, 0])
    if not isinstance(anchors, list) or len(anchors) != 2:
        raise CardError("anchors are not two integers")
    for a in anchors:
        _int(a, "anchor", 0, 1000)
    _int(guards.get("blank", -1), "blank", -1, 1000)
    _int(guards.get("wait", 0), "wait", 0, 1000)
    if not isinstance(guards.get("line_insert", False), bool):
        raise CardError("line_insert is not a boolean")
    for name in ("uses", "literals"):
        g = guards.get(name, [])
        if not isinstance(g, list) or not all(isinstance(x, list) and x for x in g):
            raise CardError(f"{name} is not a list of guards")
    card = SkillCard(
        key=_str(row["key"], "key", 64),
        developer=_str(row["developer"], "developer", 64),
        name=_str(row["name"], "name", MAX_NAME),
        language=language,
        before=before,
        after=after,
        guards=guards,
        support=_int(row["support"], "support", 1),
        specificity=_num(row["specificity"], "specificity"),
        created_at=_num(row["created_at"], "created_at"),
        updated_at=_num(row["updated_at"], "updated_at"),
    )
    if merge_key(language, before, after) != card.key:
        raise CardError("key does not match the templates")
    try:  # the rule must render as the skill card does: a broken span is caught here
        skill = card.to_skill(share=True)
        skill.pattern_text("before")
        skill.pattern_text("after")
    except Exception as exc:
        raise CardError(f"templates do not render ({type(exc).__name__})") from exc
    return card
