"""Where else a skill applies: kenetic/nextEdits and kenetic.applySkill beyond the cursor.

After an edit, the places to offer are those of the skill just used (accepted, the skill the
hand-made edit was mined into, or the one the edit still being made would make: see
server.suggest.provisional) and of any strong skill, in the open documents and then in the
workspace's files of the same language, within the `skills.nextEdits` bounds on file count and
time. Scanning runs in a worker thread; open documents are read as the editor has them, other
files from disk, and ignored files are never read.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lsprotocol import types

from memory.skills.matching import Match
from memory.skills.skill import Skill
from memory.skills.syntax import grammar_for
from server.features.capture import CaptureService
from server.suggest.disktrees import DiskTrees
from server.suggest.documents import line_offsets, split_lines
from server.suggest.filesites import FileSites
from server.suggest.library import Library, copy_skill
from server.suggest.service import SuggestService, client_range
from server.suggest.site_filter import likely_sites
from server.suggest.sites import in_text
from server.workspaces import Folder

# directories no project edits by hand
SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv", "dist", "build", "target"}
STRONG_LIMIT = 20  # strong skills tried per request, best first


@dataclass
class Found:
    uri: str
    match: Match
    lines: list[str]
    offsets: list[int]
    version: int | None


def _sources(service: SuggestService, uri: str, language: str, folder: Folder) -> list[tuple]:
    """Open documents of the language in the folder: (uri, text, version, tree), uri first."""
    out = []
    for key, doc in list(service.server.workspace.text_documents.items()):
        path = Path(unquote(key)).name
        if grammar_for(doc.language_id, path) != language or not service.allowed(key):
            continue
        if service.server.workspaces.folder_for(key) is not folder:
            continue
        cached = service.trees.cached(key)
        tree = cached.tree if cached is not None and cached.text is doc.source else None
        out.append((key, doc.source, doc.version, tree))
    out.sort(key=lambda s: s[0] != uri)
    return out


def _files(
    folder: Folder, language: str, skip: set[str], max_files: int, max_bytes: int
) -> Iterator[tuple[str, Path]]:
    if folder.path is None or max_files <= 0:
        return
    count = 0
    for root, dirs, names in os.walk(folder.path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(names):
            if grammar_for(None, name) != language:
                continue
            path = Path(root) / name
            uri = path.as_uri()
            if unquote(uri) in skip:
                continue
            try:
                if path.stat().st_size > max_bytes:
                    continue
            except OSError:
                continue
            if folder.ignore is not None and folder.ignore.ignored(path):
                continue  # privacy: an ignored file is never read, never suggested into
            count += 1
            if count > max_files:
                return
            yield uri, path


def scan(
    skills: list[Skill],
    language: str,
    sources: list[tuple],
    folder: Folder | None,
    *,
    max_files: int,
    max_bytes: int,
    deadline: float,
    counted: Callable[[str, int | None, list[Match]], None] | None = None,
    disk: DiskTrees | None = None,
) -> list[Found]:
    """Every site of the skills in the open sources, then in the folder's files on disk (read
    and parsed once while unchanged, with `disk`). `counted` is told every site of an open
    source searched to the end (uri, version, sites)."""
    out: list[Found] = []
    for uri, text, version, tree in sources:
        lines = split_lines(text)
        found, complete = in_text(skills, language, text, tree=tree, lines=lines, deadline=deadline)
        if complete and counted is not None:
            counted(uri, version, found)
        offsets = line_offsets(lines) if found else []
        out += [Found(uri, m, lines, offsets, version) for m in found]
        if time.monotonic() > deadline:
            return out
    if folder is None:
        return out
    skip = {s[0] for s in sources}
    for uri, path in _files(folder, language, skip, max_files, max_bytes):
        if time.monotonic() > deadline:
            break
        file = (disk or DiskTrees(size=0)).read(path)
        if file is None:
            continue
        lines = file.lines
        found, _ = in_text(
            skills, language, file.text, tree=file.tree, lines=lines, deadline=deadline,
            parsed=file.keep,
        )  # fmt: skip
        offsets = line_offsets(lines) if found else []
        out += [Found(uri, m, lines, offsets, None) for m in found]
    return out


def _candidates(
    service: SuggestService,
    uri: str,
    libs: list[Library],
    language: str,
    strong: int,
    stamps: dict[str, int] | None = None,
):
    """The recently used and the strong skills (copies); `stamps` gets each copy's
    Library.stamp."""
    chosen: dict[str, tuple[Library, Skill]] = {}
    stamps = {} if stamps is None else stamps
    for lib in libs:
        for sid in lib.recently_used():
            stored = lib.get(sid)
            if stored is not None and stored.skill.language == language and sid not in chosen:
                with lib.lock:
                    chosen[sid] = (lib, copy_skill(stored.skill))
                    stamps[sid] = lib.stamp(sid)
    pool = [
        (lib, s)
        for lib in libs
        for s in lib.live()
        if s.skill.support >= strong and s.skill.language == language and s.skill.id not in chosen
    ]
    if pool:
        context = {"kind": "nextEdits", "now": time.time(), "language": language}
        scores, _ = service.score(uri, context, [lib.candidate(s.skill.id) for lib, s in pool])
        best = sorted(range(len(pool)), key=lambda k: -scores[k])[:STRONG_LIMIT]
        for k in best:
            lib, s = pool[k]
            with lib.lock:
                if s.skill.id not in chosen:
                    chosen[s.skill.id] = (lib, copy_skill(s.skill))
                    stamps[s.skill.id] = lib.stamp(s.skill.id)
    return chosen


async def next_edits(
    service: SuggestService, uri: str, position: tuple[int, int] | None, limit: int | None
) -> dict[str, Any]:
    key = unquote(uri)
    found_doc = service.document(key)
    folder = service.server.workspaces.folder_for(key)
    if found_doc is None or folder is None:
        return {"edits": []}
    doc, snap, libs = found_doc
    settings = folder.settings.skills
    # the edit still being made comes first: its skills are what "just used" means now
    capture = service.server.service(CaptureService)
    lent = await asyncio.to_thread(service.provisional.skills_for, capture, key, libs)
    chosen = {s.id: (lib, s) for lib, s in lent if s.language == snap.language}
    stamps: dict[str, int] = {}
    strong = _candidates(service, key, libs, snap.language, settings.strong_support, stamps)
    for sid, pair in strong.items():
        chosen.setdefault(sid, pair)
    # a lent skill (the edit still being made) is not the library's: its sites are not kept
    stamps = {sid: n for sid, n in stamps.items() if chosen[sid][1] is strong[sid][1]}
    if not chosen:
        return {"edits": []}
    bounds = settings.next_edits
    sources = _sources(service, key, snap.language, folder)
    found = await asyncio.to_thread(
        scan,
        [skill for _, skill in chosen.values()],
        snap.language,
        sources,
        folder,
        max_files=bounds.max_files,
        max_bytes=bounds.max_file_bytes,
        deadline=time.monotonic() + bounds.time_budget_ms / 1000,
        counted=_keep_counted(service, stamps),
        disk=service.disk_trees,
    )
    if position is not None:
        # the place just edited is not an "other place"
        line = position[0]
        found = [
            f
            for f in found
            if not (f.uri == key and f.match.start_line <= line <= f.match.end_line)
        ]
    libs_by_id = {sid: lib for sid, (lib, _) in chosen.items()}
    site_x: dict[int, list[float]] = {}  # features of each kept site, for its outcome
    if bounds.site_model:
        skills = {sid: skill for sid, (_, skill) in chosen.items()}
        learner = service.site_learner
        found = likely_sites(
            skills, found, key, position[0] if position else None,
            model_of=lambda sid: learner.model_for(libs_by_id[sid].store), features_out=site_x,
        )  # fmt: skip
    pairs = [(libs_by_id[f.match.skill_id], f.match) for f in found]
    here = position[0] if position else 0
    batch = service.suggestions.new_batch()
    uris = [f.uri for f in found]
    ranked = service.rank(
        "nextEdits", key, snap.language, pairs, here, batch=batch, site_uris=uris,
        snap=snap if position is not None else None,
    )  # fmt: skip
    try:
        return {"edits": _edits(service, found, ranked, batch, limit or bounds.limit, site_x)}
    finally:
        service.end_batch(batch)


def _keep_counted(
    service: SuggestService, stamps: dict[str, int]
) -> Callable[[str, int | None, list[Match]], None] | None:
    """What a scan counted in an open document, kept per skill where the "Apply skill in file"
    code actions look (server.suggest.filesites): the code action that follows a nextEdits
    answer then need not count the sites again (5-20 ms on a large file)."""
    files = service.server.find(FileSites)
    if files is None or not stamps:
        return None

    def counted(uri: str, version: int | None, found: list[Match]) -> None:
        if version is None:
            return
        by_skill: dict[str, list[Match]] = {sid: [] for sid in stamps}
        for m in found:
            if m.skill_id in by_skill:
                by_skill[m.skill_id].append(m)
        for sid, sites in by_skill.items():
            files.put(uri, version, sid, stamps[sid], sites)

    return counted


def _edits(
    service: SuggestService,
    found: list[Found],
    ranked: list[tuple[Library, Match, float]],
    batch: str,
    limit: int,
    site_x: dict[int, list[float]],
) -> list[dict[str, Any]]:
    where = {id(f.match): f for f in found}
    # same-file sites first among equals is the rank's tie-break; one edit per place
    seen: set[tuple[str, int, int, int, int]] = set()
    codec = service.server.workspace.position_codec
    gate = service.gate
    edits = []

    def allowed(f: Found, m: Match) -> bool:
        """Not a blocked site (see Gate.blocked), nor one in a document suggestions are off for."""
        return not gate.blocked(f.uri, m, f.lines, f.offsets) and gate.allows(f.uri)

    for lib, m, score in ranked:
        f = where[id(m)]
        place = (f.uri, m.start_line, m.start_char, m.end_line, m.end_char)
        if place in seen or not allowed(f, m):
            continue
        seen.add(place)
        sug = service.offer(
            lib, "nextEdits", f.uri, None, f.version, [m], score, batch,
            offsets=f.offsets, exclusive=False, lines=f.lines,
        )  # fmt: skip
        if id(m) in site_x:  # the site model learns from what becomes of it
            service.site_learner.offered(sug.id, lib.store, site_x[id(m)])
        edits.append(
            {
                "uri": f.uri,
                "range": _range_json(client_range(codec, f.lines, m)),
                "newText": m.new_text,
                "skillId": m.skill_id,
                "suggestionId": sug.id,
                "score": round(score, 6),
            }
        )
        if len(edits) >= limit:
            break
    return edits


def _range_json(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }
