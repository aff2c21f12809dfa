"""The suggestion service: skills per store, mining after idle, ranking, outcomes.

One Library per store (each workspace folder's, plus the user store when a folder's
`skills.scope` is "user"). Capture's recorder hands every committed edit episode to `on_stored`
(on the store's writer thread); mining then runs on the mining thread. Request handlers
(server.suggest.actions, server.suggest.scan) read the libraries' indexes and rank what they find
with the ranker (trm.ranker: rules until the TRM takes over, see server.suggest.ranking) and
log what they showed as the TRM's training data (server.suggest.shown).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.workspace import TextDocument

from memory.skills.matching import Match
from memory.skills.syntax import grammar_for
from memory.store.database import Episode, Store, StoreError, user_store_path
from server.features.capture import CaptureService
from server.suggest.disktrees import DiskTrees
from server.suggest.documents import Baselines, Snapshot, Trees, cursor_nodes, offset_of
from server.suggest.gate import Gate
from server.suggest.library import Library, copy_skill, refreshed
from server.suggest.mining import MiningWorker
from server.suggest.outcomes import Suggestion, Suggestions
from server.suggest.progress import Reporter
from server.suggest.provisional import Provisional
from server.suggest.ranking import RankingService
from server.suggest.session import site_key
from server.suggest.shown import ShownSet, short
from server.suggest.site_learning import SiteLearner
from server.suggest.warmer import Warmer
from server.workspaces import Folder, uri_to_path

if TYPE_CHECKING:
    from server.capture.recorder import DocumentInfo
    from server.server import KeneticServer

log = logging.getLogger(__name__)

KIND = "refactor.rewrite.kenetic"


class SuggestService:
    def __init__(self, server: KeneticServer) -> None:
        self.server = server
        self.ranking = RankingService(lambda uri: server.workspaces.folder_for(uri))
        self.trees = Trees()
        self.warmer = Warmer(self._warm)  # parses open documents while the developer pauses
        self.provisional = Provisional()  # skills of the edit still being made (nextEdits)
        self.site_learner = SiteLearner()  # the site model, per store, from next edits' outcomes
        self.disk_trees = DiskTrees()  # unopened files nextEdits reads, while unchanged
        self._warm_lock = threading.Lock()  # a parse ahead vs didClose letting the tree go
        self.baselines = Baselines()
        self.suggestions = Suggestions()
        self.suggestions.on_outcome = lambda sug, outcome: self.ranking.outcome(sug.id, outcome)
        self.suggestions.decision_hooks.append(self._learn_site)
        self.libraries: dict[str, Library] = {}
        self._user_store: Store | None = None
        self._lock = threading.Lock()
        self._allowed: dict[str, tuple[bool, float]] = {}
        self.worker = MiningWorker(lambda: server.service(CaptureService).last_change)
        self.progress = Reporter(server)  # $/progress of mining runs
        # suggestions on or off (settings, toggles) and the sites the developer dismissed
        self.gate = Gate(
            lambda uri: server.workspaces.folder_for(uri),
            lambda uri: getattr(server.workspace.text_documents.get(uri), "language_id", None),
            lambda: server.workspaces.all(),
        )

    # -- libraries ------------------------------------------------------------------------

    def library_for(self, folder: Folder) -> Library | None:
        """The folder's library, created (and loaded in the background) on first use."""
        store = folder.store
        if store is None:
            return None
        with self._lock:
            key = str(store.path)
            lib = self.libraries.get(key)
            if lib is None or lib.store is not store:
                lib = self.libraries[key] = Library(folder.uri, store, 2)
                self.worker.submit(lib.load, wait_idle=False)
        lib.miner.min_examples = folder.settings.skills.min_examples
        return lib

    def user_library(self) -> Library | None:
        """The user store's library (skills shared across workspaces), opened on first use."""
        path = user_store_path()
        fallback = self.server.workspaces.fallback
        if fallback is not None and fallback.store is not None and fallback.store.path == path:
            return self.library_for(fallback)  # no folder open: the user store is already open
        with self._lock:
            lib = self.libraries.get(str(path))
            if lib is not None:
                return lib
            try:
                self._user_store = Store(path)
            except (StoreError, OSError, Exception) as exc:
                self.server.show_warning(f"kenetic: user skills unavailable: {exc}")
                return None
            lib = self.libraries[str(path)] = Library("user", self._user_store, 2)
            self.worker.submit(lib.load, wait_idle=False)
            return lib

    def libraries_for(self, uri: str) -> list[Library]:
        folder = self.server.workspaces.folder_for(uri)
        if folder is None or not folder.settings.skills.enabled:
            return []
        own = self.library_for(folder)
        libs = [own] if own is not None else []
        if folder.settings.skills.scope == "user":
            shared = self.user_library()
            if shared is not None and shared is not own:
                libs.append(shared)
        return refreshed(libs)

    def open_all(self) -> None:
        for folder in self.server.workspaces.all():
            self.libraries_for(folder.uri if folder.path is not None else "")

    # -- mining (called on the store's writer thread) --------------------------------------

    def on_stored(self, episode: Episode, doc: DocumentInfo) -> None:
        structural = episode.data.get("structural")
        if not structural or episode.id is None or episode.uri is None:
            return
        folder = self.server.workspaces.folder_for(episode.uri)
        if folder is None or not folder.settings.skills.enabled:
            return
        lib = self.library_for(folder)
        if lib is None or lib.store is not doc.store:
            return
        share = folder.settings.skills.scope == "user"
        episode_id = episode.id

        delay = folder.settings.suggest.progress_after_ms / 1000

        def mine() -> None:
            run = self.progress.start("kenetic: mining skills", delay)  # shown past ~300 ms
            made: list[Any] = []
            try:
                made = lib.mine(episode_id, structural)
            finally:
                run.done(f"{len(made)} skill(s) learned or widened")
            shared = self.user_library() if share and made else None
            if shared is not None and shared is not lib:
                for skill in made:
                    shared.adopt(copy_skill(skill))

        self.worker.submit(mine)

    @property
    def pending(self) -> int:
        own = self._user_store.pending if self._user_store is not None else 0
        return self.worker.pending + own

    # -- documents ------------------------------------------------------------------------

    def allowed(self, uri: str) -> bool:
        """May this document receive suggestions? Not when capture ignores it (privacy)."""
        uri = unquote(uri)
        capture = self.server.service(CaptureService)
        if uri in capture.documents:
            return True
        if capture.skipped.get(uri) == "ignored":
            return False
        now = time.monotonic()
        cached = self._allowed.get(uri)
        if cached is not None and now - cached[1] < 10:
            return cached[0]
        path = uri_to_path(uri)
        folder = self.server.workspaces.folder_for(uri)
        ok = path is not None and folder is not None
        if ok and folder is not None and folder.ignore is not None:
            ok = not folder.ignore.ignored(path)  # type: ignore[arg-type]
        self._allowed[uri] = (ok, now)
        return ok

    def document(
        self, uri: str, *, view: bool = False
    ) -> tuple[TextDocument, Snapshot, list[Library]] | None:
        """An open document's current parse and the libraries that serve it, or None. A view
        may borrow an older version's tree instead of reparsing (see Trees.view): only its
        text, lines and `cut` are current."""
        docs = self.server.workspace.text_documents
        key = unquote(uri)
        doc = docs.get(key) or docs.get(uri)
        if doc is None or not self.allowed(key):
            return None
        path = uri_to_path(key)
        language = grammar_for(doc.language_id, path.name if path else None)
        if language is None:
            return None
        libs = self.libraries_for(key)
        if not libs:
            return None
        snap = self.trees.view(key, doc.version, doc.source, language) if view else None
        if snap is None:
            snap = self.trees.get(key, doc.version, doc.source, language)
        if snap is None:
            return None
        if len(self.trees) > 2 * len(docs) + 8:
            self.trees.keep_only(set(docs))
        return doc, snap, libs

    def _warm(self, key: str) -> None:
        """Parse an open document's current version into the tree cache (the Warmer's work)."""
        doc = self.server.workspace.text_documents.get(key)
        folder = self.server.workspaces.folder_for(key)
        if doc is None or folder is None or not folder.settings.skills.enabled:
            return
        path = uri_to_path(key)
        language = grammar_for(doc.language_id, path.name if path else None)
        if language is not None and self.allowed(key):
            with self._warm_lock:  # not after on_close dropped it
                if key in self.server.workspace.text_documents:
                    self.trees.get(key, doc.version, doc.source, language)

    def on_open(self, uri: str) -> None:
        self.warmer.touch(unquote(uri))

    def on_change(self, uri: str, before: str, after: str, change: Any) -> None:
        """didChange hook (one call per content change): baselines, undo detection and the
        recent edits no suggestion may undo (server.suggest.recent); the parse ahead."""
        self.warmer.touch(uri)
        self.baselines.on_change(uri, before, change)
        self.suggestions.on_change(uri, before, after)
        self.gate.recent.on_change(uri, before, after)

    def on_close(self, uri: str) -> None:
        """didClose: let go of the document's parse (text, bytes, tree), its inline-completion
        baseline and its undo watches (each a whole copy of the text), or it stays in RSS."""
        key = unquote(uri)
        self.warmer.forget(key)
        self.provisional.forget(key)
        with self._warm_lock:
            self.trees.drop(key)
        self.baselines.reset(key)
        self.suggestions.forget(key)
        self.gate.recent.forget(key)
        self._allowed.pop(key, None)

    # -- ranking --------------------------------------------------------------------------

    def rank(
        self,
        kind: str,
        uri: str,
        language: str,
        found: list[tuple[Library, Match]],
        line: int,
        *,
        batch: str | None = None,
        snap: Snapshot | None = None,
        site_uris: list[str] | None = None,
        cursor_line: int | None = None,
    ) -> list[tuple[Library, Match, float]]:
        """Best first; ties go to sites in the cursor's file, then to the nearest. With a batch,
        the ranking is a shown set in the making: offer() notes which candidates were offered
        and end_batch() logs it (server.suggest.shown)."""
        state = self.ranking.state_for(uri)
        context: dict[str, Any] = {"kind": kind, "now": time.time(), "uri": uri}
        context["language"] = language
        if state is not None:
            context.update(state.context(uri))
        at = line if cursor_line is None else cursor_line
        if snap is not None:
            context["cursorNodeTypes"] = cursor_nodes(snap, at)
        context["cursorLine"] = at
        shift = at - line  # an inline request's matches are in its cut's rows
        candidates, keys = [], []
        for k, (lib, m) in enumerate(found):
            same = site_uris is None or site_uris[k] == uri
            c = lib.candidate(m.skill_id)
            c["matchText"] = short(m.old_text) + " => " + short(m.new_text)
            c["sameFile"] = same
            c["distance"] = abs(m.start_line - line) if same else None
            c["lineDelta"] = m.start_line - line if same else None
            c["uri"] = uri if site_uris is None else site_uris[k]
            c["siteLine"] = m.start_line + shift if same else m.start_line
            key = site_key(c["uri"], c)
            c["shownInSession"] = state.sites.get(key) if state is not None else 0
            candidates.append(c)
            keys.append(key)
        scores, _ = self.ranking.score(state, context, candidates)
        order = sorted(
            range(len(found)),
            key=lambda k: (
                -scores[k],
                site_uris is not None and site_uris[k] != uri,
                abs(found[k][1].start_line - line),
            ),
        )
        if batch is not None and found:
            index = {id(m): k for k, (_, m) in enumerate(found)}
            shown = ShownSet(batch, kind, uri, self.server.session_id, context, candidates, order,
                             index, keys=keys)  # fmt: skip
            self.ranking.begin(shown, state)
        return [(found[k][0], found[k][1], scores[k]) for k in order]

    def score(self, uri: str, context: dict[str, Any], candidates: list[dict[str, Any]]):
        """Scores from the ranker of the uri's store, and which ranker gave them."""
        return self.ranking.score(self.ranking.state_for(uri), context, candidates)

    def end_batch(self, batch: str) -> None:
        """The request that ranked under `batch` answered: log its shown set."""
        try:
            self.ranking.end(batch)
        except Exception:  # the log is a side matter: never fail a request for it
            log.exception("logging a shown set failed")

    def offer(
        self,
        lib: Library,
        kind: str,
        uri: str,
        snap: Snapshot | None,
        version: int | None,
        matches: list[Match],
        score: float,
        batch: str,
        *,
        offsets: list[int] | None = None,
        exclusive: bool = True,
        ranked: Match | None = None,
        lines: list[str] | None = None,
    ) -> Suggestion:
        offsets = offsets if offsets is not None else snap.offsets if snap else [0]
        edits = [
            (offset_of(offsets, m.start_line, m.start_char), m.old_text, m.new_text)
            for m in matches
        ]
        sug = self.suggestions.offer(
            lib, matches[0].skill_id, kind, uri, version, edits, score, batch, exclusive=exclusive
        )
        lines = lines if lines is not None else snap.lines if snap else []
        sug.site_lines = [lines[m.start_line] if m.start_line < len(lines) else "" for m in matches]
        # the shown set's candidate is the match that was ranked (an inline item's site and a
        # file-wide action's sites are other Match objects)
        self.ranking.offered(batch, id(ranked if ranked is not None else matches[0]), sug.id)
        return sug

    # -- outcomes and skill management ----------------------------------------------------

    def _learn_site(self, sug: Suggestion, outcome: str) -> None:
        self.site_learner.outcome(sug.id, outcome)

    def record_outcome(self, suggestion_id: str, outcome: str) -> dict[str, Any]:
        sug = self.suggestions.get(suggestion_id)
        if sug is None:
            return {"recorded": False, "reason": "unknown suggestion"}
        if outcome == "rejected":
            self.gate.dismiss(sug)  # never offered again in this session
            return {"recorded": self.suggestions.reject(sug), "outcome": "rejected"}
        doc = self.server.workspace.text_documents.get(unquote(sug.uri))
        recorded = self.suggestions.accept(sug, doc.source if doc is not None else None)
        if recorded:
            self.baselines.reset(unquote(sug.uri))
        return {"recorded": recorded, "outcome": sug.state}

    def find_skill(self, skill_id: str) -> Library | None:
        for lib in refreshed(list(self.libraries.values())):
            if lib.get(skill_id) is not None:
                return lib
        return None

    def delete_skill(self, skill_id: str) -> bool:
        return any([lib.delete(skill_id) for lib in list(self.libraries.values())])

    def rename_skill(self, skill_id: str, name: str) -> bool:
        return any([lib.rename(skill_id, name) for lib in list(self.libraries.values())])

    def stats(self) -> dict[str, Any]:
        ids: set[str] = set()
        totals = {"accepted": 0, "rejected": 0, "undone": 0, "shown": 0}
        for lib in refreshed(list(self.libraries.values())):
            ids.update(s.skill.id for s in lib.live())
            for k in totals:
                totals[k] += lib.totals.get(k, 0)
        trm = self.ranking.stats()
        return {
            "skills": len(ids),
            "outcomes": totals,
            "ranker": trm["ranker"],
            "trm": trm,
            "siteModel": self.site_learner.stats(),
        }

    def drain(self, timeout: float) -> None:
        """Wait for capture and mining to finish (shutdown), then close the user store."""
        self.warmer.stop()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
            self.server.service(CaptureService).recorder.pending or self.worker.pending
        ):
            time.sleep(0.02)
        if self._user_store is not None:
            self._user_store.close()


def client_range(codec: Any, lines: list[str], m: Match) -> types.Range:
    """A match's code-point range in the client's position encoding."""
    start = codec.position_to_client_units(lines, types.Position(m.start_line, m.start_char))
    end = codec.position_to_client_units(lines, types.Position(m.end_line, m.end_char))
    return types.Range(start=start, end=end)
