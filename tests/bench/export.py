"""Skills exported as codemod rules, held to the skills they came from, on the dev replay.

For each case of /work/shared/data/edit_replay_dev.jsonl (never copied into the repository) the
first two edits are mined offline (as tests/bench/mining_offline.py does, min_examples = 2), and
every skill mined is exported (memory.export). Each rule then runs in the real tool: its own test
file (the examples as `invalid` cases), and applied to the case's files, both at the parent commit
and after the two examples, where its output is compared with the skill's own rewrite of every
site (memory.export.examples.rewrite_all): **same** when every file comes out identical,
**differs** otherwise, **not expressible** when no rule was written.

    .venv/bin/python tests/bench/export.py [--data PATH] [--format ast-grep] [--format semgrep]
        [--limit N] [--every N] [--verbose]

semgrep is not in the project's environment (docs/export.md): KENETIC_SEMGREP names its binary.

Prints JSON: the table per format, the verdict reasons counted, and (with --verbose, on stderr)
every skill's row.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memory.export import ast_grep, semgrep  # noqa: E402
from memory.export import check as tools  # noqa: E402
from memory.export.common import EXTENSIONS, NOT_EXPRESSIBLE  # noqa: E402
from memory.export.examples import cases as test_cases  # noqa: E402
from memory.export.examples import rewrite_all  # noqa: E402
from memory.skills.edits import structural_edit  # noqa: E402
from memory.skills.miner import SkillMiner  # noqa: E402
from memory.skills.skill import Skill  # noqa: E402

DATA = Path("/work/shared/data/edit_replay_dev.jsonl")


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


def mine(case: dict[str, Any]) -> tuple[list[Skill], dict[str, str], list[dict[str, Any]]]:
    """The skills of a case's first two edits, its files after them, and the two edits."""
    docs = dict(case["files"])
    shift: dict[str, int] = defaultdict(int)
    miner = SkillMiner(min_examples=2)
    for n, e in enumerate(case["edits"][:2]):
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        before = docs[path]
        after = _apply_lines(before, start, end, e["new"])
        se = structural_edit(case["language"], before, after)
        if se is not None:
            miner.add(f"{case['id']}#{n}", se)
        docs[path] = after
        shift[path] += e["new"].count("\n") - e["old"].count("\n")
    return miner.skills(), docs, case["edits"][:2]


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def check(
    fmt: str,
    skill: Skill,
    states: list[dict[str, str]],
    edits: list[dict[str, Any]],
    binary: str,
) -> dict[str, Any]:
    """Export one skill, run the rule's own tests, apply it to the case's files and compare."""
    cases = test_cases(skill, [e["old"] for e in edits], [e["new"] for e in edits], [])
    module = ast_grep if fmt == "ast-grep" else semgrep
    exported = module.export(skill, cases)
    row: dict[str, Any] = {"skill": skill.name, "verdict": exported.verdict.status}
    row["reasons"] = exported.verdict.reasons
    if exported.verdict.status == NOT_EXPRESSIBLE:
        row["result"] = NOT_EXPRESSIBLE
        return row
    ext = EXTENSIONS[exported.language or "python"]
    with tempfile.TemporaryDirectory(prefix="kenetic-export-") as tmp:
        project = Path(tmp) / "rules"
        _write(project, module.files([exported]))
        row["test_cases"] = len(cases.invalid) + len(cases.valid)
        has_test = exported.test is not None or bool(exported.files)
        if has_test:
            if fmt == "ast-grep":
                passed, output = tools.ast_grep_test(project, binary)
            else:
                passed, output = tools.semgrep_test(project / semgrep.RULES_DIR, binary)
            row["tests_pass"] = passed
            if not passed:
                row["test_output"] = output[-600:]
        if fmt == "ast-grep":
            rule = project / ast_grep.RULES_DIR / f"{exported.rule_id}.yml"
        else:
            rule = project / semgrep.RULES_DIR / f"{exported.rule_id}.yaml"
        same = loose = True
        sites = 0
        for k, state in enumerate(states):
            target = Path(tmp) / f"state{k}"
            names = {f"f{n}{ext}": text for n, text in enumerate(state.values())}
            _write(target, names)
            if fmt == "ast-grep":
                tools.ast_grep_apply(rule, target, binary)
            else:
                tools.semgrep_apply(rule, target, binary)
            for name, text in names.items():
                want, n = rewrite_all(skill, text)
                sites += n
                got = (target / name).read_text(encoding="utf-8")
                if got != want:
                    same = False
                    loose = loose and _stripped(got) == _stripped(want)
                    if "diff" not in row:
                        row["diff"] = _first_difference(want, got)
        row["skill_sites"] = sites
        row["result"] = "same" if same else "differs"
        if not same and loose:
            row["only_trailing_whitespace"] = True
    return row


