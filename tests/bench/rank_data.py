"""The quality part of tests/bench/rank.py: outcome logs replayed from real edits, and scoring.

Each case of /work/shared/data/edit_replay_dev.jsonl (one commit, one change made at >= 3 sites) is
replayed edit by edit through the real engine (memory.skills.edits.structural_edit,
memory.skills.miner.SkillMiner with min_examples=2, memory.skills.matching.SkillIndex.matches_in).
After each edit from the 2nd on, the developer is shown every site of every skill in the case's
files: the skills mined from the edits so far and, as distractors, the skills mined from the other
cases of the same repository (last used 1+ days before). The ground-truth next edit is the accepted
suggestion when a suggestion's rewrite yields exactly the document with that edit applied; the
rest are rejected (outcome counts per skill carry over within a repository). Each case is
replayed in its natural (file) order and in up to rotations-1 rotations of it (the developer
starts at another site and works down, wrapping round).

The dicts carry only what the server fills at suggestion time (server.suggest.service.rank):
besides the skill's keys, each site's document and line (`uri`, `siteLine`), how often this
session showed the site without it being accepted (`shownInSession`,
server.suggest.session.SiteCounts), and in the context the cursor's document and line and the
lines of the session's last edits in the cursor's document (`uri`, `cursorLine`,
`recentEditLines`, server.suggest.session.EditLines). A file's path stands for its uri.

The logs are cached under $KENETIC_BENCH_CACHE (default /tmp/kenetic-rank-cache), keyed on
REPLAY_VERSION, the rotations and the data file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from memory.skills.edits import structural_edit
from memory.skills.matching import SkillIndex, apply_match
from memory.skills.miner import SkillMiner
from memory.skills.skill import Skill
from memory.skills.syntax import byte_offset, enclosing_named_node, parse
from server.suggest.shown import short

REPO = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data/edit_replay_dev.jsonl")
CACHE = Path(os.environ.get("KENETIC_BENCH_CACHE", "/tmp/kenetic-rank-cache"))
TRAIN_REPOS = ("Textualize/rich", "numpy/numpy", "pallets/flask", "pypa/pip")
EVAL_REPOS = ("psf/requests", "pydantic/pydantic", "scrapy/scrapy")
STEP_S = 20.0  # simulated seconds between two edits of one case
DAY_S = 24 * 3600.0
EDIT_LINES = 5  # recentEditLines kept, as server.suggest.session.EditLines
REPLAY_VERSION = 3  # bump when the replay changes: the cache key includes it


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


def orders(n: int, rotations: int) -> list[list[int]]:
    """The natural (file) order, then rotations of it: the developer starts at another site
    and works down, wrapping around; every rotation is a plausible session of its own."""
    out = [list(range(n))]
    for r in range(1, min(n, rotations)):
        start = (r * n) // min(n, rotations)
        out.append([(start + i) % n for i in range(n)])
    return out


def _cursor_nodes(language: str, text: str, line: int) -> list[str]:
    tree = parse(language, text)
    if tree is None:
        return []
    lines = text.split("\n")
    col = len(lines[line]) - len(lines[line].lstrip()) if line < len(lines) else 0
    pos = byte_offset(text, line, col)
    node = enclosing_named_node(tree, pos, pos + 1)
    out: list[str] = []
    while node is not None and len(out) < 8:
        out.append(node.type)
        node = node.parent
    return out


def _case_library(case: dict[str, Any]) -> list[Skill]:
    """Skills mined from all of one case's edits: the distractors other cases see."""
    miner = SkillMiner(min_examples=2)
    docs = dict(case["files"])
    shift: dict[str, int] = {}
    for n, e in enumerate(case["edits"]):
        path = e["path"]
        d = shift.get(path, 0)
        before = docs[path]
        after = _apply_lines(before, e["start"][0] + d, e["end"][0] + d, e["new"])
        se = structural_edit(case["language"], before, after)
        if se is not None:
            miner.add(f"{case['id']}#{n}", se)
        docs[path] = after
        shift[path] = d + e["new"].count("\n") - e["old"].count("\n")
    return miner.skills()


