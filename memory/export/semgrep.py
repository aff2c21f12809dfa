"""A skill as a semgrep rule (https://semgrep.dev/docs/writing-rules/rule-syntax) and its test.

Semgrep maps less cleanly than ast-grep: its patterns are whole code snippets matched by meaning
(no node types: a hole matches any expression, and a parameter list alone is no pattern), a
statement block cannot be a metavariable the fix writes back, and its fix has no text
transforms. So the rule is written only for a skill whose site is a complete snippet, and the
verdict says what it loses (node types, comments between tokens); everything else is not
expressible. Guards become `metavariable-regex`, and a rewrite that wraps its site a
`pattern-not-inside` of its own result. The test is semgrep's own: a target file beside the rule
with `ruleid:` (must fire) and `ok:` (must not) annotations (`semgrep --test`).
"""

from __future__ import annotations

from typing import Any

from memory.export import yaml
from memory.export.common import (
    EXTENSIONS,
    NOT_EXPRESSIBLE,
    Export,
    Verdict,
    hole_types,
    language_of,
    metavariable,
    rule_id,
    shape_of,
)
from memory.export.examples import Cases, site_lines
from memory.export.guards import derived_texts, guards_of
from memory.skills.skill import Skill
from memory.skills.templates import SEGMENT

FORMAT = "semgrep"
RULES_DIR = "semgrep"
_LINE_COMMENT = {"python": "#", "ruby": "#", "lua": "--"}


def export(skill: Skill, cases: Cases | None = None) -> Export:
    verdict = Verdict()
    rid = rule_id(skill)
    language = language_of(skill)
    out = Export(skill.id, rid, FORMAT, language, verdict)
    if language == "tsx":
        language = "typescript"  # semgrep reads TSX as TypeScript
    if language is None:
        verdict.refuse(f"no semgrep language for {skill.language!r}")
        return out
    derived = derived_texts(skill, verdict)
    if derived is None:
        return out
    texts, transforms, derived_guards = derived
    if transforms:
        verdict.refuse("a derived hole (a change of case, a replacement): semgrep's fix has no "
                       "text transforms")  # fmt: skip
        return out
    shape = shape_of(skill, texts, verdict, "$...")
    if shape is None:
        return out
    blocks = [h for h in shape.multi if _hole_type(skill, h) != SEGMENT]
    if blocks:
        verdict.refuse("a statement block is a hole: semgrep cannot write a matched block back")
        return out
    if shape.context is not None:
        verdict.refuse(
            f"the site ({shape.kind}) is not a complete snippet; semgrep has no pattern context"
        )
        return out
    guards = guards_of(skill, shape, verdict, derived_guards)
    if guards is None:
        return out
    verdict.approximate(
        "semgrep matches by meaning, not token by token (an imported name matches its full "
        "path, comments and layout between tokens are skipped)"
    )
    if guards.kinds:
        verdict.approximate("semgrep has no node types: a hole matches any expression there")
    if guards.parents:
        verdict.approximate(f"the site's parent ({', '.join(guards.parents)}) is not checked")
    if guards.child_names or guards.site_names:
        verdict.approximate("a name a block or list must (not) use is checked by regex")
    patterns: list[dict[str, Any]] = [{"pattern": shape.before}]
    if guards.wraps:
        patterns.append({"pattern-not-inside": shape.after})
    for hole, regexes in sorted(guards.regex.items()):
        for regex in regexes:
            patterns.append(
                {"metavariable-regex": {"metavariable": "$" + metavariable(hole), "regex": regex}}
            )
    for hole, regexes in sorted(guards.not_regex.items()):
        for regex in regexes:
            patterns.append(
                {
                    "metavariable-pattern": {
                        "metavariable": "$" + metavariable(hole),
                        "patterns": [{"pattern-not-regex": regex}],
                    }
                }
            )
    for hole, names in sorted(guards.names.items()):
        for word, present in names:
            regex = rf"\b{word}\b"
            check = {"pattern-regex": regex} if present else {"pattern-not-regex": regex}
            patterns.append(
                {
                    "metavariable-pattern": {
                        "metavariable": "$" + metavariable(hole),
                        "patterns": [check] if present else [{"pattern-regex": "(?s).*"}, check],
                    }
                }
            )
    for _kind, word, present in guards.child_names:
        patterns.append({"pattern-regex" if present else "pattern-not-regex": rf"\b{word}\b"})
    for word, present in guards.site_names:
        patterns.append({"pattern-regex" if present else "pattern-not-regex": rf"\b{word}\b"})
    rule: dict[str, Any] = {
        "id": rid,
        "languages": [language],
        "severity": "INFO",
        "message": f"kenetic skill: {skill.name}",
        "metadata": {"kenetic_skill": skill.id, "kenetic_verdict": verdict.status},
    }
    if len(patterns) == 1:
        rule["pattern"] = shape.before
    else:
        rule["patterns"] = patterns
    rule["fix"] = shape.after
    header = [f"kenetic skill {skill.id}: {skill.name}", f"export: {verdict.status}"]
    out.rule = yaml.comment(header + verdict.reasons) + yaml.dump({"rules": [rule]})
    if cases is not None and (cases.invalid or cases.valid):
        target = test_target(skill, rid, language, cases)
        out.files[f"{RULES_DIR}/{rid}{EXTENSIONS[language]}"] = target
    return out


def _hole_type(skill: Skill, hole: str) -> str | None:
    return hole_types(skill.before_template["parts"], {}).get(hole)


def test_target(skill: Skill, rid: str, language: str, cases: Cases) -> str:
    """The file `semgrep --test` checks the rule against: a `ruleid:` annotation on the line
    above each site of the skill in the examples' code (a finding anywhere else fails the test,
    so the valid cases need only an `ok:` mark)."""
    mark = _LINE_COMMENT.get(language, "//")
    lines = [f"{mark} {note}" for note in cases.notes]
    for code in cases.invalid:
        starts = set(site_lines(skill, code))
        for k, line in enumerate(code.rstrip("\n").split("\n")):
            if k in starts:
                indent = line[: len(line) - len(line.lstrip())]
                lines.append(f"{indent}{mark} ruleid: {rid}")
            lines.append(line)
    for code in cases.valid:
        lines += [f"{mark} ok: {rid}", code.rstrip("\n")]
    return "\n".join(lines) + "\n"


def files(exports: list[Export]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exports:
        if e.verdict.status == NOT_EXPRESSIBLE or e.rule is None:
            continue
        out[f"{RULES_DIR}/{e.rule_id}.yaml"] = e.rule
        out.update(e.files)
    return out
