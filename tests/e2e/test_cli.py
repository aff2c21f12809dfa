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
    text = run(["demo"], home)
    assert "captured:  3 edit, 2 command" in text.stdout


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
