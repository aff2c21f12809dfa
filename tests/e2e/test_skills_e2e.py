"""Skills end to end: learned from two edits, offered, applied, recorded, kept across restarts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.protocol import to_plain
from tests.e2e.conftest import change, lsp_session, open_doc, request, wait_idle

FAST = {"capture": {"idleGapMs": 100}}
NAMES = ["first", "second", "third", "fourth", "fifth", "sixth"]
SOURCE = "import logging\n\nlogger = logging.getLogger(__name__)\n" + "".join(
    f"\n\ndef {name}(v{k}):\n    print(v{k})\n    return v{k}\n" for k, name in enumerate(NAMES)
)


def site(k: int) -> int:
    """The line of the k-th function's print call."""
    return 6 + 5 * k


class Doc:
    """The client's copy of a document: every edit goes out as one incremental didChange."""

    def __init__(self, client: Any, uri: str, text: str, language: str = "python") -> None:
        self.client, self.uri, self.text, self.version = client, uri, text, 1
        open_doc(client, uri, text, language)

    def edit(self, start: tuple[int, int], end: tuple[int, int], new: str) -> None:
        lines = self.text.split("\n")
        a = sum(len(x) + 1 for x in lines[: start[0]]) + start[1]
        b = sum(len(x) + 1 for x in lines[: end[0]]) + end[1]
        self.text = self.text[:a] + new + self.text[b:]
        self.version += 1
        change(self.client, self.uri, self.version, start, end, new)

    def apply(self, edit: dict[str, Any]) -> None:
        # edits of one document are applied last first, so earlier ranges stay valid
        for te in sorted(edit["changes"][self.uri], key=lambda e: _key(e["range"]), reverse=True):
            r = te["range"]
            self.edit(_pos(r["start"]), _pos(r["end"]), te["newText"])


def _pos(p: dict[str, int]) -> tuple[int, int]:
    return p["line"], p["character"]


def _key(r: dict[str, Any]) -> tuple[int, int]:
    return r["start"]["line"], r["start"]["character"]


async def learn(client: Any, doc: Doc) -> dict[str, Any]:
    """Two hand-made print -> logger.info edits, each its own burst."""
    for k in (0, 1):
        doc.edit((site(k), 4), (site(k), 9), "logger.info")
        # the open burst counts as pending, so this waits until the edit is its own episode
        # (a loaded machine could otherwise deliver both changes inside one idle gap)
        await asyncio.sleep(0.05)
        stats = await wait_idle(client)
    return stats


def _read_code_actions_right(client: Any) -> None:
    """lsprotocol's client-side hook reads any code action that has a `command` as a bare
    Command, dropping its edit; a bare Command is the one whose `command` is a string."""
    conv = client.protocol._converter

    def hook(obj: Any, _: Any) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return conv.structure(obj, kind)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def code_actions(client: Any, uri: str, line: int, col: int = 6) -> list[dict[str, Any]]:
    _read_code_actions_right(client)
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line, col), end=types.Position(line, col)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    return client.protocol._converter.unstructure(result) or []


async def execute(client: Any, command: str, args: dict[str, Any]) -> Any:
    return to_plain(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[args])
        )
    )


