"""Which ranker serves, end to end: the shipped linear ranker from the first suggestion, each
accepted suggestion judging every candidate, the evidence in kenetic/stats and across a
restart (server/suggest/champion.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import FAST, lsp_session, request
from tests.e2e.test_ranking_e2e import RANK, SOURCE, stats, until
from tests.e2e.test_skills_e2e import Doc, code_actions, execute, learn, site

# no training: the evidence is between the rules and the shipped ranker, torch never loads
OPTIONS = {**FAST, "trm": {"minOutcomes": 1000}}


def evidence(s: dict[str, Any]) -> dict[str, Any]:
    return s["trm"]["champion"]


async def test_the_shipped_ranker_serves_first_and_accepts_gather_evidence(
    workspace: Path, home: Path
) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=OPTIONS) as client:
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert s["ranker"] == "lr"
        champion = evidence(s)
        assert champion["serving"] == "lr" and champion["champion"] == "lr"
        assert champion["shipped"] is True and champion["shippedError"] is None
        assert champion["judged"] == 0 and champion["challengers"]["rules"]["sets"] == 0
        assert champion["challengers"]["trm"]["available"] is False
        assert champion["challengers"]["trm"]["since"] is None  # no TRM yet (JSON: no infinity)
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "lr"

        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        for n, k in enumerate(range(2, 8), 1):  # six suggestions accepted, one set each
            actions = await code_actions(client, uri, site(k))
            here = [a for a in actions if a["title"].startswith("Apply skill: ")]
            doc.apply(here[0]["edit"])
            await execute(client, "kenetic.recordOutcome", here[0]["command"]["arguments"][0])
            s = await until(client, lambda s, n=n: evidence(s)["judged"] == n)
            assert evidence(s)["challengers"]["rules"]["sets"] == n
        rules = evidence(s)["challengers"]["rules"]
        assert rules["meanDiff"] is not None and rules["interval"] is not None
        assert s["ranker"] == "lr" and evidence(s)["switches"] == []  # 6 sets: never a switch
        # a dismissal is no acceptance: nothing to judge
        actions = await code_actions(client, uri, site(9))
        here = [a for a in actions if a["title"].startswith("Apply skill: ")]
        await execute(client, "kenetic.recordOutcome",
                      {**here[0]["command"]["arguments"][0], "outcome": "rejected"})  # fmt: skip
        await until(client, lambda s: s["trm"]["outcomes"] == 7)
        assert evidence(await stats(client))["judged"] == 6
        assert (await stats(client))["torchLoaded"] is False

    # the evidence is kept in the store: a restart goes on from it
    async with lsp_session([workspace], home, init_options=OPTIONS) as client:
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert evidence(s)["judged"] == 6 and evidence(s)["challengers"]["rules"]["sets"] == 6
        assert s["ranker"] == "lr"


async def test_a_pinned_ranker_serves(workspace: Path, home: Path) -> None:
    options = {**FAST, "trm": {"minOutcomes": 1000, "champion": "rules"}}
    async with lsp_session([workspace], home, init_options=options) as client:
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert s["ranker"] == "rules" and evidence(s)["pinned"] == "rules"
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "rules"
