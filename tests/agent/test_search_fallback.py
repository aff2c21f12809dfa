"""`search` without ripgrep (the Python scan) under hostile workspaces (issue 16, item 9): a
symlink to a file outside is not followed, a FIFO is skipped instead of blocking the scan, and a
catastrophic pattern ends in an error instead of freezing the server.

Each search runs in a child process with a deadline: before the fix the FIFO and the pattern
hang forever (the pattern holding the GIL), which would hang pytest itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHILD = """
import asyncio, json, sys, threading, time
from pathlib import Path
from server.agent.reading import ReadingTools
from server.agent.sandbox import PathSandbox
from server.agent.tools import AgentCallbacks

root, args = Path(sys.argv[1]), json.loads(sys.argv[2])
tools = ReadingTools(PathSandbox([root]), AgentCallbacks(), rg=None, search_timeout_s=1.0)
# a thread that must keep running while the search matches: the scan must not hold the GIL
ticks = []
threading.Thread(target=lambda: [ticks.append(time.sleep(0.01)) for _ in range(1000)],
                 daemon=True).start()
before = len(ticks)
result = asyncio.run(tools.search(args))
ticks_during = len(ticks) - before
print(json.dumps({"content": result.content, "isError": result.is_error, "ticks": ticks_during}))
"""


def search(root: Path, **args: Any) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"search {args} never returned")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_symlink_to_a_file_outside_is_not_followed(workspace: Path) -> None:
    outside = workspace.parent / "outside.txt"
    outside.write_text("needle OUTSIDE-CONTENT\n")
    (workspace / "inside.txt").write_text("needle inside\n")
    (workspace / "link.txt").symlink_to(outside)
    (workspace / "pkg" / "creds").symlink_to(workspace / ".env")
    (workspace / ".env").write_text("needle ENV-CONTENT\n")
    result = search(workspace, query="needle")
    assert "inside.txt:1:needle inside" in result["content"]
    assert "OUTSIDE-CONTENT" not in result["content"]
    assert "ENV-CONTENT" not in result["content"]  # a symlink named innocently to a secret


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_skipped(workspace: Path) -> None:
    os.mkfifo(workspace / "pipe.py")
    (workspace / "z.py").write_text("needle\n")
    result = search(workspace, query="needle")
    assert "z.py:1:needle" in result["content"] and not result["isError"]


def test_a_catastrophic_pattern_is_stopped_and_the_gil_released(workspace: Path) -> None:
    (workspace / "a.txt").write_text("a" * 40 + "\n")
    result = search(workspace, query="(a|aa)+c", regex=True)
    assert result["isError"] and "too slow" in result["content"]
    # the other thread kept ticking through the second of matching (it stops dead when the
    # pattern holds the GIL, as `re` does)
    assert result["ticks"] >= 10
