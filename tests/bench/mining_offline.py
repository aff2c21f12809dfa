"""Offline replay of real systematic edits through the skills engine, without the LSP server.

Reads /work/shared/data/edit_replay_dev.jsonl (never copied into the repository). For each case and
k in (1, 2): apply the first k edits one at a time, mine a StructuralEdit from each (document
before, document after) with a fresh SkillMiner (min_examples = k), then ask every mined skill for
all its sites in every touched file. A suggestion is correct when applying it gives exactly the
document with one remaining site's ground-truth edit applied (trailing whitespace ignored).

    .venv/bin/python tests/bench/mining_offline.py [--data PATH] [--limit N] [--case ID]
        [--k 1|2] [--every N] [--rows FILE] [--verbose]

--every N keeps every Nth case (a spread-out subset while iterating); --rows writes one JSON line
per case and k, for comparing runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memory.skills.edits import structural_edit  # noqa: E402
from memory.skills.matching import SkillIndex, apply_match  # noqa: E402
from memory.skills.miner import SkillMiner  # noqa: E402
from memory.skills.syntax import parse  # noqa: E402

DATA = Path("/work/shared/data/edit_replay_dev.jsonl")


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


def run_case(case: dict[str, Any], k: int, timings: dict[str, list[float]]) -> dict[str, Any]:
    docs = dict(case["files"])
    shift: dict[str, int] = defaultdict(int)  # line delta of applied edits, per file
    miner = SkillMiner(min_examples=1 if k == 1 else 2)
    edits = case["edits"]
    for n, e in enumerate(edits[:k]):
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        before = docs[path]
        after = _apply_lines(before, start, end, e["new"])
        t0 = time.perf_counter()
        se = structural_edit(case["language"], before, after)
        if se is not None:
            miner.add(f"{case['id']}#{n}", se)
        timings["mine"].append(time.perf_counter() - t0)
        docs[path] = after
        shift[path] += e["new"].count("\n") - e["old"].count("\n")
    remaining = []
    for e in edits[k:]:
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        remaining.append((path, _norm(_apply_lines(docs[path], start, end, e["new"]))))
    skills = miner.skills()
    index = SkillIndex(skills)
    suggestions = correct = 0
    hit_sites: set[int] = set()
    wrong: list[str] = []
    for path, text in docs.items():
        tree = parse(case["language"], text)
        for skill in skills:
            t0 = time.perf_counter()
            found = index.matches_in(skill.id, case["language"], text, tree)
            timings["match"].append(time.perf_counter() - t0)
            for m in found:
                suggestions += 1
                result = _norm(apply_match(text, m))
                ok = [i for i, (p, want) in enumerate(remaining) if p == path and want == result]
                if ok:
                    correct += 1
                    hit_sites.update(ok)
                elif len(wrong) < 3:
                    wrong.append(f"{path}:{m.start_line}: {m.old_text!r} -> {m.new_text!r}")
    return {
        "id": case["id"],
        "kind": case["kind"],
        "skills": [s.name for s in skills],
        "suggestions": suggestions,
        "correct": correct,
        "sites": len(remaining),
        "sites_hit": len(hit_sites),
        "wrong": wrong,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    sugg = sum(r["suggestions"] for r in rows)
    corr = sum(r["correct"] for r in rows)
    sites = sum(r["sites"] for r in rows)
    hit = sum(r["sites_hit"] for r in rows)
    return {
        "cases": len(rows),
        "suggestions": sugg,
        "precision": round(corr / sugg, 3) if sugg else None,
        "recall": round(hit / sites, 3) if sites else None,
        "hit": round(sum(1 for r in rows if r["correct"]) / len(rows), 3) if rows else None,
        "cases_with_skill": sum(1 for r in rows if r["skills"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--case", action="append", default=[], help="only cases whose id contains this")
    ap.add_argument("--k", type=int, action="append", choices=(1, 2), help="default: 1 and 2")
    ap.add_argument("--every", type=int, default=1, help="keep every Nth case")
    ap.add_argument("--rows", type=Path, help="write one JSON line per case and k here")
    ap.add_argument("--verbose", action="store_true", help="print every case")
    args = ap.parse_args()
    cases = [json.loads(line) for line in args.data.open()]
    if args.case:
        cases = [c for c in cases if any(x in c["id"] for x in args.case)]
    cases = cases[:: max(1, args.every)]
    if args.limit:
        cases = cases[: args.limit]
    report: dict[str, Any] = {}
    out = args.rows.open("w") if args.rows else None
    for k in args.k or (1, 2):
        timings: dict[str, list[float]] = {"mine": [], "match": []}
        rows = [run_case(c, k, timings) for c in cases]
        for r in rows:
            if args.verbose:
                print(json.dumps({"k": k, **r}), file=sys.stderr)
            if out is not None:
                out.write(json.dumps({"k": k, **r}) + "\n")
        report[f"k={k}"] = {
            "all": summarise(rows),
            "identical": summarise([r for r in rows if r["kind"] == "identical"]),
            "same-shape": summarise([r for r in rows if r["kind"] == "same-shape"]),
            "mine_ms_per_episode": round(1000 * statistics.fmean(timings["mine"]), 2),
            "matches_in_ms_per_call": round(1000 * statistics.fmean(timings["match"] or [0]), 3),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
