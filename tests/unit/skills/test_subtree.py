"""Learning the rewrite at the changed subtree, apart from the statements it sits in."""

import pytest

from memory.skills.matching import SkillIndex
from memory.skills.subtree import SUBTREE
from tests.unit.skills.mined import mine


def _offered(
    language: str, doc: str, *changes: tuple[str, str]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The rewrites the skills mined from changes offer in the document after them: everywhere
    (next edits), and only at the cursor (a hypothesis waiting for a third example)."""
    miner, _, after = mine(language, doc, *changes)
    assert miner.skills(), "the changes made no skill"
    lines = after.count("\n") + 1
    return tuple(  # type: ignore[return-value]
        [(m.old_text, m.new_text) for m in index.matches_at(language, after, None, 0, lines)]
        for index in (SkillIndex(miner.skills()), SkillIndex(miner.skills(), held_back=True))
    )


LIST_DOC = (
    "def f(req, router):\n"
    "    assert list(req.headers)[0] == HOST\n"
    "    route2 = list(router.routes())[0]\n"
    "    for k in items:\n"
    "        print(list(k.values())[0])\n"
    "    return list(other)[0]\n"
)
LIST_EDITS = (
    ("list(req.headers)[0]", "next(iter(req.headers))"),
    ("list(router.routes())[0]", "next(iter(router.routes()))"),
)


def test_one_rewrite_in_different_statements_is_one_skill() -> None:
    miner, _, _ = mine("python", LIST_DOC, *LIST_EDITS)
    [skill] = miner.skills()
    assert skill.height == SUBTREE
    assert (skill.pattern_text("before"), skill.pattern_text("after")) == (
        "list($h0)[0]",
        "next(iter($h0))",
    )
    # a comparison and an assignment: two kinds of places say little of which others, so the
    # rewrite is offered at the cursor until a third example
    everywhere, at_cursor = _offered("python", LIST_DOC, *LIST_EDITS)
    assert everywhere == []
    assert sorted(at_cursor) == [
        ("list(k.values())[0]", "next(iter(k.values()))"),
        ("list(other)[0]", "next(iter(other))"),
    ]
    third = ("print(list(k.values())[0])", "print(next(iter(k.values())))")
    everywhere, _ = _offered("python", LIST_DOC, *LIST_EDITS, third)
    assert everywhere == [("list(other)[0]", "next(iter(other))")]


def test_javascript_condition_in_if_and_in_a_declaration() -> None:
    doc = (
        "function f(a, b) {\n"
        "  if (a.indexOf(b) !== -1) { go(); }\n"
        "  const ok = xs.indexOf(y) !== -1;\n"
        "  return list.indexOf(item) !== -1 && done;\n"
        "}\n"
    )
    _, at_cursor = _offered(
        "javascript",
        doc,
        ("a.indexOf(b) !== -1", "a.includes(b)"),
        ("xs.indexOf(y) !== -1", "xs.includes(y)"),
    )
    # the rewrite comes as the smallest text edit: the shared `list.in` stays
    [(old, new)] = at_cursor
    assert "list.in" + old == "list.indexOf(item) !== -1" and new == "cludes(item)"


def test_typescript_spread_in_a_declaration_and_an_argument() -> None:
    doc = (
        "function f(a: string[], b: string): boolean {\n"
        "  const x = Object.assign({}, a);\n"
        "  g(Object.assign({}, b));\n"
        "  return Object.assign({}, other);\n"
        "}\n"
    )
    _, at_cursor = _offered(
        "typescript",
        doc,
        ("const x = Object.assign({}, a)", "const x = { ...a }"),
        ("g(Object.assign({}, b))", "g({ ...b })"),
    )
    assert at_cursor == [("Object.assign({}, other)", "{ ...other }")]


def test_go_condition_in_a_short_declaration_and_an_if() -> None:
    doc = (
        "package m\n"
        "func f() {\n"
        "\tx := len(a) == 0\n"
        "\tif len(b) == 0 {\n"
        "\t\treturn\n"
        "\t}\n"
        "\ty := g(len(c) == 0)\n"
        "}\n"
    )
    _, at_cursor = _offered("go", doc, ("len(a) == 0", "IsEmpty(a)"), ("len(b) == 0", "IsEmpty(b)"))
    assert at_cursor == [("len(c) == 0", "IsEmpty(c)")]


def test_a_bare_name_is_not_a_rewrite_to_carry_anywhere() -> None:
    # `a` -> `b` in two different statements says nothing about every `a` in the file
    doc = "x = f(a)\nassert a == 1\nreturn a\n"
    _, made, _ = mine("python", doc, ("f(a)", "f(b)"), ("a == 1", "b == 1"))
    assert all(s.height != SUBTREE for s in made)


@pytest.mark.parametrize(
    ("site", "offered"),
    [("Decimal('3')", True), ("Decimal('1.25')", False), ("Decimal('x')", False)],
)
def test_moving_a_literal_into_code_keeps_its_kind(site: str, offered: bool) -> None:
    """`Decimal('1')` -> `Decimal(1)` learned on integers would turn `'1.25'` into a float and
    `'x'` into a name: the guard blocks what changes the value's kind."""
    doc = f"a = Decimal('1')\nb = f(Decimal('2'))\nc = {site}\n"
    got, at_cursor = _offered(
        "python", doc, ("Decimal('1')", "Decimal(1)"), ("Decimal('2')", "Decimal(2)")
    )
    assert bool(got) == offered, got
    # not at the cursor either, where a waiting hypothesis takes any code for a name
    assert bool(got) or not at_cursor, at_cursor


def test_a_less_specific_hypothesis_waits_for_a_third_example() -> None:
    """Two edits of `if v not in (...)` say `v not in ($a, $b)` as much as they say it of `if v
    not in ...`: the statement-level skill is offered everywhere, the change-root one (an
    assignment's `v not in (1, 2)` too) at the cursor until a third edit agrees with it."""
    doc = (
        "if v not in (4, 6):\n    pass\n"
        "if v not in (None, network):\n    pass\n"
        "ok = v not in (1, 2)\n"
        "go = v not in (3, 5)\n"
    )
    miner, made, after = mine(
        "python",
        doc,
        ("if v not in (4, 6):", "if v not in {4, 6}:"),
        ("if v not in (None, network):", "if v not in {None, network}:"),
    )
    [primary] = made
    waiting = [s for s in miner.skills() if s.wait]
    # and any tuple made a set wherever it sits, which names nothing, so it waits too
    assert [(s.pattern_text("before"), s.needed_support()) for s in waiting] == [
        ("v not in ($h0, $h1)", 3),
        ("($h0, $h1)", 3),
    ]
    offered = SkillIndex(miner.skills())
    held = SkillIndex(miner.skills(), held_back=True)
    assert offered.matches_at("python", after, None, 4, 4) == []
    at_cursor = held.matches_at("python", after, None, 4, 4)
    assert len(at_cursor) == 2
    assert all(m.new_text.endswith("{1, 2}") for m in at_cursor)
    # the third edit agrees with the waiting hypothesis: it is offered everywhere now
    third = after.replace("ok = v not in (1, 2)", "ok = v not in {1, 2}", 1)
    from memory.skills.edits import structural_edit

    edit = structural_edit("python", after, third)
    assert edit is not None
    joined = miner.add("e2", edit)
    assert {s.id for s in waiting} <= {s.id for s in joined}
    now = SkillIndex(miner.skills()).matches_at("python", third, None, 5, 5)
    assert now and all(m.new_text.endswith("{3, 5}") for m in now)
    assert primary.support == 2


def test_a_subtree_skill_holds_where_its_examples_sat_when_they_agree() -> None:
    """`if len(xs):` -> `if xs:` and `if len(self.items):` -> `if self.items:` rewrite a
    condition; `n = len(ys)` is a count, and stays."""
    doc = (
        "if len(xs):\n    pass\nif len(self.items):\n    pass\nn = len(ys)\nif len(zs):\n    pass\n"
    )
    everywhere, _ = _offered(
        "python", doc, ("if len(xs):", "if xs:"), ("if len(self.items):", "if self.items:")
    )
    assert everywhere == [("len(zs)", "zs")]


@pytest.mark.parametrize(
    ("language", "doc", "changes", "site"),
    [
        (
            "python",
            "if getattr(k, 'API', (0, 9)) < (0, 9):\n    pass\n"
            "if not hasattr(self, '_is_le'):\n    pass\n"
            "name = 'plain'\n",
            (("'API'", '"API"'), ("'_is_le'", '"_is_le"')),
            ("'plain'", '"plain"'),
        ),
        (
            "javascript",
            "const a = require('fs');\nlog('ready');\nconst b = 'plain';\n",
            (("'fs'", '"fs"'), ("'ready'", '"ready"')),
            ("'plain'", '"plain"'),
        ),
    ],
)
def test_a_rewrite_that_names_nothing_waits_at_the_cursor(
    language: str, doc: str, changes: tuple[tuple[str, str], ...], site: tuple[str, str]
) -> None:
    """`'$s'` -> `"$s"` checks no word at all: it is a rule (a third place makes it one to
    offer everywhere) but two examples do not say which of the file's strings the developer
    means, so it waits, offered at the cursor meanwhile."""
    everywhere, at_cursor = _offered(language, doc, *changes)
    assert everywhere == []
    assert site in at_cursor
    third = (site[0], site[1])
    others = doc.replace(site[0], site[0] + " + 'more'", 1)
    everywhere, _ = _offered(language, others, *changes, third)
    assert ("'more'", '"more"') in everywhere


OPTIONAL_DOC = (
    "Vuln = tuple[Optional[XSS], Optional[SQLi]]\n"
    "Cert = tuple[Optional[str], GeneralNames]\n"
    "Pair = dict[str, Optional[Path]]\n"
    "def f(x: Optional[int]) -> None: ...\n"
)


def test_one_edit_that_made_a_rewrite_twice_pairs_with_an_edit_that_made_it_once() -> None:
    """`tuple[Optional[A], Optional[B]]` -> `tuple[A | None, B | None]` is `Optional[$t]` ->
    `$t | None` made twice; with one more edit that made it once, it is a skill of the
    subscript, offered where the examples had it (inside another subscript)."""
    everywhere, _ = _offered(
        "python",
        OPTIONAL_DOC,
        ("tuple[Optional[XSS], Optional[SQLi]]", "tuple[XSS | None, SQLi | None]"),
        ("tuple[Optional[str], GeneralNames]", "tuple[str | None, GeneralNames]"),
    )
    assert everywhere == [("Optional[Path]", "Path | None")]


def test_at_the_cursor_a_name_in_both_examples_stands_for_any_code() -> None:
    """`Optional[XSS]` and `Optional[str]` were names; a waiting hypothesis is matched at the
    cursor with that hole open to any code (`Optional[tuple[str, int]]`), never everywhere."""
    doc = (
        "Vuln = tuple[Optional[XSS], int]\nCert = f(Optional[str])\n"
        "Cache = dict[int, Optional[tuple[str, int]]]\n"
    )
    everywhere, at_cursor = _offered(
        "python",
        doc,
        ("tuple[Optional[XSS], int]", "tuple[XSS | None, int]"),
        ("f(Optional[str])", "f(str | None)"),
    )
    assert everywhere == []
    assert at_cursor == [("Optional[tuple[str, int]]", "tuple[str, int] | None")]


def test_at_the_cursor_a_waiting_skill_is_not_held_to_where_its_examples_sat() -> None:
    """Both examples sat in a ternary's condition: offered everywhere there, and under the
    cursor in an `if` too."""
    doc = (
        "const c = s.indexOf(a) !== -1 ? 1 : 0;\nconst d = t.indexOf(b) !== -1 ? 2 : 3;\n"
        "if (u.indexOf(v) !== -1) { go(); }\n"
    )
    everywhere, at_cursor = _offered(
        "javascript",
        doc,
        ("s.indexOf(a) !== -1", "s.includes(a)"),
        ("t.indexOf(b) !== -1", "t.includes(b)"),
    )
    assert everywhere == []
    # (the rewrite comes as the smallest text edit: `u.in` stays)
    assert [new for old, new in at_cursor if old.endswith("-1")] == ["cludes(v)"]


def test_the_places_of_one_edit_are_one_example() -> None:
    """Two changes inside one edit are not two examples: alone they make no skill."""
    miner, _, _ = mine(
        "python",
        OPTIONAL_DOC,
        ("tuple[Optional[XSS], Optional[SQLi]]", "tuple[XSS | None, SQLi | None]"),
    )
    assert miner.skills() == []


def test_statements_changed_alike_in_one_edit_pair_with_one_changed_alone() -> None:
    """`var` made `let` on two lines at once (a linter's fix of consecutive lines), then on one
    line: the two-line edit is two uses of the rewrite, so the second edit makes a skill."""
    doc = "var a = require('a');\nvar b = require('b');\n\nvar c = 1;\n\nvar d = require('d');\n"
    miner, _, after = mine(
        "javascript",
        doc,
        ("var a = require('a');\nvar b", "let a = require('a');\nlet b"),
        ("var c", "let c"),
    )
    [skill] = miner.skills()
    assert skill.pattern_text("before").startswith("var $h0 = $h1")
    _, at_cursor = _offered(
        "javascript",
        doc,
        ("var a = require('a');\nvar b", "let a = require('a');\nlet b"),
        ("var c", "let c"),
    )
    # the one `var` left (the rewrite comes as the smallest text edit)
    assert at_cursor == [("var", "let")]
    assert after.count("let ") == 3
