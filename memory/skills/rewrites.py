"""The text a skill's rewrite produces at a site, and applying it (memory.skills.parsecheck
checks that the result parses)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memory.skills.entry import SkillEntry
from memory.skills.templates import render_parts
from memory.skills.transforms import common_ends

if TYPE_CHECKING:
    from tree_sitter import Node


@dataclass
class Match:
    """One place where a skill applies; positions are 0-based lines and code-point columns."""

    skill_id: str
    start_line: int
    start_char: int
    end_line: int
    end_char: int
    old_text: str
    new_text: str
    bindings: dict[str, str] = field(default_factory=dict)
    # names the file must not use elsewhere for this to be a site (an unused import's deletion):
    # the matcher may see only part of the file, so whoever holds all of it checks (unused_in)
    unused: tuple[str, ...] = ()
    # whether the function that is the site returns a value, for a skill whose examples agreed
    # on it (memory.skills.meaning); the site model weighs a site that differs
    returns: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _offset(text: str, line: int, char: int) -> int:
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl == -1:
            return len(text)
        pos = nl + 1
    return pos + char


def apply_match(text: str, match: Any) -> str:
    """The document with one rewrite (a memory.skills.matching.Match) applied."""
    s = _offset(text, match.start_line, match.start_char)
    e = _offset(text, match.end_line, match.end_char)
    return text[:s] + match.new_text + text[e:]


def byte_offset(data: bytes, line: int, char: int, hint: tuple[int, int] = (0, 0)) -> int:
    """Byte offset of (line, code-point column), scanning from a known (line, line start)."""
    at_line, pos = hint
    while at_line > line:
        pos = data.rfind(b"\n", 0, max(0, pos - 1)) + 1
        at_line -= 1
    while at_line < line:
        nl = data.find(b"\n", pos)
        if nl == -1:
            return len(data)
        pos, at_line = nl + 1, at_line + 1
    nl = data.find(b"\n", pos)
    row = data[pos : len(data) if nl == -1 else nl].decode("utf-8", "surrogatepass")
    return pos + len(row[:char].encode("utf-8", "surrogatepass"))


# -- the rewrite at one site ------------------------------------------------------------------


def indent_at(data: bytes, pos: int) -> str:
    ls = data.rfind(b"\n", 0, pos) + 1
    line = data[ls:pos]
    return line[: len(line) - len(line.lstrip())].decode("utf-8", "replace")


def rewrite(
    entry: SkillEntry,
    data: bytes,
    start: int,
    end: int,
    env: dict[str, str],
    window: list[Node] | None = None,
) -> Match | None:
    skill = entry.skill
    if entry.derive and not entry.derived(env):
        return None
    site_indent = indent_at(data, start)
    after = entry.after
    if skill.line_insert and window:
        return _insert_lines(entry, data, window, env)
    if after:
        indent = (skill.before_template["indent"], site_indent)
        new = render_parts(skill.after_template, after, env, indent)
        shown = render_parts(skill.before_template, entry.before, env, indent)
        new = follow_layout(data[start:end].decode("utf-8", "replace"), shown, new)
    else:
        new = ""
    if not after and skill.blank >= 0:
        ls = data.rfind(b"\n", 0, start) + 1
        nl = data.find(b"\n", end)
        line_end = len(data) if nl == -1 else nl + 1
        if not data[ls:start].strip() and not data[end:line_end].strip():
            start, end, new = ls, past_blank(data, ls, line_end, skill.blank), "\n" * skill.blank
    old = data[start:end].decode("utf-8", "replace")
    if old == new or _wrapped(data, start, old, new) or _dangles(data, start, end, old, new):
        return None
    # report only what changes: editors show and apply a smaller edit more gracefully
    p, s = common_ends(old, new)
    start += len(old[:p].encode("utf-8", "surrogatepass"))
    end -= len(old[len(old) - s :].encode("utf-8", "surrogatepass"))
    return _match(skill.id, data, start, end, old[p : len(old) - s], new[p : len(new) - s], env)


_CODE_TOKEN = re.compile(r"\w+|[^\w\s]")


def follow_layout(site: str, before: str, after: str) -> str:
    """after, spaced as the site is where the site and the before-template's text differ only in
    layout: the skill learned from `f(\n    a, b, c\n)` must turn `f(a, b, c)` into `f(a, b)`,
    not into the example's three lines. Every token the rewrite keeps takes the site's spacing
    before it where the rule keeps the spacing before it too; new tokens keep the example's."""
    if site == before:
        return after
    st = [m.span() for m in _CODE_TOKEN.finditer(site)]
    bt = [m.span() for m in _CODE_TOKEN.finditer(before)]
    if [site[a:b] for a, b in st] != [before[a:b] for a, b in bt]:
        return after  # not the same tokens (a comment, another quoting): keep the template's
    at = [m.span() for m in _CODE_TOKEN.finditer(after)]
    if not at:
        return after
    kept: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(
        None, [before[a:b] for a, b in bt], [after[a:b] for a, b in at], autojunk=False
    )
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            kept[block.b + k] = block.a + k
    out = [after[: at[0][0]]]
    for j, (a, b) in enumerate(at):
        if j:
            i = kept.get(j)
            gap = after[at[j - 1][1] : a]
            # the site's spacing, unless the rule itself respaces here (`$s` -> `if c:\n    $s`
            # indents the statements it keeps, and the site's indentation would undo that);
            # after a new token only the site's line break (`x\n)` stays `x, y=1\n)`)
            if i is not None and i > 0 and gap == before[bt[i - 1][1] : bt[i][0]]:
                here = site[st[i - 1][1] : st[i][0]]
                if j - 1 in kept or "\n" in here:
                    gap = here
            out.append(gap)
        out.append(after[a:b])
    out.append(after[at[-1][1] :])
    return "".join(out)


