"""Which part of the code a change is about: the context, the neighbours and the words a skill
keeps, and the ones it leaves to each site."""

from memory.skills.matching import SkillIndex, apply_match
from tests.unit.skills.mined import mine as _mine


def test_a_deletion_at_the_end_of_a_statement_meets_its_twin() -> None:
    # `return data, data` -> `return data` before an `if` and before an `elif`: the deletion
    # point belongs to the statement, not to whatever follows it
    doc = (
        "def encode(data):\n"
        "    if isinstance(data, bytes):\n        return data, data\n"
        "    if isinstance(data, str):\n        return data, data\n"
        "    elif hasattr(data, 'read'):\n        return data, data\n"
        "    else:\n        return data, data\n"
    )
    change = ("return data, data", "return data")
    _, made, doc2 = _mine("python", doc, change, change)
    assert len(made) == 1 and made[0].support == 2
    found = SkillIndex(made).matches_in(made[0].id, "python", doc2, None)
    assert [(m.start_line, m.old_text) for m in found] == [(6, ", data"), (8, ", data")]


def test_an_item_on_its_own_line_is_the_context_not_the_whole_signature() -> None:
    # `build_isolation: bool,` retyped in two methods whose signatures are otherwise alike: the
    # skill is about that parameter, so it applies in a function with other parameters too
    doc = (
        "class A:\n    def prepare(\n        self,\n        isolation: bool,\n"
        "        check: bool,\n    ) -> None:\n        pass\n\n"
        "class B:\n    def prepare(\n        self,\n        isolation: bool,\n"
        "        check: bool,\n    ) -> None:\n        return 1\n\n"
        "def build(\n    req: str,\n    isolation: bool,\n    installer: object,\n):\n    pass\n"
    )
    miner, made, doc = _mine(
        "python",
        doc,
        ("isolation: bool,", "isolation: IsolationMode,"),
        ("isolation: bool,", "isolation: IsolationMode,"),
    )
    assert made and made[0].describe()["before"] == "isolation: bool"
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == [
        "    isolation: IsolationMode,"
    ]


def test_a_trailing_comment_added_or_removed_belongs_to_its_statement() -> None:
    # `# type: ignore` added after two statements is a rewrite of such statements, not an
    # insertion of a comment after whatever statement comes before it
    doc = (
        "def f():\n    a = load(x)\n    b = 2\n    c = load(y)\n    return 1\n\n"
        "def g():\n    d = load(z)\n    e = dump(w)\n    print(e)\n"
    )
    miner, made, doc = _mine(
        "python",
        doc,
        ("a = load(x)", "a = load(x)  # type: ignore"),
        ("c = load(y)", "c = load(y)  # type: ignore"),
    )
    assert made and (made[0].describe()["before"], made[0].describe()["after"]) == (
        "$h0 = load($h1)",
        "$h0 = load($h1)  # type: ignore",
    )
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == [
        "    d = load(z)  # type: ignore"
    ]
    # and taken away again: the statement stays, its comment goes
    miner, made, doc = _mine(
        "python",
        doc.replace("d = load(z)", "d = load(z)  # type: ignore"),
        ("a = load(x)  # type: ignore", "a = load(x)"),
        ("c = load(y)  # type: ignore", "c = load(y)"),
    )
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == ["    d = load(z)"]


def test_a_change_to_a_whole_body_is_a_change_of_its_statements() -> None:
    # both examples changed the only statement of a body: the skill is about that statement,
    # so it applies where the body holds more
    doc = (
        "def a(r):\n    self.assertEqual(type(r), K)\n\n"
        "def b(r):\n    self.assertEqual(type(r), T)\n\n"
        "def c(r):\n    self.assertEqual(type(r), K)\n    r.close()\n"
    )
    miner, made, doc = _mine(
        "python",
        doc,
        ("self.assertEqual(type(r), K)", "assert type(r) is K  # noqa"),
        ("self.assertEqual(type(r), T)", "assert type(r) is T  # noqa"),
    )
    assert made
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == [
        "    assert type(r) is K  # noqa"
    ]


def test_a_new_last_item_goes_beside_its_neighbour_at_its_indentation() -> None:
    # `tracker=tracker,` added after `isolation=opts.isolation,` in two calls alike but for one
    # argument: the skill is about that neighbour, not the call, so it applies to a call with
    # other arguments, and the new line is indented as an item, not as the closing bracket
    call = "    p = Preparer(\n        build={b},\n        isolation=opts.isolation,\n    )\n"
    doc = "".join(
        f"def {name}():\n" + call.format(b=b)
        for name, b in (("a", "d.path"), ("b", "None"), ("c", "x"))
    )
    doc += "def d():\n    q = Other(\n        size=1,\n        isolation=opts.isolation,\n    )\n"
    isolation = "        isolation=opts.isolation,\n"
    miner, made, doc = _mine(
        "python",
        doc,
        ("d.path,\n" + isolation, "d.path,\n" + isolation + "        tracker=tracker,\n"),
        ("None,\n" + isolation, "None,\n" + isolation + "        tracker=tracker,\n"),
    )
    assert made and made[0].needed_support() <= 2  # offered in nextEdits
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [apply_match(doc, m).splitlines()[m.start_line] for m in found] == [
        "        tracker=tracker,",
        "        tracker=tracker,",
    ]
    assert [m.start_line for m in found] == [16, 21]


def test_a_comment_deleted_with_its_statement_is_the_sites_own() -> None:
    # `reveal_type(a // b)  # E: ...` deleted twice with the same comment: the comment went
    # because its line did, so a line with another comment is the same deletion (held back for
    # a third example, as deletions with holes are)
    doc = (
        "reveal_type(a // c)  # E: ndarray\nreveal_type(c // a)  # E: ndarray\n"
        "x = 1\nreveal_type(b // c)  # E: ndarray\nreveal_type(o // c)  # E: Any\n"
    )
    one = ("reveal_type(a // c)  # E: ndarray\n", "")
    two = ("reveal_type(c // a)  # E: ndarray\n", "")
    _, made, doc2 = _mine("python", doc, one, two)
    assert made and made[0].needed_support() == 3
    held = SkillIndex(made, held_back=True).matches_in(made[0].id, "python", doc2, None)
    assert [m.old_text.strip() for m in held] == [
        "reveal_type(b // c)  # E: ndarray",
        "reveal_type(o // c)  # E: Any",
    ]


def test_a_deletion_whose_only_hole_is_a_redacted_secret_is_trusted_on_two() -> None:
    # the recorder mines an edit with a secret from its redacted text: the hole is where the
    # text was hidden, not where the examples were seen to differ, so it is no guess
    doc = "".join(
        f"def t{n}(app):\n    app.secret_key = '«redacted»'\n    assert app\n\n" for n in range(3)
    )
    line = "    app.secret_key = '«redacted»'\n"
    miner, made, doc = _mine("python", doc, (line, ""), (line, ""))
    assert made and made[0].describe()["before"] == "$h1.secret_key = '$h0'"
    assert made[0].needed_support() == 2
    found = SkillIndex(miner.skills()).matches_in(made[0].id, "python", doc, None)
    assert [m.start_line for m in found] == [7]
