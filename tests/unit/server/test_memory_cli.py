"""`kenetic memory ...` end to end through memory_main against a real workspace store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory.store.database import project_store_path
from server.memory_cli import memory_main


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("KENETIC_HOME", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "KENETIC.md").write_text("# Deploy\n\nShip with make release.\n")
    return folder


def run(capsys: pytest.CaptureFixture[str], ws: Path, *argv: str) -> tuple[int, str]:
    code = memory_main([*argv, "--workspace", str(ws)])
    out = capsys.readouterr()
    return code, out.out + out.err


def run_json(capsys: pytest.CaptureFixture[str], ws: Path, *argv: str) -> dict:
    code, out = run(capsys, ws, *argv, "--json")
    assert code == 0, out
    return json.loads(out)


def test_store_recall_link_path_stats(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    a = run_json(capsys, ws, "store", "the flaky test is test_login_redirect", "--pin")
    assert a["stored"] and a["node"] == f"item:{a['id']}"
    dup = run_json(capsys, ws, "store", "the flaky test is test_login_redirect")
    assert dup == {"id": a["id"], "node": a["node"], "stored": False}
    b = run_json(
        capsys, ws, "store", "fixed by waiting for the redirect", "--kind", "episode", "--ref", "42"
    )
    assert b["node"] == "episode:42"
    code, out = run(capsys, ws, "link", a["node"], b["node"], "--type", "same_task")
    assert code == 0 and "linked" in out
    hits = run_json(capsys, ws, "recall", "flaky login test", "-k", "5")["items"]
    assert hits[0]["item"]["id"] == a["id"]
    assert b["id"] in {h["item"]["id"] for h in hits}  # through the link
    assert run_json(capsys, ws, "recall", "deploy release", "--kind", "note")["items"]
    path = run_json(capsys, ws, "path", a["node"], "episode:42")
    assert path["found"] and path["nodes"] == [a["node"], "episode:42"]
    code, out = run(capsys, ws, "path", a["node"], "skill:none")
    assert code == 1 and "no path" in out
    stats = run_json(capsys, ws, "stats")
    assert stats["items"] == 3 and stats["duplicates"] == 1 and stats["links"] == {"same_task": 1}
    assert project_store_path(ws).exists()


def test_export_import_checkpoint_restore(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    run_json(capsys, ws, "store", "use uv to install the tools")
    dump = tmp_path / "memory.jsonl"
    counts = run_json(capsys, ws, "export", str(dump))
    assert counts["memory_items"] == 2  # the note section and the stored item
    other = tmp_path / "other"
    other.mkdir()
    result = run_json(capsys, other, "import", str(dump))
    assert result["added"]["memory_items"] == 2
    hits = run_json(capsys, other, "recall", "install tools with uv")["items"]
    assert hits[0]["item"]["text"] == "use uv to install the tools"

    cp = run_json(capsys, ws, "checkpoint", "one item")
    run_json(capsys, ws, "store", "a later thought about kafka partitions")
    listed = run_json(capsys, ws, "checkpoints")["checkpoints"]
    assert [c["id"] for c in listed] == [cp["id"]]
    assert run_json(capsys, ws, "restore", cp["id"])["restored"] == cp["id"]
    assert run_json(capsys, ws, "stats")["byKind"]["note"] == 2
    code, out = run(capsys, ws, "restore", "missing")
    assert code == 1 and "no checkpoint" in out


def test_remember_moments_als_and_usage_errors(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    out = run_json(capsys, ws, "remember", "run migrations first", "--heading", "Deploy")
    assert (ws / "KENETIC.md").read_text() == (
        "# Deploy\n\nShip with make release.\n- run migrations first\n"
    )
    assert out["heading"] == "Deploy"
    run_json(capsys, ws, "recall", "migrations")
    moments = run_json(capsys, ws, "moments", "-n", "1")["moments"]
    assert moments[0]["event"] == "recalled" and moments[0]["trigger"] == "cli"
    als = run_json(capsys, ws, "als")
    assert als["stage"] == "cold" and "debounceMs" in als  # the shapes the server answers
    assert memory_main(["frobnicate"]) == 2
    capsys.readouterr()
    code, out = run(capsys, ws, "link", "bogus", "episode:1")
    assert code == 1 and "bad node" in out
    assert memory_main(["stats", "--workspace", str(ws / "nope")]) == 2
