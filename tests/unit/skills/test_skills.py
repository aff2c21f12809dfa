"""Mining skills: anti-unification, holes carried across, shapes that must not merge."""

from memory.skills.matching import SkillIndex, apply_match
from memory.skills.miner import SkillMiner
from memory.skills.skill import Skill
from memory.skills.transforms import find
from tests.unit.skills.mined import mine as _mine

PY = """def f(a, b):
    print(a)
    x = 1
    print(b + 1)
    self.assertEqual(a, b)
    self.assertEqual(x, 2)
"""


def test_print_to_logger_carries_the_argument() -> None:
    miner, made, _ = _mine(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    assert len(made) == 1
    card = made[0].describe()
    assert card["before"] == "print($h0)" and card["after"] == "logger.info($h0)"
    assert card["name"] == "print(…) → logger.info(…)"
    assert made[0].support == 2 and made[0].examples == ["e0", "e1"]
    assert 0 < made[0].specificity < 1


def test_assert_equal_to_assert() -> None:
    _, made, _ = _mine(
        "python",
        PY,
        ("self.assertEqual(a, b)", "assert a == b"),
        ("self.assertEqual(x, 2)", "assert x == 2"),
    )
    assert len(made) == 1
    card = made[0].describe()
    assert card["before"] == "self.assertEqual($h0, $h1)"
    assert card["after"] == "assert $h0 == $h1"


def test_one_example_is_not_a_skill_by_default() -> None:
    miner, made, _ = _mine("python", PY, ("print(a)", "logger.info(a)"))
    assert made == [] and miner.skills() == []


def test_identical_edit_twice_has_no_holes() -> None:
    doc = "while 1:\n    a()\nwhile 1:\n    b()\n"
    _, made, _ = _mine(
        "python",
        doc,
        ("while 1:\n    a()", "while True:\n    a()"),
        ("while 1:\n    b()", "while True:\n    b()"),
    )
    assert len(made) == 1
    assert "while 1:" in made[0].describe()["before"]


def test_unlike_edits_do_not_merge() -> None:
    # same words, different shapes: a call rewritten vs. an argument added
    miner, made, _ = _mine("python", PY, ("print(a)", "logger.info(a)"), ("x = 1", "x = 2"))
    assert made == [] and miner.skills() == []


def test_new_words_must_come_from_the_site() -> None:
    # two different renames with no common transform: the new names are not in the before text
    doc = "class T:\n    def setUp(self):\n        pass\n    def tearDown(self):\n        pass\n"
    miner, made, _ = _mine("python", doc, ("def setUp", "def prepare"), ("def tearDown", "def end"))
    assert made == []


def test_case_transform_of_a_hole_is_learned() -> None:
    # setUp -> setup, tearDown -> teardown: both examples agree on lower(name)
    doc = (
        "class T:\n    def setUp(self):\n        pass\n    def tearDown(self):\n        pass\n"
        "    def setUpClass(self):\n        pass\n    def test_ok(self):\n        pass\n"
        "    def test_2D(self):\n        pass\n"
    )
    _, made, doc = _mine(
        "python", doc, ("def setUp(", "def setup("), ("def tearDown", "def teardown")
    )
    assert len(made) == 1
    # both names were one run of letters: so must the next one be
    assert list(made[0].after_template["derive"].values()) == [["h0", ["case", "lower", True]]]
    assert "lower($h0)" in made[0].describe()["after"]
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    # test_ok is already lower case: the rewrite would change nothing, so it is not offered;
    # test_2D has underscores, unlike setUp and tearDown, so lower-casing it is no part of the rule
    assert [(m.old_text, m.new_text) for m in found] == [("UpC", "upc")]


def test_affix_transforms_need_agreeing_examples() -> None:
    doc = "a = f('x')\nb = f('yy')\nc = f('z')\nd = f(b'w')\n"
    _, made, doc = _mine("python", doc, ("f('x')", "f(b'x')"), ("f('yy')", "f(b'yy')"))
    assert len(made) == 1
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    # b'w' already has the prefix: adding it again is not the rule
    assert [m.start_line for m in found] == [2]
    # a prefix in one example and a suffix in the other: no transform fits both
    doc = "a = f(x)\nb = f(y)\n"
    _, made, _ = _mine("python", doc, ("f(x)", "f(x_new)"), ("f(y)", "f(new_y)"))
    assert made == []


def test_parameter_renamed_with_its_uses_carries_the_rename_across_the_body() -> None:
    doc = (
        "def a(tmp):\n    p = tmp.join('a')\n    p.write(tmp)\n\n\n"
        "def b(tmp):\n    q = tmp.mkdir('b')\n\n\n"
        "def c(tmp):\n    r = tmp.mkdir('c')\n    r.join(tmp.name, 'tmp', temp)\n"
    )
    _, made, doc = _mine(
        "python",
        doc,
        (
            "def a(tmp):\n    p = tmp.join('a')\n    p.write(tmp)",
            "def a(mods):\n    p = mods.join('a')\n    p.write(mods)",
        ),
        ("def b(tmp):\n    q = tmp.mkdir('b')", "def b(mods):\n    q = mods.mkdir('b')"),
    )
    assert len(made) == 1
    assert list(made[0].after_template["derive"].values()) == [["h1", ["rename", "tmp", "mods"]]]
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    # every use of the name in c's body, and only the name: not the string, not `temp`
    assert [apply_match(doc, m).split("def c")[1] for m in found] == [
        "(mods):\n    r = mods.mkdir('c')\n    r.join(mods.name, 'tmp', temp)\n"
    ]


def test_a_body_changed_beyond_a_rename_is_not_carried() -> None:
    doc = "def a(tmp):\n    p = tmp.join('a')\n\n\ndef b(tmp):\n    q = tmp.mkdir('b')\n"
    _, made, _ = _mine(
        "python",
        doc,
        ("def a(tmp):\n    p = tmp.join('a')", "def a(mods):\n    p = mods.join('x')"),
        ("def b(tmp):\n    q = tmp.mkdir('b')", "def b(mods):\n    q = mods.mkdir('y')"),
    )
    assert all(
        ["rename", "tmp", "mods"] not in made_skill.after_template.get("derive", {}).values()
        for made_skill in made
    )
    # every use is renamed or it is no rename (a comment left as it was); the new name must be
    # new, or two names would merge into one
    assert find([("tmp.a  # tmp\n", "mods.a  # tmp\n"), ("x(tmp)\n", "x(mods)\n")]) is None
    assert find([("tmp.a  # tmp\n", "mods.a  # mods\n"), ("x(tmp)\n", "x(mods)\n")]) == [
        "rename", "tmp", "mods",
    ]  # fmt: skip
    assert find([("tmp.a(mods)\n", "mods.a(mods)\n"), ("x(tmp)\n", "x(mods)\n")]) is None


def test_the_same_line_changed_in_two_docstrings_is_learned() -> None:
    def doc_of(name: str, result: str) -> str:
        about = "The value of the function at a, which is a long story told at length here."
        return f'def {name}(a):\n    """{about}\n\n    >>> {name}(a)\n    {result}\n    """\n\n\n'

    doc = doc_of("f", "nan") + doc_of("g", "nan") + doc_of("h", "nan") + doc_of("k", "inf")
    doc += 'def m(a):\n    """\n    nan\n    nan\n    """\n'
    _, made, doc = _mine(
        "python",
        doc,
        ("f(a)\n    nan", "f(a)\n    np.float64(nan)"),
        ("g(a)\n    nan", "g(a)\n    np.float64(nan)"),
    )
    assert len(made) == 1
    derived = made[0].after_template["derive"]
    assert list(derived.values()) == [["h0", ["line", "nan", "np.float64(nan)"]]]
    # the docstring is nearly all hole, but the line it must hold is checked: trusted on two
    assert made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    # h's docstring only: k's has no such line, and in m's two it is not clear which one
    assert [apply_match(doc, m).split("\n")[m.start_line] for m in found] == ["    np.float64(nan)"]


def test_type_comment_word_becomes_a_sub_token_hole() -> None:
    doc = (
        "class C:\n"
        "    def a(self, req):  # type: (Foo) -> None\n        pass\n"
        "    def b(self, other):  # type: (Bar) -> None\n        pass\n"
        "    def c(self, x):  # type: (Baz) -> None\n        pass\n"
        "    def d(self, y):  # todo\n        pass\n"
    )
    _, made, doc = _mine(
        "python",
        doc,
        ("def a(self, req):  # type: (Foo) -> None", "def a(self, req: Foo) -> None:"),
        ("def b(self, other):  # type: (Bar) -> None", "def b(self, other: Bar) -> None:"),
    )
    assert len(made) == 1
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    # the comment is cut into tokens and its fifth one becomes the annotation; the comment of d
    # has no such token, so d is left alone
    assert [apply_match(doc, m).splitlines()[5] for m in found] == [
        "    def c(self, x: Baz) -> None:"
    ]


def test_go_capitalize_transform() -> None:
    go = "package m\n\nfunc f() {\n\to.getName()\n\to.getAge()\n\to.getId()\n\to.Other()\n}\n"
    _, made, doc = _mine("go", go, ("o.getName()", "o.GetName()"), ("o.getAge()", "o.GetAge()"))
    assert len(made) == 1 and made[0].describe()["after"] == "o.{capitalize($h0)}()"
    found = SkillIndex(made).matches_in(made[0].id, "go", doc, None)
    assert [apply_match(doc, m).splitlines()[5] for m in found] == ["\to.GetId()"]


def test_general_skills_wait_for_a_third_example() -> None:
    # holes cover nearly all of `def $f(self): $body`: two examples do not say which methods
    body = (
        '        """Documentation as long as in real bodies, what a method does{}."""\n'
        "        v = 0\n        u = v + 7\n        x = 1\n        y = x + 1\n"
        "        z = y * 2\n        w = z - 3\n        return {}\n"
    )
    doc = "".join(f"class C{n}:\n    def m{n}(self):\n" + body.format(n, n) for n in range(4))
    changes = [(f"def m{n}(self):", f"def m{n}(self) -> None:") for n in range(3)]
    _, made, doc2 = _mine("python", doc, *changes[:2])
    assert len(made) == 1 and made[0].needed_support() == 3
    assert SkillIndex(made).matches_in(made[0].id, "python", doc2, None) == []
    # the index of skills held back (offered under the cursor only) has it, and only it
    held = SkillIndex(made, held_back=True)
    assert [m.start_line for m in held.matches_in(made[0].id, "python", doc2, None)] == [21, 31]
    _, made, doc3 = _mine("python", doc, *changes)
    assert made[0].support == 3
    assert len(SkillIndex(made, held_back=True)) == 0
    found = SkillIndex(made).matches_in(made[0].id, "python", doc3, None)
    assert [m.start_line for m in found] == [31]
    # a specific skill is suggested after two
    _, made, _ = _mine(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    assert made[0].needed_support() == 2


def test_repeated_hole_is_trusted_beside_a_large_body() -> None:
    # `f: $t) -> $t` checks that two types agree: the body around it does not make it a guess
    def body(n: int) -> str:
        return "".join(f"        v{k} = compute_something_long({k}, {n})\n" for k in range(12))

    doc = "".join(
        f"class C{n}:\n    def m{n}(self, f: {t}) -> {t}:\n" + body(n)
        for n, t in enumerate(["TeardownCallable", "AfterCallable", "BeforeCallable", "Other"])
    )
    doc += "class D:\n    def m(self, f: Input) -> Output:\n" + body(9)
    changes = [
        (f"m{n}(self, f: {t}) -> {t}:", f"m{n}(self, f: ft.{t}) -> ft.{t}:")
        for n, t in enumerate(["TeardownCallable", "AfterCallable"])
    ]
    _, made, doc = _mine("python", doc, *changes)
    assert len(made) == 1 and made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line].strip() for m in found] == [
        "def m2(self, f: ft.BeforeCallable) -> ft.BeforeCallable:",
        "def m3(self, f: ft.Other) -> ft.Other:",
    ]


