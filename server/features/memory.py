"""Memory: hybrid recall, links, notes, the active learning state, moments and checkpoints.

Each workspace folder's memory (memory.recall.api.WorkspaceMemory) is built on first use, off the
event loop, so start-up never waits on notes or vectors. One worker thread (the medium clock)
does the rest, counted in `kenetic/stats` `pending` until done: it indexes committed episodes
and every skill the suggestion side saves (created, widened, renamed; a deleted one is
forgotten), and feeds the developer's decisions on suggestions (server.suggest.outcomes
`decision_hooks`) to the ALS. The ALS in turn gates unasked-for suggestions: `quiet(uri)`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcInvalidParams

from memory.recall import ingest
from memory.recall.api import WorkspaceMemory
from memory.store import checkpoints
from memory.store.database import Episode, StoreError
from memory.store.schema import put_state
from server.capture.privacy import redact, redact_strings
from server.features.capture import CaptureService
from server.protocol import (
    CheckpointParams,
    FolderParams,
    LinkParams,
    MomentsParams,
    PathParams,
    RecallParams,
    RememberParams,
    RestoreParams,
    StoreParams,
    camel_keys,
    validate,
    validate_command_args,
)

# imported at run time: pygls reads command handlers' annotations with get_type_hints
from server.server import KeneticServer  # noqa: E402
from server.suggest.service import SuggestService

if TYPE_CHECKING:
    from server.workspaces import Folder

log = logging.getLogger(__name__)
T = TypeVar("T")


def _embedder(kind: str) -> Any:
    """The configured embedder; one that cannot load falls back to the hashed default."""
    from memory.recall.embedders import HashedEmbedder, MiniLMEmbedder, make_embedder

    if kind == "minilm":
        ok, why = MiniLMEmbedder.available()
        if not ok:
            log.warning("MiniLM embedder unavailable (%s); using the hashed embedder", why)
            return HashedEmbedder()
    try:
        return make_embedder(kind)
    except Exception as exc:
        log.warning("embedder %s unavailable (%s); using the hashed embedder", kind, exc)
        return HashedEmbedder()


class MemoryService:
    """Per-folder WorkspaceMemory objects and the thread that indexes new episodes."""

    def __init__(self, server: KeneticServer) -> None:
        self.server = server
        self._memories: dict[str, WorkspaceMemory] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._pending = 0
        self._warming: set[str] = set()  # folders whose memory a job is building
        self._jobs = threading.Lock()  # _pending and _warming: never held while building
        self._hooked = False
        self._worker = threading.Thread(target=self._run, name="kenetic-memory", daemon=True)
        self._worker.start()

    @property
    def pending(self) -> int:
        return self._pending

    def attach(self, folder: Folder) -> None:
        """A store was (re)opened: index its new episodes and skills from now on."""
        store = folder.store
        assert store is not None
        with self._lock:
            old = self._memories.pop(folder.uri, None)
        if old is not None:
            old.close()
        store.episode_listeners.append(lambda episode: self._on_episode(folder, episode))
        store.skill_listeners.append(lambda stored: self._on_skill(folder, stored))
        self._hook_suggestions()

    def _hook_suggestions(self) -> None:
        """Hear the developer's decisions on suggestions (the skills feature is set up after
        this one; stores open at initialize, once every feature is)."""
        suggest = self.server.find(SuggestService)
        if not self._hooked and suggest is not None:
            suggest.suggestions.decision_hooks.append(self.on_decision)
            self._hooked = True

    def _enqueue(self, job: Callable[[], None]) -> None:
        with self._jobs:
            self._pending += 1
        self._queue.put(job)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("memory job failed")
            finally:
                with self._jobs:
                    self._pending -= 1

    # -- the medium clock: episodes, skills, outcomes ------------------------------------------

    def _on_episode(self, folder: Folder, episode: Episode) -> None:
        def job() -> None:
            mem = self.memory(folder)
            ingest.index_episode(mem.index, episode, moments=mem.moments, trigger="captured")
            mem.observe_episode(episode)

        self._enqueue(job)

    def _on_skill(self, folder: Folder, stored: Any) -> None:
        """A skill was saved (on the mining thread): read it now, index it on the worker."""
        skill = stored.skill
        skill_id, deleted = skill.id, bool(stored.deleted)
        text, language = ingest.skill_text(skill), skill.language
        examples = [e for e in skill.examples if str(e).isdigit()]
        # the first save of a skill (SkillStore.save sets both times then)
        new = not deleted and stored.created_at == stored.updated_at

        def job() -> None:
            mem = self.memory(folder)
            if deleted:
                ingest.forget_skill(mem.index, skill_id)
            else:
                ingest.index_skill(
                    mem.index, skill_id, text, language=language, examples=examples,
                    moments=mem.moments, trigger="mined",
                )  # fmt: skip
                if new:
                    mem.learned_skill(skill.name, skill.support, language)

        self._enqueue(job)

    def on_decision(self, suggestion: Any, outcome: str) -> None:
        """An accept, reject or undo of a suggestion (server.suggest.outcomes): the ALS of the
        suggestion's folder moves on the worker."""
        folder = self.server.workspaces.folder_for(suggestion.uri)
        if folder is None or folder.store is None:
            return
        sid, skill = suggestion.id, suggestion.skill_id
        trigger = f"suggestion {suggestion.kind}"

        def job() -> None:
            self.memory(folder).record_outcome(outcome, sid, skill=skill, trigger=trigger)

        self._enqueue(job)

    def quiet(self, uri: str) -> bool:
        """Is the ALS of uri's folder in a cool-down (no unasked-for suggestions)? Never waits:
        a folder whose memory is not built yet is not quiet, and its memory is built on the
        worker so the next answer knows its saved ALS."""
        folder = self.server.workspaces.folder_for(uri)
        if folder is None or folder.store is None:
            return False
        mem = self._memories.get(folder.uri)  # no _lock: a build holds it for a while
        with self._jobs:
            warm = mem is None and folder.uri not in self._warming
            if warm:
                self._warming.add(folder.uri)
        if mem is not None:
            return mem.als.quiet()
        if warm:

            def build() -> None:
                try:
                    self.memory(folder)
                finally:
                    with self._jobs:
                        self._warming.discard(folder.uri)

            self._enqueue(build)
        return False

    def memory(self, folder: Folder) -> WorkspaceMemory:
        """The folder's memory, built on first use (reads notes and vectors: not on the loop)."""
        built: WorkspaceMemory | None = None
        with self._lock:
            mem = self._memories.get(folder.uri)
            if mem is None:
                if folder.store is None:
                    raise JsonRpcInvalidParams(
                        f"no memory for {folder.uri}: {folder.store_error or 'store closed'}"
                    )
                section = folder.settings.memory
                mem = WorkspaceMemory(
                    folder.store,
                    folder.path,
                    section.recall_settings(),
                    section.als_settings(),
                    embedder=_embedder(section.embedder),
                )
                self._memories[folder.uri] = mem
                built = mem
                # the vectors file beside the store is rebuilt (re-embedded, on this worker
                # thread) whenever this changes; the store says which embedder is in use
                embedder = mem.index.embedder
                put_state(
                    folder.store, "memory.embedder", {"name": embedder.name, "dim": embedder.dim}
                )
        if built is not None:
            index, moments = built.index, built.moments

            def backfill() -> None:  # skills mined before memory indexed them (older kenetic)
                ingest.index_missing_skills(index, moments)

            self._enqueue(backfill)
        return mem

    def folder(self, uri: str | None) -> Folder:
        workspaces = self.server.workspaces
        folder = (
            next((f for f in workspaces.all() if f.uri == uri), None) or workspaces.folder_for(uri)
            if uri
            else next(iter(workspaces.all()), None)
        )
        if folder is None:
            raise JsonRpcInvalidParams(f"no workspace folder for {uri or 'this session'}")
        return folder

    async def call(self, folder_uri: str | None, fn: Callable[[WorkspaceMemory], T]) -> T:
        folder = self.folder(folder_uri)

        def work() -> T:
            try:
                return fn(self.memory(folder))
            except (ValueError, StoreError) as exc:
                raise JsonRpcInvalidParams(str(exc)) from None

        return await asyncio.to_thread(work)

    async def restore(self, folder_uri: str | None, checkpoint_id: str) -> dict[str, Any]:
        folder = self.folder(folder_uri)
        store = folder.store
        if store is None:
            raise JsonRpcInvalidParams(f"no store for {folder.uri}")

        def work() -> tuple[Any, str | None]:
            with self._lock:
                mem = self._memories.pop(folder.uri, None)
            if mem is not None:
                mem.close()
            self.server.service(CaptureService).flush()
            store.close()
            try:
                return checkpoints.restore(store.path, checkpoint_id), None
            except (StoreError, ValueError, OSError) as exc:
                # the checkpoint was refused: reopen what was there before
                from memory.store.database import Store

                return Store(store.path), str(exc)

        new_store, refused = await asyncio.to_thread(work)
        self.server.workspaces.replace_store(folder, new_store)
        # open documents write to the store now open, restored or reopened: the old one is
        # closed either way and an edit sent there would be lost
        self.server.service(CaptureService).store_replaced(store, new_store)
        if refused is not None:
            raise JsonRpcInvalidParams(refused)
        return {"restored": checkpoint_id, "store": str(new_store.path)}

    def close(self, timeout: float = 10.0) -> None:
        """Index what is queued (episodes committed at shutdown included), then persist."""
        self._queue.put(None)
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("memory worker still busy after %.0f s; closing anyway", timeout)
        with self._lock:
            memories = list(self._memories.values())
            self._memories.clear()
        for mem in memories:
            mem.close()


