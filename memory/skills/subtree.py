"""The changed subtree as a context of its own: the rewrite, apart from where it sits.

An edit is captured with its statement (the context root X) and the node R whose children
changed. Two edits of one rewrite often sit in different statements: `assert list(h)[0] == k`
and `r = list(router.routes())[0]` both turn `list($x)[0]` into `next(iter($x))`, but under a
comparison in one and an assignment in the other, so they never share a bucket and their
statement-level contexts never anti-unify. Re-rooting each edit at the one child of R that
changed gives the rewrite itself, which can then be learned and matched wherever that kind of
subtree appears (memory.skills.mining.level takes height SUBTREE for it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from memory.skills.edits import StructuralEdit
from memory.skills.syn import Syn
from memory.skills.treediff import at

# Skill.height of a skill learned at the changed subtree (node mode, one level below R)
SUBTREE = -1


def _changed_child(edit: StructuralEdit) -> tuple[Syn, Syn, int] | None:
    """The single named child of R that the edit replaced, before and after, and its index."""
    if edit.clipped:
        return None
    i, jb, ja = edit.window
    if jb - i != 1 or ja - i != 1:
        return None
    rb, ra = at(edit.syn_before(), edit.path), at(edit.syn_after(), edit.path)
    if i >= min(len(rb.children), len(ra.children)):
        return None  # a window past R's children: a stored tree cut short (edits.MAX_BYTES)
    b, a = rb.children[i], ra.children[i]
    # an anonymous token (`yield`, `,`) or a bare name is no rewrite to carry anywhere: it would
    # turn every such token or name in the file
    if b.type == b.key or a.type == a.key or not b.children:
        return None
    return b, a, i


def subtree_key(edit: StructuralEdit) -> tuple[str, ...] | None:
    """The bucket of an edit's changed subtree: its node type before (what it becomes may be of
    different types: `(gen)` -> `gen` and `(a + b)` -> `a + b` are one rewrite)."""
    found = _changed_child(edit)
    if found is None:
        return None
    return (edit.language, "subtree", found[0].type)


def rerooted(edit: StructuralEdit) -> StructuralEdit | None:
    """The edit seen from its changed child: R becomes that child, whose children that differ
    (by a common prefix and suffix of equal subtrees) are the window."""
    found = _changed_child(edit)
    if found is None:
        return None
    b, a, i = found
    kb, ka = b.children, a.children
    p = 0
    while p < min(len(kb), len(ka)) and _same(kb[p], ka[p]):
        p += 1
    s = 0
    while s < min(len(kb), len(ka)) - p and _same(kb[-1 - s], ka[-1 - s]):
        s += 1
    carried = [[cb[1:], ca[1:]] for cb, ca in edit.carried if cb[:1] == [i] and ca[:1] == [i]]
    return replace(
        edit,
        path=[*edit.path, i],
        window=[p, len(kb) - s, len(ka) - s],
        carried=[c for c in carried if c[0] and c[1]],
        whole_lines=False,
    )


def parts(edit: StructuralEdit) -> list[StructuralEdit]:
    """The edit cut into one edit per child of R it changed, when it changed several apart from
    each other: `tuple[Optional[A], Optional[B]]` -> `tuple[A | None, B | None]` is two uses of
    the rewrite `Optional[$t]` -> `$t | None`, and `var a = f()` / `var b = g()` made `let` on
    two lines is `var` -> `let` twice; each can pair with an edit elsewhere that made it once.
    Children pair by position, so both sides keep the window's length; the children in between
    are left as they were. Empty for any other edit."""
    i, jb, ja = edit.window
    if jb - i != ja - i or jb - i < 2:
        return []
    rb, ra = at(edit.syn_before(), edit.path), at(edit.syn_after(), edit.path)
    if jb > min(len(rb.children), len(ra.children)):
        return []
    changed = [k for k in range(i, jb) if not _same(rb.children[k], ra.children[k])]
    if len(changed) < 2 or len({rb.children[k].type for k in changed}) != 1:
        return []
    out = []
    for k in changed:
        b, a = rb.children[k], ra.children[k]
        out.append(
            replace(
                edit,
                before=edit.context_before[b.start : b.end],
                after=edit.context_after[a.start : a.end],
                before_type=b.type,
                after_type=a.type,
                window=[k, k + 1, k + 1],
                carried=[c for c in edit.carried if c[0][:1] == [k] and c[1][:1] == [k]],
                whole_lines=edit.whole_lines
                and _own_lines(edit.context_before, b)
                and _own_lines(edit.context_after, a),
            )
        )
    return out


def _own_lines(text: str, node: Syn) -> bool:
    """Does the node occupy whole lines of the text (a statement of a block)?"""
    head = text[: node.start].rsplit("\n", 1)[-1]
    tail = text[node.end :].split("\n", 1)[0]
    return not head.strip() and not tail.strip()


def _same(x: Syn, y: Syn) -> bool:
    return x.type == y.type and x.key == y.key


def parent_type(edit: StructuralEdit) -> str:
    """The type of the node the changed subtree sits in (R)."""
    return at(edit.syn_before(), edit.path).type


def guard_parents(skill_template: dict[str, Any], *edits: StructuralEdit) -> None:
    """Where a subtree skill applies: under the kind of node every example's change sat under,
    when they agree (`if len(x):` -> `if x:` twice holds in a condition, not at `n = len(x)`);
    anywhere when they differ (`list($x)[0]` in a comparison and in an assignment). The guard
    is a list of types in the before-template ("parents"); an example under another kind of
    node that the skill covers widens it away."""
    kinds = {parent_type(e) for e in edits}
    if len(kinds) == 1:
        skill_template["parents"] = sorted(kinds)
    else:
        skill_template.pop("parents", None)
