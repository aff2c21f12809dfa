"""Skills: rewrite rules mined from repeated structural edits (the miner is memory.skills.miner).

Two edits that are alike (same change root type, same kinds of nodes replaced) are anti-unified
into a before-template and an after-template: parts the examples share stay constant, parts that
differ become holes, and a hole bound in the before-template and reused in the after-template
carries its text across (`print($x)` -> `logger.info($x)`).

Mining tries the most specific context first, so that a skill fires only where the developer's
edits did: the whole-lines context root X (a statement, a definition with its body), then the nodes
between X and the change root R, then the window of R's children that changed (with one sibling each
side as an anchor for insertions). The first level at which the generalisation is valid wins. A
generalisation is valid when every after-hole is bound before or derived from a before-hole by a
small text transform (memory.skills.transforms), it still changes something, and the before-template
keeps a named constant; a valid skill is suggested once it has the examples its generality needs
(memory.skills.validity). The level-by-level work lives in memory.skills.mining.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from memory.skills import transforms, validity
from memory.skills.mining import WINDOW
from memory.skills.templates import Template, holes, render_parts


@dataclass
class Skill:
    """A learned rewrite; templates are JSON (see memory.skills.templates for the node format)."""

    id: str
    name: str
    language: str
    # {"root": type, "mode": "node"|"window", "parts": [template], "skeleton": str, "indent": str}
    before_template: dict[str, Any]
    after_template: dict[str, Any]  # {"parts": [template], "skeleton": str}
    examples: list[str] = field(default_factory=list)
    support: int = 0
    specificity: float = 0.0
    height: int = 0  # node mode: levels above the change root R
    anchors: list[int] = field(default_factory=lambda: [0, 0])  # window mode: siblings kept
    blank: int = -1  # line deletions: blank lines the example left behind; -1 when not one
    line_insert: bool = False  # the inserted nodes are whole lines: insert lines, not text
    # [hole, word, present]: in every example the hole's text did (not) use an identifier the
    # edit added or removed (a parameter dropped where the body never uses it)
    uses: list[list[Any]] = field(default_factory=list)
    # [hole, class]: a hole moved between a string and code held an int (float, name) in every
    # example, so it must at a site too (memory.skills.literals)
    literals: list[list[Any]] = field(default_factory=list)
    # examples beyond two this skill waits for, whatever its templates would need: a less
    # specific hypothesis mined beside a more specific one from the same two edits
    # (memory.skills.hypotheses.hypotheses) is offered at the cursor until a third example agrees
    wait: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Skill:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in names})

    @property
    def unused_holes(self) -> list[str]:
        """Holes bound to names the file must not use elsewhere (see mining.unused_holes)."""
        return list(self.before_template.get("unused") or [])

    @property
    def mode(self) -> str:
        return str(self.before_template["mode"])

    @property
    def root(self) -> str:
        return str(self.before_template["root"])

    def pattern_text(self, side: str, hole: str = "${}") -> str:
        """A template as source text with its holes written as `hole` (formatted with names)."""
        t = self.before_template if side == "before" else self.after_template
        parts: list[Template] = t["parts"]
        if not parts:
            return ""
        env = {"\x00" + n: hole.format(n) for p in parts for n in holes(p)}
        for n, (source, tr) in (t.get("derive") or {}).items():
            if "\x00" + n in env:
                env["\x00" + n] = "{" + transforms.describe(tr, hole.format(source)) + "}"
        return render_parts(t, parts, env)

    def needed_support(self) -> int:
        """Examples this skill needs before it is suggested (see mining.evidence_needed)."""
        needed = validity.evidence_needed(
            self.before_template, self.after_template, self.mode, self.anchors
        )
        return max(needed, 2 + self.wait) if self.wait else needed

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "before": self.pattern_text("before"),
            "after": self.pattern_text("after"),
            "support": self.support,
            "needed_support": self.needed_support(),
            "specificity": round(self.specificity, 3),
            "examples": list(self.examples),
        }


# -- naming ----------------------------------------------------------------------------------


_WS = re.compile(r"\s+")


def _short(text: str, limit: int = 48) -> str:
    text = _WS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def skill_name(skill: Skill) -> str:
    """A readable name derived from the change: `print(…) → logger.info(…)`."""
    before = _short(skill.pattern_text("before", "…"))
    after = _short(skill.pattern_text("after", "…"))
    if skill.mode == WINDOW and skill.anchors != [0, 0]:
        return f"insert {_short(_inserted(skill), 60)}"
    if not after:
        return f"delete {before}"
    return f"{before} → {after}"


def _inserted(skill: Skill) -> str:
    parts = skill.after_template["parts"]
    left, right = skill.anchors
    inner = parts[left : len(parts) - right]
    if not inner:
        return ""
    env = {"\x00" + n: "…" for p in inner for n in holes(p)}
    return render_parts(skill.after_template, inner, env)