def setup(server: KeneticServer) -> None:
    service = server.attach(MemoryService(server))
    server.workspaces.store_opened.append(service.attach)

    async def answer(folder: str | None, fn: Callable[[WorkspaceMemory], Any]) -> Any:
        """What a memory method answers: the memory's dataclasses speak Python (`ref_id`), the
        protocol camelCase (`refId`)."""
        return camel_keys(await service.call(folder, fn))

    @server.feature("kenetic/memory/recall")
    async def recall(ls: KeneticServer, params: Any) -> Any:
        """Hybrid recall: vectors + links + recency + importance, with filters."""
        p = validate(RecallParams, params)
        return await answer(
            p.folder,
            lambda m: m.recall(
                redact(p.query, "query")[0],  # the query is kept in memory's moments
                p.k,
                list(p.kinds) if p.kinds is not None else None,
                language=p.language,
                uri=p.uri,
                since=p.since,
                until=p.until,
            ),
        )

    @server.feature("kenetic/memory/store")
    async def store(ls: KeneticServer, params: Any) -> Any:
        """Store a memory item (a near-duplicate is not stored twice)."""
        p = validate(StoreParams, params)
        meta = p.metadata.plain() if p.metadata is not None else None
        # a note is a stored text like any other: through the one redaction (an agent may
        # remember a line it read with a token in it)
        text = redact(p.text, "note")[0]
        meta = redact_strings(meta, "note")[0] if meta is not None else None
        return await answer(p.folder, lambda m: m.store_item(text, p.kind, meta))

    @server.feature("kenetic/memory/link")
    async def link(ls: KeneticServer, params: Any) -> Any:
        """Link two memory nodes, e.g. episode:12 -> skill:3f9a."""
        p = validate(LinkParams, params)
        return await answer(p.folder, lambda m: m.link(p.from_, p.to, p.type))

    @server.feature("kenetic/memory/path")
    async def path(ls: KeneticServer, params: Any) -> Any:
        """The shortest path of links between two nodes."""
        p = validate(PathParams, params)
        return await answer(p.folder, lambda m: m.path(p.from_, p.to))

    @server.feature("kenetic/als")
    async def als(ls: KeneticServer, params: Any) -> Any:
        """The active learning state: focus, reflections, stage and the self-tuned knobs."""
        p = validate(FolderParams, params)
        return await answer(p.folder, lambda m: m.als_state())

    @server.feature("kenetic/moments")
    async def moments(ls: KeneticServer, params: Any) -> Any:
        """The last n memory events, with what triggered them and what they link to."""
        p = validate(MomentsParams, params)
        return await answer(p.folder, lambda m: m.recent_moments(p.n))

    @server.feature("kenetic/checkpoints")
    async def list_checkpoints(ls: KeneticServer, params: Any) -> Any:
        """Checkpoints of the store, newest first."""
        p = validate(FolderParams, params)
        return await answer(p.folder, lambda m: m.list_checkpoints())

    @server.command("kenetic.remember")
    async def remember(ls: KeneticServer, *args: Any) -> Any:
        """Append a note under a heading of KENETIC.md (project) or user.md (user)."""
        p = validate_command_args(RememberParams, list(args))
        return await answer(p.folder, lambda m: m.remember(p.text, p.heading, p.scope))

    @server.command("kenetic.checkpoint")
    async def checkpoint(ls: KeneticServer, *args: Any) -> Any:
        """A consistent copy of the store (SQLite's backup API)."""
        p = validate_command_args(CheckpointParams, list(args))
        return await answer(p.folder, lambda m: m.checkpoint(p.description))

    @server.command("kenetic.restore")
    async def restore(ls: KeneticServer, *args: Any) -> Any:
        """Put a checkpoint back; what was there is kept as a checkpoint itself."""
        p = validate_command_args(RestoreParams, list(args))
        return await service.restore(p.folder, p.id)
