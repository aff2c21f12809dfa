"""The JS/TS/Go commit miner: its tokenizer, and grouping on a tiny real git history."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.tools.commit_edits_lang import (
    DEFAULT_TOOLS,
    GO_KEYWORDS,
    JS_KEYWORDS,
    c_like_tokens,
    cases_from_repo,
    language_of,
    load_miner,
)

needs_tools = pytest.mark.skipif(
    not os.path.exists(os.path.join(DEFAULT_TOOLS, "make_edit_replay.py")),
    reason="the shared corpus tools are not on this machine",
)


def texts(src: str, keywords: frozenset[str] = JS_KEYWORDS) -> list[str]:
    return [t for _, t in c_like_tokens(src, keywords)]


def test_operators_are_longest_match() -> None:
    assert texts("a !== b && c?.d ?? e >>>= 1") == [
        "a", "!==", "b", "&&", "c", "?.", "d", "??", "e", ">>>=", "1",
    ]  # fmt: skip
    assert texts("x := <-ch; y &^= z", GO_KEYWORDS) == ["x", ":=", "<-", "ch", ";", "y", "&^=", "z"]


def test_comments_dropped_strings_kept_whole() -> None:
    src = "f('a // b', \"c\") // tail\n/* block\n more */ g(`t ${x}\nline`)"
    toks = c_like_tokens(src, JS_KEYWORDS)
    assert ("STRING", "'a // b'") in toks
    assert ("STRING", "`t ${x}\nline`") in toks
    assert [t for c, t in toks if c == "NAME"] == ["f", "g"]


def test_categories_keywords_numbers() -> None:
    toks = c_like_tokens("const n = 0x1F + 1.5e3 + 10n; return $el", JS_KEYWORDS)
    assert toks == [
        ("KW", "const"), ("NAME", "n"), ("OP", "="), ("NUMBER", "0x1F"), ("OP", "+"),
        ("NUMBER", "1.5e3"), ("OP", "+"), ("NUMBER", "10n"), ("OP", ";"), ("KW", "return"),
        ("NAME", "$el"),
    ]  # fmt: skip
    go = c_like_tokens("if err != nil { return `raw\\n` }", GO_KEYWORDS)
    assert go[:4] == [("KW", "if"), ("NAME", "err"), ("OP", "!="), ("KW", "nil")]
    assert ("STRING", "`raw\\n`") in go


def test_language_of_case() -> None:
    assert language_of(["a.js", "b.mjs"], "js") == "javascript"
    assert language_of(["a.js", "b.tsx"], "js") == "typescript"
    assert language_of(["main.go"], "go") == "go"


def _git(repo: Path, *args: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t")
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


JS_BEFORE = """\
function a(list, x) {
  return list.indexOf(x) !== -1;
}

function b(items, y) {
  if (items.indexOf(y) !== -1) {
    // a comment
    return 1;
  }
  return 0;
}

const c = (names, z) => names.indexOf(z) !== -1;

function e(set, w) {
  return set.indexOf(w) !== -1;
}

const untouched = 42;
"""
TS_BEFORE = """\
export function d(keys: string[], k: string): boolean {
  return keys.indexOf(k) !== -1;
}
"""


@needs_tools
def test_groups_one_commit_across_js_and_ts(tmp_path: Path) -> None:
    repo = tmp_path / "someone+demo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "lib.js").write_text(JS_BEFORE)
    (repo / "util.ts").write_text(TS_BEFORE)
    (repo / "notes.py").write_text("x = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    after_js = JS_BEFORE.replace(".indexOf(x) !== -1", ".includes(x)")
    after_js = after_js.replace(".indexOf(y) !== -1", ".includes(y)")
    after_js = after_js.replace(".indexOf(z) !== -1", ".includes(z)")
    after_js = after_js.replace(".indexOf(w) !== -1", ".includes(w)")
    after_js = after_js.replace("const untouched = 42;", "const untouched = 43;")
    (repo / "lib.js").write_text(after_js)
    (repo / "util.ts").write_text(TS_BEFORE.replace(".indexOf(k) !== -1", ".includes(k)"))
    # a Python hunk of the same commit must be ignored by the JS miner
    (repo / "notes.py").write_text("x = 2\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "use includes")

    mod = load_miner("js")
    cases = cases_from_repo(mod, str(repo / ".git"), "someone/demo")
    assert len(cases) == 1
    case = cases[0]
    assert case["language"] == "typescript"  # one of its files is TypeScript
    assert case["kind"] == "same-shape"
    assert case["repo"] == "someone/demo"
    assert case["message"] == "use includes"
    assert case["shape"] == "return ID0 . ID1 ( ID2 ) !== - NUM0 ; => return ID0 . ID3 ( ID2 ) ;"
    assert sorted(case["files"]) == ["lib.js", "util.ts"]
    # only the `return` sites share one shape; the `if (...)` and arrow sites form smaller
    # groups (< 3) and the number edit is another shape
    sites = [(e["path"], e["start"][0], e["end"][0]) for e in case["edits"]]
    assert sites == [("lib.js", 1, 2), ("lib.js", 15, 16), ("util.ts", 1, 2)]
    assert case["edits"][1]["old"] == "  return set.indexOf(w) !== -1;\n"
    assert case["edits"][1]["new"] == "  return set.includes(w);\n"


@needs_tools
def test_groups_three_sites_and_slices_match(tmp_path: Path) -> None:
    repo = tmp_path / "someone+gogo"
    repo.mkdir()
    _git(repo, "init", "-q")
    before = "".join(
        f"func f{i}() error {{\n\tif err := run{i}(); err != nil {{\n\t\treturn err\n\t}}\n"
        f"\treturn nil\n}}\n\n"
        for i in range(4)
    )
    (repo / "main.go").write_text("package main\n\n" + before)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    after = before.replace("\t\treturn err\n", '\t\treturn fmt.Errorf("run: %w", err)\n', 3)
    (repo / "main.go").write_text("package main\n\n" + after)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "wrap errors")

    mod = load_miner("go")
    cases = cases_from_repo(mod, str(repo / ".git"), "someone/gogo")
    assert len(cases) == 1
    case = cases[0]
    assert case["language"] == "go"
    assert case["kind"] == "identical"
    assert len(case["edits"]) == 3
    lines = case["files"]["main.go"].splitlines(keepends=True)
    for e in case["edits"]:
        assert "".join(lines[e["start"][0] : e["end"][0]]) == e["old"] == "\t\treturn err\n"
        assert e["new"] == '\t\treturn fmt.Errorf("run: %w", err)\n'
