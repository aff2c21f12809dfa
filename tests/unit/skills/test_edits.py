"""Structural edit extraction: spans, change roots, insertions, deletions and refusals."""

from memory.skills.edits import StructuralEdit, structural_edit
from memory.skills.mining import bucket_key
from memory.skills.treediff import diff_trees

PY = "class A:\n    def f(self):\n        x = Style()\n        return x\n"


def test_replacement_finds_smallest_changed_nodes() -> None:
    e = structural_edit("python", PY, PY.replace("Style()", "Style.empty()"))
    assert e is not None
    assert (e.before, e.after) == ("Style", "Style.empty")
    assert (e.before_type, e.after_type) == ("identifier", "attribute")
    assert e.start_line == 2 and e.indent == "        "
    assert e.context_before == "x = Style()"


def test_json_round_trip() -> None:
    e = structural_edit("python", PY, PY.replace("x = Style()", "x = Style(1)"))
    assert e is not None
    again = StructuralEdit.from_json(e.to_json())
    assert again == e
    assert again.syn_before().key == e.syn_before().key


def test_line_deletion_is_a_window_of_statements() -> None:
    before = "import os\nimport sys\nimport re\n"
    e = structural_edit("python", before, "import os\nimport re\n")
    assert e is not None
    assert e.before == "import sys" and e.after == ""
    assert e.whole_lines


def test_first_middle_and_last_line_deletions_are_alike() -> None:
    # whichever statement of a block goes (a blank line after it or not), the change is a
    # window of that block: not of the definition around it, whose block starts or ends elsewhere
    lines = ["def f():\n", "    log.debug('x')\n", "\n", "    y = 1\n", "    log.debug('x')\n"]
    lines += ["    z = 2\n", "    log.debug('x')\n", "\n", "def g():\n", "    log.debug('x')\n"]
    lines += ["\n", "    return 1\n"]
    doc = "".join(lines)
    keys = []
    # the first of three, the middle, the last, and the first of two (the block then starts and
    # ends at its one statement left)
    for drop in ({1, 2}, {4}, {6}, {9, 10}):
        after = "".join(line for k, line in enumerate(lines) if k not in drop)
        e = structural_edit("python", doc, after)
        assert e is not None
        keys.append(bucket_key(e))
    assert keys == [("python", "block", "expression_statement", "")] * 4


def test_insertion_has_empty_before() -> None:
    before = "def f(a,\n      b):\n    pass\n"
    after = "def f(a,\n      z=None,\n      b):\n    pass\n"
    e = structural_edit("python", before, after)
    assert e is not None
    assert e.before == "" and e.after.startswith("z=None")
    assert e.window[0] == e.window[1] < e.window[2]


def test_refusals() -> None:
    assert structural_edit("python", PY, PY) is None
    assert structural_edit("no-such-language", "a", "b") is None
    # mid-typing: the after tree has an error the before tree had not
    assert structural_edit("python", PY, PY.replace("Style()", "Style(")) is None
    big = "x = 1\n" * 300
    assert structural_edit("python", "", big) is None
    assert structural_edit("python", "", big, max_lines=400) is not None


def test_other_languages() -> None:
    js = "function f() {\n  console.log(a);\n}\n"
    e = structural_edit("javascript", js, js.replace("console.log", "logger.info"))
    assert e is not None and e.before == "console.log" and e.after == "logger.info"
    go = "package m\n\nfunc f() {\n\tfmt.Println(x)\n}\n"
    e = structural_edit("go", go, go.replace("fmt.Println(x)", "log.Println(x)"))
    assert e is not None and e.indent == "\t"
    rs = "fn f() {\n    let x = a.unwrap();\n}\n"
    e = structural_edit("rust", rs, rs.replace("a.unwrap()", "a?"))
    assert e is not None and e.after_type == "try_expression"


def test_diff_maps_carried_subtrees() -> None:
    before = "foo(bar(x), y)\n"
    after = "baz(bar(x), y, z)\n"
    e = structural_edit("python", before, after)
    assert e is not None
    syn_b, syn_a = e.syn_before(), e.syn_after()
    pairs = diff_trees([syn_b], [syn_a])
    assert pairs  # bar(x) and y are carried over
    assert all(len(pb) >= 1 and len(pa) >= 1 for pb, pa in pairs)


def test_an_edit_inside_a_string_kept_whole_has_that_string_as_its_window() -> None:
    """Strings joined by a backslash continuation keep their text whole in a syntax tree (text
    between children); an edit inside one used to index children that tree does not have."""
    f_string = [
        'y = 1\nmsg = (\n    "A {f} B \\n" \\\n    "C"\n)\n',
        'def t():\n    assert g(d) == "m{\\n" \\\n        "A {f} & B {g}\\n" \\\n        "}\\n"\n',
    ]
    made = [structural_edit("python", b, b.replace('    "A', '    f"A', 1)) for b in f_string]
    joined = "def t():\n    assert f(x) == \\\n        'a' + \\\n        'b'\n"
    made.append(structural_edit("python", joined, joined.replace("'a' +", "'a'")))
    for edit in made:
        assert edit is not None and edit.before != edit.after
    # the two f-string edits are one rewrite: the same kind of node, the same change
    assert made[0] is not None and made[1] is not None
    assert made[0].before_type == made[1].before_type == "concatenated_string"
