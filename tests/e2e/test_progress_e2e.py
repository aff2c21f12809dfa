"""$/progress for background work (issue 19): skill mining and TRM training are reported to the
client as window/workDoneProgress/create, then begin and end, titled as docs/protocol.md says."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.conftest import lsp_session
from tests.e2e.test_skills_e2e import FAST, SOURCE, Doc, code_actions, execute, learn, site


def runs(client: Any, title: str) -> list[list[Any]]:
    """The progress runs (their reports, begin first) whose begin had this title."""
    out = []
    for reports in client.progress_reports.values():
        first = reports[0] if reports else None
        if isinstance(first, types.WorkDoneProgressBegin) and first.title == title:
            out.append(reports)
    return out


async def ended(client: Any, title: str, timeout: float = 30) -> list[list[Any]]:
    """Wait (polling, no timing asserted) until a run with this title has ended."""
    deadline = time.monotonic() + timeout
    while not any(isinstance(r[-1], types.WorkDoneProgressEnd) for r in runs(client, title)):
        assert time.monotonic() < deadline, dict(client.progress_reports)
        await asyncio.sleep(0.05)
    return runs(client, title)


@pytest.mark.parametrize("caps", ["visual-studio-code", "neovim"])
async def test_mining_reports_progress(workspace: Path, home: Path, caps: str) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    # a run is shown once it takes progressAfterMs (300 by default): 0 shows every run
    options = {**FAST, "suggest": {"progressAfterMs": 0}}
    async with lsp_session([workspace], home, capabilities=caps, init_options=options) as client:
        assert runs(client, "kenetic: mining skills") == []
        await learn(client, Doc(client, path.as_uri(), SOURCE))
        mined = await ended(client, "kenetic: mining skills")
        assert len(mined) == 2  # one run per edit episode
        for reports in mined:
            assert isinstance(reports[0], types.WorkDoneProgressBegin)
            assert isinstance(reports[-1], types.WorkDoneProgressEnd)
        assert runs(client, "kenetic: training ranker") == []


async def test_training_reports_progress(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    options = {**FAST, "trm": {"minOutcomes": 2, "trainTimeBudgetS": 2}}
    async with lsp_session([workspace], home, init_options=options) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        for k, outcome in ((2, "accepted"), (3, "rejected")):
            here = [
                a
                for a in await code_actions(client, uri, site(k))
                if a["title"].startswith("Apply skill: ")
            ]
            args = {**here[0]["command"]["arguments"][0], "outcome": outcome}
            if outcome == "accepted":
                doc.apply(here[0]["edit"])
            await execute(client, "kenetic.recordOutcome", args)
        # the second outcome started a training by itself: kenetic.train waits for it, and
        # answers after its progress ended
        result = await execute(client, "kenetic.train", {})
        assert result["trained"] is True
        trained = runs(client, "kenetic: training ranker")
        assert len(trained) == 1
        assert isinstance(trained[0][-1], types.WorkDoneProgressEnd)
        assert trained[0][-1].message == f"trm v{result['version']} in use"
