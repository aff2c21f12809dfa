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
