"""The site model learns from outcomes over the wire: a next edit dismissed through
kenetic.recordOutcome moves the store's site model (kenetic/stats siteModel.updates), and the
weights are in the project store's SQLite file after shutdown."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.conftest import lsp_session, request
from tests.e2e.test_skills_e2e import FAST, SOURCE, Doc, execute, learn, site
from tests.e2e.test_suggest_controls_e2e import next_edits


async def test_a_dismissed_next_edit_teaches_the_stores_site_model(
    workspace: Path, home: Path
) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        before = (await request(client, "kenetic/stats", {}))["siteModel"]
        assert before == {"shipped": True, "updates": 0}
        edits = await next_edits(client, uri, site(1))
        assert edits
        args = {"suggestionId": edits[0]["suggestionId"], "outcome": "rejected"}
        assert (await execute(client, "kenetic.recordOutcome", args))["recorded"] is True
        after = (await request(client, "kenetic/stats", {}))["siteModel"]
        assert after == {"shipped": True, "updates": 1}
    with sqlite3.connect(workspace / ".kenetic" / "kenetic.db") as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'site_model'").fetchone()
    assert row is not None and json.loads(row[0])["updates"] == 1
