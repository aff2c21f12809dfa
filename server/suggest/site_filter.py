"""kenetic/nextEdits offers a site unasked only when the site model finds it likely.

A skill's template says where a rewrite can go; the site model (memory.skills.site_model),
trained on other repositories' real commits and rule-engine rewrites, says where a developer
would make it. Sites below its threshold are left out of next edits; a code action at the
cursor still offers them, since there the developer asked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
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
    *,
    model_of: Callable[[str], SiteModel | None] | None = None,
    features_out: dict[int, list[float]] | None = None,
) -> list[S]:
    """The found sites the model keeps: the model of each site's skill's store when model_of
    is given (server.suggest.site_learning), else the one given, else the shipped one; all of
    them when there is none. features_out gets each kept site's features by id(match)."""
    model = model or load_model()
    if (model is None and model_of is None) or not found:
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
            returns=f.match.returns,
        )
        x = features(skill, facts[skill.id], f.match.bindings, where)
        judge = model_of(skill.id) if model_of is not None else model
        if judge is None or judge.probability(x) >= judge.threshold:
            kept.append(f)
            if features_out is not None:
                features_out[id(f.match)] = x
    return kept
