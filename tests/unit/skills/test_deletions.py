"""Deletions: which lines a deletion skill removes, and what it must find at the site first."""

from memory.skills.matching import SkillIndex
from tests.unit.skills.mined import mine as _mine


def test_deletion_with_only_holes_is_refused() -> None:
    doc = "import os\nimport sys\nimport re\n"
    used = doc + "os.getcwd()\nre.compile(sys.argv[0])\n"
    miner, made, _ = _mine("python", used, ("import os\n", ""), ("import re\n", ""))
    assert made == []  # "delete any import" is a guess, not a rule
    miner, made, _ = _mine("python", doc + "import os\n", ("import os\n", ""), ("import os\n", ""))
    assert len(made) == 1 and made[0].describe()["after"] == ""


def test_deletion_with_holes_and_a_named_word_waits_for_a_third_example() -> None:
    # `add_option(cmdoptions.$x())` deleted twice: a rule (the call is checked), but which
    # options the developer removes is not in the syntax, so it is held back until a third (the
    # last line of the block, whose deleted newline lies outside the block, is one more)
    lines = ["a", "global_options", "b", "no_use_pep517", "c", "src"]
    doc = "def f(self):\n" + "".join(
        f"    self.cmd_opts.add_option(cmdoptions.{n}())\n" for n in lines
    )
    one = ("    self.cmd_opts.add_option(cmdoptions.global_options())\n", "")
    two = ("    self.cmd_opts.add_option(cmdoptions.no_use_pep517())\n", "")
    _, made, doc2 = _mine("python", doc, one, two)
    assert len(made) == 1 and made[0].describe()["after"] == ""
    # the object read from is the site's own (`self`); the option called is what is chosen
    assert made[0].describe()["before"] == "$h1.cmd_opts.add_option(cmdoptions.$h0())"
    assert made[0].needed_support() == 3
    assert SkillIndex(made).matches_in(made[0].id, "python", doc2, None) == []
    held = SkillIndex(made, held_back=True).matches_in(made[0].id, "python", doc2, None)
    assert [m.old_text.strip() for m in held] == [
        f"self.cmd_opts.add_option(cmdoptions.{n}())" for n in ("a", "b", "c", "src")
    ]
    three = ("    self.cmd_opts.add_option(cmdoptions.src())\n", "")
    _, made, doc3 = _mine("python", doc, one, two, three)
    assert made and made[0].support == 3
    assert len(SkillIndex(made).matches_in(made[0].id, "python", doc3, None)) == 3


def test_a_deleted_argument_is_deleted_whatever_object_it_reads() -> None:
    # `use_pep517=options.use_pep517,` deleted twice: the keyword and the member say what goes,
    # the object read is the call site's own (`ireq.use_pep517` elsewhere), so the loosened
    # deletion is no guess and is trusted on two
    calls = [
        ("a", "options.use_pep517"),
        ("b", "options.use_pep517"),
        ("c", "ireq.use_pep517"),
        ("d", "use_pep517"),
        ("e", "ireq.isolated"),
    ]
    doc = "".join(f"{f}(\n    x=1,\n    use_pep517={v},\n    y=2,\n)\n" for f, v in calls)
    doc = doc.replace("use_pep517=ireq.isolated", "isolated=ireq.isolated")
    one = "a(\n    x=1,\n    use_pep517=options.use_pep517,\n"
    two = "b(\n    x=1,\n    use_pep517=options.use_pep517,\n"
    _, made, doc2 = _mine("python", doc, (one, "a(\n    x=1,\n"), (two, "b(\n    x=1,\n"))
    assert len(made) == 1 and made[0].describe()["after"] == ""
    assert made[0].describe()["before"] == "use_pep517=$h0.use_pep517,"
    assert made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [m.old_text.strip() for m in found] == ["use_pep517=ireq.use_pep517,"]


def test_a_parameter_dropped_where_unused_is_dropped_where_only_a_string_spells_it() -> None:
    # the examples' bodies never use `httpbin`, so neither may the site's; a URL that spells
    # it is data, while a call of it is a use
    bodies = {
        "a": "x = 1\n    return x",
        "b": "y = 2\n    return y",
        "c": 'h = "http://user@httpbin.org"\n    return h',
        "d": 'return httpbin("/get")',
    }
    doc = "".join(f"def {f}(self, httpbin):\n    {b}\n\n\n" for f, b in bodies.items())
    _, made, doc2 = _mine(
        "python",
        doc,
        ("def a(self, httpbin):", "def a(self):"),
        ("def b(self, httpbin):", "def b(self):"),
    )
    assert len(made) == 1 and made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [m.start_line for m in found] == [doc2.splitlines().index("def c(self, httpbin):")]


def test_imports_deleted_where_unused_are_deleted_where_unused() -> None:
    # two imports the file no longer used were deleted: the rule is "delete an unused import",
    # trusted on two, and it leaves the import the file still uses (or only a string spells)
    doc = (
        "from __future__ import print_function\n"
        "from __future__ import division\n"
        "from __future__ import annotations\n"
        "from __future__ import generators\n"
        "x = 1 / 2\n"
        'y = "generators"\n'
        "z: annotations = 1\n"
    )
    _, made, doc2 = _mine(
        "python",
        doc,
        ("from __future__ import print_function\n", ""),
        ("from __future__ import division\n", ""),
    )
    assert len(made) == 1 and made[0].needed_support() == 2
    assert made[0].describe()["before"] == "from __future__ import $h0"
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [m.old_text.strip() for m in found] == ["from __future__ import generators"]
