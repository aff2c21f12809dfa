"""A code action is asked with the cursor (an empty range, as editors send it) anywhere on a
site: column 0, the first changed character, the end of the line, any line a deletion deletes.
And no suggestion undoes what the developer just did."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.e2e.conftest import FAST, lsp_session, request, wait_idle
from tests.e2e.test_skills_e2e import Doc, code_actions

CLASSES = "".join(
    f"class Widget{n}:\n    size = {n}\n\n    def area(self):\n        return self.size * {n}\n\n\n"
    for n in range(4)
)
CHECKS = "".join(
    f"def check_{n}(value):\n    result = compute(value, {n})\n"
    f"    reveal_type(\n        result,\n    )\n    return result\n\n\n"
    for n in range(4)
)


def line_of(doc: Doc, text: str) -> int:
    return doc.text.split("\n").index(text)


async def learn(client: Any, doc: Doc, edits: list[tuple[tuple[int, int], tuple[int, int], str]]):
    for start, end, new in edits:
        doc.edit(start, end, new)
        await asyncio.sleep(0.05)  # each edit its own burst
        await wait_idle(client)


def result(doc: Doc, action: dict[str, Any]) -> str:
    """The document with the action's edit applied ("" for an action resolved later)."""
    text, lines = doc.text, doc.text.split("\n")
    edits = (action.get("edit") or {}).get("changes", {}).get(doc.uri)
    if not edits:
        return ""
    for te in sorted(edits, key=lambda e: _at(lines, e["range"]["start"]), reverse=True):
        a, b = _at(lines, te["range"]["start"]), _at(lines, te["range"]["end"])
        text = text[:a] + te["newText"] + text[b:]
    return text


def _at(lines: list[str], p: dict[str, int]) -> int:
    return sum(len(x) + 1 for x in lines[: p["line"]]) + p["character"]


async def test_cursor_anywhere_on_an_insertion_site(workspace: Path, home: Path) -> None:
    path = workspace / "widgets.py"
    path.write_text(CLASSES)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, CLASSES)
        for n in (0, 1):
            at = line_of(doc, f"class Widget{n}:")
            col = len(f"class Widget{n}")
            await learn(client, doc, [((at, col), (at, col), "(JupyterMixin)")])
        at = line_of(doc, "class Widget2:")
        want = doc.text.replace("class Widget2:", "class Widget2(JupyterMixin):")
        end = len("class Widget2:")
        for col in (0, len("class Widget2"), end):  # column 0, first changed, end of line
            actions = await code_actions(client, uri, at, col)
            assert [result(doc, a) for a in actions[:1]] == [want], col


async def test_cursor_on_any_line_a_deletion_deletes(workspace: Path, home: Path) -> None:
    path = workspace / "checks.py"
    path.write_text(CHECKS)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, CHECKS)
        for n in (0, 1):
            at = line_of(doc, f"def check_{n}(value):") + 2
            await learn(client, doc, [((at, 0), (at + 3, 0), "")])
        at = line_of(doc, "def check_2(value):") + 2
        block = "    reveal_type(\n        result,\n    )\n"
        head = "def check_2(value):\n    result = compute(value, 2)\n"
        want = doc.text.replace(head + block, head)
        for line, col in ((at, 0), (at, 4), (at, len("    reveal_type(")), (at + 1, 0),
                          (at + 1, 15), (at + 2, 5)):  # fmt: skip
            actions = await code_actions(client, uri, line, col)
            assert want in [result(doc, a) for a in actions], (line, col)


BLOCKS = "".join(
    f"def build_{n}(config):\n    with context(config):\n        self = self_of(config)\n\n"
    f"        value = compute(self, {n})\n        return value\n\n\n"
    for n in range(4)
)


async def test_cursor_on_the_blank_line_a_deletion_takes_along(workspace: Path, home: Path):
    """Deleting `self = self_of(config)` would leave a blank line opening the block: the
    deletion takes it along, and the cursor on that blank line is on the deletion too."""
    path = workspace / "blocks.py"
    path.write_text(BLOCKS)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, BLOCKS)
        for n in (0, 1):
            at = line_of(doc, f"def build_{n}(config):") + 2
            await learn(client, doc, [((at, 0), (at + 2, 0), "")])
        at = line_of(doc, "def build_2(config):") + 2
        head = "def build_2(config):\n    with context(config):\n"
        want = doc.text.replace(head + "        self = self_of(config)\n\n", head)
        for line, col in ((at, 0), (at, 8), (at + 1, 0)):
            actions = await code_actions(client, uri, line, col)
            assert want in [result(doc, a) for a in actions], (line, col)
        # the blank line before the next definition is no part of any site
        assert await code_actions(client, uri, at + 5, 0) == []


async def test_no_suggestion_undoes_a_recent_edit(workspace: Path, home: Path) -> None:
    """The developer turned `fetch` into `load` at two sites, after teaching `load` -> `fetch`
    elsewhere: that skill is not offered at the two sites, by any kind of suggestion, while it
    still is at a `load` the developer did not just write."""
    source = "".join(f"def step_{n}():\n    return load(table_{n})\n\n\n" for n in range(4))
    source += "".join(f"def task_{n}():\n    return fetch(table_{n})\n\n\n" for n in range(4))
    path = workspace / "steps.py"
    path.write_text(source)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, source)
        col = len("    return ")
        for n in (0, 1):  # teach load -> fetch
            at = line_of(doc, f"    return load(table_{n})")
            await learn(client, doc, [((at, col), (at, col + 4), "fetch")])
        for n in (0, 1):  # then the developer goes the other way at two sites
            at = line_of(doc, f"def task_{n}():") + 1
            await learn(client, doc, [((at, col), (at, col + 5), "load")])
        reverted = {line_of(doc, f"def task_{n}():") + 1 for n in (0, 1)}
        untouched = line_of(doc, "    return load(table_2)")

        def fetches(actions: list[dict[str, Any]], line: int) -> bool:
            lines = [doc.text.split("\n")[line].replace("load", "fetch")]
            return any(lines[0] in result(doc, a).split("\n") for a in actions)

        for line in reverted:
            assert not fetches(await code_actions(client, uri, line, col), line)
        assert fetches(await code_actions(client, uri, untouched, col), untouched)
        nxt = await request(client, "kenetic/nextEdits", {"textDocument": {"uri": uri}})
        starts = {e["range"]["start"]["line"] for e in nxt["edits"]}
        assert not starts & reverted
