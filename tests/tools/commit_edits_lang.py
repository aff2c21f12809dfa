"""Mine commit edit-replay cases for JavaScript, TypeScript and Go.

The shared corpus tool `make_edit_replay.py` (in `../shared/tools/`) mines Python commits: it
finds commits where the developer made the same small change at three or more places, groups
the hunks by their normalised token shape and writes cases in the format of
`../shared/data/README.md`.  This wrapper reuses all of that logic (walking history, hunk
parsing, grouping, validation against the parent files, selection, split) and swaps only what
is Python-specific: the tokenizer, the file filter, the "is this code?" checks and the case's
`language`.  The shared script is loaded from a path (``--tools``) with a handful of checked
text substitutions, because its file filter is written inline in `scan_repo`; any substitution
that no longer matches stops the run instead of silently mining Python files.

Usage (a repository is a bare git dir from the `fetch` tool, ``.../<owner>+<name>/repo``):

    python -m tests.tools.commit_edits_lang all --lang js --tools ../shared/tools \
        --cache CACHE --dev-out train.jsonl --holdout-out val.jsonl --readme corpus.md \
        [--holdout-repos owner/a,owner/b] [--per-repo-cap 150] GITDIR ...

Then run `add_commit_edits.py` of the shared tools on both outputs, as for Python.
"""

from __future__ import annotations

import argparse
import os
import re
import types
from collections.abc import Callable, Iterable
from typing import Any

DEFAULT_TOOLS = os.environ.get("KENETIC_CORPUS_TOOLS", "/work/shared/tools")

# ---------------------------------------------------------------------------- languages


def _words(text: str) -> list[str]:
    return text.split()


JS_KEYWORDS = frozenset(
    _words(
        """break case catch class const continue debugger default delete do else export extends
    finally for function if import in instanceof new return super switch this throw try typeof
    var void while with yield let static async await of enum implements interface private
    protected public readonly abstract declare namespace keyof satisfies true false null
    undefined"""
    )
)
GO_KEYWORDS = frozenset(
    _words(
        """break case chan const continue default defer else fallthrough for func go goto if import
    interface map package range return select struct switch type var true false nil"""
    )
)

# Longest first, so that `===` is one token and not `==` then `=`.
OPERATORS = sorted(
    _words(
        """>>>= ... === !== **= <<= >>= >>> &&= ||= ??= &^= => == != <= >= && || ?? ?. ++ -- += -=
    *= /= %= &= |= ^= << >> ** := <- &^ { } ( ) [ ] ; , < > + - * / % & | ^ ! ~ ? : = . @ #"""
    ),
    key=len,
    reverse=True,
)

_TOKEN_RE = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<comment>//[^\n]*|/\*[\s\S]*?(?:\*/|\Z))"
    # template literals (JS/TS) and raw strings (Go) may span lines; `${...}` stays inside
    r"|(?P<string>`(?:\\[\s\S]|[^`\\])*(?:`|\Z)"
    r"|'(?:\\.|[^\n'\\])*(?:'|(?=\n)|\Z)"
    r"|\"(?:\\.|[^\n\"\\])*(?:\"|(?=\n)|\Z))"
    r"|(?P<number>0[xX][0-9a-fA-F_]+n?|0[bB][01_]+n?|0[oO][0-7_]+n?"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?[ni]?)"
    r"|(?P<name>[A-Za-z_$][\w$]*)"
    r"|(?P<op>" + "|".join(re.escape(o) for o in OPERATORS) + r")"
    r"|(?P<other>.)",
    re.S,
)


def c_like_tokens(src: str, keywords: frozenset[str]) -> list[tuple[str, str]]:
    """Tokens of a code fragment of a C-like language as (category, text) pairs.

    Categories are those of the shared Python tokenizer (KW, NAME, STRING, NUMBER, OP), so
    the shared normalisation turns names and literals into placeholders the same way.
    Whitespace and comments are dropped: a comment-only change is no rewrite."""
    out: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(src):
        kind, text = m.lastgroup, m.group()
        if kind in ("ws", "comment"):
            continue
        if kind == "name":
            out.append(("KW" if text in keywords else "NAME", text))
        elif kind == "string":
            out.append(("STRING", text))
        elif kind == "number":
            out.append(("NUMBER", text))
        else:
            out.append(("OP", text))
    return out


JS_EXTS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
TS_EXTS = (".ts", ".tsx", ".mts", ".cts")
LANGS: dict[str, dict[str, Any]] = {
    "js": {
        "keywords": JS_KEYWORDS,
        "exts": JS_EXTS,
        # bundles and declaration files are generated, not edited by hand
        "skip": (".min.js", ".d.ts", ".bundle.js"),
        "pathspecs": ["*" + e for e in JS_EXTS],
        # two adjacent names never occur in JS/TS code (they do in Go: `x int`)
        "adjacent_names_are_prose": True,
    },
    "go": {
        "keywords": GO_KEYWORDS,
        "exts": (".go",),
        "skip": (".pb.go", ".pb.gw.go", "_generated.go", "zz_generated.deepcopy.go"),
        "pathspecs": ["*.go"],
        "adjacent_names_are_prose": False,
    },
}
# `packages/` is vendored code in Python trees but the normal layout of JS monorepos.
VENDOR_RE = re.compile(r"(^|/)(vendor|vendored|third_party|node_modules|dist|build)/")


