"""Skill suggestions as code actions and inline completions (the fast clock: index lookups only).

A code action request matches the libraries' indexes against the top-level chunk under the
cursor (server.suggest.sites), so its cost does not grow with the file. The "in file" action
needs every site in the file: server.suggest.filesites counts them within the request for a
small file, else in the background (the action is then offered from the next request on).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types

from memory.skills.matching import Match, apply_match
from memory.skills.syntax import parse
from memory.skills.transforms import common_ends
from server.suggest.documents import (
    MAX_CHUNK_LINES,
    Baseline,
    Snapshot,
    line_offsets,
    offset_of,
    split_lines,
)
from server.suggest.filesites import CLOCK, INLINE_BUDGET_S, FileSites
from server.suggest.library import Library
from server.suggest.service import KIND, SuggestService, client_range
from server.suggest.sites import at_cursor_each, run_around

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

log = logging.getLogger(__name__)


def record_command(suggestion_id: str) -> types.Command:
    return types.Command(
        title="kenetic: record outcome",
        command="kenetic.recordOutcome",
        arguments=[{"suggestionId": suggestion_id}],
    )


def workspace_edit(
    uri: str, lines: list[str], codec: Any, matches: list[Match]
) -> types.WorkspaceEdit:
    edits = [
        types.TextEdit(range=client_range(codec, lines, m), new_text=m.new_text) for m in matches
    ]
    return types.WorkspaceEdit(changes={uri: edits})


def code_actions(
    service: SuggestService,
    files: FileSites,
    params: types.CodeActionParams,
    resolve_edit: bool,
) -> list[types.CodeAction] | None:
    """Apply-skill actions for the sites under the cursor or selection, best first."""
    uri = params.text_document.uri
    if params.context.only and not any(KIND.startswith(k) for k in params.context.only):
        return None
    found_doc = service.document(uri)
    if found_doc is None:
        return None
    doc, snap, libs = found_doc
    lo, hi = params.range.start.line, params.range.end.line
    if hi > lo and params.range.end.character == 0:
        hi -= 1  # a selection of whole lines ends at column 0 of the next line
    found: list[tuple[Library, Match]] = []
    seen: set[tuple[str, int, int]] = set()
    # two hypotheses of one rewrite (the statement's and the changed subtree's) often make the
    # same change at a site: one action for it, the trusted one when one is
    effects: set[tuple[int, int, str, str]] = set()
    held: set[str] = set()
    for lib in libs:
        with lib.lock:
            matches, waiting = at_cursor_each([lib.index, lib.held_back], snap, lo, hi)
        held.update(m.skill_id for m in waiting)
        for m in [*matches, *waiting]:
            key = (m.skill_id, m.start_line, m.start_char)
            if service.gate.blocked(uri, m, snap.lines, snap.offsets):
                continue  # dismissed by the developer, or it would undo their recent edit
            if key not in seen:
                seen.add(key)
                effect = _effect(m)
                if effect not in effects:
                    effects.add(effect)
                    found.append((lib, m))
    if not found:
        return None
    folder = service.server.workspaces.folder_for(uri)
    limit = folder.settings.skills.max_actions if folder else 5
    batch = service.suggestions.new_batch()
    ranked = service.rank("codeAction", uri, snap.language, found, lo, batch=batch, snap=snap)
    # a skill still waiting for examples comes after every trusted one
    ranked.sort(key=lambda r: r[1].skill_id in held)
    try:
        return _actions(service, files, uri, doc, snap, ranked[:limit], batch, resolve_edit, held)
    finally:
        service.end_batch(batch)


def _effect(m: Match) -> tuple[int, int, str, str]:
    """What a match changes, whatever span its skill matched: where the text it replaces and
    the text it writes first differ, and what they are from there to where they agree again."""
    old, new = m.old_text, m.new_text
    p, s = common_ends(old, new)
    head = old[:p]
    line = m.start_line + head.count("\n")
    char = len(head) - head.rfind("\n") - 1 if "\n" in head else m.start_char + p
    return line, char, old[p : len(old) - s], new[p : len(new) - s]


def _actions(
    service: SuggestService,
    files: FileSites,
    uri: str,
    doc: TextDocument,
    snap: Snapshot,
    ranked: list[tuple[Library, Match, float]],
    batch: str,
    resolve_edit: bool,
    held: set[str],
) -> list[types.CodeAction] | None:
    codec = doc.position_codec
    actions: list[types.CodeAction] = []
    deadline = CLOCK() + INLINE_BUDGET_S  # for counting the in-file actions' places
    for n, (lib, m, score) in enumerate(ranked):
        stored = lib.get(m.skill_id)
        if stored is None:
            continue
        skill = stored.skill
        waiting = m.skill_id in held
        name = skill.name
        if waiting:
            name += f" ({skill.support} of {skill.needed_support()} examples)"
        sug = service.offer(lib, "codeAction", uri, snap, doc.version, [m], score, batch)
        actions.append(
            types.CodeAction(
                title=f"Apply skill: {name}",
                kind=KIND,
                edit=workspace_edit(uri, snap.lines, codec, [m]),
                command=record_command(sug.id),
                is_preferred=n == 0 and not waiting,
            )
        )
        gate = service.gate
        sites = files.get(uri, snap, lib, m.skill_id, deadline=deadline)
        sites = [s for s in sites or [] if not gate.blocked(uri, s, snap.lines, snap.offsets)]
        run = run_around(sites, m)
        if len(run) > 1 and (waiting or len(run) < len(sites)):
            # the places in a row with this one are often one change (a linter's fix of
            # consecutive lines): offered together, even for a skill still waiting, since they
            # are where the cursor is
            rsug = service.offer(
                lib, "codeActionRun", uri, snap, doc.version, run, score, batch, ranked=m
            )
            actions.append(
                types.CodeAction(
                    title=f"Apply skill to {len(run)} places in a row: {name}",
                    kind=KIND,
                    edit=workspace_edit(uri, snap.lines, codec, run),
                    command=record_command(rsug.id),
                )
            )
        if waiting or len(sites) < 2:
            continue  # a waiting skill's other sites are what it cannot yet tell apart
        fsug = service.offer(
            lib, "codeActionFile", uri, snap, doc.version, sites, score, batch, ranked=m
        )
        action = types.CodeAction(
            title=f"Apply skill in file ({len(sites)} places): {name}",
            kind=KIND,
            command=record_command(fsug.id),
            data={"suggestionId": fsug.id},
        )
        if not resolve_edit:
            action.edit = workspace_edit(uri, snap.lines, codec, sites)
        actions.append(action)
    return actions or None


def resolve(
    service: SuggestService, files: FileSites, action: types.CodeAction
) -> types.CodeAction:
    """Fill in the edit of an "in file" action (left out of the list: it can be large)."""
    data = action.data if isinstance(action.data, dict) else {}
    sug = service.suggestions.get(str(data.get("suggestionId", "")))
    if sug is None or action.edit is not None:
        return action
    found = service.document(sug.uri)
    if found is None:
        return action
    doc, snap, _ = found
    sites = files.get(sug.uri, snap, sug.library, sug.skill_id, wait=True)
    if sites:
        action.edit = workspace_edit(sug.uri, snap.lines, doc.position_codec, sites)
    return action


def inline_completions(
    service: SuggestService, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    """The rest of a rewrite the developer has started typing at a skill's site."""
    uri = params.text_document.uri
    base = service.baselines.get(unquote(uri))
    if base is None:
        return None
    # typing makes a new version per keystroke: borrow the last parse rather than reparse
    found_doc = service.document(uri, view=True)
    if found_doc is None:
        return None
    doc, snap, libs = found_doc
    if base is None or base.text is doc.source:
        return None
    pos = doc.position_codec.position_from_client_units(snap.lines, params.position)
    line, char = pos.line, pos.character
    if not base.lo - 1 <= line <= base.hi + 1:
        return None
    items = _complete(service, doc, snap, libs, base, line, char)
    if items is None and snap.stale is not None:  # the change was not inside one cut
        fresh = service.document(uri)
        items = _complete(service, doc, fresh[1], libs, base, line, char) if fresh else None
    return types.InlineCompletionList(items=items) if items else None


