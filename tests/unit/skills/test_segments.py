"""Lists of different lengths: the children two examples share at each end stay, the run between
is one segment hole, so an edit made to an argument list of two and one of three is one skill
(`zip(a, b)` -> `zip(a, b, strict=False)`, `zip(x, y, z)` -> `zip(x, y, z, strict=False)`)."""

from memory.skills.skill import Skill
from memory.skills.templates import SEGMENT, holes
from tests.unit.skills.mined import mine
from tests.unit.skills.mined import offered as offered_sites


def _segments(skill: Skill) -> list[str]:
    found: dict[str, str | None] = {}
    for t in skill.before_template["parts"]:
        holes(t, found)
    return [name for name, typ in found.items() if typ == SEGMENT]


PY = (
    "def f(a, b, c, x, y, z, w):\n"
    "    u = zip(a, b)\n"
    "    v = list(zip(x, y, z))\n"
    "    for p in zip(a, w, x, y):\n"
    "        print(p)\n"
    "    q = zip(c)\n"
    "    r = zip()\n"
    "    s = unzip(a, b)\n"
)


def test_an_argument_appended_to_lists_of_two_and_three_is_one_skill() -> None:
    made, offered = offered_sites(
        "python",
        PY,
        ("zip(a, b)", "zip(a, b, strict=False)"),
        ("zip(x, y, z)", "zip(x, y, z, strict=False)"),
        offerable=True,
    )
    assert made and _segments(made[0]), [s.pattern_text("before") for s in made]
    assert (made[0].pattern_text("before"), made[0].pattern_text("after")) == (
        "zip($h0)",
        "zip($h0, strict=False)",
    )
    # any number of arguments, one at least; not another function, not the examples again
    assert offered == [
        ("for p in zip(a, w, x, y):", "for p in zip(a, w, x, y, strict=False):"),
        ("q = zip(c)", "q = zip(c, strict=False)"),
    ]


def test_a_segment_keeps_what_both_examples_share_at_the_end() -> None:
    doc = (
        "import warnings\n\n"
        "def g(m, n, k):\n"
        "    warnings.warn(m, category=DeprecationWarning)\n"
        "    warnings.warn(n, m, category=DeprecationWarning)\n"
        "    warnings.warn(k, n, m, category=UserWarning)\n"
        "    warnings.warn(k, m, category=DeprecationWarning)\n"
    )
    made, offered = offered_sites(
        "python",
        doc,
        (
            "warn(m, category=DeprecationWarning)",
            "warn(m, category=DeprecationWarning, stacklevel=2)",
        ),
        (
            "warn(n, m, category=DeprecationWarning)",
            "warn(n, m, category=DeprecationWarning, stacklevel=2)",
        ),
        offerable=True,
    )
    assert made
    # `category=DeprecationWarning` was at the end of both lists: it stays in the skill, so the
    # site with another category is not offered
    assert offered == [
        (
            "warnings.warn(k, m, category=DeprecationWarning)",
            "warnings.warn(k, m, category=DeprecationWarning, stacklevel=2)",
        )
    ]


def test_javascript_and_go_lists_of_different_lengths() -> None:
    js = "function h(a, b, c, d, e) {\n  log.info(a, b);\n  log.info(c, d, e);\n  log.info(e);\n}\n"
    made, offered = offered_sites(
        "javascript",
        js,
        ("log.info(a, b);", "log.info(a, b, { tag: 1 });"),
        ("log.info(c, d, e);", "log.info(c, d, e, { tag: 1 });"),
        offerable=True,
    )
    assert made and _segments(made[0])
    assert offered == [("log.info(e);", "log.info(e, { tag: 1 });")]

    go = (
        "package main\n\n"
        "func main() {\n"
        "\tfmt.Println(a, b)\n"
        "\tfmt.Println(c, d, e)\n"
        "\tfmt.Println(e)\n"
        "}\n"
    )
    made, offered = offered_sites(
        "go",
        go,
        ("fmt.Println(a, b)", "fmt.Fprintln(w, a, b)"),
        ("fmt.Println(c, d, e)", "fmt.Fprintln(w, c, d, e)"),
        offerable=True,
    )
    assert made and _segments(made[0])
    assert offered == [("fmt.Println(e)", "fmt.Fprintln(w, e)")]


def test_a_block_is_no_list_for_a_segment() -> None:
    # a statement appended to bodies of two and three statements: the bodies are other code,
    # not a list of arguments, so no skill appends it to any body
    doc = (
        "def a():\n    x = 1\n    y = 2\n\n"
        "def b():\n    x = 1\n    y = 2\n    z = 3\n\n"
        "def c():\n    w = 0\n"
    )
    miner, _, _ = mine(
        "python",
        doc,
        ("    y = 2\n\ndef b", "    y = 2\n    return None\n\ndef b"),
        ("    z = 3\n", "    z = 3\n    return None\n"),
    )
    for s in miner.skills():
        assert not _segments(s), s.pattern_text("before")
