"""Request latency while the ranker retrains: codeAction and kenetic/nextEdits, idle and during a
training, with training in a child process stopped while requests are in flight (the default,
server/foreground.py), in the same child left running (process-unpaused,
KENETIC_PAUSE_TRAINING=0) and in a thread of the server (the old way, KENETIC_TRAIN_IN=thread).

A real `kenetic serve` over stdio, one server per trainer and round, alternating trainers round
by round (the machine is shared: what it does meanwhile hits both alike). Its store is seeded
before it starts with --outcomes shown sets with an outcome (synthetic, every key the server
fills) and a trained checkpoint; the TRM is pinned to serve (trm.champion). A skill is
learned from two hand-made edits to a file with --functions sites; then, --cycles times:
requests while idle for about a training's length (--budget + 2 s), then `kenetic.train` and
requests until it answers (trm.trainTimeBudgetS = --budget). Requests alternate codeAction at a
random site and nextEdits over the file, one at a time, as an editor sends them, with a pause
of --gap-ms on average after each answer (0: back to back). Issue 18's goal: p95 during
training within 1.2x of idle; the JSON has each round's ratio and their median.

    .venv/bin/python tests/bench/train_serve.py [--rounds 2] [--cycles 2] [--budget 12]
        [--modes process process-unpaused thread] [--gap-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsprotocol import types  # noqa: E402
from pytest_lsp import client_capabilities  # noqa: E402
from pytest_lsp.client import make_test_lsp_client  # noqa: E402

from tests.bench.replay import _fix_code_action_union  # noqa: E402
from tests.e2e.conftest import SERVER, server_env  # noqa: E402

MODES = ("process", "thread", "process-unpaused")


def source(functions: int) -> str:
    return "import logging\n\nlogger = logging.getLogger(__name__)\n" + "".join(
        f"\n\ndef f{k}(v{k}):\n    print(v{k})\n    return v{k}\n" for k in range(functions)
    )


def site(k: int) -> int:
    return 6 + 5 * k


def outcome_log(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Shown sets as the server writes them: sessions of 5 steps, 4 to 24 candidates each, the
    developer taking the next site down of the skill just applied (1 set in 5 dismissed)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        skills = [f"sk_{j}" for j in range(rnd.randrange(1, 5))]
        cands = []
        for _ in range(rnd.randrange(4, 25)):
            skill, delta = rnd.choice(skills), rnd.randrange(-200, 200)
            cands.append({
                "skillId": skill, "name": f"print => logger.info {skill}",
                "templateText": f"print(${{}}) => logger.info(${{}}) {skill}",
                "matchText": f"print(v{i % 40}) => logger.info(v{i % 40})", "root": "call",
                "support": rnd.randrange(2, 9), "specificity": rnd.random(),
                "lastUsed": 1.7e9 + i - rnd.randrange(0, 5000), "shown": rnd.randrange(0, 30),
                "accepted": rnd.randrange(0, 10), "rejected": rnd.randrange(0, 5), "undone": 0,
                "distance": abs(delta), "lineDelta": delta, "sameFile": True,
                "justApplied": skill == skills[0], "uri": "file:///ws/app.py",
                "siteLine": 100 + delta, "shownInSession": rnd.randrange(0, 3),
            })  # fmt: skip
        below = [j for j, c in enumerate(cands) if c["lineDelta"] > 0]
        best = min(below, key=lambda j: cands[j]["lineDelta"]) if below else 0
        context = {"kind": rnd.choice(["codeAction", "nextEdits"]), "now": 1.7e9 + i,
                   "language": "python", "uri": "file:///ws/app.py", "cursorLine": 100,
                   "cursorNodeTypes": ["call", "expression_statement", "block"],
                   "recentEditShapes": ["print(v) => logger.info(v)"],
                   "recentEditLines": [90, 95]}  # fmt: skip
        accepted = best if rnd.random() < 0.8 else None
        out.append({"context": context, "candidates": cands, "accepted_index": accepted,
                    "session": f"s{i // 5}", "t": 1.7e9 + i})  # fmt: skip
    return out


def seed_store(ws: Path, log: list[dict[str, Any]], budget: float) -> None:
    """The shown sets and their outcomes in the workspace's store, and a checkpoint trained on
    them (so the server serves trm v1 from its start and has nothing new to train on)."""
    from memory.store.database import Store
    from server.suggest.shown import ShownLog, ShownSet
    from trm.train import Trainer, save_run
    from trm.train_config import TrainConfig

    store = Store(ws / ".kenetic" / "kenetic.db")
    shown = ShownLog(store)
    for i, o in enumerate(log):
        ids = [[f"sug{i}_{j}"] for j in range(len(o["candidates"]))]
        row = {"context": o["context"], "candidates": o["candidates"], "suggestionIds": ids}
        s = ShownSet(f"b{i}", o["context"]["kind"], "file:///ws/app.py", o["session"],
                     o["context"], o["candidates"], [], {}, at=o["t"])  # fmt: skip
        shown.write_set(s, row)
        j = o["accepted_index"]
        shown.write_outcome(f"b{i}", ids[0 if j is None else j][0],
                            "rejected" if j is None else "accepted")  # fmt: skip
    store.flush(timeout=60)
    store.close()
    config = TrainConfig(time_budget_s=budget, threads=1)
    result = Trainer(train=config).train(log)
    assert result is not None
    save_run(result, ws / ".kenetic" / "trm", keep=3)


def pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2) if xs else None


async def plain(client: Any, method: str, params: Any) -> Any:
    from server.protocol import to_plain

    return to_plain(await asyncio.wait_for(client.protocol.send_request_async(method, params), 60))


async def train(client: Any) -> dict[str, Any]:
    from server.protocol import to_plain

    params = types.ExecuteCommandParams(command="kenetic.train", arguments=[{}])
    return to_plain(await asyncio.wait_for(client.workspace_execute_command_async(params), 120))


async def one_request(
    client: Any, uri: str, k: int, rng: random.Random, n: int, gap_s: float = 0.0
) -> float:
    """One request, its round trip in seconds: codeAction at a random site, or nextEdits."""
    t0 = time.perf_counter()
    if k % 2 == 0:
        line = site(rng.randrange(2, n))
        await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line, 6), end=types.Position(line, 6)),
            context=types.CodeActionContext(diagnostics=[])))  # fmt: skip
    else:
        await client.protocol.send_request_async(
            "kenetic/nextEdits",
            {"textDocument": {"uri": uri}, "position": {"line": 10, "character": 4}},
        )
    took = time.perf_counter() - t0
    if gap_s > 0:  # the developer reads, types or moves on before the next request
        await asyncio.sleep(gap_s * rng.uniform(0.5, 1.5))
    return took


async def session(ws: Path, home: Path, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    # process-unpaused: a child that keeps running through requests (server.foreground off)
    env = server_env(home, KENETIC_TRAIN_IN=mode.split("-")[0])
    if mode == "process-unpaused":
        env["KENETIC_PAUSE_TRAINING"] = "0"
    # the TRM pinned to serve (trm.champion): the heaviest ranker, and the one that retrains
    options = {"trm": {"minOutcomes": 20, "trainTimeBudgetS": args.budget,
                       "retrainEvery": 1_000_000, "champion": "trm"}}  # fmt: skip
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env=env)
    samples: dict[str, dict[str, list[float]]] = {
        "idle": {"codeAction": [], "nextEdits": []},
        "training": {"codeAction": [], "nextEdits": []},
    }
    trainings: list[dict[str, Any]] = []
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
            initialization_options=options))  # fmt: skip
        _fix_code_action_union(client)
        path = ws / "app.py"
        text = source(args.functions)
        path.write_text(text)
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=text)))  # fmt: skip
        version = 1
        for k in (0, 1):  # two hand-made print -> logger.info edits: a skill with many sites
            version += 1
            rng_ = types.Range(start=types.Position(site(k), 4), end=types.Position(site(k), 9))
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=rng_, text="logger.info")]))  # fmt: skip
            await asyncio.sleep(0.05)
            deadline = time.monotonic() + 30
            while (await plain(client, "kenetic/stats", {}))["pending"]:
                assert time.monotonic() < deadline, "the server never went idle"
                await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60
        while True:
            stats = await plain(client, "kenetic/stats", {})
            if not stats["trm"]["loading"] and stats["trm"]["version"] >= 1:
                break
            assert time.monotonic() < deadline, stats["trm"]
            await asyncio.sleep(0.1)
        served = stats["ranker"]
        rng = random.Random(7)
        for k in range(args.warmup):  # parses, caches and the first TRM rankings: not measured
            await one_request(client, uri, k, rng, args.functions, args.gap_ms / 1000)
        k = 0
        idle_s = args.budget + 2.0  # about a training's length: a stall is as likely in both
        for _ in range(args.cycles):
            t0, n = time.monotonic(), 0
            while n < args.requests or time.monotonic() - t0 < idle_s:
                kind = "codeAction" if k % 2 == 0 else "nextEdits"
                samples["idle"][kind].append(
                    await one_request(client, uri, k, rng, args.functions, args.gap_ms / 1000)
                )
                k, n = k + 1, n + 1
            started = time.monotonic()
            task = asyncio.ensure_future(train(client))
            while not task.done():
                kind = "codeAction" if k % 2 == 0 else "nextEdits"
                took = await one_request(client, uri, k, rng, args.functions, args.gap_ms / 1000)
                k += 1
                if not task.done():  # a request that ended after the training is not counted
                    samples["training"][kind].append(took)
            trainings.append({**task.result(), "wall_s": round(time.monotonic() - started, 1)})
        stats = await plain(client, "kenetic/stats", {})
        await asyncio.wait_for(client.shutdown_session(), 30)
    finally:
        proc = client._server
        if proc is not None and proc.returncode is None:
            proc.kill()
        await client.stop()
    return {
        "served": served,
        "served_after": stats["ranker"],
        "samples": samples,
        "trainings": [
            {k: t[k] for k in ("version", "steps", "seconds", "wall_s", "pid")} for t in trainings
        ],
    }


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in ("codeAction", "nextEdits"):
        per: dict[str, Any] = {"rounds": []}
        for r in rounds:
            idle, busy = r["samples"]["idle"][kind], r["samples"]["training"][kind]
            p95_idle, p95_busy = pct(idle, 0.95), pct(busy, 0.95)
            per["rounds"].append({
                "idle": {"p50": pct(idle, 0.5), "p95": p95_idle, "n": len(idle)},
                "training": {"p50": pct(busy, 0.5), "p95": p95_busy, "n": len(busy)},
                "p95_ratio": round(p95_busy / p95_idle, 2) if p95_idle and p95_busy else None,
            })  # fmt: skip
        ratios = [x["p95_ratio"] for x in per["rounds"] if x["p95_ratio"] is not None]
        per["p95_ratio_median"] = round(statistics.median(ratios), 2) if ratios else None
        idle_all = [t for r in rounds for t in r["samples"]["idle"][kind]]
        busy_all = [t for r in rounds for t in r["samples"]["training"][kind]]
        per["pooled"] = {
            "idle": {"p50": pct(idle_all, 0.5), "p95": pct(idle_all, 0.95), "n": len(idle_all)},
            "training": {"p50": pct(busy_all, 0.5), "p95": pct(busy_all, 0.95),
                         "n": len(busy_all)},
        }  # fmt: skip
        out[kind] = per
    out["trainings"] = [t for r in rounds for t in r["trainings"]]
    out["served"] = sorted({r["served"] for r in rounds} | {r["served_after"] for r in rounds})
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    log = outcome_log(args.outcomes)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in args.modes}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kenetic-train-serve-") as tmp:
        template = Path(tmp) / "template"
        (template / ".kenetic").mkdir(parents=True)
        seed_store(template, log, args.seed_budget)
        for r in range(args.rounds):
            order = args.modes if r % 2 == 0 else list(reversed(args.modes))
            for mode in order:
                ws = Path(tmp) / f"ws-{mode}-{r}"
                shutil.copytree(template, ws)  # a fresh copy of the seeded store
                home = Path(tmp) / f"home-{mode}-{r}"
                home.mkdir()
                results[mode].append(await session(ws, home, mode, args))
    out: dict[str, Any] = {
        "outcomes": args.outcomes,
        "functions": args.functions,
        "train_time_budget_s": args.budget,
        "rounds": args.rounds,
        "cycles": args.cycles,
        "gap_ms": args.gap_ms,
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - t0, 1),
        "goal": "p95 during training <= 1.2x idle",
    }
    for mode in args.modes:
        out[mode] = summarise(results[mode])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outcomes", type=int, default=2000)
    ap.add_argument("--functions", type=int, default=200)
    ap.add_argument("--budget", type=float, default=12.0, help="trm.trainTimeBudgetS")
    ap.add_argument("--seed-budget", type=float, default=5.0)
    ap.add_argument(
        "--requests",
        type=int,
        default=80,
        help="idle requests per cycle, at least (and for budget + 2 s)",
    )
    ap.add_argument("--warmup", type=int, default=30, help="requests before measuring")
    ap.add_argument("--cycles", type=int, default=2, help="idle + training per server")
    ap.add_argument("--rounds", type=int, default=2, help="servers per trainer, alternating")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--gap-ms", type=float, default=50.0,
                    help="mean pause after each answer (0: back to back)")  # fmt: skip
    print(json.dumps(asyncio.run(main_async(ap.parse_args())), indent=2))


if __name__ == "__main__":
    main()
