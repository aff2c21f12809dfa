"""Controls over suggestions end to end (issue 19): the suggest.* settings, the per-document and
per-session toggle, dismissed sites never offered again, the first code action already offering
"Apply skill in file (N places)", and kenetic.applySkill's count of places changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.e2e.conftest import lsp_session, request, wait_idle
from tests.e2e.test_skills_e2e import FAST, SOURCE, Doc, code_actions, execute, learn, site

KIND = "refactor.rewrite.kenetic"


async def kenetic_actions(client: Any, uri: str, line: int) -> list[dict[str, Any]]:
    return [a for a in await code_actions(client, uri, line) if a.get("kind") == KIND]


async def next_edits(client: Any, uri: str, line: int = 0) -> list[dict[str, Any]]:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}}
    return (await request(client, "kenetic/nextEdits", params))["edits"]


async def inline(client: Any, doc: Doc, line: int) -> Any:
    """An inline completion after typing the start of the rewrite at the site's line."""
    doc.edit((line, 4), (line, 9), "logger.")
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=doc.uri),
            position=types.Position(line, 11),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    doc.edit((line, 4), (line, 11), "print")  # put the site back
    return result


def write(workspace: Path, name: str) -> str:
    path = workspace / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SOURCE)
    return path.as_uri()


async def test_toggle_per_document_and_per_session(workspace: Path, home: Path) -> None:
    uri, other = write(workspace, "app.py"), write(workspace, "lib.py")
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        Doc(client, other, SOURCE)
        assert await kenetic_actions(client, uri, site(2))
        assert await next_edits(client, uri, site(0))
        assert await inline(client, doc, site(3)) is not None

        off = await execute(client, "kenetic.toggleSuggestions", {"uri": uri})
        assert off == {"enabled": False, "uri": uri}
        assert await kenetic_actions(client, uri, site(2)) == []
        assert await next_edits(client, uri, site(0)) == []
        assert await inline(client, doc, site(3)) is None
        # the other document still gets them, and its next edits skip the one switched off
        assert await kenetic_actions(client, other, site(2))
        edits = await next_edits(client, other, site(0))
        assert edits and all(e["uri"] == other for e in edits)

        on = await execute(client, "kenetic.toggleSuggestions", {"uri": uri})
        assert on == {"enabled": True, "uri": uri}
        assert await kenetic_actions(client, uri, site(2))

        # without a uri: the whole session
        off = await execute(client, "kenetic.toggleSuggestions", {})
        assert off == {"enabled": False, "uri": None}
        for u in (uri, other):
            assert await kenetic_actions(client, u, site(2)) == []
            assert await next_edits(client, u, site(0)) == []
        on = await execute(client, "kenetic.toggleSuggestions", {"enabled": True})
        assert on == {"enabled": True, "uri": None}
        assert await kenetic_actions(client, other, site(2))
        # capture went on all along
        assert (await wait_idle(client))["episodes"]["edit"] >= 2


@pytest.mark.parametrize(
    "suggest",
    [{"enabled": False}, {"disabledLanguages": ["python"]}, {"disabledGlobs": ["*.py"]}],
)
async def test_settings_turn_suggestions_off_but_not_capture(
    workspace: Path, home: Path, suggest: dict[str, Any]
) -> None:
    uri = write(workspace, "app.py")
    options = {**FAST, "suggest": suggest}
    async with lsp_session([workspace], home, init_options=options) as client:
        doc = Doc(client, uri, SOURCE)
        stats = await learn(client, doc)
        assert stats["episodes"]["edit"] == 2 and stats["skills"] == 1  # still learned
        assert await kenetic_actions(client, uri, site(2)) == []
        assert await next_edits(client, uri, site(0)) == []
        assert await inline(client, doc, site(3)) is None
        # the toggle wins over the settings for its document
        assert (await execute(client, "kenetic.toggleSuggestions", {"uri": uri}))["enabled"]
        assert await kenetic_actions(client, uri, site(2))


async def test_disabled_glob_matches_workspace_relative_paths(workspace: Path, home: Path) -> None:
    uri, generated = write(workspace, "app.py"), write(workspace, "gen/out/models.py")
    options = {**FAST, "suggest": {"disabledGlobs": ["gen/**"]}}
    async with lsp_session([workspace], home, init_options=options) as client:
        await learn(client, Doc(client, uri, SOURCE))
        Doc(client, generated, SOURCE)
        assert await kenetic_actions(client, uri, site(2))
        assert await kenetic_actions(client, generated, site(2)) == []
        assert await next_edits(client, generated, site(0)) == []
        edits = await next_edits(client, uri, site(0))
        assert edits and all(e["uri"] == uri for e in edits)  # none into gen/


async def test_a_dismissed_site_is_never_offered_again(workspace: Path, home: Path) -> None:
    uri = write(workspace, "app.py")
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        edits = await next_edits(client, uri, site(1))
        first = edits[0]
        line = first["range"]["start"]["line"]
        assert line in (site(2), site(3), site(4), site(5))
        result = await execute(
            client,
            "kenetic.recordOutcome",
            {"suggestionId": first["suggestionId"], "outcome": "rejected"},
        )
        assert result["recorded"]
        again = await next_edits(client, uri, site(1))
        lines = sorted(e["range"]["start"]["line"] for e in again)
        assert line not in lines and len(lines) == len(edits) - 1
        assert await kenetic_actions(client, uri, line) == []  # nor as a code action
        assert await inline(client, doc, line) is None  # nor as an inline completion
        others = [x for x in (site(2), site(3), site(4), site(5)) if x != line]
        assert await kenetic_actions(client, uri, others[0])
        # the in-file action leaves it out as well
        whole = [
            a
            for a in await kenetic_actions(client, uri, others[0])
            if a["title"].startswith("Apply skill in file")
        ]
        assert whole and whole[0]["title"].startswith("Apply skill in file (3 places)")


async def test_the_first_code_action_already_offers_the_whole_file(
    workspace: Path, home: Path
) -> None:
    uri = write(workspace, "app.py")
    async with lsp_session([workspace], home, init_options=FAST) as client:
        await learn(client, Doc(client, uri, SOURCE))
        actions = await kenetic_actions(client, uri, site(2))  # asked once, as Neovim does
        titles = [a["title"] for a in actions]
        assert titles == [
            "Apply skill: print(…) → logger.info(…)",
            "Apply skill in file (4 places): print(…) → logger.info(…)",
        ]


@pytest.mark.parametrize("accept", [True, False])
async def test_apply_skill_returns_the_places_changed(
    workspace: Path, home: Path, accept: bool
) -> None:
    uri = write(workspace, "app.py")
    async with lsp_session([workspace], home, init_options=FAST) as client:
        await learn(client, Doc(client, uri, SOURCE))
        sid = (await request(client, "kenetic/skills", {}))["skills"][0]["id"]

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return types.ApplyWorkspaceEditResult(applied=accept)

        result = await execute(
            client, "kenetic.applySkill", {"id": sid, "uri": uri, "scope": "file"}
        )
        assert result["edits"] == 4 and result["files"] == 1 and len(result["suggestionIds"]) == 1
        assert type(result["applied"]) is int and result["applied"] == (4 if accept else 0)
        # "skillId" (the name kenetic/nextEdits gives) is taken as well as "id"
        args = {"skillId": sid, "uri": uri, "scope": "file"}
        assert (await execute(client, "kenetic.applySkill", args))["edits"] == 4