@pytest.mark.parametrize("caps", ["visual-studio-code", "neovim"])
async def test_learn_offer_apply_and_record(workspace: Path, home: Path, caps: str) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, capabilities=caps, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        stats = await learn(client, doc)
        assert stats["episodes"]["edit"] == 2 and stats["skills"] == 1

        actions = await code_actions(client, uri, site(2))
        here = [a for a in actions if a["title"].startswith("Apply skill: ")]
        assert here and here[0]["kind"] == "refactor.rewrite.kenetic"
        assert here[0]["title"] == "Apply skill: print(…) → logger.info(…)"
        assert here[0]["command"]["command"] == "kenetic.recordOutcome"
        doc.apply(here[0]["edit"])
        await execute(client, "kenetic.recordOutcome", here[0]["command"]["arguments"][0])
        assert "    logger.info(v2)\n" in doc.text
        stats = await wait_idle(client)
        assert stats["outcomes"]["accepted"] == 1 and stats["outcomes"]["shown"] >= 1

        nxt = await request(
            client,
            "kenetic/nextEdits",
            {"textDocument": {"uri": uri}, "position": {"line": site(2), "character": 4}},
        )
        lines = sorted(e["range"]["start"]["line"] for e in nxt["edits"])
        assert lines == [site(3), site(4), site(5)]
        assert all(e["newText"] == "logger.info" and e["suggestionId"] for e in nxt["edits"])

        # the in-file action is counted in the background: ask again
        for _ in range(40):
            actions = await code_actions(client, uri, site(3))
            whole = [a for a in actions if a["title"].startswith("Apply skill in file")]
            if whole:
                break
            await asyncio.sleep(0.3)  # counted once the client is quiet for a moment
        assert whole[0]["title"] == "Apply skill in file (3 places): print(…) → logger.info(…)"
        if "edit" not in whole[0] or whole[0]["edit"] is None:
            resolved = client.protocol._converter.unstructure(
                await client.code_action_resolve_async(
                    types.CodeAction(
                        title=whole[0]["title"], kind=whole[0]["kind"], data=whole[0]["data"]
                    )
                )
            )
            whole[0]["edit"] = resolved["edit"]
        assert len(whole[0]["edit"]["changes"][uri]) == 3


async def test_inline_completion_and_undo(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        doc = Doc(client, uri, SOURCE)
        await learn(client, doc)
        line = site(4)
        doc.edit((line, 4), (line, 9), "")  # the developer starts the edit by hand
        doc.edit((line, 4), (line, 4), "logger.")
        result = client.protocol._converter.unstructure(
            await client.text_document_inline_completion_async(
                types.InlineCompletionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line, 11),
                    context=types.InlineCompletionContext(
                        trigger_kind=types.InlineCompletionTriggerKind.Automatic
                    ),
                )
            )
        )
        item = result["items"][0]
        assert item["insertText"] == "info"
        doc.edit(_pos(item["range"]["start"]), _pos(item["range"]["end"]), item["insertText"])
        assert "    logger.info(v4)\n" in doc.text
        await execute(client, "kenetic.recordOutcome", item["command"]["arguments"][0])
        doc.edit((line, 4), (line, 15), "print")  # undo within 30 s
        stats = await wait_idle(client)
        assert stats["outcomes"]["accepted"] == 1 and stats["outcomes"]["undone"] == 1


async def test_ignored_files_never_learn_nor_receive(workspace: Path, home: Path) -> None:
    (workspace / ".gitignore").write_text("private.py\n")
    private, public = workspace / "private.py", workspace / "app.py"
    private.write_text(SOURCE)
    public.write_text(SOURCE)
    async with lsp_session([workspace], home, init_options=FAST) as client:
        hidden = Doc(client, private.as_uri(), SOURCE)
        stats = await learn(client, hidden)
        assert stats["episodes"]["edit"] == 0 and stats["skills"] == 0
        doc = Doc(client, public.as_uri(), SOURCE)
        assert (await learn(client, doc))["skills"] == 1
        assert await code_actions(client, private.as_uri(), site(3)) == []
        assert await code_actions(client, public.as_uri(), site(3))
        nxt = await request(client, "kenetic/nextEdits", {"textDocument": {"uri": public.as_uri()}})
        assert nxt["edits"] and all(e["uri"] == public.as_uri() for e in nxt["edits"])


