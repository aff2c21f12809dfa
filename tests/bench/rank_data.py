"""The quality part of tests/bench/rank.py: outcome logs replayed from real edits, and scoring.

Each case of /work/shared/data/edit_replay_dev.jsonl (one commit, one change made at >= 3 sites) is
replayed edit by edit through the real engine (memory.skills.edits.structural_edit,
memory.skills.miner.SkillMiner with min_examples=2, memory.skills.matching.SkillIndex.matches_in).
After each edit from the 2nd on, the developer is shown every site of every skill in the case's
files: the skills mined from the edits so far and, as distractors, the skills mined from the other
cases of the same repository (last used 1+ days before). The ground-truth next edit is the accepted
suggestion when a suggestion's rewrite yields exactly the document with that edit applied; the
rest are rejected (outcome counts per skill carry over within a repository). The order in which
the developer makes a case's edits is a simulated developer's (tests.bench.rank_eval.SIMULATORS:
top down, bottom up, nearest first, random within a file, random across files); each is a
replay of its own.

The dicts carry only what the server fills at suggestion time (server.suggest.service.rank):
besides the skill's keys, each site's document and line (`uri`, `siteLine`), how often this
session showed the site without it being accepted (`shownInSession`,
server.suggest.session.SiteCounts), and in the context the cursor's document and line and the
lines of the session's last edits in the cursor's document (`uri`, `cursorLine`,
`recentEditLines`, server.suggest.session.EditLines). A file's path stands for its uri.

Any file in that format can be replayed (load_cases subsamples it); the logs are cached under
$KENETIC_BENCH_CACHE (default /tmp/kenetic-rank-cache), one file per repository and simulator,
keyed on REPLAY_VERSION, the simulator, the cases' ids and the code under memory/.
"""

from __future__ import annotations

import hashlib
import json
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench.rank_eval import SIMULATORS, rank_of  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data/edit_replay_dev.jsonl")
CACHE = Path(os.environ.get("KENETIC_BENCH_CACHE", "/tmp/kenetic-rank-cache"))
# The dev set's split by repository (its 7 repositories are too few for a seeded one to be
# balanced): the 3 test repositories are the ones the earlier single-split figures held out.
DEV_SPLIT = {
    "train": ["Textualize/rich", "numpy/numpy", "pypa/pip"],
    "val": ["pallets/flask"],
    "test": ["psf/requests", "pydantic/pydantic", "scrapy/scrapy"],
}
STEP_S = 20.0  # simulated seconds between two edits of one case
DAY_S = 24 * 3600.0
EDIT_LINES = 5  # recentEditLines kept, as server.suggest.session.EditLines
REPLAY_VERSION = 4  # bump when the replay changes: the cache key includes it


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


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
                "commit": case.get("commit") or case["id"],
                "case": case["id"],
            }
        )
    return out


def replay_repo(cases: list[dict[str, Any]], simulator: str) -> list[dict[str, Any]]:
    """Every case of one repository, its edits made in the order the simulated developer
    (tests.bench.rank_eval.SIMULATORS) picks; one developer history over the cases."""
    libraries = [_case_library(c) for c in cases]
    pick = SIMULATORS[simulator]
    out: list[dict[str, Any]] = []
    history = _History()
    for ci, case in enumerate(cases):
        t0 = 1.0e9 + ci * DAY_S
        # other cases' skills, last used the day (or days) before this session
        library = [
            (s, t0 - DAY_S * (1 + abs(cj - ci)))
            for cj, skills in enumerate(libraries)
            if cj != ci
            for s in skills
        ]
        order = pick([(e["path"], e["start"][0]) for e in case["edits"]], case["id"])
        out += replay_case(case, order, library, history, t0, f"{case['id']}/{simulator}")
    return out


def load_cases(
    data: Path, every: int = 1, max_per_repo: int = 0, max_edits: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """The cases of a replay file by repository, subsampled the same way on every run: per
    repository in id order, cases with at most `max_edits` edits (0: any), every `every`-th,
    at most `max_per_repo` (0: all)."""
    if not data.is_file():
        raise SystemExit(f"no replay data at {data}")
    by_repo: dict[str, list[dict[str, Any]]] = {}
    with data.open() as f:
        for n, line in enumerate(f, 1):
            try:
                case = json.loads(line)
                by_repo.setdefault(case["repo"], []).append(case)
            except (ValueError, KeyError) as e:
                raise SystemExit(f"{data}:{n}: not a replay case ({e})") from None
    out = {}
    for repo, cases in sorted(by_repo.items()):
        kept = [c for c in sorted(cases, key=lambda c: c["id"])
                if not max_edits or len(c["edits"]) <= max_edits][:: max(1, every)]  # fmt: skip
        if max_per_repo:
            kept = kept[:max_per_repo]
        if kept:
            out[repo] = kept
    return out


def _code_key() -> str:
    # the logs depend on the miner and the matcher too: a change to memory/ replays again
    return hashlib.sha1(
        b"".join(p.read_bytes() for p in sorted((REPO / "memory").rglob("*.py")))
    ).hexdigest()


def outcome_logs(
    cases: dict[str, list[dict[str, Any]]], simulator: str, no_cache: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Outcome logs per repository under one simulated developer, each repository replayed
    once and cached outside the repository (keyed on its cases, the simulator, the code)."""
    code = _code_key()
    logs: dict[str, list[dict[str, Any]]] = {}
    for repo, group in sorted(cases.items()):
        ids = ",".join(c["id"] for c in group)
        key = hashlib.sha1(f"{REPLAY_VERSION}:{simulator}:{code}:{ids}".encode()).hexdigest()
        cache = CACHE / f"outcomes-{key[:16]}.json"
        if cache.exists() and not no_cache:
            logs[repo] = json.loads(cache.read_text())
            continue
        t = time.perf_counter()
        logs[repo] = replay_repo(group, simulator)
        print(f"replayed {repo} ({simulator}): {len(logs[repo])} shown sets, "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)  # fmt: skip
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(logs[repo]))
        os.replace(tmp, cache)
    return logs


# -- scoring ---------------------------------------------------------------------------------


def reciprocal_ranks(ranker: Any, outcomes: list[dict[str, Any]]) -> list[float]:
    """1 / the rank of the accepted suggestion, per set that has one, with the server's
    tie-break (tests.bench.rank_eval.rank_of)."""
    return [
        1.0 / rank_of(ranker.score(o["context"], o["candidates"]), o["candidates"], i)
        for o in outcomes
        if (i := o["accepted_index"]) is not None
    ]


if __name__ == "__main__":  # build (or check) the cache: rank_data.py [simulator]
    built = outcome_logs(load_cases(DATA), sys.argv[1] if len(sys.argv) > 1 else "top_down")
    print({r: len(v) for r, v in built.items()})
