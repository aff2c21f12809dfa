"""One store's ranker state: which ranker serves it, and when its TRM trains (docs/trm.md).

One TrmState per workspace store: the store's shown-set log (server.suggest.shown), the count of
shown sets with an outcome, a trm.trm_ranker.TRMRanker over a ModelHolder, the champion
(server.suggest.champion) and the training job. The shipped linear ranker serves until a TRM
beats it; a training run is due once `trm.minOutcomes` such sets exist (in a child process,
trm.train_worker, waited on by a daemon thread); it writes `<store dir>/trm/trm-v{N}.pt`, the
thread loads it and swaps it into the holder, so the next ranking uses it and a ranking in
flight finishes with the old one. It trains again after `trm.retrainEvery` new sets. On start,
the newest checkpoint is loaded in a background thread.

torch is imported only by those threads, never on the initialize path: with no checkpoint and
too few outcomes it is not imported at all. Any TRM failure ranks with the rules (TRMRanker
falls back and logs each kind of failure once).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memory.store.database import Episode, Store
from server.suggest.champion import Champion
from server.suggest.session import EditLines, SiteCounts
from server.suggest.shown import ShownLog, count_outcome_sets, read_outcome_log, short
from server.suggest.training import TooFewOutcomes, TrainJob, run_training, where
from trm.linear import shipped
from trm.ranker import Ranker, RuleRanker
from trm.trm_ranker import ModelHolder, TRMRanker, checkpoints

if TYPE_CHECKING:
    from server.settings import TrmSettings

log = logging.getLogger(__name__)

RULES = RuleRanker()
# the ranker state of a folder nothing has been ranked in yet
_NO_STATE: dict[str, Any] = {"enabled": True, "ranker": RULES.name, "training": False,
                             "loading": False, "outcomes": 0, "newOutcomes": 0, "minOutcomes": 0,
                             "version": 0, "progress": None, "worker": None,
                             "lastTraining": None, "lastError": None}  # fmt: skip
CHECK_NEWER_S = 30.0  # how often a ranking looks for a checkpoint another process wrote


class TrmState:
    """The ranker and training state of one store."""

    def __init__(self, store: Store, settings: Callable[[], TrmSettings]) -> None:
        self.store = store
        self.settings = settings
        self.directory = store.path.parent / "trm"
        self.holder = ModelHolder()
        # which ranker serves (the shipped linear one until a challenger beats it); the TRM,
        # when it serves and cannot rank, falls back to the shipped one, else the rules
        self.champion = Champion(store, lambda: settings().champion, self.holder, self.directory)
        self.ranker = TRMRanker(self.holder, fallback=self.champion.fallback)
        self.champion.trm = self.ranker
        self.shown = ShownLog(store, settings().max_shown_sets)
        self.outcome_sets = 0
        self.new_outcomes = 0  # sets with an outcome since the model was trained
        self.loading = True
        self.attempted = False  # a training has been started (a failed one is not retried at once)
        self.job: TrainJob | None = None
        self.last_result: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.edit_shapes: deque[str] = deque(maxlen=5)
        self.commands: deque[dict[str, Any]] = deque(maxlen=8)
        self.edit_lines = EditLines()  # context recentEditLines
        self.sites = SiteCounts()  # candidate shownInSession
        self._lock = threading.Lock()
        self._checked = 0.0  # when the checkpoint folder was last looked at (monotonic)
        self._refused: set[int] = set()  # checkpoint versions that failed to load
        self.on_job: Callable[[TrainJob], None] | None = None  # told of each new training run

    # -- start --------------------------------------------------------------------------------

    def start(self) -> None:
        self.store.episode_listeners.append(self.on_episode)
        threading.Thread(target=self._load, name="kenetic-trm-load", daemon=True).start()

    def _load(self) -> None:
        """Count the outcome sets and load the newest checkpoint (imports torch if one exists)."""
        try:
            self.champion.load()
            self.shown.prune()
            count = count_outcome_sets(self.store)
            with self._lock:
                self.outcome_sets += count
            newer = self._newer()
            if newer is not None:
                self._adopt(*newer)
        except Exception as e:  # a bad checkpoint: the rules rank (logged once)
            self.last_error = f"checkpoint not loaded: {e}"
            log.warning("TRM checkpoint in %s not loaded (%s); rules rank", self.directory, e)
        finally:
            self.loading = False
            self._checked = time.monotonic()
        self.maybe_train()

    def _newer(self) -> tuple[int, Path] | None:
        """The newest checkpoint, when it is newer than the model serving and not refused."""
        found = checkpoints(self.directory) if self.settings().enabled else []
        if not found:
            return None
        version, path = found[-1]
        if version in self._refused or version <= self.holder.version:
            return None
        return version, path

    def _adopt(self, version: int, path: Path) -> None:
        """Load a checkpoint and swap it in (imports torch); one that fails is not tried again."""
        try:
            model = TRMRanker(path, fallback=RULES).model()
        except Exception:
            self._refused.add(version)
            raise
        self.holder.swap(model, version)
        self.ranker.last_used = "none"  # the new model has not failed yet
        trained_on = _meta(path).get("outcomes")
        if isinstance(trained_on, int):
            with self._lock:
                self.new_outcomes = max(0, self.outcome_sets - trained_on)
        log.info("TRM v%d loaded from %s", version, path)

    def look_for_newer(self) -> None:
        """A checkpoint written by another process (`kenetic train`) is adopted without a
        restart: at most every CHECK_NEWER_S, a glob of the checkpoint folder (on the request
        path, cheap); loading one happens on a thread."""
        now = time.monotonic()
        if self.loading or self.training or now - self._checked < CHECK_NEWER_S:
            return
        self._checked = now
        newer = self._newer()
        if newer is None:
            return
        self.loading = True

        def load() -> None:
            try:
                self._adopt(*newer)
            except Exception as e:  # logged once: _adopt refuses it from now on
                self.last_error = f"checkpoint not loaded: {e}"
                log.warning("newer TRM checkpoint in %s not loaded (%s)", self.directory, e)
            finally:
                self.loading = False

        threading.Thread(target=load, name="kenetic-trm-load", daemon=True).start()

    # -- what the ranker sees -----------------------------------------------------------------

    def on_episode(self, episode: Episode) -> None:
        """Store writer thread: keep the last few edits and commands for the context."""
        data = episode.data
        if episode.kind == "edit":
            pair = data.get("structural") or data.get("region") or {}
            before, after = pair.get("before"), pair.get("after")
            if isinstance(before, str) and isinstance(after, str):
                self.edit_shapes.append(short(before) + " => " + short(after))
            if episode.uri:
                self.edit_lines.region(episode.uri, data.get("region"))
        elif episode.kind == "command" and data.get("source") != "editor":
            code = data.get("exitCode")
            self.commands.append(
                {"command": str(data.get("command") or "")[:200], "exitCode": code or 0}
            )

    def context(self, uri: str = "") -> dict[str, Any]:
        return {
            "recentEditShapes": list(self.edit_shapes),
            "recentCommands": list(self.commands),
            "recentEditLines": self.edit_lines.of(uri),
        }

    @property
    def enabled(self) -> bool:
        return self.settings().enabled

    @property
    def training(self) -> bool:
        job = self.job
        return job is not None and not job.future.done()

    def serving(self) -> Ranker:
        """The ranker that ranks this store's next request (server.suggest.champion)."""
        return self.champion.serving()[1] if self.enabled else RULES

    def ranker_name(self) -> str:
        """What ranks: "rules", "lr" (the shipped linear ranker) or "trm vN"; a TRM that
        could not rank its last request names its fallback."""
        if not self.enabled:
            return RULES.name
        kind, ranker = self.champion.serving()
        if kind != "trm":
            return ranker.name
        if self.ranker.last_used == self.ranker.fallback.name:
            return self.ranker.fallback.name
        return f"trm v{self.holder.version}"

    def describe(self) -> dict[str, Any]:
        job = self.job
        return {
            "enabled": self.enabled,
            "ranker": self.ranker_name(),
            "training": self.training,
            "loading": self.loading,
            "outcomes": self.outcome_sets,
            "newOutcomes": self.new_outcomes,
            "minOutcomes": self.settings().min_outcomes,
            "version": self.holder.version if self.holder.get() is not None else 0,
            "progress": [job.step, job.total] if job is not None and self.training else None,
            "worker": job.pid if job is not None and self.training else None,
            "lastTraining": self.last_result,
            "lastError": self.last_error,
            "champion": self.champion.describe(),
        }

    # -- outcomes and training ----------------------------------------------------------------

    def outcome(self, first_for_set: bool) -> None:
        if first_for_set:
            with self._lock:
                self.outcome_sets += 1
                self.new_outcomes += 1
            self.maybe_train()

    def maybe_train(self) -> None:
        s = self.settings()
        if not s.enabled or self.loading or self.training:
            return
        with self._lock:
            due = self.outcome_sets >= s.min_outcomes and (
                self.new_outcomes >= s.retrain_every
                or (self.holder.get() is None and not self.attempted)
            )
        if due:
            self.train()

    def train(self) -> TrainJob:
        """Start a training run in a daemon thread (or return the one running)."""
        with self._lock:
            if self.job is not None and not self.job.future.done():
                return self.job
            job = self.job = TrainJob()
            self.attempted = True
            self.new_outcomes = 0
        threading.Thread(
            target=self._train, args=(job,), name="kenetic-trm-train-job", daemon=True
        ).start()
        if self.on_job is not None:
            self.on_job(job)
        return job

    def _train(self, job: TrainJob) -> None:
        settings = self.settings()
        try:
            self.store.flush(timeout=5.0)  # the outcome that made the training due, too

            def outcomes() -> list[dict[str, Any]]:  # read by run_training, not held here
                log_ = read_outcome_log(self.store, settings.max_shown_sets)
                with self._lock:
                    self.outcome_sets = max(self.outcome_sets, len(log_))
                return log_

            result = run_training(
                self.directory, self.holder, outcomes, settings, job.report, job=job, mode=where()
            )
            self.ranker.last_used = "none"  # the new model has not failed yet
            self.last_result, self.last_error = result, None
            job.future.set_result(result)
        except BaseException as e:
            if not isinstance(e, TooFewOutcomes):
                log.exception("TRM training failed; the current ranker stays")
                self.last_error = f"training failed: {e}"
            job.future.set_exception(e)


def shipped_or_rules() -> Ranker:
    """What serves a request no store owns: the shipped linear ranker, else the rules."""
    lr, _ = shipped()
    return lr if lr is not None else RULES


def no_state() -> dict[str, Any]:
    """The ranker state of a folder nothing has been ranked in yet."""
    return {**_NO_STATE, "ranker": shipped_or_rules().name, "champion": None}


def _meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
