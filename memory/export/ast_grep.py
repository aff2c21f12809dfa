"""A skill as an ast-grep rule (https://ast-grep.github.io/reference/yaml.html) and its test file.

The rule matches the skill's site node: `pattern` is the before-template with each hole a
metavariable (`$H0`; `$$$H0` for a run of list items or a statement block), given with its
`selector` (the node type the skill starts at) and, when the text alone parses as something else
(a parameter list alone reads as a tuple), the first example's code around it as `context`.
`strictness: cst` makes every token count, as kenetic's matcher does. `fix` is the after-template.
Hole types become `kind` constraints, literal and `uses` guards `regex`/`has` constraints, a
subtree skill's parent types an `inside`, and case and replace transforms ast-grep `transform`s.
The test file (`ast-grep test`) has the examples' code as `invalid` (the rule must fire) and
code the skill leaves alone as `valid`.
"""

from __future__ import annotations

from typing import Any

from memory.export import yaml
from memory.export.common import (
    IDENTIFIERS,
    NOT_EXPRESSIBLE,
    Export,
    Shape,
    Verdict,
    language_of,
    metavariable,
    rule_id,
    shape_of,
)
from memory.export.examples import Cases
from memory.export.guards import (
    COMMENTS,
    Guards,
    derived_texts,
    guards_of,
    rust_escape,
)
from memory.skills.skill import Skill

FORMAT = "ast-grep"
RULES_DIR = "rules"
TESTS_DIR = "rule-tests"
CONFIG = "sgconfig.yml"
CONFIG_TEXT = (
    "# ast-grep project of rules exported from kenetic skills (kenetic skills export)\n"
    f"ruleDirs:\n  - {RULES_DIR}\n"
    f"testConfigs:\n  - testDir: {TESTS_DIR}\n"
)


def export(skill: Skill, cases: Cases | None = None) -> Export:
    """The ast-grep rule and test file of a skill, or only a verdict when it is not expressible."""
    verdict = Verdict()
    rid = rule_id(skill)
    language = language_of(skill)
    out = Export(skill.id, rid, FORMAT, language, verdict)
    if language is None:
        verdict.refuse(f"ast-grep has no grammar for {skill.language!r}")
        return out
    derived = derived_texts(skill, verdict)
    if derived is None:
        return out
    texts, transforms, derived_guards = derived
    shape = shape_of(skill, texts, verdict, "$$$")
    if shape is None:
        return out
    guards = guards_of(skill, shape, verdict, derived_guards)
    if guards is None:
        return out
    rule: dict[str, Any] = {
        "id": rid,
        "language": language,
        "severity": "hint",
        "message": f"kenetic skill: {skill.name}",
        "note": f"learned from {len(skill.examples)} examples (support {skill.support})",
        "rule": _rule(shape, guards, language),
    }
    constraints = _constraints(guards, language)
    if constraints:
        rule["constraints"] = constraints
    if transforms:
        rule["transform"] = _transforms(transforms)
    rule["fix"] = shape.after
    rule["metadata"] = {"kenetic_skill": skill.id, "kenetic_verdict": verdict.status}
    header = [f"kenetic skill {skill.id}: {skill.name}", f"export: {verdict.status}"]
    if cases is not None and not (cases.invalid or cases.valid):
        header += ["no test file: no example's code alone holds a site", *cases.notes]
    out.rule = yaml.comment(header + verdict.reasons) + yaml.dump(rule)
    if cases is not None and (cases.invalid or cases.valid):
        out.test = test_file(rid, cases)
    return out


