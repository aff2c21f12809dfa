"""Labelled sites for the site model (memory.skills.site_model), from any replay corpus.

For each case (the format of /work/shared/data/README.md) the first k edits are mined offline,
as capture and the miner would in the server, and every site of the offered skills in the
case's files is found as kenetic/nextEdits finds them (server.suggest.sites.in_text; the place
just edited is left out). Each site gets its features and a label by the replay protocol:
correct (it makes a remaining labelled edit), same (the commit made it, in a hunk the case does
not label), different or unchanged (tests/bench/replay_judge.py).

    .venv/bin/python tests/bench/sites.py CORPUS.jsonl [...] --out ROWS.jsonl [--k 2]

Writes one JSON line per site ({"case", "repo", "language", "kind", "skill", "label", "x"}) and
prints a summary per corpus as JSON. Corpora are read where they lie, never copied.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memory.skills.edits import structural_edit  # noqa: E402
from memory.skills.matching import SkillIndex  # noqa: E402
from memory.skills.miner import SkillMiner  # noqa: E402
from memory.skills.rewrites import Match, apply_match  # noqa: E402
from memory.skills.site_model import SiteContext, features, skill_facts  # noqa: E402
from memory.skills.skill import Skill  # noqa: E402
from memory.skills.syntax import grammar_for, parse  # noqa: E402
from server.suggest.documents import Snapshot  # noqa: E402
from server.suggest.sites import at_lines_each, in_text, run_around  # noqa: E402
from tests.bench.replay_judge import (  # noqa: E402
    apply_lines,
    cursor_position,
    judge_against_commit,
    line_hunk,
    norm,
    pending_hunks,
    utf16_len,
)

CORRECT = "correct"


def _lsp_edit(text_lines: list[str], m: Match) -> dict[str, Any]:
    """The match as an LSP text edit (UTF-16 columns), as the server would send it."""

    def pos(line: int, char: int) -> dict[str, int]:
        src = text_lines[line] if line < len(text_lines) else ""
        return {"line": line, "character": utf16_len(src[:char])}

    return {
        "range": {"start": pos(m.start_line, m.start_char), "end": pos(m.end_line, m.end_char)},
        "newText": m.new_text,
    }


def case_sites(case: dict[str, Any], k: int) -> tuple[list[dict[str, Any]], int]:
    """The labelled sites of one case after its first k edits, and how many remaining labelled
    places a code action with the cursor on the place's line offers rightly."""
    docs = dict(case["files"])
    parent = dict(case["files"])
    shift = dict.fromkeys(docs, 0)
    miner = SkillMiner(min_examples=k)
    edits = case["edits"]
    last = None
    for n, e in enumerate(edits[:k]):
        path = e["path"]
        grammar = grammar_for(case["language"], path)
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        before = docs[path]
        docs[path] = apply_lines(before, start, end, e["new"])
        shift[path] += e["new"].count("\n") - e["old"].count("\n")
        last = (path, start)
        made = structural_edit(grammar, before, docs[path]) if grammar else None
        if made is not None:
            miner.add(f"e{n}", made)
    skills_all = miner.skills()
    skills = [s for s in skills_all if s.support >= s.needed_support()]
    if not skills_all or last is None:
        return [], 0
    wants: dict[str, list[str]] = {}
    cursors: list[tuple[str, int, str]] = []
    for e in edits[k:]:
        path = e["path"]
        s, t = e["start"][0] + shift[path], e["end"][0] + shift[path]
        want = norm(apply_lines(docs[path], s, t, e["new"]))
        wants.setdefault(path, []).append(want)
        cursors.append((path, cursor_position(e["old"], e["new"], s)[0], want))
    actions = _action_hits(skills_all, case["language"], docs, cursors)
    found: list[tuple[str, Match]] = []
    for path, text in docs.items():
        grammar = grammar_for(case["language"], path)
        if grammar is None:
            continue
        matches, _ = in_text(skills, grammar, text)
        for m in matches:
            if path == last[0] and m.start_line <= last[1] <= m.end_line:
                continue  # the place just edited is not an "other place"
            found.append((path, m))
    per_skill = Counter(m.skill_id for _, m in found)
    per_file = Counter((p, m.skill_id) for p, m in found)
    by_id = {s.id: s for s in skills}
    facts = {s.id: skill_facts(s) for s in skills}
    rows = []
    for path, m in found:
        text = docs[path]
        skill = by_id[m.skill_id]
        where = SiteContext(
            same_file=path == last[0],
            distance=abs(m.start_line - last[1]),
            sites=per_skill[m.skill_id],
            sites_in_file=per_file[(path, m.skill_id)],
            path=path,
            text=text,
            returns=m.returns,
        )
        x = features(skill, facts[skill.id], m.bindings, where)
        label = _label(case, k, docs, parent, path, m, wants)
        rows.append({"skill": skill.id, "path": path, "line": m.start_line, "label": label, "x": x})
    return rows, actions


