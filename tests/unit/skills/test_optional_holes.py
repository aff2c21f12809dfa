"""Alike examples of different shapes: an element one example has and the other lacks becomes
an optional hole (`yield` and `yield request.param` -> `return` and `return request.param`)."""

from memory.skills.templates import optionals
from tests.unit.skills.mined import offered as offered_sites

FIXTURES = (
    "import pytest\n\n\n"
    "@pytest.fixture\ndef a():\n    yield\n\n\n"
    "@pytest.fixture(params=[1, 2])\ndef b(request):\n    yield request.param\n\n\n"
    "@pytest.fixture\ndef c(self):\n    yield self.x\n\n\n"
    "@pytest.fixture\ndef d():\n    yield\n"
)


def test_yield_with_and_without_a_value_is_one_skill() -> None:
    made, offered = offered_sites(
        "python",
        FIXTURES,
        ("    yield\n", "    return\n"),
        ("yield request.param", "return request.param"),
    )
    assert made, "the two edits made no skill"
    skill = made[0]
    before, after = skill.before_template["parts"], skill.after_template["parts"]
    assert optionals(before) == optionals(after) and len(optionals(before)) == 1
    assert (skill.pattern_text("before"), skill.pattern_text("after")) == (
        "yield $h0",
        "return $h0",
    )
    assert skill.needed_support() == 2
    # offered with the element and without it, with the spacing right either way
    assert offered == [("yield", "return"), ("yield self.x", "return self.x")]


def test_the_other_order_of_examples_renders_alike() -> None:
    # the first example (whose text the templates index) has the element this time
    _, offered = offered_sites(
        "python",
        FIXTURES,
        ("yield request.param", "return request.param"),
        ("    yield\n", "    return\n"),
    )
    assert offered == [("yield", "return"), ("yield self.x", "return self.x")]


def test_javascript_call_with_and_without_an_argument() -> None:
    doc = (
        "function a() {\n  console.log();\n}\n"
        "function b(x) {\n  console.log(x);\n}\n"
        "function c(y) {\n  console.log(y.z);\n}\n"
        "function d() {\n  console.log();\n}\n"
    )
    made, offered = offered_sites(
        "javascript",
        doc,
        ("console.log();", "logger.debug();"),
        ("console.log(x);", "logger.debug(x);"),
    )
    assert made, "the two edits made no skill"
    assert offered == [
        ("console.log();", "logger.debug();"),
        ("console.log(y.z);", "logger.debug(y.z);"),
    ]


def test_an_element_that_moves_elsewhere_does_not_merge() -> None:
    # the value goes somewhere else on the after side: no optional hole carries it, so no skill
    made, offered = offered_sites(
        "python",
        FIXTURES,
        ("    yield\n", "    return\n"),
        ("yield request.param", "return (request.param)"),
    )
    assert not any(optionals(s.before_template["parts"]) for s in made)
    assert ("yield self.x", "return self.x") not in offered
    assert ("yield", "return") not in offered


def test_a_third_example_without_the_element_widens_the_skill() -> None:
    doc = FIXTURES.replace("yield self.x", "yield self.y\n    yield self.x")
    made, offered = offered_sites(
        "python",
        doc,
        ("yield request.param", "return request.param"),
        ("yield self.y", "return self.y"),
        ("    yield\n", "    return\n"),
    )
    [skill] = made
    assert skill.support == 3
    assert len(optionals(skill.before_template["parts"])) == 1
    assert offered == [("yield", "return"), ("yield self.x", "return self.x")]


def test_an_element_the_after_side_drops_does_not_merge() -> None:
    # `yield $?x` -> `return` would throw away a value some sites have: the optional element
    # must carry across as it is
    made, offered = offered_sites(
        "python",
        FIXTURES,
        ("    yield\n", "    return\n"),
        ("yield request.param", "return"),
    )
    assert not any(optionals(s.before_template["parts"]) for s in made)
    assert ("yield self.x", "return") not in offered


def test_an_empty_string_and_a_filled_one_stay_one_hole() -> None:
    # `""` and `"http://x"` differ in value, not in shape: the argument stays any argument
    doc = (
        "def test_a():\n    assert not parse('')\n\n\n"
        "def test_b():\n    assert not parse('http://x')\n\n\n"
        "def test_c():\n    assert not parse('ftp://y')\n"
    )
    made, offered = offered_sites(
        "python",
        doc,
        ("assert not parse('')", "assert parse('') is None"),
        ("assert not parse('http://x')", "assert parse('http://x') is None"),
    )
    assert made, "the two edits made no skill"
    assert not optionals(made[0].before_template["parts"])
    assert offered == [("assert not parse('ftp://y')", "assert parse('ftp://y') is None")]
