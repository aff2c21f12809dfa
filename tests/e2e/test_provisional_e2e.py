"""The skill of the edit still being made, offered before the idle gap closes it (issue 19's
300 ms mark): nextEdits mines the open burst provisionally, the real episode replaces it, and
nothing is stored until then."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from tests.e2e.conftest import lsp_session, request, wait_idle
from tests.e2e.test_skills_e2e import SOURCE, Doc, execute, site
from tests.e2e.test_suggest_controls_e2e import next_edits

# a gap no test outlasts: the second edit's burst stays open while nextEdits is asked
SLOW = {"capture": {"idleGapMs": 600_000}}


async def skill_count(client: object) -> int:
    return len((await request(client, "kenetic/skills", {}))["skills"])


def app(workspace: Path) -> str:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    return path.as_uri()


async def test_the_edit_still_being_made_is_mined_provisionally(workspace: Path, home: Path):
    uri = app(workspace)
    async with lsp_session([workspace], home, init_options=SLOW) as client:
        doc = Doc(client, uri, SOURCE)
        doc.edit((site(0), 4), (site(0), 9), "logger.info")
        # far from the first (a jump): the first burst closes and is mined, the second stays open
        doc.edit((site(3), 4), (site(3), 9), "logger.info")
        await asyncio.sleep(0.05)
        stats = await request(client, "kenetic/stats", {})
        while stats["pending"] > 1:  # the open burst counts as one
            await asyncio.sleep(0.03)
            stats = await request(client, "kenetic/stats", {})
        assert await skill_count(client) == 0  # nothing learned yet: one episode is stored

        edits = await next_edits(client, uri, site(3))
        lines = {e["range"]["start"]["line"] for e in edits}
        assert lines == {site(1), site(2), site(4), site(5)}
        assert all(e["newText"] == "logger.info" for e in edits)
        assert await skill_count(client) == 0  # lent to the request, not stored

        # taking one records the outcome; once the burst closes the real skill carries it
        taken = next(e for e in edits if e["range"]["start"]["line"] == site(4))
        args = {"suggestionId": taken["suggestionId"], "outcome": "accepted"}
        assert (await execute(client, "kenetic.recordOutcome", args))["recorded"] is True
        doc.edit((site(4), 4), (site(4), 9), "logger.info")
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        await wait_idle(client)
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        assert len(skills) == 1
        assert skills[0]["outcomes"]["accepted"] == 1
        assert skills[0]["support"] >= 2


async def test_an_open_burst_that_makes_no_skill_offers_nothing(workspace: Path, home: Path):
    uri = app(workspace)
    async with lsp_session([workspace], home, init_options=SLOW) as client:
        doc = Doc(client, uri, SOURCE)
        doc.edit((site(0), 4), (site(0), 9), "logger.info")
        doc.edit((site(3), 4), (site(3), 9), "logger.warn")  # a different rewrite
        await asyncio.sleep(0.05)
        assert await next_edits(client, uri, site(3)) == []
        # and a half-typed edit (the burst as it stands mid-word) makes none either
        doc.edit((site(3), 4), (site(3), 15), "logger.inf")
        assert await next_edits(client, uri, site(3)) == []