def test_third_example_widens_or_joins() -> None:
    doc = PY + "    print(x)\n"
    miner, made, _ = _mine(
        "python",
        doc,
        ("print(a)", "logger.info(a)"),
        ("print(b + 1)", "logger.info(b + 1)"),
        ("print(x)", "logger.info(x)"),
    )
    assert len(miner.skills()) == 1 and made[0].support == 3


def test_skill_json_round_trip() -> None:
    _, made, _ = _mine(
        "python", PY, ("print(a)", "logger.info(a)"), ("print(b + 1)", "logger.info(b + 1)")
    )
    again = Skill.from_json(made[0].to_json())
    assert again == made[0]
    miner = SkillMiner(skills=[again])
    assert miner.skills() == [again]


def test_javascript_typescript_go_rust() -> None:
    js = "function f() {\n  var a = 1;\n  var b = 2;\n}\n"
    _, made, _ = _mine(
        "javascript", js, ("var a = 1;", "const a = 1;"), ("var b = 2;", "const b = 2;")
    )
    assert made and made[0].describe()["after"].startswith("const")
    ts = "function f(a: any, b: any) {}\n"
    _, made, _ = _mine("typescript", ts, ("a: any", "a: unknown"), ("b: any", "b: unknown"))
    assert made
    go = "package m\n\nfunc f() {\n\tfmt.Println(x)\n\tfmt.Println(y)\n}\n"
    _, made, _ = _mine(
        "go", go, ("fmt.Println(x)", "log.Println(x)"), ("fmt.Println(y)", "log.Println(y)")
    )
    assert made and made[0].describe()["before"].startswith("fmt.Println")
    rs = "fn f() {\n    let x = a.unwrap();\n    let y = b.unwrap();\n}\n"
    _, made, _ = _mine("rust", rs, ("a.unwrap()", "a?"), ("b.unwrap()", "b?"))
    assert made and made[0].describe()["after"].endswith("?;")


