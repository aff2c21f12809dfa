"""Exporting a store's skills into a folder of rule files (the CLI and the editor command).

Each skill's test cases come from its own history in the store: the examples' code before the
edit (the episodes' regions, as captured, secrets redacted) must make the rule fire; their code
after the edit, and sites the developer rejected, must not (memory.export.examples). Files are
written whole and in place of older exports of the same skill (a temporary file renamed over
it), so an interrupted export leaves each file either as it was or complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memory.export import ast_grep, semgrep
from memory.export.common import NOT_EXPRESSIBLE, Export
from memory.export.examples import Cases, cases
from memory.skills.skill import Skill
from memory.skills.skill_store import SkillStore
from memory.skills.syntax import grammar_for, has_error, parse
from memory.store.database import Store

FORMATS = ("ast-grep", "semgrep")
DEFAULT_DIR = Path(".kenetic") / "rules"


@dataclass
class Exported:
    """What one export wrote: per skill its verdict, and the files written (absolute paths)."""

    format: str
    folder: Path
    skills: list[dict[str, Any]] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "folder": str(self.folder),
            "skills": self.skills,
            "written": self.written,
        }


def live_skills(store: Store) -> list[Skill]:
    """The store's skills that are not deleted, most supported first."""
    found = [s.skill for s in SkillStore(store).load() if not s.deleted]
    return sorted(found, key=lambda s: (-s.support, s.name))


def skill_cases(store: Store, skill: Skill) -> Cases:
    """Test cases from the examples' episodes and the sites the developer rejected."""
    before: list[str] = []
    after: list[str] = []
    for eid in skill.examples[:20]:
        episode = store.episode(int(eid)) if str(eid).isdigit() else None
        region = (episode.data.get("region") or {}) if episode is not None else {}
        if isinstance(region.get("before"), str):
            before.append(region["before"])
        if isinstance(region.get("after"), str):
            after.append(region["after"])
    return cases(skill, before, after, rejected_sites(store, skill))


def rejected_sites(store: Store, skill: Skill) -> list[str]:
    """The code of sites the developer rejected, where it parses on its own (the suggestion keeps
    only the part of the site that the rewrite changes)."""
    rows = store.query(
        "SELECT DISTINCT s.data FROM outcomes o JOIN suggestions s ON s.id = o.suggestion_id"
        " WHERE o.skill_id = ? AND o.outcome = 'rejected' LIMIT 20",
        (skill.id,),
    )
    key = grammar_for(skill.language) or skill.language
    out = []
    for row in rows:
        try:
            old = json.loads(row["data"]).get("old")
        except (ValueError, TypeError, AttributeError):
            continue
        if isinstance(old, str) and old.strip():
            tree = parse(key, old)
            if tree is not None and not has_error(tree):
                out.append(old)
    return out


def export_one(skill: Skill, fmt: str, test_cases: Cases | None) -> Export:
    if fmt == "ast-grep":
        return ast_grep.export(skill, test_cases)
    if fmt == "semgrep":
        return semgrep.export(skill, test_cases)
    raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def files_of(fmt: str, exports: list[Export]) -> dict[str, str]:
    return ast_grep.files(exports) if fmt == "ast-grep" else semgrep.files(exports)


def export_skills(
    store: Store, fmt: str, folder: Path, skill_ids: list[str] | None = None
) -> Exported:
    """Write the rule files of the store's live skills (or of skill_ids) under folder. A skill id
    the store does not hold (or holds deleted) is a ValueError, and nothing is written."""
    check_format(fmt)
    skills = live_skills(store)
    if skill_ids:
        by_id = {s.id: s for s in skills}
        missing = [i for i in skill_ids if i not in by_id]
        if missing:
            raise ValueError(f"no skill {missing[0]!r} in this workspace's store")
        skills = [by_id[i] for i in skill_ids]
    return write_skills(store, fmt, folder, skills)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def write_skills(store: Store, fmt: str, folder: Path, skills: list[Skill]) -> Exported:
    """Write these skills' rule files under folder (their test cases read from store)."""
    check_format(fmt)
    exports = [export_one(s, fmt, skill_cases(store, s)) for s in skills]
    out = Exported(fmt, folder)
    files = files_of(fmt, exports)
    for rel, text in files.items():
        path = folder / rel
        if rel == ast_grep.CONFIG and path.exists():
            continue  # the project's own sgconfig.yml (perhaps edited) is kept as it is
        write_atomic(path, text)
        out.written.append(str(path))
    for skill, e in zip(skills, exports, strict=True):
        rule = [p for p in files if p.endswith((f"/{e.rule_id}.yml", f"/{e.rule_id}.yaml"))]
        written = rule and e.verdict.status != NOT_EXPRESSIBLE
        out.skills.append(
            {
                "id": skill.id,
                "name": skill.name,
                "ruleId": e.rule_id,
                "verdict": e.verdict.status,
                "reasons": e.verdict.reasons,
                "rule": str(folder / rule[0]) if written else None,
            }
        )
    return out


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