def _match(
    skill_id: str, data: bytes, start: int, end: int, old: str, new: str, env: dict[str, str]
) -> Match:
    """The Match replacing data[start:end] (byte offsets) with new; bindings are the holes
    bound at the site (env's keys marked with a leading NUL)."""
    sl, sc = _position(data, start)
    el, ec = _position(data, end)
    return Match(
        skill_id=skill_id,
        start_line=sl,
        start_char=sc,
        end_line=el,
        end_char=ec,
        old_text=old,
        new_text=new,
        bindings={k[1:]: v for k, v in env.items() if k.startswith("\x00")},
    )


def past_blank(data: bytes, ls: int, line_end: int, blank: int) -> int:
    """Where a whole-line deletion ends: past the blank line after it too when keeping that
    would leave a blank line at the start of a block or two blank lines where there was one
    (as the developer's formatter would remove them)."""
    if blank or line_end >= len(data):
        return line_end
    nl = data.find(b"\n", line_end)
    if nl == -1 or data[line_end:nl].strip():
        return line_end
    prev = data[data.rfind(b"\n", 0, max(0, ls - 1)) + 1 : max(0, ls - 1)].strip()
    return nl + 1 if not prev or prev.endswith((b":", b"{", b"(", b"[")) else line_end


def _wrapped(data: bytes, start: int, old: str, new: str) -> bool:
    """The site already sits inside its rewrite: a rule that wraps (`check($x)` ->
    `must(check($x))`, `$s` -> `if app:\n    $s`) matches its own output, and must not wrap it
    again. Compared without whitespace, since the wrapped site sits deeper than the rule's."""
    if not old or len(new) <= len(old):
        return False
    end = start + len(old.encode("utf-8", "surrogatepass"))
    at = new.find(old)
    while at != -1:
        head, tail = _squash(new[:at]), _squash(new[at + len(old) :])
        # whitespace can only lengthen the text around: a window of a few times each suffices
        lo = max(0, start - 4 * len(new[:at].encode("utf-8", "surrogatepass")) - 256)
        hi = end + 4 * len(new[at + len(old) :].encode("utf-8", "surrogatepass")) + 256
        around_b = _squash(data[lo:start].decode("utf-8", "replace"))
        around_a = _squash(data[end:hi].decode("utf-8", "replace"))
        if around_b.endswith(head) and around_a.startswith(tail):
            return True
        at = new.find(old, at + 1)
    return False


