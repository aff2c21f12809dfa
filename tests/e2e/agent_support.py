"""What the agent's end-to-end tests share: the loopback LLM (tests/agent/conftest.py) as a
fixture, the editor's side of the agent (applyEdit, confirmations) and a small project."""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import pytest
from lsprotocol import types

from tests.agent.conftest import FakeHTTP, apply_to_disk
from tests.agent.wire import tool_use
from tests.e2e.conftest import open_doc, request, wait_idle

CALC = "def add(a, b):\n    return a - b\n"
CHECK = f"{sys.executable} -c \"import calc; assert calc.add(2, 3) == 5; print('ok')\""
WITH_KEY = {"ANTHROPIC_API_KEY": "test", "OLLAMA_HOST": ""}
NO_PROVIDER = {"ANTHROPIC_API_KEY": "", "OLLAMA_HOST": ""}


@pytest.fixture
def fake() -> Iterator[FakeHTTP]:
    """The loopback LLM server of tests/agent (its own fixture is local to that folder)."""
    with FakeHTTP().running() as server:
        yield server


def call(id_: str, name: str, **args: Any) -> tuple[str, ...]:
    raw = json.dumps(args)
    return tool_use(id_, name, raw[:5], raw[5:])


def options(fake: FakeHTTP, **agent: Any) -> dict[str, Any]:
    return {
        "capture": {"idleGapMs": 100},
        "agent": {"anthropic": {"baseUrl": fake.url}, "retries": 0, **agent},
    }


class Editor:
    """The client's side of the agent: applies edits (open copy via didChange, and disk)."""

    def __init__(self, client: Any, answers: list[str | None] | None = None) -> None:
        self.client = client
        self.answers: deque[str | None] = deque(answers or [])
        self.edits: list[dict[str, Any]] = []
        self.confirms: list[str] = []
        self.docs: dict[str, list[Any]] = {}  # uri -> [path, version]
        self.on_confirm: Any = None

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            edit = client.protocol._converter.unstructure(params.edit)
            self.edits.append(edit)
            apply_to_disk(edit)  # the editor saves what it applied
            touched = set(edit.get("changes") or {}) | {
                d["textDocument"]["uri"] for d in edit.get("documentChanges") or [] if "edits" in d
            }
            for uri, doc in self.docs.items():
                if uri not in touched:
                    continue
                doc[1] += 1
                client.text_document_did_change(
                    types.DidChangeTextDocumentParams(
                        text_document=types.VersionedTextDocumentIdentifier(
                            uri=uri, version=doc[1]
                        ),
                        content_changes=[
                            types.TextDocumentContentChangeWholeDocument(text=doc[0].read_text())
                        ],
                    )
                )
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def confirm(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
            self.confirms.append(params.message)
            if self.on_confirm is not None:
                self.on_confirm()
            answer = self.answers.popleft() if self.answers else None
            return types.MessageActionItem(title=answer) if answer else None

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        open_doc(self.client, uri, path.read_text())
        self.docs[uri] = [path, 1]
        return uri


def project(workspace: Path) -> Path:
    (workspace / "pkg").mkdir()
    calc = workspace / "pkg" / "calc.py"
    calc.write_text(CALC)
    (workspace / "KENETIC.md").write_text("# Notes\n\nRun the calc check after every edit.\n")
    return calc


def code_actions_keep_commands(client: Any) -> None:
    """lsprotocol's client hook reads a code action carrying a `command` as a bare Command;
    a bare Command is the one whose `command` is a string."""
    conv = client.protocol._converter

    def hook(obj: Any, _: Any) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return conv.structure(obj, kind)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def episodes(client: Any) -> list[dict[str, Any]]:
    await wait_idle(client)
    return (await request(client, "kenetic/episodes", {"kind": "agent"}))["episodes"]
