"""Loosening: words two examples merely shared become holes inside the change, not around it."""

from memory.skills import transforms
from memory.skills.matching import SkillIndex, apply_match
from tests.unit.skills.test_skills import _mine

TYPED = (
    "class C:\n"
    "    def a(self, req):\n        # type: (Request) -> None\n        pass\n"
    "    def b(self, req):\n        # type: (Request) -> None\n        pass\n"
    "    def c(self, cand):\n        # type: (Candidate) -> None\n        pass\n"
    "    def d(self, n):\n        # type: (int) -> int\n        pass\n"
    "    def e(self, x):\n        # a comment\n        pass\n"
)


def _sites(made, language: str, doc: str) -> list[str]:
    """The rewritten line at every site the first skill matches."""
    found = SkillIndex(made).matches_in(made[0].id, language, doc, None)
    return [apply_match(doc, m).splitlines()[m.start_line].strip() for m in found]


def test_shared_words_moved_by_the_change_become_holes() -> None:
    # both examples convert `req: Request`; the rule is the conversion, so it reaches `cand`,
    # and the rest of the comment is still checked (`-> int` is another rule, `# a comment` none)
    _, made, doc = _mine(
        "python",
        TYPED,
        ("a(self, req):\n        # type: (Request) -> None\n", "a(self, req: Request) -> None:\n"),
        ("b(self, req):\n        # type: (Request) -> None\n", "b(self, req: Request) -> None:\n"),
    )
    assert len(made) == 1 and made[0].needed_support() == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[5] for m in found] == [
        "    def c(self, cand: Candidate) -> None:"
    ]


def test_words_around_the_change_stay() -> None:
    # the developer chose this parameter: every other `bool = True` is not the rule
    doc = "".join(
        f"def {f}(\n    ensure_ascii: bool = True,\n{p}):\n    pass\n"
        for f, p in (("f", "    strict: bool = True,\n"), ("g", ""), ("h", "    x: bool = True,\n"))
    )
    _, made, doc = _mine(
        "python",
        doc,
        ("f(\n    ensure_ascii: bool = True", "f(\n    ensure_ascii: bool = False"),
        ("g(\n    ensure_ascii: bool = True", "g(\n    ensure_ascii: bool = False"),
    )
    assert made[0].describe()["before"] == "ensure_ascii: bool = True"
    assert _sites(made, "python", doc) == ["ensure_ascii: bool = False,"]


def test_names_of_operations_stay() -> None:
    # carried arguments loosen; a called function or attribute does not: the rule is about
    # assertIs, not every assert method of self
    doc = "def t(self):\n    x = self.assertIs(a, b)\n    y = self.assertIs(a, b)\n"
    doc += "    z = self.assertIs(c, d)\n    w = self.assertTrue(c, d)\n"
    _, made, doc = _mine(
        "python",
        doc,
        ("x = self.assertIs(a, b)", "x = check(self.assertIs(a, b))"),
        ("y = self.assertIs(a, b)", "y = check(self.assertIs(a, b))"),
    )
    assert made[0].describe()["before"] == "$h0 = $h1.assertIs($h2, $h3)"
    assert _sites(made, "python", doc) == ["z = check(self.assertIs(c, d))"]


def test_assert_method_with_shared_arguments_generalises() -> None:
    doc = "def t(self):\n    self.assertIs(resp, resp2)\n    self.assertIs(resp, resp2)\n"
    doc += "    self.assertIs(a, b)\n    self.assertEqual(a, b)\n"
    _, made, doc = _mine(
        "python",
        doc,
        ("self.assertIs(resp, resp2)", "assert resp is resp2"),
        ("self.assertIs(resp, resp2)", "assert resp is resp2"),
    )
    assert made[0].describe()["before"] == "self.assertIs($h0, $h1)"
    assert _sites(made, "python", doc) == ["assert a is b"]  # not assertEqual


def test_slot_transform_keeps_the_rest_of_the_text() -> None:
    t = ["slot", "# type: (", ") -> None"]
    assert transforms.apply(t, "# type: (Cand) -> None") == "Cand"
    assert transforms.apply(t, "# type: (int) -> int") is None
    assert transforms.apply(t, "# type: () -> None") is None
    assert transforms.apply(t, "# type: (a b) -> None") is None
    pairs = [("# type: (A) -> None", "A"), ("# type: (B) -> None", "B")]
    assert transforms.find(pairs) == t
    # differing tails: the slot does not fit both, a token cut does
    pairs = [("# type: (A) -> None", "A"), ("# type: (B) -> int", "B")]
    assert transforms.find(pairs) == ["tokens", 4, 4]
    # swapping a whole word is a constant, not a transform of the site's word
    assert transforms.find([("self", "Req"), ("self", "Req")]) is None


