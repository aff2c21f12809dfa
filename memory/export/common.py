"""What every export format shares: a skill's templates as pattern text with metavariables, the
guards a rule must carry, and the verdict on how faithfully a rule can say the skill.

A skill is a before-template and an after-template over tree-sitter nodes (memory.skills.templates)
plus guards the matcher checks at each site (memory.skills.entry). A codemod rule engine matches
pattern text with metavariables, so the templates are rendered as text with each hole written as a
metavariable, and each guard is mapped to what the engine can check, or reported as not
expressible. Nothing is dropped silently: every guard the rule does not carry exactly is a reason
in the verdict, and the exporters write the reasons into the rule file as comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from memory.skills.skill import Skill
from memory.skills.syntax import grammar_for, parse
from memory.skills.templates import SEGMENT, Template, is_block, optionals, render

EXACT = "exact"
APPROXIMATED = "approximated"
NOT_EXPRESSIBLE = "not expressible"

# the kenetic grammar keys whose language ast-grep and semgrep know by the same name
LANGUAGES = frozenset(
    ("python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "lua", "ruby")
)

# file extensions the rule tools pick a language by (tests write example files with them)
EXTENSIONS = {
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "tsx": ".tsx",
    "go": ".go",
    "rust": ".rs",
    "java": ".java",
    "c": ".c",
    "cpp": ".cpp",
    "lua": ".lua",
    "ruby": ".rb",
}

# the node types that are names, per grammar: a `uses` guard looks for one spelling the word
IDENTIFIERS = {
    "python": ["identifier"],
    "javascript": ["identifier", "property_identifier", "shorthand_property_identifier"],
    "typescript": ["identifier", "property_identifier", "type_identifier"],
    "tsx": ["identifier", "property_identifier", "type_identifier"],
    "go": ["identifier", "field_identifier", "type_identifier", "package_identifier"],
    "rust": ["identifier", "field_identifier", "type_identifier"],
    "java": ["identifier", "type_identifier"],
    "c": ["identifier", "field_identifier", "type_identifier"],
    "cpp": ["identifier", "field_identifier", "type_identifier", "namespace_identifier"],
    "lua": ["identifier"],
    "ruby": ["identifier", "constant"],
}


@dataclass
class Verdict:
    """How faithfully a rule says a skill: exact, approximated (reasons say where the rule is
    looser or stricter), or not expressible (no rule is written; reasons say why)."""

    status: str = EXACT
    reasons: list[str] = field(default_factory=list)

    def approximate(self, reason: str) -> None:
        if self.status == EXACT:
            self.status = APPROXIMATED
        self.reasons.append(f"approximated: {reason}")

    def refuse(self, reason: str) -> None:
        self.status = NOT_EXPRESSIBLE
        self.reasons.append(f"not expressible: {reason}")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons)}


@dataclass
class Export:
    """One skill in one format: the rule file's text, its test file's text (None when the
    format keeps tests otherwise or there is no rule), and the verdict."""

    skill_id: str
    rule_id: str
    format: str
    language: str | None
    verdict: Verdict
    rule: str | None = None
    test: str | None = None
    # extra files the format's tests need, relative to the rules folder -> text
    files: dict[str, str] = field(default_factory=dict)


def rule_id(skill: Skill) -> str:
    return f"kenetic-{re.sub(r'[^A-Za-z0-9_-]', '-', skill.id)}"


def metavariable(hole: str) -> str:
    """A hole's metavariable name: ast-grep and semgrep both want `$` + upper case."""
    return re.sub(r"[^A-Z0-9_]", "_", hole.upper()) or "_H"


def language_of(skill: Skill) -> str | None:
    key = grammar_for(skill.language) or skill.language
    return key if key in LANGUAGES else None


@dataclass
class Shape:
    """A skill's rewrite as text: the node(s) the rule matches and what replaces them."""

    before: str  # pattern text of the matched node, holes as metavariables
    after: str  # replacement text, holes as metavariables (derived ones by their own names)
    kind: str | None  # the node type of the matched node (None: a bare hole, any type)
    context: str | None  # surrounding code that makes `before` parse as `kind`, when it alone
    # does not (the first example's own code around it)
    multi: set[str]  # holes written as a run of nodes ($$$X): segments and statement blocks
    kinds: dict[str, str]  # single holes -> the node type every example had there
    root: Template = field(default_factory=list)  # the template of the matched node
    after_kind: str | None = None  # the node type of the replacement's first node


def _parts_text(
    template: dict[str, Any], parts: list[Template], names: dict[str, str], indent: str
) -> str:
    env = {"\x00" + n: v for n, v in names.items()}
    return render(template["skeleton"], parts[0][3], parts[-1][4], parts, env, (indent, ""))


def hole_types(parts: list[Template], out: dict[str, str | None]) -> dict[str, str | None]:
    for t in parts:
        if t[0] in ("h", "o"):
            out.setdefault(t[1], t[2])
        elif t[0] == "n":
            hole_types(t[2], out)
    return out


