"""Skill cards and the skill list: what kenetic/skills and kenetic/skill answer."""

from __future__ import annotations

import asyncio
from typing import Any

from memory.skills.syntax import grammar_for
from server.suggest.library import refreshed
from server.suggest.service import SuggestService


def list_skills(service: SuggestService, language: str | None, limit: int) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for lib in refreshed(list(service.libraries.values())):
        for stored in lib.live():
            skill = stored.skill
            if (
                language
                and skill.language != language
                and not _same_language(language, skill.language)
            ):
                continue
            if skill.id not in seen:
                card = skill.describe()
                card["outcomes"] = stored.outcomes.to_json()
                card["store"] = lib.name
                seen[skill.id] = card
    cards = sorted(seen.values(), key=lambda c: (-c["support"], c["name"]))
    return cards[:limit]


async def card(service: SuggestService, skill_id: str) -> dict[str, Any] | None:
    """A skill's card: its templates, examples (with their text), support and outcomes."""
    lib = service.find_skill(skill_id)
    stored = lib.get(skill_id) if lib is not None else None
    if lib is None or stored is None:
        return None
    with lib.lock:
        card = stored.skill.describe()
        card["beforeTemplate"] = stored.skill.before_template
        card["afterTemplate"] = stored.skill.after_template
    card["outcomes"] = stored.outcomes.to_json()
    card["store"] = lib.name

    def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        examples = []
        for eid in card["examples"][:20]:
            episode = lib.store.episode(int(eid)) if str(eid).isdigit() else None
            region = episode.data.get("region", {}) if episode else {}
            examples.append(
                {
                    "episodeId": eid,
                    "uri": episode.uri if episode else None,
                    "before": region.get("before"),
                    "after": region.get("after"),
                }
            )
        return examples, lib.skill_store.history(skill_id)

    card["examples"], card["history"] = await asyncio.to_thread(read)
    return card


def _same_language(asked: str, grammar: str) -> bool:
    return grammar_for(asked) == grammar
