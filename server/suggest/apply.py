"""kenetic.applySkill: apply one skill here, in a file, or across the workspace.

The edit goes to the client through workspace/applyEdit, so the editor applies it (and can undo
it); when the client applies it, each file's rewrite is recorded as an accepted suggestion.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from memory.skills.matching import SkillIndex
from server.protocol import ApplySkillParams
from server.suggest.documents import line_offsets
from server.suggest.library import copy_skill
from server.suggest.scan import Found, _sources, scan
from server.suggest.service import SuggestService, client_range
from server.suggest.sites import at_lines

if TYPE_CHECKING:
    from server.server import KeneticServer


def _here(service: SuggestService, p: ApplySkillParams, skill: Any) -> list[Found]:
    found_doc = service.document(p.uri)
    if found_doc is None:
        raise JsonRpcInvalidParams(f"{p.uri} is not an open document kenetic may suggest in")
    if p.position is None:
        raise JsonRpcInvalidParams("scope 'here' needs a position")
    doc, snap, _ = found_doc
    pos = doc.position_codec.position_from_client_units(
        snap.lines, types.Position(p.position.line, p.position.character)
    )
    matches = at_lines(SkillIndex([skill]), snap, pos.line, pos.line)
    matches.sort(key=lambda m: abs(m.start_char - pos.character))
    return [Found(unquote(p.uri), m, snap.lines, snap.offsets, doc.version) for m in matches[:1]]


async def apply_skill(ls: KeneticServer, service: SuggestService, p: ApplySkillParams) -> dict:
    lib = service.find_skill(p.id)
    if lib is None:
        raise JsonRpcInvalidParams(f"no skill {p.id!r}")
    stored = lib.get(p.id)
    assert stored is not None
    with lib.lock:
        skill = copy_skill(stored.skill)
    if p.scope == "here":
        found = _here(service, p, skill)
    else:
        key = unquote(p.uri)
        folder = ls.workspaces.folder_for(key)
        if folder is None or not service.allowed(key):
            raise JsonRpcInvalidParams(f"{p.uri} is outside the workspace or ignored")
        sources = [s for s in _sources(service, key, skill.language, folder)]
        if p.scope == "file":
            sources = [s for s in sources if s[0] == key]
            if not sources:
                raise JsonRpcInvalidParams(f"{p.uri} is not an open document of {skill.language}")
        bounds = folder.settings.skills.next_edits
        import asyncio

        found = await asyncio.to_thread(
            scan,
            [skill],
            skill.language,
            sources,
            folder if p.scope == "workspace" else None,
            max_files=bounds.max_files,
            max_bytes=bounds.max_file_bytes,
            deadline=time.monotonic() + max(10.0, bounds.time_budget_ms / 1000),
            disk=service.disk_trees,
        )
    if not found:
        return {"applied": 0, "edits": 0, "files": 0, "suggestionIds": []}
    codec = ls.workspace.position_codec
    by_uri: dict[str, list[Found]] = {}
    for f in found:
        by_uri.setdefault(f.uri, []).append(f)
    changes = {
        uri: [types.TextEdit(range=client_range(codec, f.lines, f.match), new_text=f.match.new_text)
              for f in fs]
        for uri, fs in by_uri.items()
    }  # fmt: skip
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=types.WorkspaceEdit(changes=changes), label=f"kenetic: {stored.skill.name}"
        )
    )
    applied = bool(getattr(result, "applied", False))
    ids: list[str] = []
    batch = service.suggestions.new_batch()
    for uri, fs in by_uri.items():
        sug = service.offer(
            lib, "apply", uri, None, fs[0].version, [f.match for f in fs], 1.0, batch,
            offsets=fs[0].offsets or line_offsets(fs[0].lines), exclusive=False,
        )  # fmt: skip
        ids.append(sug.id)
        if applied:
            doc = ls.workspace.text_documents.get(uri)
            service.suggestions.accept(sug, doc.source if doc is not None else None)
        else:
            service.suggestions.reject(sug)
    # "applied": the places changed (0 when the client did not apply the edit)
    places = len(found) if applied else 0
    return {"applied": places, "edits": len(found), "files": len(by_uri), "suggestionIds": ids}
