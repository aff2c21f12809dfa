"""The task's own document over the wire (issue 16, items 8 and 13): it goes through the same
sandbox as read_file before its text enters the system prompt, its path is workspace-relative,
a selection ending at character 0 stops at the line before, and edits carry the version of the
text they were computed from (documentChanges) when the client supports them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.conftest import FakeHTTP
from tests.agent.wire import anthropic_stream, text
from tests.e2e.agent_support import CALC, WITH_KEY, Editor, call, fake, options, project
from tests.e2e.conftest import change, lsp_session, open_doc, request

__all__ = ["fake"]  # the fixture, imported for pytest

ENV_SECRET = "ENV-SECRET-d41d8cd98f00b204"
OUTSIDE_SECRET = "OUTSIDE-SECRET-e3b0c44298fc1c14"
SELECTION = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}


async def test_a_secret_or_outside_document_never_reaches_the_llm(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    env = workspace / ".env"
    env.write_text(f"API_TOKEN={ENV_SECRET}\nDEBUG=1\nX=1\n")
    outside = workspace.parent / "notes.py"
    outside.write_text(f"key = '{OUTSIDE_SECRET}'\nother = 1\nthird = 2\n")
    fake.push(anthropic_stream(text("ok")), anthropic_stream(text("ok")))
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        for path in (env, outside):
            open_doc(c, path.as_uri(), path.read_text())  # open: its unsaved text is read
            await request(
                c,
                "kenetic/agent/run",
                {"task": "explain", "textDocument": {"uri": path.as_uri()}, "range": SELECTION},
            )
    sent = json.dumps(fake.bodies())
    assert len(fake.bodies()) == 2
    assert ENV_SECRET not in sent and OUTSIDE_SECRET not in sent
    assert str(workspace.parent) not in sent  # nor where the outside file lives


async def test_the_document_is_relative_and_the_selection_exact(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    calc = project(workspace)
    (workspace / "pkg" / "calc.py").write_text(CALC + "# third line\n")
    fake.push(anthropic_stream(text("ok")))
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        await request(
            c,
            "kenetic/agent/run",
            {"task": "explain", "textDocument": {"uri": calc.as_uri()}, "range": SELECTION},
        )
    system = fake.bodies()[0]["system"]
    assert "pkg/calc.py lines 1-2" in system
    assert str(workspace) not in system
    assert "return a - b" in system and "# third line" not in system


async def test_edits_carry_the_version_they_were_computed_from(
    fake: FakeHTTP, workspace: Path, home: Path
) -> None:
    calc = project(workspace)
    fake.push(
        anthropic_stream(call("t1", "read_file", path="pkg/calc.py")),
        anthropic_stream(
            call("t2", "edit_file", path="pkg/calc.py", oldText="a - b", newText="a + b")
        ),
        anthropic_stream(text("Fixed.")),
    )
    async with lsp_session([workspace], home, init_options=options(fake), env=WITH_KEY) as c:
        editor = Editor(c)
        uri = editor.open(calc)
        change(c, uri, 2, (0, 0), (0, 0), "# typed\n")  # the buffer moved on: version 2
        editor.docs[uri][1] = 2
        result = await request(c, "kenetic/agent/run", {"task": "fix add"})
        assert result["outcome"] == "success", result
    (edit,) = editor.edits
    assert "changes" not in edit
    (doc_edit,) = edit["documentChanges"]
    assert doc_edit["textDocument"] == {"uri": uri, "version": 2}
    assert doc_edit["edits"][0]["range"]["start"]["line"] == 2  # computed on version 2's text
