"""The server trains its ranker in a child process: a real `kenetic serve` over a store seeded
with shown sets and a checkpoint; the worker is the server's child, not the server; killing it
fails kenetic.train with the reason and leaves the model serving; shutting the server down
mid-training leaves no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from memory.store.database import Store
from server.suggest.shown import ShownLog, ShownSet
from tests.e2e.conftest import FAST, SERVER, lsp_session, request, server_env
from tests.e2e.test_ranking_e2e import RANK, stats, until
from tests.e2e.test_skills_e2e import execute

torch = pytest.importorskip("torch")

from tests.unit.trm.test_train import toy_log  # noqa: E402
from trm.checkpoint import save  # noqa: E402
from trm.model import TRM  # noqa: E402
from trm.train import default_config  # noqa: E402

# the TRM pinned to serve (trm.champion), so that the model a training swaps in is the one used
PINNED = {"minOutcomes": 20, "champion": "trm"}
QUICK = {**FAST, "trm": {**PINNED, "trainTimeBudgetS": 2}}
LONG = {**FAST, "trm": {**PINNED, "trainTimeBudgetS": 120, "retrainEvery": 100_000}}
DUE = {**FAST, "trm": {**PINNED, "trainTimeBudgetS": 120, "retrainEvery": 20}}


def seed(workspace: Path, n: int = 40, trained_on: int | None = None) -> None:
    """n shown sets with an outcome in the workspace's store, and a v1 checkpoint whose .json
    says it was trained on `trained_on` of them (default all: nothing is due at start)."""
    store = Store(workspace / ".kenetic" / "kenetic.db")
    log = ShownLog(store)
    for i, o in enumerate(toy_log(n)):
        ids = [[f"sug{i}_{j}"] for j in range(len(o["candidates"]))]
        row = {"context": o["context"], "candidates": o["candidates"], "suggestionIds": ids}
        log.write_set(ShownSet(f"b{i}", "nextEdits", "file:///app.py", o["session"],
                               o["context"], o["candidates"], [], {}), row)  # fmt: skip
        j = o["accepted_index"]
        log.write_outcome(f"b{i}", ids[j or 0][0], "rejected" if j is None else "accepted")
    store.flush(timeout=30)
    store.close()
    trm = workspace / ".kenetic" / "trm"
    save(TRM(default_config()).eval(), trm / "trm-v1.pt")
    (trm / "trm-v1.json").write_text(
        json.dumps({"outcomes": n if trained_on is None else trained_on, "features_version": 2})
    )


def ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def training_worker(client: Any) -> int:
    """The training process's pid once it has taken a step."""
    s = await until(client, lambda s: s["trm"]["worker"] and (s["trm"]["progress"] or [0])[0])
    return int(s["trm"]["worker"])


@pytest.fixture
def seeded(workspace: Path) -> Path:
    (workspace / ".kenetic" / "trm").mkdir(parents=True)
    seed(workspace)
    return workspace


async def test_training_runs_in_a_child_and_its_model_is_swapped_in(
    seeded: Path, home: Path
) -> None:
    async with lsp_session([seeded], home, init_options=QUICK) as client:
        server = client._server.pid
        s = await until(client, lambda s: not s["trm"]["loading"])
        assert s["ranker"] == "trm v1" and s["trm"]["training"] is False
        task = asyncio.ensure_future(execute(client, "kenetic.train", {}))
        worker = await training_worker(client)
        assert worker != server and ppid(worker) == server  # the server's own child
        result = await asyncio.wait_for(task, 60)
        assert result["pid"] == worker and result["version"] == 2 and result["outcomes"] == 40
        assert Path(result["checkpoint"]) == seeded / ".kenetic" / "trm" / "trm-v2.pt"
        s = await stats(client)
        assert s["ranker"] == "trm v2" and s["trm"]["worker"] is None
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "trm v2"
        assert not alive(worker)  # reaped: no zombie left
        reports = [r for rs in client.progress_reports.values() for r in rs]
        assert any(getattr(r, "message", None) and "step" in r.message for r in reports)


async def test_a_killed_worker_fails_the_training_and_the_model_stays(
    seeded: Path, home: Path
) -> None:
    async with lsp_session([seeded], home, init_options=LONG) as client:
        await until(client, lambda s: not s["trm"]["loading"])
        task = asyncio.ensure_future(execute(client, "kenetic.train", {}))
        worker = await training_worker(client)
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(JsonRpcException, match=f"process {worker} killed by signal 9"):
            await asyncio.wait_for(task, 30)
        s = await stats(client)
        assert s["ranker"] == "trm v1" and s["trm"]["training"] is False
        assert f"training process {worker} killed by signal 9" in s["trm"]["lastError"]
        assert (await request(client, "kenetic/rank", RANK))["ranker"] == "trm v1"
        assert not alive(worker)


async def test_shutting_down_mid_training_leaves_no_process(home: Path, workspace: Path) -> None:
    (workspace / ".kenetic" / "trm").mkdir(parents=True)
    seed(workspace, trained_on=0)  # 40 outcomes the model has not seen: it retrains at start
    async with lsp_session([workspace], home, init_options=DUE) as client:
        server = client._server
        worker = await training_worker(client)
        assert ppid(worker) == server.pid
    assert server.returncode is not None
    await gone(worker)


async def test_a_server_killed_mid_training_takes_its_worker_along(
    home: Path, workspace: Path
) -> None:
    (workspace / ".kenetic" / "trm").mkdir(parents=True)
    seed(workspace, trained_on=0)
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env=server_env(home))
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=DUE))  # fmt: skip
        worker = await training_worker(client)
        client._server.kill()  # no shutdown, no atexit: the worker sees its stdin close
        await client._server.wait()
        await gone(worker)
    finally:
        if client._server.returncode is None:
            client._server.kill()
        with contextlib.suppress(Exception):
            await client.stop()


async def gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while alive(pid):
        assert time.monotonic() < deadline, "the training process outlived the server"
        await asyncio.sleep(0.05)