def test_a_definitions_own_name_stays() -> None:
    # two overrides of get_base_rev_args become static methods: not every classmethod does
    doc = "".join(
        f"class V{n}:\n    @classmethod\n    def {name}(cls, rev):\n        return [rev]\n"
        for n, name in enumerate(["get_base_rev_args", "get_base_rev_args", "get_base_rev_args"])
    )
    doc += "class W:\n    @classmethod\n    def get_remote_url(cls, location):\n        return 1\n"
    old = "    @classmethod\n    def get_base_rev_args(cls, rev):\n"
    new = "    @staticmethod\n    def get_base_rev_args(rev):\n"
    _, made, doc = _mine("python", doc, (old, new), (old, new))
    assert made[0].describe()["before"].startswith("@classmethod\n    def get_base_rev_args(cls, ")
    assert _sites(made, "python", doc) == ["@staticmethod"]


def test_shared_literals_inside_the_change_become_holes() -> None:
    # both examples checked status 200 and the same URL; the rule is assertEquals ->
    # assertEqual, so it reaches the test that checks 404 and another URL
    block = "    def {n}(self):\n        self.assertEquals(r.status_code, {c})\n"
    block += "        self.assertEquals(r.url, service('{u}'))\n"
    doc = "class T:\n" + "".join(
        block.format(n=n, c=c, u=u)
        for n, c, u in (("a", 200, "post"), ("b", 200, "post"), ("c", 404, "get?x=1"))
    )

    def change(n: str, c: int, u: str) -> tuple[str, str]:
        old = block.format(n=n, c=c, u=u)
        return old, old.replace("assertEquals", "assertEqual")

    _, made, doc = _mine("python", doc, change("a", 200, "post"), change("b", 200, "post"))
    assert len(made) == 1 and made[0].needed_support() == 2
    assert "200" not in made[0].describe()["before"] and "post" not in made[0].describe()["before"]
    found = SkillIndex(made).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line :][:2] for m in found] == [
        [
            "        self.assertEqual(r.status_code, 404)",
            "        self.assertEqual(r.url, service('get?x=1'))",
        ]
    ]


def test_shared_literals_loosen_in_go_and_typescript() -> None:
    calls = [("a", 1, "x"), ("a", 1, "y"), ("b", 2, "z")]
    go = "package m\n\nfunc f() {\n" + "".join(f'\tcheck("{a}", {n}, {v})\n' for a, n, v in calls)
    change = [(f'check("a", 1, {v})', f'must(check("a", 1, {v}))') for v in "xy"]
    _, made, doc = _mine("go", go + "}\n", *change)
    assert _sites(made, "go", doc) == ['must(check("b", 2, z))']
    ts = "function f() {\n" + "".join(f"  check('{a}', {n}, {v});\n" for a, n, v in calls)
    change = [(f"check('a', 1, {v})", f"await must(check('a', 1, {v}))") for v in "xy"]
    _, made, doc = _mine("typescript", ts + "}\n", *change)
    assert _sites(made, "typescript", doc) == ["await must(check('b', 2, z));"]


def test_the_object_a_member_is_read_from_is_the_sites_own() -> None:
    # `rv.data` in both examples: the variable's name is the test's own choice, not the rule,
    # so `response.data` converts too; the member read (`data`, not `text`) is still checked
    doc = "def t(self):\n" + "".join(
        f"    self.assert_equal({v}, '{s}')\n"
        for v, s in (("rv.data", "x"), ("rv.data", "y"), ("response.data", "z"), ("rv.text", "w"))
    )
    _, made, doc = _mine(
        "python",
        doc,
        ("self.assert_equal(rv.data, 'x')", "self.assert_equal(rv.data, b'x')"),
        ("self.assert_equal(rv.data, 'y')", "self.assert_equal(rv.data, b'y')"),
    )
    assert len(made) == 1 and made[0].needed_support() == 2
    assert _sites(made, "python", doc) == ["self.assert_equal(response.data, b'z')"]