class _History:
    """Outcome counts per skill, as the server's skill store keeps them, over one replay pass."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, float]] = {}

    def of(self, skill_id: str) -> dict[str, float]:
        return self.counts.setdefault(
            skill_id, {"accepted": 0, "rejected": 0, "undone": 0, "shown": 0, "lastUsed": 0.0}
        )

    def record(self, ids: list[str], accepted: str | None, now: float) -> None:
        for sid in set(ids):
            c = self.of(sid)
            c["shown"] += 1
            if accepted is not None and sid != accepted:
                c["rejected"] += 1
        if accepted is not None:
            c = self.of(accepted)
            c["accepted"] += 1
            c["lastUsed"] = now


def replay_case(
    case: dict[str, Any],
    order: list[int],
    library: list[tuple[Skill, float]],
    history: _History,
    t0: float,
    session: str,
) -> list[dict[str, Any]]:
    """Replay one case's edits in `order`; one shown set per step from the 2nd edit on."""
    lang = case["language"]
    edits = case["edits"]
    docs = dict(case["files"])
    applied: set[int] = set()
    deltas: dict[int, int] = {}
    miner = SkillMiner(min_examples=2)
    recent: list[str] = []
    last_used: dict[str, float] = {}
    # (file, skill, rewrite) -> shown sets of this session that showed it and did not take it
    site_shown: dict[tuple[str, str, str], int] = {}
    out: list[dict[str, Any]] = []

    def current(i: int) -> tuple[int, int]:
        e = edits[i]
        d = sum(
            deltas[j]
            for j in applied
            if edits[j]["path"] == e["path"] and edits[j]["start"][0] < e["start"][0]
        )
        return e["start"][0] + d, e["end"][0] + d

    for step, i in enumerate(order):
        e = edits[i]
        path = e["path"]
        start, end = current(i)
        before = docs[path]
        after = _apply_lines(before, start, end, e["new"])
        now = t0 + STEP_S * step
        se = structural_edit(lang, before, after)
        just = {s.id for s in miner.add(f"{session}#{i}", se)} if se is not None else set()
        for sid in just:
            last_used[sid] = now
        docs[path] = after
        applied.add(i)
        deltas[i] = e["new"].count("\n") - e["old"].count("\n")
        recent = [*recent[-2:], short(e["old"]) + " => " + short(e["new"])]
        if step == 0 or step + 1 >= len(order):
            continue
        # what the developer is shown now: every site of every known skill in the open files
        own = miner.skills()
        skills: dict[str, tuple[Skill, float]] = {s.id: (s, last_used.get(s.id, now)) for s in own}
        for s, used in library:
            skills.setdefault(s.id, (s, used))
        index = SkillIndex([s for s, _ in skills.values()])
        cursor = start
        nxt = order[step + 1]
        n_start, n_end = current(nxt)
        n_path = edits[nxt]["path"]
        want = _norm(_apply_lines(docs[n_path], n_start, n_end, edits[nxt]["new"]))
        candidates: list[dict[str, Any]] = []
        keys: list[tuple[str, str, str]] = []
        accepted: int | None = None
        for p, text in docs.items():
            tree = parse(lang, text)
            for sid, (s, used) in skills.items():
                for m in index.matches_in(sid, lang, text, tree):
                    same = p == path
                    if (
                        accepted is None
                        and p == n_path
                        and n_start - 2 <= m.start_line <= n_end + 2
                        and _norm(apply_match(text, m)) == want
                    ):
                        accepted = len(candidates)
                    h = history.of(sid)
                    match_text = short(m.old_text) + " => " + short(m.new_text)
                    keys.append((p, sid, match_text))
                    candidates.append(
                        {
                            "skillId": sid,
                            "name": s.name,
                            "templateText": s.pattern_text("before") + " => "
                            + s.pattern_text("after"),
                            "root": s.root,
                            "matchText": match_text,
                            "support": s.support,
                            "specificity": s.specificity,
                            "lastUsed": max(used, h["lastUsed"]),
                            "accepted": h["accepted"],
                            "rejected": h["rejected"],
                            "undone": h["undone"],
                            "shown": h["shown"],
                            "distance": abs(m.start_line - cursor) if same else None,
                            "lineDelta": m.start_line - cursor if same else None,
                            "sameFile": same,
                            "justApplied": sid in just,
                            "siteLine": m.start_line,
                            "uri": p,
                            "shownInSession": site_shown.get(keys[-1], 0),
                        }
                    )  # fmt: skip
        if not candidates:
            continue
        edit_lines = [current(j)[0] for j in order[: step + 1] if edits[j]["path"] == path]
        context = {
            "kind": "nextEdits",
            "now": now,
            "language": lang,
            "uri": path,
            "cursorNodeTypes": _cursor_nodes(lang, after, start),
            "recentEditShapes": list(recent),
            "recentCommands": [],
            "cursorLine": cursor,
            "recentEditLines": edit_lines[-EDIT_LINES:],
        }
        history.record(
            [c["skillId"] for c in candidates],
            candidates[accepted]["skillId"] if accepted is not None else None,
            now,
        )
        for k, key in enumerate(keys):
            if k != accepted:
                site_shown[key] = site_shown.get(key, 0) + 1
        out.append(
            {
                "context": context,
                "candidates": candidates,
                "accepted_index": accepted,
                "session": session,
                "t": now,
                "repo": case["repo"],
                "case": case["id"],
            }
        )
    return out


