"""A rewrite that makes a Python line too long is split as the file's formatter would split it."""

from memory.skills.linewrap import limit_of, split_long_line
from server.suggest.sites import in_text
from tests.unit.skills.mined import mine

# two signatures a formatter split: joined they would be 84 and 94 long
SPLIT = (
    "def test_install_from_wheel_with_headers_and_other_things_too(\n"
    "    script, data, tmpdir\n"
    "):\n"
    "    pass\n\n\n"
    "def test_install_from_wheel_with_headers_and_other_things_too_2(\n"
    "    script, data, tmpdir\n"
    ") -> None:\n"
    "    pass\n"
)


def test_a_long_line_is_split_at_its_last_bracket_pair() -> None:
    line = "    def test_install_from_wheel_gen_uppercase_entrypoint(script, shared_data):"
    assert len(line) == 78
    assert split_long_line(line, 77) == (
        "    def test_install_from_wheel_gen_uppercase_entrypoint(\n"
        "        script, shared_data\n"
        "    ):"
    )
    assert split_long_line(line, 78) is None  # it fits
    # a string's brackets are not the line's; the return annotation stays after the bracket
    assert split_long_line("x = f(a, '(b', c) -> T:", 15) == "x = f(\n    a, '(b', c\n) -> T:"
    # what black would split otherwise: a magic trailing comma, a comment, a call after the
    # bracket, contents too long for one line
    assert split_long_line("x = f(aaaaaaaaaa, bbbbbbbbbb,)", 20) is None
    assert split_long_line("x = f(aaaaaaaaaa, bbbbbbbbbb)  # why", 20) is None
    assert split_long_line("x = f(aaaaaaaaaa, bbbbbbbbbb).g", 20) is None
    assert split_long_line("x = f(aaaaaaaaaa, bbbbbbbbbbbbbbbbbb)", 20) is None


def test_the_limit_is_what_the_files_own_splits_show() -> None:
    # longer than every line, and as long as the shortest split joined (84) less one
    assert limit_of(SPLIT.encode()) == 83
    # one split is no evidence of a formatter, and a file without any gives no limit
    one = SPLIT.split("\n\n\n")[0]
    assert limit_of(one.encode()) is None
    assert limit_of(b"x = 1\n" + b"y = 2\n" * 3) is None
    # a longer line the formatter could have split says the limit is higher; a long string, a
    # comment or docstring text it could not split says nothing
    assert limit_of((SPLIT + "z = f('" + "w" * 90 + "')\n").encode()) == 99
    assert limit_of((SPLIT + "z = '(" + "w" * 90 + ")'\n# " + "c" * 99 + "\n").encode()) == 83


def test_a_rewrite_past_the_limit_comes_split_and_short_ones_do_not() -> None:
    doc = SPLIT + (
        "\n\ndef test_a(script, data, tmpdir):\n    pass\n"
        "\n\ndef test_b(script, data, tmpdir):\n    pass\n"
        "\n\ndef test_install_from_wheel_gen_uppercase_entrypoint_x(script, data, tmpdir):\n"
        "    pass\n"
        "\n\ndef test_c(script, data, tmpdir):\n    pass\n"
    )
    miner, made, doc = mine(
        "python",
        doc,
        ("def test_a(script, data, tmpdir)", "def test_a(script, shared_data, tmpdir)"),
        ("def test_b(script, data, tmpdir)", "def test_b(script, shared_data, tmpdir)"),
    )
    found, complete = in_text(made, "python", doc)
    assert complete
    texts = {m.start_line: m.new_text for m in found if m.start_line > 10}
    lines = doc.split("\n")
    long = next(k for k, x in enumerate(lines) if "uppercase" in x)
    short = next(k for k, x in enumerate(lines) if x.startswith("def test_c("))
    assert texts[long] == (
        "def test_install_from_wheel_gen_uppercase_entrypoint_x(\n"
        "    script, shared_data, tmpdir\n"
        "):"
    )
    assert texts[short] == "shared_"  # short enough: only the change itself
