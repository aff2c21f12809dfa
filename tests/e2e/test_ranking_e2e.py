"""The ranker end to end: kenetic/rank, outcomes logged from real suggestions, kenetic.train, the
TRM swapped in while code actions keep answering, and a corrupt checkpoint falling back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from tests.e2e.conftest import FAST, lsp_session, request, wait_idle
from tests.e2e.test_skills_e2e import Doc, code_actions, execute, learn, site

SOURCE = "import logging\n\nlogger = logging.getLogger(__name__)\n" + "".join(
    f"\n\ndef f{k}(v{k}):\n    print(v{k})\n    return v{k}\n" for k in range(30)
)
OPTIONS = {**FAST, "trm": {"minOutcomes": 20, "trainTimeBudgetS": 4}}
# the TRM pinned: it serves as soon as it is trained or loaded (unpinned, it first has to beat
# the shipped linear ranker on later outcomes: tests/e2e/test_champion_e2e.py)
TRM_PINNED = {**FAST, "trm": {"minOutcomes": 20, "trainTimeBudgetS": 4, "champion": "trm"}}
RANK = {
    "context": {"kind": "codeAction", "now": 1000.0, "language": "python"},
    "candidates": [
        {"skillId": "a", "support": 5, "specificity": 0.8, "lastUsed": 990.0, "accepted": 3},
        {"skillId": "b", "support": 1, "specificity": 0.2},
    ],
}
BAD_RANK = [
    {},
    {"candidates": "x"},
    {"candidates": [1]},
    {"context": [], "candidates": []},
    {"candidates": [], "junk": 1},
    {"candidates": [], "uri": 3},
    [1],
]


async def stats(client: Any) -> dict[str, Any]:
    return await request(client, "kenetic/stats", {})


async def until(client: Any, check: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not check(s := await stats(client)):
        assert time.monotonic() < deadline, s["trm"]
        await asyncio.sleep(0.05)
    return s


async def test_rank_with_the_shipped_ranker_on_a_fresh_store(workspace: Path, home: Path) -> None:
    async with lsp_session([workspace], home) as client:
        result = await request(client, "kenetic/rank", RANK)
        assert result["ranker"] == "lr"  # the shipped linear ranker, from the first request
        assert len(result["scores"]) == 2 and result["scores"][0] > result["scores"][1]
        assert (await request(client, "kenetic/rank", {"candidates": []}))["scores"] == []
        for bad in BAD_RANK:
            with pytest.raises(JsonRpcInvalidParams):
                await request(client, "kenetic/rank", bad)
        with pytest.raises(JsonRpcInvalidParams):
            await execute(client, "kenetic.train", {"junk": 1})
        with pytest.raises(JsonRpcException, match="too few outcomes"):
            await execute(client, "kenetic.train", {})
        s = await stats(client)
        assert s["ranker"] == "lr" and s["trm"]["training"] is False
        assert s["trm"]["outcomes"] == 0 and s["trm"]["version"] == 0
        assert s["torchLoaded"] is False  # nothing to train on, no checkpoint: torch never loads


async def test_outcomes_train_the_trm_while_code_actions_answer(
    workspace: Path, home: Path
) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=TRM_PINNED) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        for k in range(2, 22):  # 20 shown sets with an outcome: 14 accepted, 6 dismissed
            actions = await code_actions(client, uri, site(k))
            here = [a for a in actions if a["title"].startswith("Apply skill: ")]
            args = dict(here[0]["command"]["arguments"][0])
            if k % 3:
                doc.apply(here[0]["edit"])
            else:
                args["outcome"] = "rejected"
            await execute(client, "kenetic.recordOutcome", args)
        # the 20th outcome started a training by itself: kenetic.train waits for that one
        result = await execute(client, "kenetic.train", {})
        assert result["trained"] is True and result["outcomes"] == 20 and result["version"] == 1
        assert result["pid"] != client._server.pid  # trained in a child process
        checkpoint = Path(result["checkpoint"])
        assert checkpoint == workspace / ".kenetic" / "trm" / "trm-v1.pt" and checkpoint.exists()
        s = await stats(client)
        assert s["ranker"] == "trm v1" and s["trm"]["version"] == 1
        assert s["trm"]["outcomes"] == 20 and s["trm"]["training"] is False
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "trm v1"
        actions = await code_actions(client, uri, site(22))
        assert actions[0]["title"].startswith("Apply skill: ")  # ranked by the TRM

        # train again; a code action is answered while the training runs
        task = asyncio.ensure_future(execute(client, "kenetic.train", {}))
        await until(client, lambda s: s["trm"]["training"])
        started = time.monotonic()
        actions = await code_actions(client, uri, site(23))
        answered = time.monotonic() - started
        assert actions and actions[0]["title"].startswith("Apply skill: ")
        assert (await stats(client))["trm"]["training"] is True, "the code action waited"
        assert answered < 2.0, answered
        second = await asyncio.wait_for(task, 60)
        assert second["version"] == 2 and (workspace / ".kenetic" / "trm" / "trm-v2.pt").exists()
        reports = [r for rs in client.progress_reports.values() for r in rs]
        kinds = [type(r).__name__ for r in reports]
        assert "WorkDoneProgressBegin" in kinds and "WorkDoneProgressEnd" in kinds
        assert (await stats(client))["ranker"] == "trm v2"

    # a restart loads the newest checkpoint in the background
    async with lsp_session([workspace], home, init_options=TRM_PINNED) as client:
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert s["ranker"] == "trm v2" and s["trm"]["outcomes"] == 20
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "trm v2"


async def test_corrupt_checkpoint_falls_back(workspace: Path, home: Path) -> None:
    """The TRM pinned, its checkpoint corrupt: the shipped linear ranker serves instead."""
    path = workspace / "app.py"
    path.write_text(SOURCE)
    trm = workspace / ".kenetic" / "trm"
    trm.mkdir(parents=True)
    (trm / "trm-v3.pt").write_bytes(b"not a checkpoint" * 64)
    async with lsp_session([workspace], home, init_options=TRM_PINNED) as client:
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert s["ranker"] == "lr" and s["trm"]["version"] == 0
        assert "checkpoint not loaded" in s["trm"]["lastError"]
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "lr"
        doc = Doc(client, path.as_uri(), SOURCE)
        await learn(client, doc)
        assert await code_actions(client, path.as_uri(), site(3))
        assert (await wait_idle(client))["ranker"] == "lr"


async def test_each_folder_reports_its_own_ranker(tmp_path: Path, home: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    path = two / "app.py"
    path.write_text(SOURCE)
    async with lsp_session([one, two], home, init_options=OPTIONS) as client:
        doc = Doc(client, path.as_uri(), SOURCE)
        await learn(client, doc)
        for k in (2, 3):
            actions = await code_actions(client, doc.uri, site(k))
            here = [a for a in actions if a["title"].startswith("Apply skill: ")]
            args = {**here[0]["command"]["arguments"][0], "outcome": "rejected"}
            await execute(client, "kenetic.recordOutcome", args)

        def by_folder(s: dict[str, Any]) -> dict[str, int]:
            return {Path(x["path"]).parents[1].name: x["trm"]["outcomes"] for x in s["stores"]}

        s = await until(client, lambda s: by_folder(s)["two"] == 2)
        assert by_folder(s) == {"one": 0, "two": 2}
        assert all(x["trm"]["ranker"] == "lr" for x in s["stores"])