def _action_hits(
    skills: list[Skill], language: str, docs: dict[str, str], cursors: list[tuple[str, int, str]]
) -> int:
    """Remaining places where a code action at the cursor's line makes the labelled edit, with
    the skills offered everywhere and those still waiting for examples, as the server offers."""
    indexes = [SkillIndex(skills), SkillIndex(skills, held_back=True)]
    by_id = {s.id: s for s in skills}
    counted: dict[tuple[str, str], list[Match]] = {}  # (path, skill id) -> its sites there
    hits = 0
    for path, line, want in cursors:
        grammar = grammar_for(language, path)
        tree = parse(grammar, docs[path]) if grammar else None
        if grammar is None or tree is None:
            continue
        text = docs[path]
        snap = Snapshot(None, text, text.encode("utf-8", "surrogatepass"), tree, grammar)
        found = at_lines_each(indexes, snap, line, line)
        ok = any(norm(apply_match(text, m)) == want for ms in found for m in ms)
        # and the places in a row with one of them, as one action (server.suggest.actions)
        for waiting, ms in zip((False, True), found, strict=True):
            for m in ms if not ok else []:
                if (path, m.skill_id) not in counted:
                    counted[(path, m.skill_id)], _ = in_text(
                        [by_id[m.skill_id]], language, text, tree=tree, waiting=waiting
                    )
                run = run_around(counted[(path, m.skill_id)], m)
                ok = len(run) > 1 and norm(apply_all(text, run)) == want
                if ok:
                    break
        hits += ok
    return hits


def apply_all(text: str, matches: list[Match]) -> str:
    """The text with every match applied (they do not overlap): last first."""
    for m in sorted(matches, key=lambda m: (m.start_line, m.start_char), reverse=True):
        text = apply_match(text, m)
    return text


def _label(
    case: dict[str, Any],
    k: int,
    docs: dict[str, str],
    parent: dict[str, str],
    path: str,
    m: Match,
    wants: dict[str, list[str]],
) -> str:
    text = docs[path]
    if norm(apply_match(text, m)) in wants.get(path, []):
        return CORRECT
    commit = [e for e in case.get("commit_edits") or [] if e["path"] == path]
    if not commit:
        return "wrong"
    lines = text.split("\n")
    applied = [e for e in case["edits"][:k] if e["path"] == path]
    pending = pending_hunks(text, commit, applied, parent[path])
    return judge_against_commit(lines, line_hunk(lines, _lsp_edit(lines, m)), pending)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases of a corpus")
    ap.add_argument("--every", type=int, default=1, help="keep every Nth case of a corpus")
    args = ap.parse_args()
    report: dict[str, Any] = {}
    with args.out.open("w") as out:
        for corpus in args.corpus:
            labels: Counter[str] = Counter()
            errors = cases = remaining = hit = cases_hit = actions = 0
            with corpus.open() as f:
                for n, line in enumerate(f):
                    if args.limit and n >= args.limit * args.every:
                        break
                    if n % args.every:
                        continue
                    case = json.loads(line)
                    cases += 1
                    try:
                        rows, action_hits = case_sites(case, args.k)
                    except Exception as exc:  # one bad case is counted, not fatal
                        errors += 1
                        print(f"{case['id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
                        continue
                    remaining += len(case["edits"]) - args.k
                    hit += len({(r["path"], r["line"]) for r in rows if r["label"] == CORRECT})
                    actions += action_hits
                    cases_hit += any(r["label"] == CORRECT for r in rows)
                    for r in rows:
                        labels[r["label"]] += 1
                        head = {key: case.get(key) for key in ("id", "repo", "language", "kind")}
                        out.write(json.dumps({**head, "corpus": corpus.name, **r}) + "\n")
            right = labels[CORRECT] + labels["same"]
            report[corpus.name] = {
                "cases": cases,
                "errors": errors,
                "sites": dict(labels),
                # what kenetic/nextEdits alone would reach, before the site model
                "precision": round(right / sum(labels.values()), 3) if labels else None,
                "recall": round(hit / remaining, 3) if remaining else None,
                "hit": round(cases_hit / cases, 3) if cases else None,
                # places a code action at the cursor's line rewrites rightly
                "action_recall": round(actions / remaining, 3) if remaining else None,
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
