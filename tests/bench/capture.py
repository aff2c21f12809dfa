"""Capture overhead: kenetic serve against a bare pygls server, same client script, one run.

Prints JSON: per-didChange mean and p95 over 5,000 incremental changes to a 5,000-line file
(typing in bursts of 20 keystrokes, then a jump to another place, as an editor sends them),
process start to `initialize` answered, RSS at the end, and whether torch was imported.

Each didChange is followed by a request neither server implements; its error answer comes
back only after the change was handled, so the round trip times the change handling (plus
the same transport cost on both sides). Run: python tests/bench/capture.py [--changes N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PING = "$/kenetic/benchPing"  # unknown to both servers: answered with MethodNotFound


class Client:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0

    async def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await self.proc.stdin.drain()

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = 0
        while True:
            line = await self.proc.stdout.readline()
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(await self.proc.stdout.readexactly(length))

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.send({"jsonrpc": "2.0", "id": my_id, "method": method, "params": params})
        while True:
            message = await self.read()
            if message.get("id") == my_id:
                return message

    async def notify(self, method: str, params: Any) -> None:
        await self.send({"jsonrpc": "2.0", "method": method, "params": params})


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def script(changes: int, lines: int, seed: int = 7) -> tuple[str, list[tuple[int, int, str]]]:
    rng = random.Random(seed)
    text = "".join(f"def function_{i}(value):\n    return value + {i}\n" for i in range(lines // 2))
    steps = []
    line = 1
    col = 0
    for i in range(changes):
        if i % 20 == 0:  # a jump elsewhere: the previous burst closes
            line = rng.randrange(1, lines, 2)
            col = len(f"    return value + {line // 2}")
        steps.append((line, col, "x"))
        col += 1
    return text, steps


async def run(command: list[str], workspace: Path, changes: int, lines: int) -> dict[str, Any]:
    env = dict(os.environ, KENETIC_HOME=str(workspace / ".home"), PYTHONPATH=str(REPO))
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        limit=2**24,
    )
    client = Client(proc)
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "capabilities": {},
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": "bench"}],
            "initializationOptions": {"capture": {"idleGapMs": 1500}},
        },
    )
    start_to_initialize = time.perf_counter() - started
    await client.notify("initialized", {})
    text, steps = script(changes, lines)
    uri = (workspace / "big.py").as_uri()
    await client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    await client.request(PING, {})
    times = []
    for version, (line, col, insert) in enumerate(steps, start=2):
        t0 = time.perf_counter()
        pos = {"line": line, "character": col}
        await client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"range": {"start": pos, "end": pos}, "text": insert}],
            },
        )
        await client.request(PING, {})
        times.append(time.perf_counter() - t0)
    result: dict[str, Any] = {"rss_kb": rss_kb(proc.pid)}
    if "server.cli" in command:
        deadline = time.monotonic() + 120
        stats: dict[str, Any] = {}
        while time.monotonic() < deadline:
            stats = (await client.request("kenetic/stats", {}))["result"]
            if stats["pending"] == 0:
                break
            await asyncio.sleep(0.05)
        result["episodes"] = stats.get("episodes")
        result["torch_imported"] = stats.get("torchLoaded")
    await client.request("shutdown", None)
    await client.notify("exit", None)
    await asyncio.wait_for(proc.wait(), 30)
    times_ms = sorted(t * 1000 for t in times)
    result.update(
        start_to_initialize_s=round(start_to_initialize, 3),
        changes=len(times),
        mean_ms=round(statistics.fmean(times_ms), 4),
        p50_ms=round(times_ms[len(times_ms) // 2], 4),
        p95_ms=round(times_ms[int(len(times_ms) * 0.95)], 4),
    )
    return result


def torch_on_start() -> bool:
    """Whether importing and building the server (what initialize needs) imports torch."""
    code = (
        "import sys; from server.setup import create_server; create_server(); "
        "print('torch' in sys.modules)"
    )
    out = os.popen(f'{sys.executable} -c "{code}"').read().strip()
    return out == "True"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each server")
    args = parser.parse_args()
    kenetic = [sys.executable, "-m", "server.cli", "serve"]
    bare = [sys.executable, str(HERE / "bare_server.py")]
    runs: dict[str, list[dict[str, Any]]] = {"kenetic": [], "bare": []}
    for _ in range(args.rounds):  # alternate so machine noise hits both alike
        for name, command in (("bare", bare), ("kenetic", kenetic)):
            with tempfile.TemporaryDirectory() as tmp:
                runs[name].append(await run(command, Path(tmp), args.changes, args.lines))

    def best(name: str, key: str) -> float:
        return min(r[key] for r in runs[name])

    overhead = best("kenetic", "mean_ms") / best("bare", "mean_ms") - 1
    report = {
        "bench": "capture",
        "changes": args.changes,
        "document_lines": args.lines,
        "kenetic": runs["kenetic"],
        "bare_pygls": runs["bare"],
        "didChange_mean_overhead": round(overhead, 4),
        "didChange_p95_ratio": round(best("kenetic", "p95_ms") / best("bare", "p95_ms"), 4),
        "start_to_initialize_s": best("kenetic", "start_to_initialize_s"),
        "torch_imported_on_start": torch_on_start(),
        "budgets": {"overhead_max": 0.10, "start_to_initialize_max_s": 1.0},
    }
    report["within_budget"] = (
        overhead <= 0.10
        and report["start_to_initialize_s"] <= 1.0
        and not report["torch_imported_on_start"]
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
