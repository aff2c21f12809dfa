"""kenetic/nextEdits offers a site unasked only when the site model finds it likely.

A skill's template says where a rewrite can go; the site model (memory.skills.site_model),
trained on other repositories' real commits and rule-engine rewrites, says where a developer
would make it. Sites below its threshold are left out of next edits; a code action at the
cursor still offers them, since there the developer asked.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlparse

from memory.skills.rewrites import Match
from memory.skills.site_model import SiteContext, SiteModel, features, load_model, skill_facts
from memory.skills.skill import Skill


class _Site(Protocol):
    """A found site (server.suggest.scan.Found)."""

    uri: str
    match: Match
    lines: list[str]


S = TypeVar("S", bound=_Site)


def likely_sites(
    skills: dict[str, Skill],
    found: list[S],
    uri: str,
    line: int | None,
    model: SiteModel | None = None,
) -> list[S]:
    """The found sites the model (the shipped one unless given) keeps; all of them when no model
    ships."""
    model = model or load_model()
    if model is None or not found:
        return found
    per_skill = Counter(f.match.skill_id for f in found)
    per_file = Counter((f.uri, f.match.skill_id) for f in found)
    facts: dict[str, dict[str, Any]] = {}
    texts: dict[str, str] = {}
    kept: list[S] = []
    for f in found:
        skill = skills.get(f.match.skill_id)
        if skill is None:
            kept.append(f)
            continue
        if skill.id not in facts:
            facts[skill.id] = skill_facts(skill)
        if f.uri not in texts:
            texts[f.uri] = "".join(f.lines)
        where = SiteContext(
            same_file=f.uri == uri,
            distance=abs(f.match.start_line - line) if line is not None else 0,
            sites=per_skill[f.match.skill_id],
            sites_in_file=per_file[(f.uri, f.match.skill_id)],
            path=unquote(urlparse(f.uri).path),
            text=texts[f.uri],
        )
        x = features(skill, facts[skill.id], f.match.bindings, where)
        if model.probability(x) >= model.threshold:
            kept.append(f)
    return kept
