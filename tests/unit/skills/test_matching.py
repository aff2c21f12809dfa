"""Matching skills in documents: consistent holes, rewrites, indentation, parse checks, speed."""

import time

from memory.skills import transforms
from memory.skills.edits import structural_edit
from memory.skills.matching import Match, SkillIndex, apply_match, rewrite_parses
from memory.skills.miner import SkillMiner
from memory.skills.rewrites import follow_layout, past_blank
from memory.skills.syntax import parse
from tests.unit.skills.mined import mine


def _skills(language: str, doc: str, *changes: tuple[str, str]):
    """The skills mined that do not wait for a third example, and the document after."""
    miner, _, doc = mine(language, doc, *changes)
    return [s for s in miner.skills() if not s.wait], doc


def _found(skills, language: str, doc: str) -> list[Match]:
    """Every site of the first skill in doc."""
    return SkillIndex(skills).matches_in(skills[0].id, language, doc, None)


PY = """def f(a, b):
    print(a)
    print(b + 1)
    if a:
        print(a, b)
        print(c)
"""


def test_every_site_is_rewritten_and_rewritten_sites_are_not_suggested() -> None:
    skills, doc = _skills(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    index = SkillIndex(skills)
    found = index.matches_in(skills[0].id, "python", doc, parse("python", doc))
    # print(a, b) has two arguments: not this skill's shape
    assert [m.old_text for m in found] == ["print"]
    assert found[0].bindings == {"h0": "c"}
    assert apply_match(doc, found[0]).endswith("        logger.info(c)\n")
    at = index.matches_at("python", doc, parse("python", doc), 5, 5)
    assert [m.skill_id for m in at] == [skills[0].id]
    assert index.matches_at("python", doc, parse("python", doc), 1, 2) == []


def test_a_wrapping_rule_does_not_wrap_its_own_output() -> None:
    # `check($x)` -> `must(check($x))` matches the `check(a)` inside `must(check(a))`
    doc = "def f():\n    check(a)\n    check(b)\n    check(c)\n    x = must(check(d))\n"
    skills, doc = _skills(
        "python", doc, ("check(a)", "must(check(a))"), ("check(b)", "must(check(b))")
    )
    found = _found(skills, "python", doc)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == ["    must(check(c))"]
    # a statement wrapped in a block: the wrapped one sits deeper than the rule's text says
    doc = "def f(kw):\n    kw.set(a)\n\ndef g(kw):\n    kw.set(a)\n\ndef h(kw):\n    kw.set(a)\n"
    skills, doc = _skills(
        "python",
        doc,
        ("    kw.set(a)", "    if app:\n        kw.set(a)"),
        ("\n    kw.set(a)", "\n    if app:\n        kw.set(a)"),
    )
    found = _found(skills, "python", doc)
    assert [(m.start_line, apply_match(doc, m).count("if app")) for m in found] == [(9, 3)]


def test_a_rename_the_code_after_still_reads_is_not_offered() -> None:
    doc = (
        "def a():\n    ip = A()\n    ip.add(1)\n\n"
        "def b():\n    ip = B()\n    ip.add(2)\n\n"
        "def c():\n    ip = C()\n    ip.add(3)\n    item = ip.load()\n\n"
        "def d():\n    ip = D()\n    ip.add(4)\n    # ip is done\n\n"
        "ip = 0\n"
    )
    skills, doc = _skills(
        "python",
        doc,
        ("ip = A()\n    ip.add(1)", "il = A()\n    il.add(1)"),
        ("ip = B()\n    ip.add(2)", "il = B()\n    il.add(2)"),
    )
    found = _found(skills, "python", doc)
    # c goes on to read `ip`: renamed there, `ip.load()` would be left reading nothing; d's
    # block ends with only a comment after it (and `ip = 0` outside it is another name)
    assert [m.start_line for m in found] == [14]


def test_a_deleted_line_takes_a_blank_line_a_formatter_would_remove() -> None:
    # after `def f():` (or a blank line, or at the top) the blank line after a deleted line
    # would open the block (or double a gap): it goes with the deleted line; after code it stays
    def end(text: str, line: str) -> str:
        data = text.encode()
        ls = data.index(line.encode())
        return text[past_blank(data, ls, ls + len(line), 0) :]

    gone = "    log.debug('x')\n"
    assert end(f"def f():\n{gone}\n    return 1\n", gone) == "    return 1\n"
    assert end(f"def f():\n    y = 3\n{gone}\n    return 1\n", gone) == "\n    return 1\n"
    assert end(f"x = 1\n\n{gone}\ny = 2\n", gone) == "y = 2\n"
    assert end(f"{gone}\ny = 2\n", gone) == "y = 2\n"
    assert end(f"def f():\n{gone}    return 1\n", gone) == "    return 1\n"
    data = f"def f():\n{gone}\n    return 1\n".encode()
    assert past_blank(data, 9, 9 + len(gone), 1) == 9 + len(gone)  # the example left one

    # through a skill: the blank line after `z = 5` stays
    bodies = {"a": "    x = 1\n", "c": "    y = 3\n", "e": "    z = 5\n"}
    doc = "".join(
        f"def {n}():\n{pre}    log.debug('x')\n\n    return 1\n\n\n" for n, pre in bodies.items()
    )
    one = ("    x = 1\n    log.debug('x')\n", "    x = 1\n")
    two = ("    y = 3\n    log.debug('x')\n\n", "    y = 3\n")
    skills, doc = _skills("python", doc, one, two)
    found = _found(skills, "python", doc)
    assert [apply_match(doc, m).split("def e():\n")[1] for m in found] == [
        "    z = 5\n\n    return 1\n\n\n"
    ]


def test_holes_bind_consistently() -> None:
    doc = "x = x or {}\ny = y or {}\nz = w or {}\nv = v or {}\n"
    skills, doc = _skills(
        "python", doc, ("x = x or {}", "x = x or []"), ("y = y or {}", "y = y or []")
    )
    assert len(skills) == 1
    found = _found(skills, "python", doc)
    # z = w or {} binds the hole twice to different text: no match
    assert [(m.start_line, m.new_text) for m in found] == [(3, "[]")]


def test_indentation_follows_the_site() -> None:
    doc = (
        "def f():\n    self.assertEqual(a, b)\n    self.assertEqual(c, d)\n"
        "class T:\n    def g(self):\n        if x:\n            self.assertEqual(e, f)\n"
    )
    skills, doc = _skills(
        "python",
        doc,
        ("self.assertEqual(a, b)", "assert a == b"),
        ("self.assertEqual(c, d)", "assert c == d"),
    )
    found = _found(skills, "python", doc)
    assert len(found) == 1
    assert "            assert e == f\n" in apply_match(doc, found[0])


def test_rewrites_that_break_the_parse_are_dropped() -> None:
    doc = "x = 1\ny = 2\n"
    bad = Match("s", 0, 0, 0, 1, "x", "def", {})
    good = Match("s", 0, 0, 0, 1, "x", "z", {})
    assert not rewrite_parses("python", doc, bad)
    assert rewrite_parses("python", doc, good)
    assert rewrite_parses("python", doc, good, tree=parse("python", doc))


def test_a_rewrite_deep_in_a_long_class_is_judged_on_its_statement() -> None:
    """The parse check takes the statement around the change out of the file (its indentation
    removed) rather than the whole class, which can be the whole file; it judges alike."""
    body = "".join(
        f"    def m{k}(self):\n        if self.x:\n            v = {k}\n" for k in range(400)
    )
    doc = "class Big:\n" + body
    line = doc.splitlines().index("            v = 7")
    for new, ok in (("w", True), ("def", False), ("v.x", True), ("(", False)):
        m = Match("s", line, 12, line, 13, "v", new, {})
        assert rewrite_parses("python", doc, m, tree=parse("python", doc)) is ok, new
    # an `else:` part does not stand alone: the check falls back to the file around it
    doc = "def f(a):\n    if a:\n        x = 1\n    else:\n        x = 2\n"
    m = Match("s", 4, 8, 4, 9, "x", "y", {})
    assert rewrite_parses("python", doc, m)
    m = Match("s", 4, 8, 4, 9, "x", "if", {})
    assert not rewrite_parses("python", doc, m)


def test_identical_skill_matches_only_the_same_text() -> None:
    doc = "a = x[1]\nb = x[1]\nc = x[2]\nd = x[1]\n"
    skills, doc = _skills("python", doc, ("a = x[1]", "a = y[1]"), ("b = x[1]", "b = y[1]"))
    found = _found(skills, "python", doc)
    assert [m.start_line for m in found] == [3]


def test_a_changed_callee_takes_any_arguments() -> None:
    # `f(1)` -> `g(1)` twice is about f: the arguments are each call's own data
    doc = "a = f(1)\nb = f(1)\nc = f(2)\nd = h(1)\n"
    skills, doc = _skills("python", doc, ("a = f(1)", "a = g(1)"), ("b = f(1)", "b = g(1)"))
    found = _found(skills, "python", doc)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == ["c = g(2)"]


def test_go_and_rust_and_typescript_sites() -> None:
    go = "package m\n\nfunc f() {\n\tfmt.Println(x)\n\tfmt.Println(y)\n\tfmt.Println(z)\n}\n"
    skills, doc = _skills(
        "go", go, ("fmt.Println(x)", "log.Println(x)"), ("fmt.Println(y)", "log.Println(y)")
    )
    found = _found(skills, "go", doc)
    assert [m.start_line for m in found] == [5]
    rs = "fn f() {\n    let x = a.unwrap();\n    let y = b.unwrap();\n    let z = c.unwrap();\n}\n"
    skills, doc = _skills("rust", rs, ("a.unwrap()", "a?"), ("b.unwrap()", "b?"))
    found = _found(skills, "rust", doc)
    assert [apply_match(doc, m).splitlines()[3] for m in found] == ["    let z = c?;"]
    ts = "function f(a: any, b: any, c: any) {}\n"
    skills, doc = _skills("typescript", ts, ("a: any", "a: unknown"), ("b: any", "b: unknown"))
    found = _found(skills, "typescript", doc)
    assert apply_match(doc, found[0]) == "function f(a: unknown, b: unknown, c: unknown) {}\n"


def test_index_add_remove_and_speed() -> None:
    skills, doc = _skills(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    index = SkillIndex([])
    index.add(skills[0])
    assert len(index) == 1
    index.remove(skills[0].id)
    assert len(index) == 0 and index.matches_in(skills[0].id, "python", doc, None) == []
    # 1,000 skills with the same root type, a 5,000-line file: a cursor lookup stays cheap
    many = []
    for k in range(1000):
        s = type(skills[0]).from_json(skills[0].to_json())
        s.id = f"s{k}"
        s.before_template["parts"][0][2][0][2] = f"print{k}"
        many.append(s)
    index = SkillIndex(many)
    big = "".join(f"def f{k}(a):\n    print(a)\n    return a\n" for k in range(1700))
    tree = parse("python", big)
    t0 = time.perf_counter()
    for line in range(0, 5000, 500):
        index.matches_at("python", big, tree, line, line + 1)
    assert (time.perf_counter() - t0) / 10 < 0.05


def test_lines_past_the_last_node_do_not_crash() -> None:
    """tree-sitter's first_child_for_byte segfaults when no child ends past the byte asked
    for: lines in trailing blank lines, past the end of the text, or where a node ends exactly
    (each of these killed the process before the matcher guarded the call)."""
    skills, _ = _skills(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    index = SkillIndex(skills)
    doc = "print(c)\n\n\n"
    tree = parse("python", doc)
    for line in range(6):
        found = index.matches_at("python", doc, tree, line, line + 2)
        assert [m.start_line for m in found] == ([0] if line == 0 else [])
    # the line right after a site: the root's only child ends exactly where the line begins
    doc = "print(c)\n"
    assert index.matches_at("python", doc, parse("python", doc), 1, 1) == []
    assert [m.new_text for m in index.matches_at("python", doc, None, 0, 1)] == ["logger.info"]
    assert index.matches_at("python", "", parse("python", ""), 0, 3) == []


def test_scan_finds_an_insertion_on_the_next_chunks_first_line() -> None:
    # the import is inserted after `import b`; the insertion point is the first line of the
    # next top-level statement, whose own text holds none of the skill's words
    from server.suggest.sites import in_text

    files = [f"import b\nfrom m import c{n}\n\n\nclass K{n}:\n    pass\n" for n in range(3)]
    miner = SkillMiner()
    for n in range(2):
        before = files[n]
        after = before.replace("import b\n", "import b\nimport new_dep\n", 1)
        edit = structural_edit("python", before, after)
        assert edit is not None
        miner.add(f"e{n}", edit)
    skills = miner.skills()
    assert len(skills) == 1
    found, complete = in_text(skills, "python", files[2])
    assert complete and [(m.start_line, m.new_text) for m in found] == [(1, "import new_dep\n")]
    assert apply_match(files[2], found[0]).startswith("import b\nimport new_dep\nfrom m import c2")


def test_an_unused_import_is_judged_on_the_whole_file_not_the_chunk_scanned() -> None:
    # the scan matches top-level chunk by chunk; a use of the name 60 definitions below the
    # import is outside the chunk the import is matched in, and still keeps the import
    from server.suggest.sites import in_text

    head = "import sys\nimport os\nimport re\nimport json\n\n\n"
    files = [head + "".join(f"def f{k}():\n    return {k}\n\n\n" for k in range(60))]
    files.append(files[0] + "def g():\n    return os.getcwd()\n")
    miner = SkillMiner()
    for n, name in enumerate(("sys", "re")):
        edit = structural_edit("python", files[0], files[0].replace(f"import {name}\n", "", 1))
        assert edit is not None and edit.unused == [name]
        miner.add(f"e{n}", edit)
    skills = miner.skills()
    assert len(skills) == 1 and skills[0].unused_holes
    found, complete = in_text(skills, "python", files[1])
    unused = ["import sys", "import re", "import json"]  # not os, which g uses
    assert complete and [m.old_text.strip() for m in found] == unused
    assert [m.old_text.strip() for m in _found(skills, "python", files[1])] == unused


def test_a_use_of_a_name_is_in_code_on_a_line_outside_the_site() -> None:
    # lines: 0 the import, 1 and 2 strings that spell the name, 4 a use
    text = 'import os\nx = "os here is data"\ny = "os"\n\nos.getcwd()\n'
    assert transforms.used_outside(text, "os", 0, 0)  # line 4
    assert not transforms.used_outside(text, "os", 0, 4)  # every line skipped
    assert not transforms.used_outside(text.replace("os.getcwd()", "pass"), "os", 0, 0)
    assert not transforms.uses_name('f("user@httpbin.org")', "httpbin")
    assert transforms.uses_name("f(httpbin)", "httpbin")


def test_the_rewrite_keeps_the_sites_layout() -> None:
    # learned on calls laid out one argument list per line, offered at a call on one line:
    # the argument goes, the line stays a line (and a site laid out like the examples is
    # rewritten like them)
    doc = (
        "def t(mw, spider):\n"
        "    a = mw.process(\n        r1, s1, spider\n    )\n"
        "    b = mw.process(\n        r2, s2, spider\n    )\n"
        "    c = mw.process(r3, s3, spider)\n"
        "    d = mw.process(\n        r4, s4, spider\n    )\n"
        "    e = mw.process(r5,\n                   s5, spider)\n"
    )
    skills, doc = _skills("python", doc, ("r1, s1, spider", "r1, s1"), ("r2, s2, spider", "r2, s2"))
    found = _found(skills, "python", doc)
    lines = [apply_match(doc, m) for m in found]
    assert "    c = mw.process(r3, s3)\n" in lines[0]
    assert "    d = mw.process(\n        r4, s4\n    )\n" in lines[1]
    assert "    e = mw.process(r5,\n                   s5)\n" in lines[2]
    assert len(found) == 3


def test_layout_follows_the_site_except_where_the_rule_respaces() -> None:
    # the rule's own respacing wins: statements it moves into a block are indented by it
    assert follow_layout("x()\n\ny()", "x()\ny()", "if c:\n    x()\n    y()") == (
        "if c:\n    x()\n    y()"
    )
    # a line break at the site stays where it was, after a new argument too
    assert follow_layout("f(\n  x\n)", "f(x)", "f(x, y=1)") == "f(\n  x, y=1\n)"
    # new tokens are spaced as in the examples
    assert follow_layout("f( a )", "f(a)", "f(x, a)") == "f(x, a )"
    # other tokens at the site (a comment): the template's text as it is
    assert follow_layout("f(a,  # why\n  b)", "f(a, b)", "f(a)") == "f(a)"


def test_an_insertion_after_a_neighbour_needs_no_closing_bracket_and_is_made_once() -> None:
    # learned where `max_length` was the last parameter, offered where more follow it; the
    # examples, which already have the new line, are not offered again
    doc = (
        "def a(\n    x,\n    max_length: int = None,\n):\n    pass\n\n"
        "def b(\n    y,\n    max_length: int = None,\n) -> None:\n    pass\n\n"
        "def c(\n    max_length: int = None,\n    guides: bool = True,\n):\n    pass\n"
    )
    new = "    max_length: int = None,\n    max_string: int = None,\n"
    skills, doc = _skills(
        "python",
        doc,
        ("x,\n    max_length: int = None,\n", "x,\n" + new),
        ("y,\n    max_length: int = None,\n", "y,\n" + new),
    )
    tree = parse("python", doc)
    index = SkillIndex(skills)
    found = index.matches_in(skills[0].id, "python", doc, tree)
    assert [(m.start_line, m.new_text) for m in found] == [(16, "    max_string: int = None,\n")]
    # the cursor on the line the new one goes to (the next parameter's) finds it too
    at = index.matches_at("python", doc, tree, 16, 16)
    assert [m.start_line for m in at] == [16]


def test_a_whole_file_search_stops_at_its_deadline_and_says_so() -> None:
    from server.suggest.sites import in_text

    doc = "".join(f"print(a{k})\n" for k in range(300))
    miner = SkillMiner()
    for n, name in enumerate(("a0", "a1")):
        before = doc if n == 0 else doc.replace("print(a0)", "logger.info(a0)", 1)
        edit = structural_edit(
            "python", before, before.replace(f"print({name})", f"logger.info({name})", 1)
        )
        assert edit is not None
        miner.add(f"e{n}", edit)
    skills = miner.skills()
    found, complete = in_text(skills, "python", doc)
    assert complete and len(found) == 300
    ticks = iter(range(10_000))
    found, complete = in_text(skills, "python", doc, deadline=2, clock=lambda: next(ticks))
    # stopped between nodes, with what it had found so far
    assert not complete and 0 < len(found) < 300


def test_nodes_of_types_skips_a_type_the_grammar_does_not_have() -> None:
    from memory.skills.syntax import nodes_of_types

    tree = parse("python", "x = f(a)[0]\ny = g(b)\n")
    assert tree is not None
    found = nodes_of_types("python", tree.root_node, ["call", "no_such_node_type"])
    assert sorted(n.text for n in found) == [b"f(a)", b"g(b)"]
    assert nodes_of_types("python", tree.root_node, ["no_such_node_type"]) == []


def test_with_the_tree_a_name_in_a_docstring_or_comment_is_no_use() -> None:
    # a linter counts this import unused; the line heuristic alone (no tree) cannot tell a
    # docstring's line from code
    text = (
        'import sys\n\n\ndef f(x):\n    """Log to ``sys.stderr``\n    unless sys is closed."""\n'
        '    # sys: not needed\n    return f"{x}"\n'
    )
    tree = parse("python", text)
    assert tree is not None
    assert transforms.used_outside(text, "sys", 0, 0)  # "unless sys is closed." reads as code
    assert not transforms.used_outside(text, "sys", 0, 0, tree)
    used = text.replace('f"{x}"', 'f"{sys.argv}"')  # an f-string's braces hold code
    assert transforms.used_outside(used, "sys", 0, 0, parse("python", used))
    js = "import fs from 'fs';\n// fs is unused\nconst s = `${fs.x}`;\n"
    assert transforms.used_outside(js, "fs", 0, 0, parse("javascript", js))
    unused = js.replace("fs.x", "1")
    assert not transforms.used_outside(unused, "fs", 0, 0, parse("javascript", unused))
