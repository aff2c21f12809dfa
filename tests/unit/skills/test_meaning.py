"""Guards about meaning (memory.skills.meaning): `-> None` learned at two functions that return
nothing is not offered at one that returns a value, in Python, JavaScript and Go."""

from memory.skills.matching import SkillIndex
from memory.skills.meaning import node_returns_value, syn_returns_value
from memory.skills.syntax import parse
from memory.skills.templates import to_syn
from tests.unit.skills.mined import mine


def _offered_lines(language: str, doc: str, *changes: tuple[str, str]) -> list[str]:
    miner, _, after = mine(language, doc, *changes)
    lines = after.splitlines()
    skills = [s for s in miner.skills() if s.support >= s.needed_support()]
    found = SkillIndex(skills).matches_at(language, after, None, 0, len(lines) + 1)
    return sorted({lines[m.start_line].strip() for m in found})


PY = (
    "class A:\n"
    "    def reset(self):\n        self.n = 0\n\n"
    "    def clear(self):\n        self.items = []\n        return\n\n"
    "    def close(self):\n        self.f.close()\n\n"
    "    def size(self):\n        return len(self.items)\n\n"
    "    def each(self):\n        for x in self.items:\n            yield x\n\n"
    "    def inner(self):\n        def g():\n            return 1\n        self.g = g\n"
)


def test_none_annotation_is_not_offered_at_a_function_that_returns_a_value() -> None:
    offered = _offered_lines(
        "python",
        PY,
        ("def reset(self):", "def reset(self) -> None:"),
        ("def clear(self):", "def clear(self) -> None:"),
    )
    # close and inner return nothing (inner's `return 1` is g's); size returns, each yields
    assert offered == ["def close(self):", "def inner(self):"]


def test_the_guard_reads_returns_in_stored_and_live_trees_alike() -> None:
    for language, text, value in [
        ("python", "def f():\n    return\n", False),
        ("python", "def f():\n    return None\n", False),
        ("python", "def f():\n    return x\n", True),
        ("javascript", "function f() { return; }\n", False),
        ("javascript", "function f() { const g = () => { return 1; }; }\n", False),
        ("javascript", "function f() { return a + b; }\n", True),
        ("go", "package m\n\nfunc f() int {\n\treturn 1\n}\n", True),
        ("go", "package m\n\nfunc f() {\n\treturn\n}\n", False),
    ]:
        tree = parse(language, text)
        assert tree is not None
        fn = next(
            n
            for n in tree.root_node.children
            if n.type in ("function_definition", "function_declaration")
        )
        data = text.encode()
        assert node_returns_value(fn) is value, (language, text)
        assert syn_returns_value(to_syn(fn, data, 0, None)) is value, (language, text)


def test_typescript_functions_keep_the_guard_too() -> None:
    ts = (
        "function a(x) { console.log(x); }\n"
        "function b(y) { console.log(y); }\n"
        "function c(z) { console.log(z); }\n"
        "function d(w) { console.log(w); return w; }\n"
        "function e(v) { console.log(v); }\n"
    )
    # `function $h0($h1) $h2` is general: it is offered beyond the cursor after a third example
    offered = _offered_lines(
        "typescript",
        ts,
        ("function a(x) {", "function a(x): void {"),
        ("function b(y) {", "function b(y): void {"),
        ("function c(z) {", "function c(z): void {"),
    )
    assert offered == ["function e(v) { console.log(v); }"]
