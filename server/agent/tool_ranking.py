"""Tools and skills for a task, ranked by the project's ranker (rules or the TRM) on their history.

`ToolRanker` is what `ToolRegistry.select` and the loop's relevant-skills choice call when the
server lends one: each tool spec becomes a ranker candidate (trm.ranker's shape) -

    {"skillId": "tool:<name>", "name", "templateText": description,
     "specificity": lexical relevance to the task (LexicalRanker, 0..1),
     "support", "accepted", "rejected", "undone", "shown", "lastUsed": from past agent episodes,
     "distance": None}

- and `learned(context, candidates) -> (scores, ranker name)` scores them (the server passes the
folder's active ranker; this package never imports it). Skills are their own candidates (their
support, specificity and outcome counts). The final order is lexical relevance first, the
learned score second (see `combine`). Any failure of the learned part raises from `score`, and
`select` then ranks with the LexicalRanker alone.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from server.agent.tools import LexicalRanker

log = logging.getLogger(__name__)

# (context, candidates) -> (one score per candidate, the name of the ranker that gave them)
Learned = Callable[[dict[str, Any], list[dict[str, Any]]], tuple[Sequence[float], str]]

RELEVANT = 2.0  # the tier of a candidate that shares a word with the task
LEARNED_WEIGHT = 0.5  # how much of the lexical range the learned score may make up


def lexical01(context: dict[str, Any], views: list[dict[str, Any]]) -> list[float]:
    """LexicalRanker scores scaled so the best candidate is 1 (all 0 when none matches)."""
    raw = LexicalRanker().score(context, views)
    top = max(raw, default=0.0)
    return [s / top if top > 0 else 0.0 for s in raw]


def learned01(scores: Sequence[float], ranker: str) -> list[float]:
    """The learned scores on 0..1. The rules' scores are absolute already (a product of 0..1
    terms; 0: no history at all), so they are kept. The TRM's are listwise logits (trained with
    a stablemax cross-entropy over each shown set): only their differences mean anything, so
    they become exp(s - max), the candidate's probability relative to the best one."""
    values = [float(s) for s in scores]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("the ranker gave a non-finite score")
    if ranker == "rules":
        return [min(1.0, max(0.0, v)) for v in values]
    top = max(values, default=0.0)
    return [math.exp(v - top) for v in values]


def combine(lexical: Sequence[float], learned: Sequence[float]) -> list[float]:
    """Lexical relevance first, the learned score second.

    The learned score alone cannot pick tools: for the rules a tool never used here scores 0
    whatever the task says, and the TRM was trained on skill suggestions, not on tasks. The
    words of the task are the only evidence about *this* task, so a candidate sharing a word
    with it sits in a higher tier (RELEVANT) than any candidate sharing none: history never
    offers an unrelated tool before a relevant one. Within a tier the learned score adds up to
    LEARNED_WEIGHT, half the lexical range: word overlap is a coarse signal (one extra word in
    a description), so what this workspace's past tasks found useful decides among candidates
    that match about equally well, but cannot overturn a much better match. Among unrelated
    candidates (filling the slots that are left) the learned score alone orders them.
    """
    return [
        (RELEVANT if lex > 0 else 0.0) + lex + LEARNED_WEIGHT * learn
        for lex, learn in zip(lexical, learned, strict=True)
    ]