def _cuts(snap: Snapshot, base: Baseline, line: int) -> tuple[str, str, list[int], int, int] | None:
    """The same small cut (see documents.focus) of the document now and of its baseline:
    (current text, baseline text, document line of each current row, first row of the edited
    region, its number of rows in the baseline)."""
    region_hi = max(min(base.hi, len(snap.lines) - 1), line)
    lo = min(base.lo, line)
    cut = snap.cut(lo, region_hi, MAX_CHUNK_LINES)
    if cut is None:
        return None
    current, origin, _ = cut
    delta = len(base.lines) - len(snap.lines)
    region = base.lines[lo : region_hi + delta + 1]
    rows: list[str] = []
    first = -1
    for n in origin:
        if n < lo:
            rows.append(base.lines[n] if n < len(base.lines) else "")
        elif n <= region_hi:
            if first < 0:
                first = len(rows)
                rows += region
        elif 0 <= n + delta < len(base.lines):
            rows.append(base.lines[n + delta])
    if first < 0:
        return None
    return current, "".join(rows), origin, first, len(region)


def _complete(
    service: SuggestService,
    doc: TextDocument,
    snap: Snapshot,
    libs: list[Library],
    base: Baseline,
    line: int,
    char: int,
) -> list[types.InlineCompletionItem] | None:
    """Items, or None when no cut could be made (a view then retries with a fresh parse)."""
    cuts = _cuts(snap, base, line)
    if cuts is None:
        return None
    if line not in cuts[2]:
        return []
    current, before, origin, first, rows = cuts
    cursor = offset_of(line_offsets(split_lines(current)), origin.index(line), char)
    typed = current[:cursor]
    if before.startswith(typed):
        return []  # nothing of a rewrite typed yet
    tree = parse(snap.language, before)
    if tree is None:
        return []
    found: list[tuple[Library, Match]] = []
    for lib in libs:
        with lib.lock:
            hits = lib.index.matches_at(snap.language, before, tree, first, first + rows - 1)
        found += [(lib, m) for m in hits]
    batch = service.suggestions.new_batch()
    try:
        return _items(service, doc, snap, found, line, char, cursor, current, before, origin, batch)
    finally:
        service.end_batch(batch)


