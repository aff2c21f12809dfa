"""A skill too general to trust on two examples: offered only as a code action under the cursor
(titled with its examples so far), never in nextEdits or for a whole file, until a third
example (here the action itself, accepted) makes it a skill like any other."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.e2e.conftest import FAST, lsp_session, request, store_bytes, wait_idle
from tests.e2e.test_skills_e2e import Doc, code_actions, execute

BODY = (
    '        """What method {n} does, documented at the length real bodies have."""\n'
    "        v = {n}\n        u = v + 7\n        x = u * 3\n        y = x + 1\n"
    "        z = y * 2\n        w = z - 3\n        return w - {n}\n"
)
# `def $f(self): $body` -> `def $f(self) -> None: $body`: its holes cover nearly all of it
SOURCE = "".join(f"class C{n}:\n    def m{n}(self):\n" + BODY.format(n=n) for n in range(5))


def line(n: int) -> int:
    """The line of method n's def."""
    return 1 + 10 * n


async def test_held_back_skill_is_offered_here_only(workspace: Path, home: Path) -> None:
    path = workspace / "cls.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        for n in (0, 1):
            col = len(f"    def m{n}(self)")
            doc.edit((line(n), col), (line(n), col), " -> None")
            await asyncio.sleep(0.05)
            stats = await wait_idle(client)
        assert stats["skills"] == 1
        skill = (await request(client, "kenetic/skills", {}))["skills"][0]
        assert skill["support"] == 2 and skill["needed_support"] == 3

        actions = await code_actions(client, uri, line(2))
        titles = [a["title"] for a in actions]
        assert titles == [f"Apply skill: {skill['name']} (2 of 3 examples)"]
        assert not actions[0].get("isPreferred")
        nxt = await request(client, "kenetic/nextEdits", {"textDocument": {"uri": uri}})
        assert nxt["edits"] == []

        # taking it is the third example: the skill is trusted from then on
        doc.apply(actions[0]["edit"])
        await execute(client, "kenetic.recordOutcome", actions[0]["command"]["arguments"][0])
        assert "    def m2(self) -> None:\n" in doc.text
        await asyncio.sleep(0.05)
        await wait_idle(client)
        skill = (await request(client, "kenetic/skills", {}))["skills"][0]
        assert skill["support"] == 3
        actions = await code_actions(client, uri, line(3))
        assert actions[0]["title"] == f"Apply skill: {skill['name']}"
        nxt = await request(
            client,
            "kenetic/nextEdits",
            {"textDocument": {"uri": uri}, "position": {"line": line(2), "character": 4}},
        )
        assert sorted(e["range"]["start"]["line"] for e in nxt["edits"]) == [line(3), line(4)]


KEYS = ("alpha-one-key", "beta-two-key", "gamma-three-key")
# three tests that each set a secret-looking key: the developer deletes the line in two
SECRETS = "".join(
    f"def test_{n}(app):\n    app.secret_key = '{key}'\n    assert app\n\n\n"
    for n, key in enumerate(KEYS)
)


async def test_an_edit_with_a_secret_teaches_with_the_secret_as_a_hole(
    workspace: Path, home: Path
) -> None:
    path = workspace / "test_app.py"
    path.write_text(SECRETS)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SECRETS)
        for n in (0, 1):
            at = doc.text.splitlines().index(f"    app.secret_key = '{KEYS[n]}'")
            doc.edit((at, 0), (at + 1, 0), "")
            await asyncio.sleep(0.05)
            await wait_idle(client)
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        assert [s["support"] for s in skills] == [2]
        card = await request(client, "kenetic/skill", {"id": skills[0]["id"]})
        # the key is a hole, and so is the object it is set on (the site's own variable)
        assert re.fullmatch(r"\$h\d\.secret_key = '\$h\d'", card["before"])
        assert "secret_key" not in card["after"]
        at = doc.text.splitlines().index(f"    app.secret_key = '{KEYS[2]}'")
        actions = await code_actions(client, uri, at)
        assert [a["title"] for a in actions] == [f"Apply skill: {skills[0]['name']}"]
        doc.apply(actions[0]["edit"])
        assert KEYS[2] not in doc.text
        await wait_idle(client)
    raw = store_bytes(workspace)
    assert not [key for key in KEYS if key.encode() in raw]


TUPLES = "if v not in (4, 6):\n    pass\nif v not in (None, net):\n    pass\nok = v not in (1, 2)\n"


async def test_hypotheses_that_make_one_change_are_one_action(workspace: Path, home: Path) -> None:
    """`if v not in (…)` made a set twice: `v not in ($a, $b)` and any `($a, $b)` both wait,
    and at `ok = v not in (1, 2)` both make the same change, which is offered once."""
    path = workspace / "sets.py"
    path.write_text(TUPLES)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, TUPLES)
        for n, (old, new) in enumerate((("(4, 6)", "{4, 6}"), ("(None, net)", "{None, net}"))):
            at = 2 * n
            col = doc.text.splitlines()[at].index(old)
            doc.edit((at, col), (at, col + len(old)), new)
            await asyncio.sleep(0.05)
            await wait_idle(client)
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        waiting = sorted(s["needed_support"] for s in skills if s["support"] < s["needed_support"])
        assert waiting == [3, 3]
        actions = await code_actions(client, uri, 4)
        assert len(actions) == 1
        doc.apply(actions[0]["edit"])
        assert doc.text.endswith("ok = v not in {1, 2}\n")


VARS = (
    "var fs = require('fs');\n\nvar n = 1;\n\n"
    "var url = require('url');\nvar path = require('path');\nvar util = require('util');\n\n"
    "var last = 9;\n"
)


async def test_the_places_in_a_row_at_the_cursor_are_one_action(
    workspace: Path, home: Path
) -> None:
    """`var` made `let` twice names no word, so the skill waits; at the first of three `var`
    lines in a row it is offered for that line, and for the three at once (the change a
    linter's fix makes there), but not for the `var` after the blank line."""
    path = workspace / "mod.js"
    path.write_text(VARS)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, VARS, "javascript")
        for at in (0, 2):
            col = doc.text.splitlines()[at].index("var")
            doc.edit((at, col), (at, col + 3), "let")
            await asyncio.sleep(0.05)
            await wait_idle(client)
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        assert [(s["support"], s["needed_support"]) for s in skills] == [(2, 3)]
        actions = await code_actions(client, uri, 4, 0)
        titles = [a["title"] for a in actions]
        assert titles[1].startswith("Apply skill to 3 places in a row: ")
        doc.apply(actions[1]["edit"])
        lines = doc.text.splitlines()
        assert lines[4:7] == [
            "let url = require('url');",
            "let path = require('path');",
            "let util = require('util');",
        ]
        assert lines[8] == "var last = 9;"
        await execute(client, "kenetic.recordOutcome", actions[1]["command"]["arguments"][0])
