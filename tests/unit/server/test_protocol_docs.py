"""docs/protocol.md documents every method and command the server registers.

The names come from the live server (server.setup.create_server, as `kenetic serve` builds it):
pygls keeps registered features in `protocol.fm.features` and commands in
`protocol.fm.commands`; KeneticProtocol's own `@lsp_method` overrides (didChange,
executeCommand) are read off the class. Each one needs a "### `name`" heading followed by a
```json example before the next heading, except the few standard notifications that the
sections named in PROSE describe together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.features.memory import MemoryService
from server.server import KeneticProtocol
from server.setup import create_server

DOCS = Path(__file__).resolve().parents[3] / "docs"
PROTOCOL = DOCS / "protocol.md"

# standard methods documented in prose by one section (the section's title, without `## `)
PROSE = {
    "textDocument/didOpen": "Capture (standard notifications)",
    "textDocument/didChange": "Capture (standard notifications)",
    "textDocument/didSave": "Capture (standard notifications)",
    "textDocument/didClose": "Capture (standard notifications)",
    "workspace/executeCommand": "Commands (`workspace/executeCommand`)",
}

HEADING = re.compile(r"^(#{1,6}) +(.+?) *$")
NAMED = re.compile(r"^`([^`]+)`(?: .*)?$")


def _registered() -> set[str]:
    server = create_server()
    try:
        fm = server.protocol.fm
        names = set(fm.features) | set(fm.commands)
    finally:
        server.service(MemoryService).close()  # stops the memory worker thread the server started
    overrides = {f.method_name for f in vars(KeneticProtocol).values() if hasattr(f, "method_name")}
    return names | overrides


REGISTERED = _registered()


def _sections(text: str) -> Iterator[tuple[int, str, str]]:
    """(level, title, body up to the next heading of any level) for every heading."""
    level, title = 0, ""
    body: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else HEADING.match(line)
        if match:
            if title:
                yield level, title, "\n".join(body)
            level, title, body = len(match.group(1)), match.group(2), []
        else:
            body.append(line)
    if title:
        yield level, title, "\n".join(body)


def _documented(text: str) -> dict[str, list[str]]:
    """Method name -> the bodies of its "### `name`" headings."""
    out: dict[str, list[str]] = {}
    for level, title, body in _sections(text):
        named = NAMED.match(title)
        if level == 3 and named:
            out.setdefault(named.group(1), []).append(body)
    return out


def _chapter(text: str, title: str) -> str | None:
    """A `## title` section with everything under it, up to the next `## ` heading."""
    found: list[str] | None = None
    for level, head, body in _sections(text):
        if level <= 2:
            if found is not None:
                break
            if head == title:
                found = [head, body]
        elif found is not None:
            found.append(body)
    return "\n".join(found) if found is not None else None


TEXT = PROTOCOL.read_text(encoding="utf-8")
DOCUMENTED = _documented(TEXT)


def test_the_server_registers_what_the_test_expects() -> None:
    # the collection itself works: a change of pygls's internals must not empty it silently
    assert {"kenetic/stats", "kenetic/skills", "kenetic/memory/recall", "initialize"} <= REGISTERED
    assert {"kenetic.freeze", "kenetic.applySkill", "kenetic.restore"} <= REGISTERED
    assert "textDocument/didChange" in REGISTERED  # KeneticProtocol's own handler
    assert set(PROSE) <= REGISTERED, "PROSE names a method the server no longer has"


@pytest.mark.parametrize("name", sorted(REGISTERED - set(PROSE)))
def test_method_has_a_heading_with_a_json_example(name: str) -> None:
    bodies = DOCUMENTED.get(name)
    assert bodies, f"docs/protocol.md has no '### `{name}`' heading"
    assert any("```json" in body for body in bodies), (
        f"'### `{name}`' in docs/protocol.md has no ```json example before the next heading"
    )


@pytest.mark.parametrize("name", sorted(PROSE))
def test_standard_method_is_described_in_its_section(name: str) -> None:
    chapter = _chapter(TEXT, PROSE[name])
    assert chapter is not None, f"docs/protocol.md has no '## {PROSE[name]}' section"
    assert f"`{name}`" in chapter, f"'## {PROSE[name]}' does not describe `{name}`"


def test_every_documented_method_is_registered() -> None:
    # a heading for a method that no longer exists is documentation of nothing
    methods = {n for n in DOCUMENTED if "/" in n or n.startswith("kenetic.") or n.islower()}
    assert methods - REGISTERED == set()


def test_json_examples_are_json() -> None:
    blocks = re.findall(r"^```json\n(.*?)^```", TEXT, re.S | re.M)
    assert len(blocks) >= len(REGISTERED)
    for block in blocks:
        json.loads(block)  # raises with the position of the mistake


def _slug(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, title, _ in _sections(path.read_text(encoding="utf-8")):
        slug = _slug(title)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("source", ["protocol.md", "skills.md", "memory.md"])
def test_links_to_headings_resolve(source: str) -> None:
    text = (DOCS / source).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([\w.-]*\.md)?#([^)\s]+)\)", text)
    assert links
    for target, anchor in links:
        path = DOCS / (target or source)
        assert anchor in _anchors(path), f"{source}: no heading for {target or ''}#{anchor}"
