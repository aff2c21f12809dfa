"""Skills as LSP features: code actions, inline completions, next edits, and skill management.

The handlers are thin: the work lives in server.suggest. Mining is wired to capture here: the
recorder calls `on_stored` once an edit episode commits, and each didChange content change goes
through `on_change` (baselines for inline completion, undo detection).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol import JsonRPCResponseMessage

from server.features.capture import CaptureService
from server.features.memory import MemoryService
from server.features.patterns import pattern_actions
from server.protocol import (
    ApplySkillParams,
    DeleteSkillParams,
    ExportSkillParams,
    NextEditsParams,
    RecordOutcomeParams,
    RenameSkillParams,
    SkillParams,
    SkillsParams,
    ToggleSuggestionsParams,
    validate,
    validate_command_args,
)
from server.server import KeneticServer  # at run time: pygls reads command annotations
from server.suggest import actions, apply, cards, scan
from server.suggest.service import KIND, SuggestService

log = logging.getLogger(__name__)


def _resolves_edit(ls: KeneticServer) -> bool:
    """Does the client fill a code action's edit in through codeAction/resolve?"""
    try:
        support = ls.client_capabilities.text_document.code_action.resolve_support  # type: ignore[union-attr]
    except AttributeError:
        return False
    return support is not None and "edit" in (support.properties or [])


def _warm_protocol(ls: KeneticServer) -> None:
    """Have the protocol's converter make its functions for the hot requests' messages now.
    cattrs writes and compiles the (un)structure function of each message type on first use:
    that cost the first code action of every session ~4 ms to read its request and 5-10 ms to
    write its answer (its first inline completion and didChange alike)."""
    proto = ls.protocol
    uri = "file:///kenetic-warm-up.py"
    zero = {"line": 0, "character": 0}
    rng = {"start": zero, "end": zero}
    doc = {"uri": uri}
    requests = [
        (types.TEXT_DOCUMENT_CODE_ACTION,
         {"textDocument": doc, "range": rng, "context": {"diagnostics": []}}),
        (types.CODE_ACTION_RESOLVE, {"title": "", "kind": KIND, "data": {"suggestionId": ""}}),
        (types.TEXT_DOCUMENT_INLINE_COMPLETION,
         {"textDocument": doc, "position": zero, "context": {"triggerKind": 2}}),
        (types.TEXT_DOCUMENT_DID_CHANGE,
         {"textDocument": {**doc, "version": 1}, "contentChanges": [{"range": rng, "text": ""}]}),
    ]  # fmt: skip
    command = types.Command(title="", command="kenetic.recordOutcome", arguments=[{"a": ""}])
    zero_range = types.Range(start=types.Position(0, 0), end=types.Position(0, 0))
    edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(range=zero_range, new_text="")]})
    action = types.CodeAction(title="", kind=KIND, edit=edit, command=command, is_preferred=True,
                              data={"suggestionId": ""})  # fmt: skip
    item = types.InlineCompletionItem(insert_text="", range=zero_range, command=command)
    results = [[action], action, types.InlineCompletionList(items=[item])]
    try:
        for method, params in requests:  # as the reader does (server.framing)
            message = {"jsonrpc": "2.0", "method": method, "params": params}
            if method != types.TEXT_DOCUMENT_DID_CHANGE:
                message["id"] = "kenetic-warm-up"
            json.loads(json.dumps(message), object_hook=proto.structure_message)
        for result in results:  # as pygls writes an answer (JsonRPCProtocol._send_response)
            response = JsonRPCResponseMessage(id="kenetic-warm-up", jsonrpc="2.0", result=result)
            json.dumps(response, default=proto._serialize_message)
    except Exception:  # only ever an optimisation: the first request makes them instead
        log.debug("warming the protocol converter failed", exc_info=True)


def _hook_capture(server: KeneticServer, service: SuggestService, files: actions.FileSites) -> None:
    """Chain onto capture's per-change and close hooks and the recorder's stored-episode hook."""
    capture = server.service(CaptureService)
    capture.recorder.on_stored = service.on_stored
    on_change = capture.on_change

    def chained(uri: str, version: int, before: str, after: str, change: Any) -> None:
        on_change(uri, version, before, after, change)
        service.on_change(uri, before, after, change)

    capture.on_change = chained  # type: ignore[method-assign]
    on_close = capture.on_close

    def closed(uri: str) -> None:
        on_close(uri)
        service.on_close(uri)
        files.forget(uri)

    capture.on_close = closed  # type: ignore[method-assign]
    on_open = capture.on_open

    def opened(item: types.TextDocumentItem) -> None:
        on_open(item)
        service.on_open(item.uri)

    capture.on_open = opened  # type: ignore[method-assign]
    stop = capture.stop

    def stop_too() -> None:
        # shutdown stops capture first: let the last episodes be mined before stores close
        stop()
        service.drain(timeout=5.0)

    capture.stop = stop_too  # type: ignore[method-assign]