def _stripped(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _first_difference(want: str, got: str) -> dict[str, str]:
    a, b = want.split("\n"), got.split("\n")
    for k in range(max(len(a), len(b))):
        x = a[k] if k < len(a) else "<end>"
        y = b[k] if k < len(b) else "<end>"
        if x != y:
            return {"line": str(k), "skill": x[:160], "rule": y[:160]}
    return {}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    results = Counter(r["result"] for r in rows)
    verdicts = Counter(r["verdict"] for r in rows)
    by_verdict = Counter(f"{r['verdict']} -> {r['result']}" for r in rows)
    reasons: Counter[str] = Counter()
    for r in rows:
        for reason in r["reasons"]:
            reasons[reason.split(":")[0] + ": " + _reason_kind(reason)] += 1
    tested = [r for r in rows if "tests_pass" in r]
    return {
        "skills": len(rows),
        "same": results["same"],
        "differs": results["differs"],
        "not_expressible": results[NOT_EXPRESSIBLE],
        "verdicts": dict(verdicts),
        "verdict_then_result": dict(sorted(by_verdict.items())),
        "rule_tests_pass": sum(1 for r in tested if r["tests_pass"]),
        "rule_tests_run": len(tested),
        "differs_only_in_trailing_whitespace": sum(
            1 for r in rows if r.get("only_trailing_whitespace")
        ),
        "same_with_sites": sum(1 for r in rows if r["result"] == "same" and r["skill_sites"]),
        "reasons": dict(reasons.most_common()),
    }


def _reason_kind(reason: str) -> str:
    """A reason without its particulars (hole names, quoted texts, node types), for counting."""
    text = reason.split(": ", 1)[1] if ": " in reason else reason
    text = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\)|\$*[hH]\d+\b|\$[A-Z0-9_]+", "", text)
    text = next((t for t in re.split(r"[:;]", text) if t.strip()), "")
    return " ".join(text.split()[:9])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--every", type=int, default=1, help="keep every Nth case")
    ap.add_argument("--verbose", action="store_true", help="every skill's row on stderr")
    ap.add_argument(
        "--format", action="append", choices=("ast-grep", "semgrep"), help="default: ast-grep"
    )
    args = ap.parse_args()
    binaries = {"ast-grep": tools.ast_grep(), "semgrep": tools.semgrep()}
    formats = args.format or ["ast-grep"]
    for fmt in formats:
        if binaries[fmt] is None:
            sys.exit(
                f"export bench: {fmt} not found (ast-grep: pip install ast-grep-cli, the dev "
                "extra; semgrep: KENETIC_SEMGREP=/path/to/semgrep, see docs/export.md)"
            )
    cases = [json.loads(line) for line in args.data.open()][:: max(1, args.every)]
    if args.limit:
        cases = cases[: args.limit]
    t0 = time.perf_counter()
    rows: dict[str, list[dict[str, Any]]] = {fmt: [] for fmt in formats}
    for case in cases:
        skills, docs, edits = mine(case)
        states = [dict(case["files"]), docs]
        for skill in skills:
            for fmt in formats:
                binary = binaries[fmt]
                assert binary is not None
                row = {"case": case["id"], "format": fmt}
                row.update(check(fmt, skill, states, edits, binary))
                rows[fmt].append(row)
                if args.verbose:
                    print(json.dumps(row), file=sys.stderr)
    report: dict[str, Any] = {"data": str(args.data), "cases": len(cases)}
    for fmt in formats:
        report[fmt] = summarise(rows[fmt])
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