def language_of(paths: Iterable[str], lang: str) -> str:
    """The case's `language`: a JS/TS case touching any TypeScript file is "typescript"."""
    if lang == "go":
        return "go"
    return "typescript" if any(p.endswith(TS_EXTS) for p in paths) else "javascript"


# ---------------------------------------------------------------------------- loading

# (text in make_edit_replay.py, replacement); each must occur exactly once.
_SUBSTITUTIONS = (
    (
        "if not any(f.endswith('.py') for f in c['files']):",
        "if not any(ACCEPT(f) for f in c['files']):",
    ),
    ("'--no-textconv', '--', '*.py'],", "'--no-textconv', '--', *PATHSPECS],"),
    ("or not path.endswith('.py'):", "or not ACCEPT(path):"),
    ("'language': 'python', 'kind'", "'language': LANGUAGE_OF(files), 'kind'"),
)


def load_miner(lang: str, tools_dir: str = DEFAULT_TOOLS) -> types.ModuleType:
    """The shared `make_edit_replay` module, rewired for `lang` ("js" or "go")."""
    spec = LANGS[lang]
    path = os.path.join(tools_dir, "make_edit_replay.py")
    with open(path, encoding="utf-8") as f:
        src = f.read()
    for old, new in _SUBSTITUTIONS:
        if src.count(old) != 1:
            raise SystemExit(f"{path} changed: cannot find {old!r} exactly once")
        src = src.replace(old, new)
    mod = types.ModuleType(f"make_edit_replay_{lang}")
    # __file__ stays the shared script's, so it still finds heldout_repos.txt beside it
    mod.__file__ = path
    exec(compile(src, path, "exec"), mod.__dict__)
    keywords = spec["keywords"]
    exts, skip = spec["exts"], spec["skip"]
    op_set = set(OPERATORS)

    def accept(p: str) -> bool:
        return p.endswith(exts) and not p.endswith(skip)

    def prose_like(shape: str) -> bool:
        # shapes that are no code of this language: hunks inside comments-as-strings, docs
        if spec["adjacent_names_are_prose"] and mod._PROSE_RE.search(shape):
            return True
        toks = shape.replace(" => ", " ").split()
        return not all(mod._PLACEHOLDER_RE.match(t) or t in keywords or t in op_set for t in toks)

    def data_like(shape: str) -> bool:
        literal_kws = {"true", "false", "null", "undefined", "nil"}
        toks = shape.replace(" => ", " ").split()
        return not any(t.startswith("ID") or (t in keywords and t not in literal_kws) for t in toks)

    mod.__dict__.update(
        ACCEPT=accept,
        PATHSPECS=spec["pathspecs"],
        LANGUAGE_OF=lambda files: language_of(files, lang),
        py_tokens=lambda s: c_like_tokens(s, keywords),
        prose_like=prose_like,
        data_like=data_like,
        VENDOR_RE=VENDOR_RE,
    )
    return mod


def fixed_split(mod: types.ModuleType, holdout: set[str]) -> Callable[[dict], set[str]]:
    """A choose_split that sends the named repositories to the holdout (validation) side."""
    fallback = mod.choose_split

    def choose(repo_counts: dict) -> set[str]:
        if not holdout:
            return set(fallback(repo_counts))
        return {r for r in repo_counts if r not in holdout}

    return choose


def cases_from_repo(mod: types.ModuleType, git_dir: str, name: str) -> list[dict]:
    """Every validated group of one repository as a case (no capping, no split)."""
    scan = mod.scan_repo(git_dir, name, log=lambda m: None)
    cat = mod.CatFile(git_dir)
    try:
        out = [mod.materialize(c, cat) for c in scan["candidates"]]
    finally:
        cat.close()
    return [r for r in out if r is not None]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("phase", choices=["scan", "build", "all"])
    ap.add_argument("repos", nargs="+", help="git dirs, e.g. $MIRROR/owner+name/repo")
    ap.add_argument("--lang", choices=sorted(LANGS), required=True)
    ap.add_argument("--tools", default=DEFAULT_TOOLS, help="folder of make_edit_replay.py")
    ap.add_argument("--cache", required=True, help="scan cache (one per language)")
    ap.add_argument("--max-commits", type=int, default=8000)
    ap.add_argument("--per-repo-cap", type=int, default=150)
    ap.add_argument("--max-groups-per-shape", type=int, default=8)
    ap.add_argument("--holdout-repos", default="", help="owner/name,... for the holdout split")
    ap.add_argument("--dev-out", default="train.jsonl")
    ap.add_argument("--holdout-out", default="validation.jsonl")
    ap.add_argument("--readme", default="corpus.md")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    mod = load_miner(args.lang, args.tools)
    holdout = {r for r in args.holdout_repos.split(",") if r}
    mod.__dict__.update(
        PER_REPO_CAP=args.per_repo_cap,
        MAX_GROUPS_PER_SHAPE=args.max_groups_per_shape,
        MAX_SPLIT_BYTES=1 << 30,
        choose_split=fixed_split(mod, holdout),
    )
    scans = mod.load_or_scan(args.repos, args.cache, args.max_commits, args.force)
    if args.phase in ("build", "all"):
        mod.build(scans, args.dev_out, args.holdout_out, args.readme, mod.__file__)


if __name__ == "__main__":
    main()
