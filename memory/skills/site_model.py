"""Which of a skill's sites to offer unasked: a small model over features of the site.

A skill's template says where a rewrite *can* go; whether the developer would make it there
depends on things the template cannot say: how the site's hole texts resemble the examples', how
general the skill is, how many places it suddenly matches, whether the file already uses the
words the rewrite brings. A logistic model over such features, trained on a corpus of real
commits and rule-engine rewrites of other repositories (docs/skills.md, "Training corpus"),
gives each site a probability; kenetic/nextEdits offers the sites above a threshold, and a code
action at the cursor still offers the rest, since there the developer asked.

The weights ship with the package (site_model.json, a few hundred bytes), are read once on first
use, and need no network. The features are plain functions so the training harness
(tests/bench/sites.py) and the server compute them alike.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from memory.skills.literals import lexical_class
from memory.skills.mining import WINDOW, span_texts
from memory.skills.skill import Skill
from memory.skills.subtree import SUBTREE
from memory.skills.templates import SEGMENT, Template, holes, leaves

MODEL_PATH = Path(__file__).with_name("site_model.json")

FEATURES = (
    "bias",
    "subtree",
    "statement",
    "window",
    "deletion",
    "specificity",
    "holes",
    "constants",
    "pattern_chars",
    "same_file",
    "distance",
    "sites",
    "sites_in_file",
    "hole_kind_agrees",
    "hole_length_gap",
    "test_file",
    "new_words_present",
    "returns_differs",
    "segment",
)

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class SiteContext:
    """Where a site was found, relative to the request that asked for it."""

    same_file: bool  # the site is in the document just edited
    distance: int  # lines from the edit (same file only)
    sites: int  # sites of this skill found in the whole scan
    sites_in_file: int  # ... in the site's file
    path: str  # the site's file path (its name says whether it is a test)
    text: str  # the site's whole file
    returns: bool | None = None  # the site, a function, returns a value (Match.returns)


def _words(parts: list[Template]) -> set[str]:
    out: set[str] = set()
    stack = list(parts)
    while stack:
        t = stack.pop()
        if t[0] == "c":
            out.update(_IDENT.findall(str(t[2])))
        elif t[0] == "n":
            stack.extend(t[2])
    return out


def skill_facts(skill: Skill) -> dict[str, Any]:
    """What the features read of the skill alone: computed once per skill per request."""
    before = skill.before_template["parts"]
    after = skill.after_template["parts"]
    consts = hole_count = 0
    for t in before:
        c, h = leaves(t)
        consts += c
        hole_count += h
    first = span_texts(before, skill.before_template.get("skeleton", ""))
    return {
        "holes": len({n for t in before for n in holes(t)}),
        "constants": consts,
        "chars": len(skill.pattern_text("before")),
        "examples": {h: t for h, t in first.items()},
        "new_words": sorted(_words(after) - _words(before)),
        "deletion": not after,
        "returns": skill.before_template.get("returns"),
        "segment": any(typ == SEGMENT for t in before for typ in holes(t, {}).values()),
    }


def features(
    skill: Skill, facts: dict[str, Any], bindings: dict[str, str], where: SiteContext
) -> list[float]:
    """The FEATURES of one site, in order."""
    seen = facts["examples"]
    shared = [h for h in bindings if h in seen]
    agree = (
        sum(lexical_class(bindings[h]) == lexical_class(seen[h]) for h in shared) / len(shared)
        if shared
        else 1.0
    )
    gap = (
        sum(abs(math.log1p(len(bindings[h])) - math.log1p(len(seen[h]))) for h in shared)
        / len(shared)
        if shared
        else 0.0
    )
    new = facts["new_words"]
    present = sum(1 for w in new if w in where.text) / len(new) if new else 0.0
    name = where.path.rsplit("/", 1)[-1].lower()
    return [
        1.0,
        float(skill.height == SUBTREE),
        float(skill.mode != WINDOW and skill.height > 0),
        float(skill.mode == WINDOW),
        float(facts["deletion"]),
        float(skill.specificity),
        min(facts["holes"], 6) / 6,
        math.log1p(facts["constants"]),
        math.log1p(facts["chars"]),
        float(where.same_file),
        math.log1p(where.distance) if where.same_file else math.log1p(10_000),
        math.log1p(where.sites),
        math.log1p(where.sites_in_file),
        agree,
        gap,
        float("test" in name or "spec" in name),
        present,
        # the examples' functions returned a value and this one does not, or the other way
        float(facts["returns"] is not None and where.returns not in (None, facts["returns"])),
        float(facts["segment"]),
    ]


@dataclass
class SiteModel:
    weights: list[float]
    threshold: float
    meta: dict[str, Any]

    def probability(self, x: list[float]) -> float:
        z = sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


@lru_cache(maxsize=1)
def load_model(path: str = str(MODEL_PATH)) -> SiteModel | None:
    """The shipped model, or None when it is missing or does not fit these features (then every
    site is offered, as before there was a model)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("features") != list(FEATURES):
        return None
    return SiteModel([float(w) for w in raw["weights"]], float(raw["threshold"]), raw)
