"""Ranking across a session's stores: which store's ranker scores a request, the shown sets
waiting for their outcome, and the acceptances that judge the rankers (docs/trm.md).

The per-store state (the ranker serving, the champion, training) is server.suggest.trm_state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from server.suggest.session import SiteKey
from server.suggest.shown import ShownSet
from server.suggest.training import TrainJob
from server.suggest.trm_state import RULES, TrmState, no_state, shipped_or_rules
from trm.ranker import Ranker

if TYPE_CHECKING:
    from server.workspaces import Folder

log = logging.getLogger(__name__)

MEMBERS_MAX = 20_000  # suggestion ids remembered for outcomes (Suggestions.max_live is 5000)
JUDGE_MAX = 256  # shown sets kept in memory until an acceptance judges the rankers on them
PENDING_MAX = 64  # rankings whose request has not ended (log_shown) yet


class RankingService:
    """Per-store TRM states, the rankings in progress, and the suggestion -> shown set map."""

    def __init__(self, folder_for: Callable[[str], Folder | None]) -> None:
        self.folder_for = folder_for
        self.states: dict[str, TrmState] = {}
        self._pending: OrderedDict[str, tuple[ShownSet, TrmState]] = OrderedDict()
        self._members: OrderedDict[str, tuple[TrmState, str, SiteKey | None]] = OrderedDict()
        self._acted: OrderedDict[str, None] = OrderedDict()  # batches with an outcome
        # batch -> (its shown set's row, when shown): judged when a suggestion of it is accepted
        self._to_judge: OrderedDict[str, tuple[dict[str, Any], float]] = OrderedDict()
        self._last: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {}
        self._lock = threading.Lock()
        self.on_job: Callable[[TrainJob], None] | None = None  # every store's new training runs

    def attach(self, folder: Folder) -> TrmState | None:
        """A store opened (workspaces.store_opened): its state, loading in the background."""
        store = folder.store
        if store is None:
            return None
        with self._lock:
            key = str(store.path)
            state = self.states.get(key)
            if state is not None and state.store is store:
                return state
            state = self.states[key] = TrmState(store, lambda: folder.settings.trm)
            state.on_job = lambda job: self.on_job(job) if self.on_job is not None else None
        state.start()
        return state

    def state_for(self, uri: str | None) -> TrmState | None:
        folder = self.folder_for(uri) if uri else None
        if folder is None and not uri:
            states = list(self.states.values())
            return states[0] if states else None
        if folder is None or folder.store is None:
            return None
        state = self.states.get(str(folder.store.path))
        if state is None or state.store is not folder.store:
            state = self.attach(folder)
        return state

    def ranker_for(self, state: TrmState | None) -> Ranker:
        return state.serving() if state is not None else shipped_or_rules()

    def score(
        self, state: TrmState | None, context: dict[str, Any], candidates: list[dict[str, Any]]
    ) -> tuple[list[float], str]:
        """Scores and the name of what ranked ("rules" or "trm vN")."""
        ranker = self.ranker_for(state)
        if state is not None and state.enabled:
            state.look_for_newer()  # a challenger written by `kenetic train` is judged too
        try:
            scores = ranker.score(context, candidates)
        except Exception:
            log.exception("ranker %s failed; ranking by rules", ranker.name)
            return RULES.score(context, candidates), RULES.name
        if state is None or ranker is not state.ranker:
            return scores, ranker.name
        return scores, state.ranker_name()

    # -- shown sets ---------------------------------------------------------------------------

    def begin(self, shown: ShownSet, state: TrmState | None) -> None:
        if state is None or not state.enabled:
            return
        self._pending[shown.batch] = (shown, state)
        while len(self._pending) > PENDING_MAX:
            self._pending.popitem(last=False)

    def offered(self, batch: str, match_key: int, suggestion_id: str) -> None:
        pending = self._pending.get(batch)
        if pending is not None:
            pending[0].offered(match_key, suggestion_id)

    def end(self, batch: str) -> None:
        """The request that ranked under `batch` is done: write its shown set."""
        pending = self._pending.pop(batch, None)
        if pending is None:
            return
        shown, state = pending
        row = shown.row()
        if row is None:
            return
        ids = tuple(tuple(group) for group in row["suggestionIds"])
        key = (shown.kind, shown.uri)
        if self._last.get(key) == ids:
            return  # the same suggestions again (the cursor moved within the site)
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = ids
        state.shown.write_set(shown, row)
        self._to_judge[shown.batch] = (row, shown.at)
        while len(self._to_judge) > JUDGE_MAX:
            self._to_judge.popitem(last=False)
        offered = shown.offered_keys()
        state.sites.shown([site for site, _ in offered if site is not None])
        for site, group in offered:
            for sid in group:
                self._members[sid] = (state, shown.batch, site)
                self._members.move_to_end(sid)
        while len(self._members) > MEMBERS_MAX:
            self._members.popitem(last=False)

    def outcome(self, suggestion_id: str, outcome: str) -> None:
        """A suggestion was accepted, rejected or undone: record it against its shown set."""
        member = self._members.get(suggestion_id)
        if member is None:
            return
        state, batch, key = member
        state.shown.write_outcome(batch, suggestion_id, outcome)
        if outcome == "accepted" and (judge := self._to_judge.pop(batch, None)) is not None:
            row, at = judge  # the first acceptance of the set judges every candidate on it
            accepted = next((i for i, group in enumerate(row["suggestionIds"])
                             if suggestion_id in group), None)  # fmt: skip
            if accepted is not None and state.enabled:
                state.champion.judge_later(row["context"], row["candidates"], accepted, at)
        if outcome == "accepted" and key is not None:
            state.sites.accepted(key)
        first = batch not in self._acted
        if first:
            self._acted[batch] = None
            while len(self._acted) > MEMBERS_MAX:
                self._acted.popitem(last=False)
        state.outcome(first)

    def stats(self, uri: str | None = None) -> dict[str, Any]:
        state = self.state_for(uri)
        return state.describe() if state is not None else no_state()

    def store_stats(self, folder: Folder) -> dict[str, Any]:
        """One folder's ranker state, without attaching one: stats must not start a load."""
        state = self.states.get(str(folder.store.path)) if folder.store is not None else None
        return state.describe() if state is not None else no_state()

    def wait_loaded(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while any(s.loading for s in list(self.states.values())) and time.monotonic() < deadline:
            time.sleep(0.01)
