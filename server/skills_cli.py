"""`kenetic skills ...`: a workspace's skills from the command line.

    kenetic skills list [--workspace DIR] [--json]
    kenetic skills export --format ast-grep|semgrep [--out DIR] [--workspace DIR]
        [--skill ID ...] [--json]

`export` writes one codemod rule per skill (memory.export; docs/export.md) under --out (default
<workspace>/.kenetic/rules/), with the rule tool's test files, and prints per skill whether the
rule says it exactly, approximately, or not at all. Exit status: 0 done, 1 failed (the message
says why), 2 bad usage. The editor's "Export Skill as Rule" is the workspace command
kenetic.exportSkill (server.features.skills.export_rule), which writes the same files for one skill.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from memory.store.database import Store, StoreError


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", default=".", help="workspace folder (default: .)")
    common.add_argument("--json", action="store_true", help="print JSON")
    p = argparse.ArgumentParser(prog="kenetic skills", description="A workspace's skills.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", parents=[common], help="list the learned skills")
    ex = sub.add_parser("export", parents=[common], help="write skills as codemod rules")
    ex.add_argument("--format", required=True, choices=("ast-grep", "semgrep"))
    ex.add_argument("--out", help="folder to write into (default: <workspace>/.kenetic/rules)")
    ex.add_argument(
        "--skill", action="append", dest="skills", metavar="ID", help="only this skill (repeat)"
    )
    return p


def skills_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    workspace = Path(args.workspace).resolve()
    if not workspace.is_dir():
        print(f"kenetic skills: {workspace} is not a folder", file=sys.stderr)
        return 1
    from memory.store.database import project_store_path

    path = project_store_path(workspace)
    if not path.exists():
        print(f"kenetic skills: no kenetic store in {workspace} ({path})", file=sys.stderr)
        return 1
    try:
        store = Store(path, create=False)
    except (StoreError, OSError) as exc:
        print(f"kenetic skills: cannot open {path}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.cmd == "list":
            return _list(store, args.json)
        out = Path(args.out) if args.out else workspace / ".kenetic" / "rules"
        return _export(store, args.format, out.resolve(), args.skills, args.json)
    except (StoreError, ValueError, OSError) as exc:
        print(f"kenetic skills: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _list(store: Store, as_json: bool) -> int:
    from memory.export.workspace import live_skills

    skills = [s.describe() for s in live_skills(store)]
    if as_json:
        print(json.dumps({"skills": skills}, indent=2, ensure_ascii=False))
        return 0
    for s in skills:
        print(f"{s['id']}  {s['language']:<10} support {s['support']}/{s['needed_support']}  "
              f"{s['name']}")  # fmt: skip
    if not skills:
        print("no skills learned yet")
    return 0


def _export(store: Store, fmt: str, out: Path, skill_ids: list[str] | None, as_json: bool) -> int:
    from memory.export.workspace import export_skills

    done = export_skills(store, fmt, out, skill_ids)
    if as_json:
        print(json.dumps(done.to_json(), indent=2, ensure_ascii=False))
        return 0
    for s in done.skills:
        where = s["rule"] or "(no rule written)"
        print(f"{s['verdict']:<16} {s['id']}  {s['name']}\n{'':<17}{where}")
        for reason in s["reasons"]:
            print(f"{'':<17}{reason}")
    written = sum(1 for s in done.skills if s["rule"])
    print(f"{written} of {len(done.skills)} skills written as {fmt} rules under {out}")
    return 0