def tool_history(episodes: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per tool name, its history in agent episodes (Episode.to_json() dicts).

    Credit goes per episode, not per call (a task that reads ten files used read_file once, and
    the outcome belongs to the episode): support counts the episodes that called the tool,
    accepted those that ended in success (lastUsed: the latest of them), rejected those that
    failed, undone those whose edit the user undid; cancelled ones add support only. Calls the
    loop refused before running (a tool not offered, unreadable arguments) do not count.
    """
    out: dict[str, dict[str, Any]] = {}
    for episode in episodes:
        used = {
            str(entry.get("tool"))
            for entry in episode.get("trajectory") or []
            if isinstance(entry, Mapping)
            and entry.get("type") == "tool"
            and entry.get("tool")
            and not entry.get("refused")
        }
        outcome, reason = episode.get("outcome"), episode.get("reason")
        ended = float(episode.get("endedAt") or 0.0)
        for name in used:
            h = out.setdefault(
                name,
                {"support": 0, "accepted": 0, "rejected": 0, "undone": 0, "lastUsed": 0.0},
            )
            h["support"] += 1
            if outcome == "success":
                h["accepted"] += 1
                h["lastUsed"] = max(h["lastUsed"], ended)
            elif outcome == "failure":
                h["undone" if reason == "undone" else "rejected"] += 1
    return out


class ToolRanker:
    """The project's ranker behind `tools.Ranker`, for the tools and skills of one task."""

    def __init__(
        self,
        learned: Learned,
        history: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.learned = learned
        self.history = dict(history or {})
        self.now = now
        self.last_ranker: str | None = None  # which ranker scored last ("rules", "trm vN")

    def learned_scores(
        self, context: dict[str, Any], candidates: list[dict[str, Any]]
    ) -> list[float]:
        scores, name = self.learned(context, candidates)
        scores = list(scores)
        if len(scores) != len(candidates):
            raise ValueError(f"ranker returned {len(scores)} scores for {len(candidates)}")
        self.last_ranker = name
        return learned01(scores, name)

    def context_for(self, kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "now": self.now(), **context}

    def tool_candidate(self, spec: Mapping[str, Any], relevance: float) -> dict[str, Any]:
        name = str(spec.get("name", ""))
        h = self.history.get(name, {})
        support = int(h.get("support") or 0)
        return {
            "skillId": f"tool:{name}",
            "name": name,
            "templateText": str(spec.get("description", "")),
            "support": support,
            "specificity": relevance,
            "lastUsed": float(h.get("lastUsed") or 0.0),
            "accepted": int(h.get("accepted") or 0),
            "rejected": int(h.get("rejected") or 0),
            "undone": int(h.get("undone") or 0),
            "shown": support,  # offers are not recorded: every use was an offer at least
            "distance": None,
        }

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        """Tool specs -> scores (tools.Ranker); raises if the learned ranker fails."""
        if not candidates:
            return []
        lexical = lexical01(context, candidates)
        ranked = [self.tool_candidate(c, lex) for c, lex in zip(candidates, lexical, strict=True)]
        learned = self.learned_scores(self.context_for("agentTool", context), ranked)
        return combine(lexical, learned)


def skill_view(skill: Mapping[str, Any]) -> dict[str, Any]:
    """What the LexicalRanker reads of a skill card."""
    return {
        "name": skill.get("name", ""),
        "description": f"{skill.get('before', '')} {skill.get('after', '')} "
        f"{skill.get('language', '')}",
    }


def skill_candidate(skill: Mapping[str, Any]) -> dict[str, Any]:
    """A skill card (server.suggest.cards.list_skills) as the ranker's candidate."""
    outcomes = skill.get("outcomes") or {}
    return {
        "skillId": str(skill.get("id", "")),
        "name": skill.get("name", ""),
        "templateText": f"{skill.get('before', '')} => {skill.get('after', '')}",
        "support": int(skill.get("support") or 0),
        "specificity": float(skill.get("specificity") or 0.0),
        "lastUsed": float(skill.get("lastUsed") or 0.0),
        "accepted": int(outcomes.get("accepted") or 0),
        "rejected": int(outcomes.get("rejected") or 0),
        "undone": int(outcomes.get("undone") or 0),
        "shown": int(outcomes.get("shown") or 0),
        "distance": None,
    }


def rank_skills(
    task: str, skills: list[dict[str, Any]], k: int, ranker: ToolRanker | None = None
) -> list[dict[str, Any]]:
    """The k skills most relevant to the task: those sharing a word with it, ordered by lexical
    relevance and the ranker's score (combine); the lexical order alone without a ranker or
    when it fails."""
    if not skills or k <= 0:
        return []
    context = {"task": task}
    lexical = lexical01(context, [skill_view(s) for s in skills])
    scores = list(lexical)
    if ranker is not None:
        try:
            learned = ranker.learned_scores(
                ranker.context_for("agentSkill", context), [skill_candidate(s) for s in skills]
            )
            scores = combine(lexical, learned)
        except Exception as exc:  # the lexical order is still a good one
            log.warning("skill ranker failed (%s); using the lexical ranker", exc)
    order = sorted(range(len(skills)), key=lambda i: (-scores[i], i))
    return [skills[i] for i in order[:k] if lexical[i] > 0]


__all__ = ["ToolRanker", "combine", "rank_skills", "tool_history"]