def _items(
    service: SuggestService,
    doc: TextDocument,
    snap: Snapshot,
    found: list[tuple[Library, Match]],
    line: int,
    char: int,
    cursor: int,
    current: str,
    before: str,
    origin: list[int],
    batch: str,
) -> list[types.InlineCompletionItem]:
    items: list[types.InlineCompletionItem] = []
    codec = doc.position_codec

    def where(offset: int) -> types.Position:
        row, col = _position(current, offset)
        return types.Position(origin[min(row, len(origin) - 1)], col)

    typed = current[:cursor]
    before_lines = split_lines(before)
    # the matches are in the cut's rows: so is the cursor's line for the ranker
    row = origin.index(line)
    ranked = service.rank(
        "inline", doc.uri, snap.language, found, row, batch=batch, snap=snap, cursor_line=line
    )
    for lib, m, score in ranked:
        if service.gate.dismissed(doc.uri, m, before_lines[m.start_line]):
            continue  # the developer dismissed it: never again this session
        target = apply_match(before, m)
        if not target.startswith(typed):
            continue
        rest_c, rest_t = current[cursor:], target[cursor:]
        k = _common_suffix(rest_c, rest_t)
        insert = rest_t[: len(rest_t) - k]
        if not insert:
            continue
        end = where(cursor + len(rest_c) - k)
        item = Match(m.skill_id, line, char, end.line, end.character,
                     current[cursor : cursor + len(rest_c) - k], insert)  # fmt: skip
        if service.gate.blocked(doc.uri, item, snap.lines, snap.offsets):
            continue  # taking it would undo a recent edit of the developer
        # recorded as the whole rewrite of the site, so an undo is seen when the site's old
        # text comes back (not just when the completed part goes)
        site_start = where(offset_of(line_offsets(split_lines(before)), m.start_line, m.start_char))
        site = Match(
            m.skill_id, site_start.line, site_start.character, site_start.line,
            site_start.character + len(m.old_text), m.old_text, m.new_text,
        )  # fmt: skip
        sug = service.offer(
            lib, "inline", doc.uri, snap, doc.version, [site], score, batch, ranked=m
        )
        sug.site_lines = [before_lines[m.start_line]]  # the site as it was, not as typed
        items.append(
            types.InlineCompletionItem(
                insert_text=insert,
                range=types.Range(
                    start=codec.position_to_client_units(snap.lines, types.Position(line, char)),
                    end=codec.position_to_client_units(snap.lines, end),
                ),
                command=record_command(sug.id),
            )
        )
        if len(items) >= 3:
            break
    return items


def _common_suffix(a: str, b: str) -> int:
    """Length of the longest common suffix (binary search over slice comparisons)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)