async def test_skills_survive_restart_and_manage(workspace: Path, home: Path) -> None:
    path = workspace / "app.py"
    path.write_text(SOURCE)
    uri = path.as_uri()
    async with lsp_session([workspace], home, init_options=FAST) as client:
        await learn(client, Doc(client, uri, SOURCE))
    async with lsp_session([workspace], home, init_options=FAST) as client:
        stats = await wait_idle(client)
        assert stats["skills"] == 1
        doc = Doc(client, uri, SOURCE)  # the edits were never saved: six sites again
        skills = (await request(client, "kenetic/skills", {}))["skills"]
        assert skills[0]["support"] == 2 and skills[0]["before"] == "print($h0)"
        sid = skills[0]["id"]
        card = await request(client, "kenetic/skill", {"id": sid})
        afters = [e["after"] for e in card["examples"]]
        assert afters == ["    logger.info(v0)\n", "    logger.info(v1)\n"]
        assert card["outcomes"] == {"shown": 0, "accepted": 0, "rejected": 0, "undone": 0}
        assert await code_actions(client, uri, site(2))
        await execute(client, "kenetic.renameSkill", {"id": sid, "name": "use the logger"})
        actions = await code_actions(client, uri, site(2))
        assert actions[0]["title"] == "Apply skill: use the logger"

        applied: list[types.WorkspaceEdit] = []

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            applied.append(params.edit)
            return types.ApplyWorkspaceEditResult(applied=True)

        result = await execute(
            client, "kenetic.applySkill", {"id": sid, "uri": uri, "scope": "file"}
        )
        assert result["applied"] and result["edits"] == 6 and len(applied) == 1
        doc.apply(client.protocol._converter.unstructure(applied[0]))
        assert doc.text.count("logger.info(") == 6

        assert (await execute(client, "kenetic.deleteSkill", {"id": sid}))["deleted"]
        assert (await wait_idle(client))["skills"] == 0
    async with lsp_session([workspace], home, init_options=FAST) as client:
        assert (await wait_idle(client))["skills"] == 0  # deleted stays deleted


async def test_user_scope_shares_skills_across_workspaces(tmp_path: Path, home: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.py").write_text(SOURCE)
    (two / "b.py").write_text(SOURCE)
    options = {**FAST, "skills": {"scope": "user"}}
    async with lsp_session([one], home, init_options=options) as client:
        await learn(client, Doc(client, (one / "a.py").as_uri(), SOURCE))
    async with lsp_session([two], home, init_options=options) as client:
        Doc(client, (two / "b.py").as_uri(), SOURCE)
        deadline = time.monotonic() + 10
        while not (actions := await code_actions(client, (two / "b.py").as_uri(), site(1))):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        assert actions[0]["title"].startswith("Apply skill: print")


BAD = {
    "kenetic/nextEdits": [
        {},
        {"textDocument": {"uri": 1}},
        {"textDocument": {"uri": "f"}, "junk": 1},
        {"textDocument": {"uri": "f"}, "limit": "x"},
        [1],
    ],
    "kenetic/skills": [{"limit": "ten"}, {"language": 3}, {"junk": True}, {"limit": 0}],
    "kenetic/skill": [{}, {"id": 5}, {"id": "x", "junk": 1}, "junk"],
}
BAD_COMMANDS = {
    "kenetic.recordOutcome": [{}, {"suggestionId": 3}, {"suggestionId": "a", "junk": 1}],
    "kenetic.deleteSkill": [{}, {"id": []}, {"id": "a", "x": 1}],
    "kenetic.renameSkill": [{"id": "a"}, {"id": "a", "name": 2}, {"id": "a", "name": "b", "c": 1}],
    "kenetic.applySkill": [{"id": "a"}, {"id": "a", "uri": "u", "scope": "galaxy"},
                           {"id": "a", "uri": "u", "junk": 1}, {"id": "nope", "uri": "u"}],
}  # fmt: skip


async def test_custom_methods_and_commands_answer_invalid_params(
    workspace: Path, home: Path
) -> None:
    async with lsp_session([workspace], home) as client:
        for method, bads in BAD.items():
            for bad in bads:
                with pytest.raises(JsonRpcInvalidParams):
                    await request(client, method, bad)
        for command, bads in BAD_COMMANDS.items():
            for bad in bads:
                with pytest.raises(JsonRpcInvalidParams):
                    await execute(client, command, bad)
        assert (await request(client, "kenetic/stats", {}))["pending"] == 0