def replay_repo(cases: list[dict[str, Any]], rotations: int) -> list[dict[str, Any]]:
    """Every case of one repository, each in its natural order and up to rotations-1 more."""
    libraries = [_case_library(c) for c in cases]
    out: list[dict[str, Any]] = []
    n_orders = max(len(orders(len(c["edits"]), rotations)) for c in cases)
    for r in range(n_orders):
        history = _History()  # each pass is a separate developer history
        for ci, case in enumerate(cases):
            case_orders = orders(len(case["edits"]), rotations)
            if r >= len(case_orders):
                continue
            t0 = 1.0e9 + ci * DAY_S
            # other cases' skills, last used the day (or days) before this session
            library = [
                (s, t0 - DAY_S * (1 + abs(cj - ci)))
                for cj, skills in enumerate(libraries)
                if cj != ci
                for s in skills
            ]
            out += replay_case(case, case_orders[r], library, history, t0, f"{case['id']}/r{r}")
    return out


def outcome_logs(
    data: Path = DATA, rotations: int = 4, no_cache: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Outcome logs per repository, replayed once and cached outside the repository."""
    # the logs depend on the miner and the matcher too: a change to memory/ replays again
    code = hashlib.sha1(
        b"".join(p.read_bytes() for p in sorted((REPO / "memory").rglob("*.py")))
    ).hexdigest()
    key = hashlib.sha1(
        f"{REPLAY_VERSION}:{rotations}:{data}:{data.stat().st_mtime}:{code}".encode()
    ).hexdigest()[:12]
    cache = CACHE / f"outcomes-{key}.json"
    if cache.exists() and not no_cache:
        logs: dict[str, list[dict[str, Any]]] = json.loads(cache.read_text())
        return logs
    cases = [json.loads(line) for line in data.open()]
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        by_repo.setdefault(c["repo"], []).append(c)
    logs = {}
    for repo, group in sorted(by_repo.items()):
        t = time.perf_counter()
        logs[repo] = replay_repo(group, rotations)
        print(f"replayed {repo}: {len(logs[repo])} shown sets, "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)  # fmt: skip
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(logs))
    os.replace(tmp, cache)
    return logs


# -- scoring ---------------------------------------------------------------------------------


def _tiebreak(c: dict[str, Any]) -> tuple[int, float]:
    # The server's tie-break (server.suggest.service.rank): the site nearest the cursor.
    d = c.get("distance")
    return (0 if c.get("sameFile") else 1, float(d) if d is not None else math.inf)


def rank_of_accepted(scores: list[float], outcome: dict[str, Any]) -> int:
    cands = outcome["candidates"]
    order = sorted(range(len(cands)), key=lambda k: (-scores[k], *_tiebreak(cands[k]), k))
    return order.index(outcome["accepted_index"]) + 1


def evaluate(ranker: Any, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ranks = [
        rank_of_accepted(ranker.score(o["context"], o["candidates"]), o)
        for o in outcomes
        if o["accepted_index"] is not None
    ]
    if not ranks:
        return {"sets": 0, "mrr": None, "top1": None}
    return {
        "sets": len(ranks),
        "mrr": round(statistics.fmean(1.0 / r for r in ranks), 4),
        "top1": round(statistics.fmean(float(r == 1) for r in ranks), 4),
    }


if __name__ == "__main__":  # build (or check) the cache: rank_data.py [rotations]
    built = outcome_logs(rotations=int(sys.argv[1]) if len(sys.argv) > 1 else 4)
    print({r: len(v) for r, v in built.items()})
