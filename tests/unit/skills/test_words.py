"""The same words changed in two strings or comments (`can be ran against` -> `run`) are learned
as a words transform (memory.skills.transforms, ["words", old, new]): the words around the
change that both examples share come along as its context, whole words only."""

from memory.skills.transforms import apply, find
from tests.unit.skills.mined import offered

HELP = [
    (
        "See the files isort will be ran against with the options.",
        "See the files isort will be run against with the options.",
    ),
    (
        "Specifies what extensions isort can be ran against.",
        "Specifies what extensions isort can be run against.",
    ),
]


def test_the_shared_words_around_the_change_come_along() -> None:
    t = find(HELP, prose=True)
    assert t == ["words", " be ran against", " be run against"]
    assert apply(t, "Tell what it can be ran against, and the test ran.") == (
        "Tell what it can be run against, and the test ran."
    )
    assert apply(t, "The test ran fine.") is None  # not the words the examples changed
    assert apply(t, "It can be ranked against others.") is None  # whole words only


def test_a_change_the_examples_do_not_share_is_no_transform() -> None:
    assert find([HELP[0], ("It was ran once.", "It was done once.")], prose=True) is None
    assert find(HELP) is None  # code, not prose: no words change inside it


def test_a_help_text_fix_is_offered_at_the_next_help_text_only() -> None:
    doc = (
        'parser.add_argument("--a", help="See the files isort will be ran against with them.")\n'
        'parser.add_argument("--b", help="Specifies what extensions isort can be ran against.")\n'
        'parser.add_argument("--c", help="Paths the tool may be ran against, one per line.")\n'
        'parser.add_argument("--d", help="The test ran fine.")\n'
    )
    _, sites = offered(
        "python",
        doc,
        ("be ran against with", "be run against with"),
        ("can be ran against.", "can be run against."),
        offerable=True,
    )
    assert sites == [
        (
            'parser.add_argument("--c", help="Paths the tool may be ran against, one per line.")',
            'parser.add_argument("--c", help="Paths the tool may be run against, one per line.")',
        )
    ]


def test_a_name_with_an_affix_taken_off_is_a_transform() -> None:
    # `self._ordered_columns` -> `self.ordered_columns` and `_ordered_rows` -> `ordered_rows`:
    # "replace" cannot say it (the underscore also sits inside the names); the inverse of affix
    pairs = [("_ordered_columns", "ordered_columns"), ("_ordered_rows", "ordered_rows")]
    t = find(pairs)
    assert t == ["slot", "_", ""]
    assert apply(t, "_cache") == "cache"
    assert apply(t, "cache") is None  # no affix to take off
    assert find([("_rows", "rows"), ("cols", "col")]) is None  # not the same change
