"""What the editor lends an agent task: progress, confirmations, edits, undo, memory.

`task_callbacks` builds the AgentCallbacks of one task: edits go out as `workspace/applyEdit`
(undoable there), commands wait for `window/showMessageRequest`, open documents are read with
their unsaved text, and recall and skills come from the server's memory and suggestions. `Progress`
reports `$/progress` (cancellable); `UndoWatch` turns a task whose edit the user undid into a
failure. server.agent is imported inside the functions, on a task's first use.
"""

from __future__ import annotations

import logging
import time
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types

from server.capture.privacy import redact
from server.features.capture import CaptureService
from server.features.memory import MemoryService
from server.suggest.cards import list_skills
from server.suggest.service import SuggestService

if TYPE_CHECKING:
    from server.server import KeneticServer
    from server.workspaces import Folder

log = logging.getLogger(__name__)

UNDO_WINDOW_S = 600.0  # an agent edit undone within this is the task's failure


@cache
def _converter() -> Any:
    from lsprotocol import converters

    return converters.get_converter()


def capability(ls: KeneticServer, *path: str) -> bool:
    node: Any = ls.client_capabilities
    for name in path:
        node = getattr(node, name, None)
        if node is None:
            return False
    return bool(node)


class Progress:
    """Work-done progress for one task; silent when the client cannot show it."""

    def __init__(self, ls: KeneticServer, token: str | int | None, max_steps: int) -> None:
        self.ls = ls
        self.given = token is not None
        self.token = token if token is not None else f"kenetic-agent-{uuid.uuid4().hex[:12]}"
        self.max_steps = max_steps
        self.on = False

    async def begin(self, title: str, message: str) -> None:
        if not self.given:
            if not capability(self.ls, "window", "work_done_progress"):
                return
            try:
                await self.ls.work_done_progress.create_async(self.token)
            except Exception as exc:  # a client that refuses progress still gets its task
                log.info("work done progress refused: %s", exc)
                return
        self.on = True
        self.ls.work_done_progress.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title=title, message=message[:200], cancellable=True, percentage=0
            ),
        )

    def report(self, step: int, message: str) -> None:
        if self.on:
            self.ls.work_done_progress.report(
                self.token,
                types.WorkDoneProgressReport(
                    message=f"step {step}: {message}"[:200],
                    percentage=min(99, step * 100 // max(1, self.max_steps)),
                ),
            )

    def cancelled(self) -> bool:
        future = self.ls.work_done_progress.tokens.get(self.token)
        return future is not None and future.cancelled()

    def end(self, message: str) -> None:
        if self.on:
            self.on = False
            self.ls.work_done_progress.end(
                self.token, types.WorkDoneProgressEnd(message=message[:200])
            )
        self.ls.work_done_progress.tokens.pop(self.token, None)


class UndoWatch:
    """Agent edits of open documents; one undone back to its text before the task fails it."""

    def __init__(self, ls: KeneticServer) -> None:
        self.ls = ls
        # uri -> (text before the task's first edit, episode id, deadline)
        self.watching: dict[str, tuple[str, int, float]] = {}

    def hook(self) -> None:
        capture = self.ls.service(CaptureService)
        on_change = capture.on_change

        def chained(uri: str, version: int, before: str, after: str, change: Any) -> None:
            on_change(uri, version, before, after, change)
            self.on_change(uri, after)

        capture.on_change = chained  # type: ignore[method-assign]

    def watch(self, originals: dict[str, str], episode_id: int) -> None:
        deadline = time.monotonic() + UNDO_WINDOW_S
        for uri, text in originals.items():
            self.watching[uri] = (text, episode_id, deadline)

    def on_change(self, uri: str, after: str) -> None:
        entry = self.watching.get(uri)
        if entry is None:
            return
        original, episode_id, deadline = entry
        if time.monotonic() > deadline:
            del self.watching[uri]
        elif after == original:
            del self.watching[uri]
            self.mark_undone(uri, episode_id)

    def mark_undone(self, uri: str, episode_id: int) -> None:
        folder = self.ls.workspaces.folder_for(uri)
        if folder is None or folder.store is None:
            return
        log.info("agent edit of %s undone: episode %d is a failure", uri, episode_id)
        folder.store.execute_later(
            "UPDATE episodes SET data = json_set(data, '$.outcome', 'failure',"
            " '$.reason', 'undone', '$.undoneAt', ?) WHERE id = ? AND kind = 'agent'",
            (time.time(), episode_id),
        )


def brief(hit: dict[str, Any]) -> dict[str, Any]:
    item = hit.get("item") or {}
    return {
        "node": item.get("node"),
        "kind": item.get("kind"),
        "text": str(item.get("text", ""))[:600],
        "score": hit.get("score"),
    }


def versioned(edit: dict[str, Any], versions: dict[str, int | None]) -> dict[str, Any]:
    """`changes` as `documentChanges`: one TextDocumentEdit per document, carrying the version
    of the text the edit was computed from (None for a document that was not open), so the
    editor refuses the edit rather than clobber a buffer that changed meanwhile."""
    changes = edit.get("changes") or {}
    if not changes:
        return edit
    documents = [
        {"textDocument": {"uri": uri, "version": versions.get(unquote(uri))}, "edits": edits}
        for uri, edits in changes.items()
    ]
    rest = {k: v for k, v in edit.items() if k != "changes"}
    return {**rest, "documentChanges": [*(rest.get("documentChanges") or []), *documents]}


def task_callbacks(ls: KeneticServer, folder: Folder, progress: Progress, originals: dict) -> Any:
    from server.agent import AgentCallbacks

    # uri -> the version of the open document's text last handed to the agent
    seen: dict[str, int | None] = {}

    def document_text(uri: str) -> str | None:
        doc = ls.workspace.text_documents.get(unquote(uri))
        if doc is None:
            return None
        seen[unquote(uri)] = doc.version
        return doc.source

    async def apply_edit(edit: dict[str, Any]) -> bool:
        documents = [
            c["textDocument"]["uri"]
            for c in edit.get("documentChanges") or []
            if "textDocument" in c
        ]
        uris = [*(edit.get("changes") or {}), *documents]
        for uri in uris:
            doc = ls.workspace.text_documents.get(unquote(uri))
            if doc is not None:
                originals.setdefault(unquote(uri), doc.source)
        if capability(ls, "workspace", "workspace_edit", "document_changes"):
            edit = versioned(edit, seen)
        try:
            result = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(
                    edit=_converter().structure(edit, types.WorkspaceEdit), label="kenetic agent"
                )
            )
        except Exception as exc:
            log.warning("workspace/applyEdit failed: %s", exc)
            return False
        return bool(result and result.applied)

    async def confirm(message: str, actions: list[str]) -> str | None:
        try:
            chosen = await ls.window_show_message_request_async(
                types.ShowMessageRequestParams(
                    type=types.MessageType.Warning,
                    message=message,
                    actions=[types.MessageActionItem(title=a) for a in actions],
                )
            )
        except Exception as exc:  # no answer is "Don't run"
            log.warning("window/showMessageRequest failed: %s", exc)
            return None
        return chosen.title if chosen is not None else None

    async def recall(query: str, k: int) -> list[dict[str, Any]]:
        kept = redact(query, "task")[0]  # the query is kept in memory's moments
        found = await ls.service(MemoryService).call(
            folder.uri, lambda m: m.recall(kept, k, ["episode"], trigger="kenetic/agent/run")
        )
        return [brief(h) for h in found["items"]]

    suggest = ls.find(SuggestService)

    def skills() -> list[dict[str, Any]]:
        return list_skills(suggest, None, 100) if suggest is not None else []

    async def apply_skill(id: str, uri: str, scope: str = "here") -> dict[str, Any]:  # noqa: A002
        from server.protocol import ApplySkillParams
        from server.suggest import apply

        assert suggest is not None
        params = ApplySkillParams.model_validate({"id": id, "uri": uri, "scope": scope})
        return await apply.apply_skill(ls, suggest, params)

    return AgentCallbacks(
        apply_edit=apply_edit if capability(ls, "workspace", "apply_edit") else None,
        confirm=confirm,
        progress=progress.report,
        is_cancelled=progress.cancelled,
        recall=recall,
        skills=skills,
        apply_skill=apply_skill if suggest is not None else None,
        document_text=document_text,
    )
