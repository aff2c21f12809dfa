"""`kenetic mcp` through the SDK's own client over stdio, against a real workspace store."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from memory.store.database import Store
from tests.mcp.conftest import ROOT, TOKEN, Workspace, call, mcp_session, refused

TOOLS = {"recall_memory", "list_skills", "skill_card", "find_sites", "apply_skill"}
# app.py once the two hand edits are made: the third print is the one site left
THIRD = "    print(c * 2)\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_memory_skills_and_notes(workspace: Workspace) -> None:
    async with mcp_session(workspace.path) as session:
        listed = await session.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        find = next(t for t in listed.tools if t.name == "find_sites")
        assert set(find.input_schema["required"]) == {"id", "path"}

        recalled = await call(session, "recall_memory", query="how do I deploy? dry run", limit=3)
        top = recalled["items"][0]
        assert top["kind"] == "note" and "ops/deploy.sh" in top["text"] and top["score"] > 0

        skills = (await call(session, "list_skills"))["skills"]
        assert [s["id"] for s in skills] == [workspace.skill_id]
        skill = skills[0]
        assert skill["name"] == "print(…) → logger.info(…)" and skill["language"] == "python"
        assert skill["support"] == 2 and skill["trusted"] and not skill["muted"]
        assert skill["outcomes"] == {"shown": 1, "accepted": 1, "rejected": 0, "undone": 0}
        assert (await call(session, "list_skills", language="go"))["skills"] == []

        card = await call(session, "skill_card", id=workspace.skill_id)
        assert (card["before"], card["after"]) == ("print($h0)", "logger.info($h0)")
        assert card["holes"] == [
            {"name": "h0", "nodeType": card["holes"][0]["nodeType"], "inBefore": True,
             "inAfter": True}
        ]  # fmt: skip
        assert card["examples"] == 2 and "guards" in card
        assert "b + 1" not in str(card)  # never an example's text

        resources = await session.list_resources()
        [notes] = [r for r in resources.resources if str(r.uri) == "kenetic://notes"]
        assert notes.mime_type == "text/markdown"
        read = await session.read_resource("kenetic://notes")
        text = read.contents[0].text
        assert "Log with `logger`, never `print`." in text
        assert TOKEN[:20] not in text  # redacted as everywhere else


async def test_find_sites_and_apply_skill(workspace: Workspace) -> None:
    app = workspace.path / "app.py"
    other = workspace.path / "pkg" / "other.py"
    line = app.read_text().splitlines(keepends=True).index(THIRD)
    # an editor's server holding the store open the whole time
    editor_store = Store(workspace.store_path, create=False)
    try:
        async with mcp_session(workspace.path) as session:
            found = await call(session, "find_sites", id=workspace.skill_id, path="app.py")
            assert found["sites"] == [
                {
                    "path": "app.py",
                    "range": {
                        "start": {"line": line, "character": 4},
                        "end": {"line": line, "character": 9},
                    },
                    "text": "print",
                    "replacement": "logger.info",
                }
            ]

            # a folder: gitignored, secret and outside-leading files are never read
            everywhere = await call(session, "find_sites", id=workspace.skill_id, path=".")
            assert sorted({s["path"] for s in everywhere["sites"]}) == ["app.py", "pkg/other.py"]
            assert everywhere["filesScanned"] == 2

            before, other_before = app.read_bytes(), other.read_bytes()
            dry = await call(session, "apply_skill", id=workspace.skill_id, path=".")
            assert not dry["applied"] and dry["edits"] == 2
            assert app.read_bytes() == before and other.read_bytes() == other_before
            shas = {f["path"]: f["sha256"] for f in dry["files"]}
            assert shas == {"app.py": _sha(app), "pkg/other.py": _sha(other)}

            # pkg/other.py changes after the dry run: only app.py is written
            other.write_text(other.read_text() + "\n# edited meanwhile\n")
            done = await call(
                session, "apply_skill", id=workspace.skill_id, path=".", apply=True,
                expected_sha256=shas,
            )  # fmt: skip
            by_path = {f["path"]: f for f in done["files"]}
            assert done["applied"] and by_path["app.py"]["written"]
            assert not by_path["pkg/other.py"]["written"]
            assert "changed since the dry run" in by_path["pkg/other.py"]["reason"]
            assert app.read_text().splitlines(keepends=True)[line] == "    logger.info(c * 2)\n"
            assert by_path["app.py"]["newSha256"] == _sha(app)
            assert 'print("ready")' in other.read_text()
            assert not list(workspace.path.glob(".*.kenetic"))  # no temporary file left

            found = await call(session, "find_sites", id=workspace.skill_id, path="app.py")
            assert found["sites"] == []
            # the store the editor holds is untouched by all this and still answers
            assert editor_store.health()["integrity"] == "ok"
            assert editor_store.query("SELECT count(*) FROM skills")[0][0] == 1
    finally:
        editor_store.close()


async def test_refusals(workspace: Workspace) -> None:
    sid = workspace.skill_id
    latin = workspace.path / "pkg" / "latin.py"
    latin.write_bytes(b'print("caf\xe9")\n')  # Latin-1: written back as UTF-8 it would break
    async with mcp_session(workspace.path) as session:
        message = await refused(session, "apply_skill", id=sid, path="pkg/latin.py", apply=True)
        assert "not UTF-8" in message
        walked = await call(session, "find_sites", id=sid, path="pkg")
        assert [s["path"] for s in walked["sites"]] == ["pkg/other.py"]
        assert walked["skipped"] == [{"path": "pkg/latin.py", "reason": message.split(": ", 1)[1]}]
        message = await refused(session, "find_sites", id=sid, path="../outside/far.py")
        assert "outside the workspace" in message
        message = await refused(session, "find_sites", id=sid, path="link.py")
        assert "outside the workspace" in message  # a symlink is judged by where it leads
        message = await refused(session, "apply_skill", id=sid, path=".env", apply=True)
        assert "secrets file" in message
        message = await refused(session, "find_sites", id=sid, path=".kenetic/kenetic.db")
        assert "kenetic's or git's own" in message
        message = await refused(session, "find_sites", id=sid, path="KENETIC.md")
        assert "not a python file" in message
        message = await refused(session, "skill_card", id="sk_nope")
        assert "unknown skill id 'sk_nope'" in message
        message = await refused(session, "apply_skill", id="sk_nope", path="app.py")
        assert "unknown skill id" in message
        message = await refused(session, "recall_memory", query="x", kinds=["secrets"])
        assert "unknown kinds" in message
    assert (workspace.path / ".env").read_text() == f"GITHUB_TOKEN={TOKEN}\n"
    assert latin.read_bytes() == b'print("caf\xe9")\n'


def test_a_workspace_that_is_no_folder_is_bad_usage(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "mcp", "--workspace", str(missing)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.strip() == f"kenetic mcp: {missing} is not a folder"
    assert done.stdout == "" and not missing.exists()


async def test_a_deleted_skill_is_muted(workspace: Workspace) -> None:
    conn = sqlite3.connect(workspace.store_path)
    with conn:
        conn.execute("UPDATE skills SET deleted = 1")
    conn.close()
    async with mcp_session(workspace.path) as session:
        [skill] = (await call(session, "list_skills"))["skills"]
        assert skill["muted"]
        message = await refused(session, "find_sites", id=workspace.skill_id, path="app.py")
        assert "deleted by the developer" in message


async def test_no_store_is_a_clear_error_and_none_is_created(tmp_path: Path) -> None:
    folder = tmp_path / "bare"
    folder.mkdir()
    (folder / "KENETIC.md").write_text("## Notes\n\nno store here yet\n")
    async with mcp_session(folder) as session:
        for tool, args in (
            ("recall_memory", {"query": "anything"}),
            ("list_skills", {}),
            ("find_sites", {"id": "sk_x", "path": "."}),
        ):
            message = await refused(session, tool, **args)
            assert f"no kenetic store for {folder} (looked for" in message, message
            assert "kenetic mcp never creates one" in message
        read = await session.read_resource("kenetic://notes")
        assert "no store here yet" in read.contents[0].text
    assert not (folder / ".kenetic").exists()
