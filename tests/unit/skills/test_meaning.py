"""Guards about meaning (memory.skills.meaning): `-> None` learned at two functions that return
nothing marks each site with whether its function returns a value, a feature the site model
weighs; read alike from stored and live trees in Python, JavaScript, TypeScript and Go."""

from memory.skills.matching import SkillIndex
from memory.skills.meaning import node_returns_value, syn_returns_value
from memory.skills.site_model import FEATURES, SiteContext, features, skill_facts
from memory.skills.skill import Skill
from memory.skills.syn import to_syn
from memory.skills.syntax import parse
from tests.unit.skills.mined import mine


def _sites(language: str, doc: str, *changes: tuple[str, str]) -> tuple[list[Skill], list]:
    """The skills the changes made (all hypotheses) and every site they match afterwards, with
    each site's first line."""
    miner, _, after = mine(language, doc, *changes)
    lines = after.splitlines()
    found = SkillIndex(miner.skills()).matches_at(language, after, None, 0, len(lines) + 1)
    found += SkillIndex(miner.skills(), held_back=True).matches_at(
        language, after, None, 0, len(lines) + 1
    )
    return miner.skills(), [(lines[m.start_line].strip(), m) for m in found]


PY = (
    "class A:\n"
    "    def reset(self):\n        self.n = 0\n\n"
    "    def clear(self):\n        self.items = []\n        return\n\n"
    "    def close(self):\n        self.f.close()\n\n"
    "    def size(self):\n        return len(self.items)\n\n"
    "    def each(self):\n        for x in self.items:\n            yield x\n\n"
    "    def inner(self):\n        def g():\n            return 1\n        self.g = g\n"
)


def test_a_site_says_whether_its_function_returns_a_value_and_the_model_weighs_it() -> None:
    skills, found = _sites(
        "python",
        PY,
        ("def reset(self):", "def reset(self) -> None:"),
        ("def clear(self):", "def clear(self) -> None:"),
    )
    guarded = [s for s in skills if s.before_template.get("returns") is False]
    assert guarded, [s.pattern_text("before") for s in skills]
    ids = {s.id for s in guarded}
    returns = {line: m.returns for line, m in found if m.skill_id in ids}
    # inner's `return 1` is g's; each yields
    assert returns == {
        "def close(self):": False,
        "def size(self):": True,
        "def each(self):": True,
        "def inner(self):": False,
    }
    skill = guarded[0]
    facts = skill_facts(skill)
    where = dict(same_file=True, distance=3, sites=4, sites_in_file=4, path="a.py", text=PY)
    differs = FEATURES.index("returns_differs")
    for line, m in found:
        if m.skill_id == skill.id:
            x = features(skill, facts, m.bindings, SiteContext(**where, returns=m.returns))
            assert x[differs] == float(m.returns is True), line


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
        assert node_returns_value(fn, language) is value, (language, text)
        assert syn_returns_value(to_syn(fn, data, 0, None)) is value, (language, text)


def test_typescript_functions_keep_the_guard_too() -> None:
    ts = (
        "function a(x) { console.log(x); }\n"
        "function b(y) { console.log(y); }\n"
        "function d(w) { console.log(w); return w; }\n"
        "function e(v) { console.log(v); }\n"
    )
    skills, found = _sites(
        "typescript",
        ts,
        ("function a(x) {", "function a(x): void {"),
        ("function b(y) {", "function b(y): void {"),
    )
    assert any(s.before_template.get("returns") is False for s in skills)
    returns = {line.split("(")[0]: m.returns for line, m in found}
    assert returns == {"function d": True, "function e": False}