def shape_of(skill: Skill, derived: dict[str, str], verdict: Verdict, sigil: str) -> Shape | None:
    """The rewrite as pattern and replacement text, or None (with the verdict refused) when the
    skill's site is not one node: a window of several statements or list items. sigil is the
    multi-node metavariable prefix (`$$$` for ast-grep, `$...` for semgrep). derived maps a
    derived after-hole to the text standing for it in the replacement."""
    bt, at = skill.before_template, skill.after_template
    before, after = bt["parts"], at["parts"]
    if not before:
        verdict.refuse("the skill has no before-template")
        return None
    if optionals(before) or optionals(after):
        verdict.refuse("an optional hole (matches one element or nothing) has no metavariable form")
        return None
    if skill.mode == "window":
        left, right = skill.anchors
        if (left, right) == (0, 0):
            before, after = _trimmed(before, after)
        if len(before) != 1:
            verdict.refuse(
                f"the site is {len(before)} sibling nodes in a row; a pattern matches one node"
            )
            return None
        if (left, right) != (0, 0) and not skill.line_insert:
            verdict.refuse("an insertion inside a line next to an anchor node")
            return None
    kinds_all = hole_types(before, {})
    multi = {
        h for h, typ in kinds_all.items() if typ == SEGMENT or (typ is not None and is_block(typ))
    }
    names = {h: (sigil if h in multi else "$") + metavariable(h) for h in kinds_all}
    indent = str(bt.get("indent") or "")
    pattern = _parts_text(bt, before, names, indent)
    after_names = {**names, **derived}
    replacement = _parts_text(at, after, after_names, indent) if after else ""
    first = before[0]
    kind = first[1] if first[0] in ("n", "c") else (first[2] if first[2] != SEGMENT else None)
    kinds = {h: typ for h, typ in kinds_all.items() if typ is not None and h not in multi}
    shape = Shape(pattern, replacement, kind, None, multi, kinds, before[0])
    if after:
        shape.after_kind = after[0][1] if after[0][0] in ("n", "c") else None
    if not _whole_tokens(pattern, verdict, "pattern") or not _whole_tokens(
        replacement, verdict, "replacement", fix=True
    ):
        return None
    if kind is not None and not _parses_as(skill, pattern, kind, pattern):
        shape.context = _context(skill, names, indent, kind, pattern)
        if shape.context is None:
            verdict.refuse(f"the pattern does not parse as a {kind} on its own nor in its example")
            return None
    return shape


def _trimmed(
    before: list[Template], after: list[Template]
) -> tuple[list[Template], list[Template]]:
    """A window without the constant nodes it keeps at either end (the `,` after a parameter
    that is rewritten in place): the rule matches the one node that changes."""
    while len(before) > 1 and after and before[-1][0] == after[-1][0] == "c":
        if before[-1][1:3] != after[-1][1:3]:
            break
        before, after = before[:-1], after[:-1]
    while len(before) > 1 and after and before[0][0] == after[0][0] == "c":
        if before[0][1:3] != after[0][1:3]:
            break
        before, after = before[1:], after[1:]
    return before, after


METAVARIABLE = re.compile(r"\$(?:\$\$|\.\.\.)?([A-Z_][A-Z0-9_]*)")


def _whole_tokens(text: str, verdict: Verdict, where: str, fix: bool = False) -> bool:
    """A metavariable must be a whole token of the pattern (`$H0` inside `$H1$H0` or `x$H0`
    is text to the engine), and in a replacement must not run into upper-case text."""
    for m in METAVARIABLE.finditer(text):
        before = text[m.start() - 1 : m.start()]
        after = text[m.end() : m.end() + 1]
        glued = (
            re.fullmatch(r"[A-Z0-9_]", after) is not None
            if fix
            else (re.fullmatch(r"[\w$]", before) or re.fullmatch(r"[\w$]", after)) is not None
        )
        if glued:
            verdict.refuse(f"hole {m.group(0)} is glued to other text in the {where}: {text!r}")
            return False
    return True


def _parses_as(skill: Skill, context: str, kind: str, pattern: str) -> bool:
    """Does context, with metavariables made names, hold pattern as its first `kind` node?"""
    key = grammar_for(skill.language) or skill.language
    # the engines read a metavariable as a name; `µ` is a name character in every grammar
    plain = METAVARIABLE.sub(lambda m: "µ" + m.group(1), context)
    want = METAVARIABLE.sub(lambda m: "µ" + m.group(1), pattern)
    tree = parse(key, plain)
    if tree is None:
        return False
    data = plain.encode("utf-8")
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == kind:
            return data[node.start_byte : node.end_byte].decode("utf-8") == want
        stack.extend(reversed(node.children))
    return False


# code around a node that does not parse as itself alone (a keyword argument alone reads as an
# assignment): the smallest context the grammar reads it in
_WRAPPERS = {
    ("python", "keyword_argument"): "f({})",
    ("python", "default_parameter"): "def f({}): pass",
    ("python", "typed_parameter"): "def f({}): pass",
    ("python", "typed_default_parameter"): "def f({}): pass",
    ("python", "parameters"): "def f{}: pass",
    ("python", "argument_list"): "f{}",
    ("python", "except_clause"): "try:\n    pass\n{}",
    ("python", "pair"): "{{{}}}",
    ("python", "decorator"): "{}\ndef f(): pass",
    ("python", "type"): "x: {}",
}


def _context(
    skill: Skill, names: dict[str, str], indent: str, kind: str, pattern: str
) -> str | None:
    """The first example's code around the site, holes as metavariables, when the pattern is
    that code's first node of its kind (a parameter list needs its `def`)."""
    bt = skill.before_template
    env = {"\x00" + n: v for n, v in names.items()}
    skeleton = bt["skeleton"]
    text = render(skeleton, 0, len(skeleton), bt["parts"], env, (indent, ""))
    wrapper = _WRAPPERS.get((grammar_for(skill.language) or skill.language, kind))
    if wrapper is not None:
        candidate = wrapper.format(pattern)
        if _parses_as(skill, candidate, kind, pattern):
            return candidate
    lines = text.split("\n")
    # the example's region may end mid-statement (a docstring cut off): try it whole, then cut
    # at each earlier line, closing a block header left open
    for end in range(len(lines), max(0, len(lines) - 40), -1):
        candidate = "\n".join(lines[:end])
        if candidate.rstrip().endswith(":"):
            candidate += "\n    pass"
        if pattern in candidate and _parses_as(skill, candidate, kind, pattern):
            return candidate
    return None