def test_a_rule_that_drops_a_word_is_trusted_on_two_examples() -> None:
    # `while 1:` -> `while True:`: the loop bodies are a hole covering nearly all of the text,
    # but the word the rule takes away (`1`) is checked at every site it changes
    body = "        value_{n}_{i} = compute({n}, {i})\n"
    doc = "".join(
        f"def f{n}():\n    while 1:\n"
        + "".join(body.format(n=n, i=i) for i in range(12))
        + "        break\n"
        for n in range(4)
    )
    change = ("while 1:", "while True:")
    _, made, doc2 = _mine("python", doc, change, change)
    assert len(made) == 1 and made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [(m.start_line, m.old_text, m.new_text) for m in found] == [
        (31, "1", "True"),
        (46, "1", "True"),
    ]


def test_an_insertion_beside_a_firm_anchor_is_trusted_on_two_examples() -> None:
    # the parameter lists differ, and so does the right neighbour at every site (a hole); the
    # left one is the same named parameter: where to insert is not a guess
    lists = [
        ["url=None", "headers=None", "cookies=None", "timeout=None", "redirect=False"],
        ["headers=None", "cookies=None", "auth=None", "timeout=None", "proxies=None", "hooks=None"],
        ["cookies=None", "verify=None"],
        ["data=None", "files=None", "cookies=None", "stream=None", "cert=None"],
    ]
    doc = "".join(
        f"def f{n}(self,\n" + "".join(f"        {p},\n" for p in params) + "    ):\n    pass\n\n"
        for n, params in enumerate(lists)
    )
    changes = [
        (
            f"cookies=None,\n        {nxt}",
            f"cookies=None,\n        store_cookies=True,\n        {nxt}",
        )
        for nxt in ("timeout", "auth")
    ]
    _, made, doc2 = _mine("python", doc, *changes)
    assert len(made) == 1 and made[0].mode == "window" and made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [apply_match(doc2, m).splitlines()[m.start_line] for m in found] == [
        "        store_cookies=True,",
        "        store_cookies=True,",
    ]