def _rule(shape: Shape, guards: Guards, language: str) -> dict[str, Any]:
    pattern: dict[str, Any] = {"context": shape.context or shape.before}
    if shape.kind is not None:
        pattern["selector"] = shape.kind
    pattern["strictness"] = "cst"
    rule: dict[str, Any] = {"pattern": pattern}
    if guards.parents:
        # the site's parent node, as kenetic's subtree skills check it (stopBy: neighbor)
        rule["inside"] = (
            {"kind": guards.parents[0]}
            if len(guards.parents) == 1
            else {"any": [{"kind": p} for p in guards.parents]}
        )
    checks: list[dict[str, Any]] = []
    for kind, word, present in guards.child_names:
        holds = {
            "has": {"kind": kind, "has": {**_name_rule(word, language)["any"][0], "stopBy": "end"}}
        }
        checks.append(holds if present else {"not": holds})
    if guards.no_comments:
        comments = [{"kind": k} for k in guards.no_comments]
        checks.append({"not": {"has": comments[0] if len(comments) == 1 else {"any": comments}}})
    if guards.wraps and shape.after_kind is not None:
        wrapper = {"context": shape.after, "selector": shape.after_kind, "strictness": "cst"}
        checks.append({"not": {"inside": {"pattern": wrapper, "stopBy": "end"}}})
    for word, present in guards.site_names:
        holds = {"has": {**_name_rule(word, language)["any"][0], "stopBy": "end"}}
        checks.append(holds if present else {"not": holds})
    if checks:
        rule["all"] = checks
    return rule


def _kind_rule(kind: str) -> dict[str, Any]:
    """The hole's node is of this type. ast-grep binds a metavariable to the outermost node
    spanning it (`type` around the `identifier` of `Optional[int]`), kenetic to the innermost:
    a node with that type as its only named child counts too."""
    only_child = {
        "all": [{"has": {"kind": kind, "nthChild": 1}}, {"not": {"has": {"nthChild": 2}}}]
    }
    return {"any": [{"kind": kind}, only_child]}


def _name_rule(word: str, language: str) -> dict[str, Any]:
    """The hole is, or holds, a name node spelling word, or a comment with that word (kenetic
    counts a name in a comment as a use, to be safe; one in a string is not)."""
    regex = "^" + rust_escape(word) + "$"
    names = [{"kind": k, "regex": regex} for k in IDENTIFIERS.get(language, ["identifier"])]
    in_comment = "(^|[^A-Za-z0-9_])" + rust_escape(word) + "([^A-Za-z0-9_]|$)"
    comments = [{"kind": k, "regex": in_comment} for k in COMMENTS.get(language, ["comment"])]
    is_use = {"any": names + comments}
    return {"any": [is_use, {"has": {**is_use, "stopBy": "end"}}]}


def _constraints(guards: Guards, language: str) -> dict[str, Any]:
    holes = sorted(
        set(guards.kinds) | set(guards.regex) | set(guards.not_regex) | set(guards.names)
    )
    out: dict[str, Any] = {}
    for hole in holes:
        parts: list[dict[str, Any]] = []
        if hole in guards.kinds:
            parts.append(_kind_rule(guards.kinds[hole]))
        parts += [{"regex": r} for r in guards.regex.get(hole, [])]
        parts += [{"not": {"regex": r}} for r in guards.not_regex.get(hole, [])]
        for word, present in guards.names.get(hole, []):
            rule = _name_rule(word, language)
            parts.append(rule if present else {"not": rule})
        out[metavariable(hole)] = parts[0] if len(parts) == 1 else {"all": parts}
    return out


def _transforms(transforms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for hole, t in transforms.items():
        source = "$" + t["source"]
        if "case" in t:
            out[metavariable(hole)] = {"convert": {"source": source, "toCase": t["case"]}}
        else:
            old, new = t["replace"]
            out[metavariable(hole)] = {
                "replace": {
                    "source": source,
                    "replace": rust_escape(old),
                    "by": new.replace("$", "$$"),
                }
            }
    return out


def test_file(rid: str, cases: Cases) -> str:
    """The rule's `ast-grep test` file: invalid cases must be reported, valid ones must not."""
    doc = {"id": rid, "valid": cases.valid, "invalid": cases.invalid}
    return yaml.comment(cases.notes) + yaml.dump(doc)


def files(exports: list[Export]) -> dict[str, str]:
    """The files of an ast-grep project holding these rules, relative to its folder (the
    project's sgconfig.yml included)."""
    out = {CONFIG: CONFIG_TEXT}
    for e in exports:
        if e.verdict.status == NOT_EXPRESSIBLE or e.rule is None:
            continue
        out[f"{RULES_DIR}/{e.rule_id}.yml"] = e.rule
        if e.test is not None:
            out[f"{TESTS_DIR}/{e.rule_id}-test.yml"] = e.test
    return out