# a name a statement of the site's text binds: `ip = Loader()`, `ip: Loader = ...` (spaced as
# statements are, so `name=value,` keyword arguments are not taken for one)
_BINDS = re.compile(r"(?m)^[ \t]*([A-Za-z_]\w*)(?:[ \t]*:[^=\n]*)?[ \t]+=[ \t](?!.*,[ \t]*$)")


def _dangles(data: bytes, start: int, end: int, old: str, new: str) -> bool:
    """The rewrite renames a variable that the code after it, in the same block, still reads:
    `ip = Loader()` -> `il = Loader()` where `item = ip.load_item()` follows would leave `ip`
    stale or undefined. (Deleting `x = ...` is not judged: the name may be bound elsewhere, a
    parameter or a global, and the rest of the change may come later.)"""
    if "=" not in old:
        return False  # the common case, on every rewrite: nothing bound, nothing to check
    was = set(_BINDS.findall(old))
    gone = {n for n in was if not re.search(rf"(?<!\w){n}(?!\w)", new)}
    if not gone or not set(_BINDS.findall(new)) - was:
        return False
    reads = {n: re.compile(rf"(?<![\w.]){n}(?!\w)") for n in gone}
    ls = data.rfind(b"\n", 0, start) + 1
    depth = len(data[ls:start]) - len(data[ls:start].lstrip(b" \t"))
    at = data.find(b"\n", end)
    while at != -1:
        nxt = data.find(b"\n", at + 1)
        line = data[at + 1 : len(data) if nxt == -1 else nxt].decode("utf-8", "replace")
        at = nxt  # line by line: the block usually ends long before the document does
        body = line.lstrip(" \t")
        if not body or body.startswith("#"):
            continue
        if len(line) - len(body) < depth:
            return False  # the block ended
        bound = _BINDS.match(line)
        rhs = line[bound.end() :] if bound else line
        if any(reads[n].search(rhs) for n in gone):
            return True
        if bound:
            gone.discard(bound.group(1))  # bound anew: later reads are of the new value
            if not gone:
                return False
    return False


def _squash(text: str) -> str:
    return "".join(text.split())


def _insert_lines(
    entry: SkillEntry, data: bytes, window: list[Node], env: dict[str, str]
) -> Match | None:
    """Insert the skill's new lines next to its anchors, each line at the site's indentation."""
    skill = entry.skill
    left, right = skill.anchors
    inner = entry.after[left : len(entry.after) - right]
    if not inner:
        return None
    skel = skill.after_template["skeleton"]
    ex_indent = _line_indent(skel, inner[0][3])
    if ex_indent is None:
        return None
    # before the right anchor's line when it begins one, else just after the left anchor's line
    first_right = window[len(window) - right].start_byte if right else None
    if (
        first_right is not None
        and data[data.rfind(b"\n", 0, first_right) + 1 : first_right].strip()
    ):
        first_right = None
    start = window[0].start_byte
    if first_right is not None:
        at = data.rfind(b"\n", 0, first_right) + 1
        indent = indent_at(data, first_right)
        # a new last item of a list goes at its items' indentation, not its closing bracket's
        if _line_indent(skel, entry.after[-right][3]) != ex_indent and (
            _line_indent(skel, entry.after[0][3]) == ex_indent
        ):
            indent = indent_at(data, start)
    else:
        nl = data.find(b"\n", start)
        if nl == -1:
            return None
        at = nl + 1
        indent = indent_at(data, start)
    body = render_parts(skill.after_template, inner, env, (ex_indent, indent))
    return _match(skill.id, data, at, at, "", indent + body + "\n", env)


def _line_indent(skel: str, pos: int) -> str | None:
    """The indentation before pos when pos begins its line, else None."""
    head = skel[skel.rfind("\n", 0, pos) + 1 : pos]
    return None if head.strip() else head


def _position(data: bytes, pos: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, pos)
    ls = data.rfind(b"\n", 0, pos) + 1
    return line, len(data[ls:pos].decode("utf-8", "replace"))