def setup(server: KeneticServer) -> None:
    service = server.attach(SuggestService(server))
    files = server.attach(actions.FileSites(service))
    _hook_capture(server, service, files)

    @server.feature(types.INITIALIZED)
    def initialized(ls: KeneticServer, params: types.InitializedParams) -> None:
        """Load every folder's skills in the background."""
        service.progress.bind()  # mining reports $/progress through the event loop
        service.open_all()
        _warm_protocol(ls)  # before the freeze: the functions it makes live as long
        # The ~100k objects of the modules loaded by now live as long as the process; left in
        # the collector's oldest generation, every full collection walks them (100-150 ms on a
        # small machine), in whichever thread allocates: often the nextEdits scan. Frozen, a
        # full collection walks only what was made since.
        gc.freeze()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[KIND], resolve_provider=True),
    )
    def code_action(
        ls: KeneticServer, params: types.CodeActionParams
    ) -> list[types.CodeAction] | None:
        """Apply-skill actions at the cursor (and in the whole file), then pattern actions."""
        found = None
        if service.gate.allows(params.text_document.uri):  # suggest.* settings, the toggle
            found = actions.code_actions(service, files, params, _resolves_edit(ls))
        found = (found or []) + pattern_actions(ls, params)
        return found or None

    @server.feature(types.CODE_ACTION_RESOLVE)
    def code_action_resolve(ls: KeneticServer, params: types.CodeAction) -> types.CodeAction:
        """Fill in the edit of an "Apply skill in file" action."""
        return actions.resolve(service, files, params)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    def inline_completion(
        ls: KeneticServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList | None:
        """The rest of a skill's rewrite the developer has started typing."""
        if not service.gate.allows(params.text_document.uri):
            return None  # suggest.* settings, kenetic.toggleSuggestions
        if ls.service(MemoryService).quiet(params.text_document.uri):
            return None  # the ALS's cool-down after a run of rejections (docs/memory.md)
        return actions.inline_completions(service, params)

    @server.feature("kenetic/nextEdits")
    async def next_edits(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """The other places the skill just used (or a strong skill) applies, best first."""
        p = validate(NextEditsParams, params)
        if not service.gate.allows(p.text_document.uri):
            return {"edits": []}  # suggest.* settings, kenetic.toggleSuggestions
        if ls.service(MemoryService).quiet(p.text_document.uri):
            return {"edits": [], "quiet": True}  # the ALS's cool-down (docs/memory.md)
        pos = (p.position.line, p.position.character) if p.position else None
        return await scan.next_edits(service, p.text_document.uri, pos, p.limit)

    @server.feature("kenetic/skills")
    def skills(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """The learned skills, most supported first."""
        p = validate(SkillsParams, params)
        return {"skills": cards.list_skills(service, p.language, p.limit)}

    @server.feature("kenetic/skill")
    async def skill(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """One skill's card: templates, examples, support, outcomes."""
        p = validate(SkillParams, params)
        card = await cards.card(service, p.id)
        if card is None:
            raise JsonRpcInvalidParams(f"no skill {p.id!r}")
        return card

    @server.command("kenetic.recordOutcome")
    def record_outcome(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """A suggestion was accepted (the command every kenetic item carries)."""
        p = validate_command_args(RecordOutcomeParams, list(args))
        return service.record_outcome(p.suggestion_id, p.outcome)

    @server.command("kenetic.toggleSuggestions")
    def toggle_suggestions(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Suggestions on or off for one document (with a uri) or the session (without)."""
        p = validate_command_args(ToggleSuggestionsParams, list(args))
        return {"enabled": service.gate.toggle(p.uri, p.enabled), "uri": p.uri}

    @server.command("kenetic.deleteSkill")
    def delete_skill(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Stop offering a skill (it is not learned again from the same edits)."""
        p = validate_command_args(DeleteSkillParams, list(args))
        # an id that names no (live) skill is InvalidParams, as in every method taking an id
        if not service.delete_skill(p.id):
            raise JsonRpcInvalidParams(f"no skill {p.id!r}")
        return {"deleted": True}

    @server.command("kenetic.renameSkill")
    def rename_skill(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Give a skill a name of the developer's choosing."""
        p = validate_command_args(RenameSkillParams, list(args))
        if not service.rename_skill(p.id, p.name):
            raise JsonRpcInvalidParams(f"no skill {p.id!r}")
        return {"renamed": True}

    @server.command("kenetic.exportSkill")
    async def export_skill(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Write a skill as an ast-grep or semgrep rule (with its test) into the workspace."""
        p = validate_command_args(ExportSkillParams, list(args))
        return await export_rule(ls, service, p)

    @server.command("kenetic.applySkill")
    async def apply_skill(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Apply a skill here, in a file or in the workspace, through workspace/applyEdit."""
        p = validate_command_args(ApplySkillParams, list(args))
        return await apply.apply_skill(ls, service, p)


async def export_rule(
    ls: KeneticServer, service: SuggestService, p: ExportSkillParams
) -> dict[str, Any]:
    """Write one skill's rule files into its workspace folder (.kenetic/rules/ unless p.dir)."""
    from memory.export.workspace import write_skills
    from server.workspaces import uri_to_path

    lib = service.find_skill(p.skill_id)
    stored = lib.get(p.skill_id) if lib is not None else None
    if lib is None or stored is None or stored.deleted:
        raise JsonRpcInvalidParams(f"no skill {p.skill_id!r}")
    root = uri_to_path(lib.name) if lib.name != "user" else None
    if root is None:  # a user-store skill goes to the first workspace folder
        roots = [f.path for f in ls.workspaces.all() if f.path is not None]
        root = roots[0] if roots else None
    folder = Path(p.dir).expanduser() if p.dir else None
    if folder is None or not folder.is_absolute():
        if root is None:
            raise JsonRpcInvalidParams(
                "no workspace folder to write the rule into: give an absolute dir"
            )
        folder = root / (folder if folder is not None else Path(".kenetic") / "rules")
    with lib.lock:
        skill = stored.skill
    try:
        done = await asyncio.to_thread(write_skills, lib.store, p.format, folder, [skill])
    except OSError as exc:
        raise JsonRpcInvalidParams(f"cannot write into {folder}: {exc}") from exc
    result = done.to_json()
    result["skill"] = result["skills"][0]
    del result["skills"]
    return result
