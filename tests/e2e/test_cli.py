"""The `kenetic` command: --version, doctor, demo and serve --tcp."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from server import __version__
from tests.e2e.conftest import server_env
from trm.train_config import TrainConfig

KENETIC = [sys.executable, "-m", "server.cli"]


def run(args: list[str], home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*KENETIC, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=server_env(home),
        cwd=cwd,
    )


def test_version(home: Path) -> None:
    result = run(["--version"], home)
    assert result.returncode == 0 and result.stdout.strip() == f"kenetic {__version__}"


def test_doctor_healthy_then_broken_store(workspace: Path, home: Path) -> None:
    result = run(["doctor", "--json", "--workspace", str(workspace)], home)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["problems"]
    assert all(report["core"].values())
    assert report["grammars"]["python"] and report["grammars"]["rust"]
    assert report["store"]["path"] == str(workspace / ".kenetic" / "kenetic.db")
    (workspace / ".kenetic").mkdir()
    (workspace / ".kenetic" / "kenetic.db").write_bytes(b"garbage" * 50)
    broken = run(["doctor", "--workspace", str(workspace)], home)
    assert broken.returncode == 1
    assert "not a SQLite database" in broken.stdout


def test_demo_replays_the_bundled_session(home: Path) -> None:
    result = run(["demo", "--json"], home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stats"]["episodes"]["edit"] == 3
    assert report["stats"]["episodes"]["command"] == 2
    commands = [e["exitCode"] for e in report["episodes"] if e["kind"] == "command"]
    assert sorted(commands) == [0, 1]
    # print(x) -> logger.info(x) made twice is mined into a skill
    [skill] = report["skills"]
    assert skill["support"] == 2
    assert skill["before"].startswith("print(") and skill["after"].startswith("logger.info(")
    # offered at the third print() as a code action, and at both remaining ones as next edits
    assert [s["at"] for s in report["suggestions"]] == ["inventory.py:18"]
    assert report["suggestions"][0]["title"].startswith("Apply skill: ")
    assert sorted(e["at"] for e in report["nextEdits"]) == ["inventory.py:18", "inventory.py:23"]
    assert all(e["newText"] == "logger.info" for e in report["nextEdits"])
    # accepted as an editor would: edit applied, outcome recorded and counted
    applied = report["applied"]
    assert applied["text"] == 'logger.info("auditing", items)'
    assert applied["outcome"] == {"recorded": True, "outcome": "accepted"}
    assert report["final"]["outcomes"]["accepted"] == 1
    text = run(["demo"], home)
    assert text.returncode == 0, text.stderr
    assert "captured:  3 edit, 2 command" in text.stdout
    assert "skills learned (kenetic/skills):" in text.stdout
    assert "Apply skill: " in text.stdout
    assert "outcome  accepted" in text.stdout


def test_serve_over_tcp(workspace: Path, home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [*KENETIC, "serve", "--tcp", f"127.0.0.1:{port}"],
        env=server_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "server never listened"
                time.sleep(0.1)
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "capabilities": {},
                    "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}],
                },
            }
        ).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while b"serverInfo" not in data:
            chunk = conn.recv(65536)
            assert chunk, "connection closed"
            data += chunk
        conn.close()
        assert b'"name": "kenetic"' in data
    finally:
        proc.kill()
        proc.wait(10)


def test_memory_subcommand_reaches_the_memory_cli(workspace: Path, home: Path) -> None:
    stored = run(
        [
            "memory",
            "store",
            "--workspace",
            str(workspace),
            "--json",
            "prefer logger.info over print in services",
        ],
        home,
    )
    assert stored.returncode == 0, stored.stderr
    recalled = run(
        ["memory", "recall", "--workspace", str(workspace), "--json", "logging in services"], home
    )
    assert recalled.returncode == 0, recalled.stderr
    assert "logger.info" in recalled.stdout


def _seed_outcomes(workspace: Path, count: int) -> None:
    """Shown sets with outcomes written straight into a workspace store (as the server logs)."""
    from memory.store.database import Store
    from server.suggest.shown import ShownLog, ShownSet

    store = Store(workspace / ".kenetic" / "kenetic.db")
    log = ShownLog(store)
    context = {"kind": "codeAction", "now": 1000.0, "language": "python"}
    for k in range(count):
        candidates = [
            {"skillId": f"s{j}", "support": 2 + j, "lineDelta": j - k % 3, "sameFile": True}
            for j in range(3)
        ]
        shown = ShownSet(f"b{k}", "codeAction", "file:///a.py", "s", context, candidates,
                         [0, 1, 2], {j: j for j in range(3)}, at=1000.0 + k)  # fmt: skip
        for j in range(3):
            shown.offered(j, f"sg{k}-{j}")
        data = shown.row()
        assert data is not None
        log.write_set(shown, data)
        log.write_outcome(f"b{k}", f"sg{k}-{k % 3}", "accepted")
    store.close()


def test_train_from_a_workspace_store(workspace: Path, home: Path) -> None:
    _seed_outcomes(workspace, 12)
    few = run(["train", "--workspace", str(workspace)], home)
    assert few.returncode == 1 and "too few outcomes" in few.stderr and "100" in few.stderr
    args = ["--workspace", str(workspace), "--min-outcomes", "10", "--time-budget", "2"]
    result = run(["train", "--json", *args], home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["trained"] and report["outcomes"] == 12 and report["version"] == 1
    assert (workspace / ".kenetic" / "trm" / "trm-v1.pt").exists()
    # (text mode reads the bar's \r as a newline); a few dozen sets fine-tune the shipped TRM
    # (trm.startFrom "pretrained") in its fewest fine-tuning steps
    steps = TrainConfig().fine_tune_min_steps
    assert "training [" in result.stderr and f"/{steps} loss" in result.stderr
    again = run(["train", *args], home)
    assert again.returncode == 0 and "trained trm v2 on 12 outcomes" in again.stdout
    # trm.startFrom "scratch": a fresh model, in the training's fewest steps
    (workspace / ".kenetic" / "config.toml").write_text('[trm]\nstartFrom = "scratch"\n')
    fresh = run(["train", *args], home)
    assert fresh.returncode == 0 and f"/{TrainConfig().min_steps} loss" in fresh.stderr
    missing = run(["train", "--workspace", str(workspace / "nowhere")], home)
    assert missing.returncode == 1 and "no kenetic store" in missing.stderr
