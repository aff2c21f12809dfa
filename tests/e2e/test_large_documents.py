"""Typing in a 1 MB minified file through the real server (issue 16, item 15): requests are
answered while it is edited, and the work per episode is bounded — the one-line region is
recorded without its text, nodes or structural edit rather than redacted and diffed whole."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from tests.e2e.conftest import change, lsp_session, open_doc, request, wait_idle


async def test_typing_in_a_minified_file(workspace: Path, home: Path) -> None:
    minified = "var a=" + ",".join(f"x{i}=function(){{return {i}}}" for i in range(40_000))
    assert len(minified) > 1_000_000 and "\n" not in minified
    path = workspace / "bundle.min.js"
    path.write_text(minified)
    uri = path.as_uri()
    # a long idle gap: the three keystrokes are one burst, closed by the save
    options = {"capture": {"idleGapMs": 60_000}}
    async with lsp_session([workspace], home, init_options=options) as client:
        open_doc(client, uri, minified, "javascript")
        column = minified.index("return 20000}") + len("return ")
        for version, char in enumerate("123", 2):  # typing three characters mid-line
            change(client, uri, version, (0, column), (0, column), char)
            column += 1
            # answered between keystrokes, with the burst still open
            stats = await request(client, "kenetic/stats", {})
            assert stats["pending"] >= 1
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=0, character=column),
                    end=types.Position(line=0, character=column),
                ),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert actions is None or isinstance(actions, list)
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        stats = await wait_idle(client)
        assert stats["episodes"]["edit"] == 1
        (episode,) = (await request(client, "kenetic/episodes", {"kind": "edit", "full": True}))[
            "episodes"
        ]
    region = episode["region"]
    assert region["truncated"] is True
    assert region["before"] is None and region["after"] is None
    assert region["beforeLines"] == region["afterLines"] == 1
    assert episode["structural"] is None
    assert episode["node"] == {"before": None, "after": None}
    # the server kept the right text: the three characters landed where they were typed
    assert episode["lastVersion"] == 4
