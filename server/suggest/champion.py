"""Which ranker serves a store: a champion, and challengers that must beat it on the
developer's own later outcomes (docs/trm.md, "Which ranker serves").

The candidates are the rules (trm.ranker), the shipped linear ranker (trm.linear) and the
store's own TRM once one is loaded. The shipped ranker serves from the first suggestion; the
rules serve only when it does not load. Every shown set that gets an accepted suggestion is
*judged*: each candidate that can rank scores the set, and its reciprocal rank of the accepted
suggestion is kept (the server's tie-break, as the set was shown). A challenger replaces the
champion only when the mean of its paired differences (challenger minus champion, over the same
sets) has a 95% interval whose lower bound is above zero, over at least MIN_SETS sets. The
interval is the normal approximation (mean +- 1.96 standard errors of the paired differences):
deterministic and cheap, and with 30 or more differences bounded in [-1, 1] close enough.

Only later outcomes count: a TRM version is judged on sets shown after its checkpoint was
written, so never on a set it trained on; the rules and the shipped ranker never saw the
developer's outcomes. A new TRM version starts its evidence afresh. The judged sets (the newest
HISTORY_MAX), the champion and its switches live in the store's meta table, written through the
store's writer, so a restart keeps them. `trm.champion` pins one candidate instead.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memory.store.database import Store
from trm.linear import SHIPPED_PATH, LinearRanker, shipped
from trm.ranker import Ranker, RuleRanker
from trm.trm_ranker import ModelHolder, TRMRanker, checkpoint_path

__all__ = ["KINDS", "MIN_SETS", "Champion", "Judged", "decide", "evidence", "interval"]

log = logging.getLogger(__name__)

KINDS = ("rules", "lr", "trm")
MIN_SETS = 30  # judged sets a challenger needs before it may take over
HISTORY_MAX = 500  # judged sets kept (the newest)
SWITCHES_MAX = 20  # switches remembered
Z95 = 1.959964
META_KEY = "trm.champion"
RULES = RuleRanker()
# one thread judges for every store: judging is off the request path, and in order
_judges = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kenetic-champion")


@dataclass
class Judged:
    """One shown set with an accepted suggestion, as each candidate would have ranked it."""

    at: float  # when the set was shown (epoch seconds)
    rr: dict[str, float]  # candidate kind -> reciprocal rank of the accepted suggestion
    trm: int = 0  # the TRM version that scored it (0: none could)

    def to_json(self) -> list[Any]:
        return [self.at, self.rr.get("rules"), self.rr.get("lr"), self.rr.get("trm"), self.trm]

    @classmethod
    def from_json(cls, raw: Any) -> Judged | None:
        if not isinstance(raw, list) or len(raw) != 5:
            return None
        at, rules, lr, trm, version = raw
        rr = {k: float(v) for k, v in zip(KINDS, (rules, lr, trm), strict=True)
              if isinstance(v, (int, float)) and 0.0 < v <= 1.0}  # fmt: skip
        if not isinstance(at, (int, float)) or not isinstance(version, int):
            return None
        return cls(float(at), rr, version)


def interval(diffs: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the 95% normal-approximation interval of the mean difference."""
    n = len(diffs)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = math.fsum(diffs) / n
    if n == 1:
        return mean, -math.inf, math.inf
    var = math.fsum((d - mean) ** 2 for d in diffs) / (n - 1)
    half = Z95 * math.sqrt(var / n)
    return mean, mean - half, mean + half


def evidence(
    history: Sequence[Judged],
    challenger: str,
    champion: str,
    since: dict[str, float],
    trm_version: int,
) -> dict[str, Any]:
    """Challenger minus champion over the judged sets both ranked, shown after both were
    available (`since`: kind -> epoch seconds), the TRM's only those of its current version."""
    start = max(since.get(challenger, 0.0), since.get(champion, 0.0))
    diffs = [
        j.rr[challenger] - j.rr[champion]
        for j in history
        if challenger in j.rr
        and champion in j.rr
        and j.at > start
        and ("trm" not in (challenger, champion) or j.trm == trm_version)
    ]
    mean, lo, hi = interval(diffs)
    # JSON has no infinity: a TRM not loaded yet has no start (null)
    out: dict[str, Any] = {"sets": len(diffs), "meanDiff": None, "interval": None,
                           "since": start if math.isfinite(start) else None}  # fmt: skip
    if diffs:
        out["meanDiff"] = round(mean, 4)
        if math.isfinite(lo):
            out["interval"] = [round(lo, 4), round(hi, 4)]
    out["lo"] = lo if diffs else math.nan
    return out


def decide(
    champion: str,
    available: Sequence[str],
    history: Sequence[Judged],
    since: dict[str, float],
    trm_version: int,
    min_sets: int = MIN_SETS,
) -> tuple[str, dict[str, Any]] | None:
    """The challenger that beats the champion (the highest lower bound among those whose
    interval is above zero over >= min_sets sets) and its evidence, or None: keep serving."""
    best: tuple[str, dict[str, Any]] | None = None
    for kind in available:
        if kind == champion:
            continue
        ev = evidence(history, kind, champion, since, trm_version)
        if ev["sets"] < min_sets or not ev["lo"] > 0:
            continue
        if best is None or ev["lo"] > best[1]["lo"]:
            best = (kind, ev)
    return best


def reciprocal_rank(scores: Sequence[float], candidates: Sequence[dict[str, Any]], accepted: int):
    """1 / the accepted candidate's rank, ties broken as the server breaks them (same file
    first, then the nearest site; server.suggest.service.rank)."""

    def key(k: int) -> tuple[float, int, float, int]:
        c = candidates[k]
        d = c.get("distance")
        near = float(d) if isinstance(d, (int, float)) else math.inf
        return (-scores[k], 0 if c.get("sameFile") else 1, near, k)

    order = sorted(range(len(candidates)), key=key)
    return 1.0 / (order.index(accepted) + 1)


class _Unavailable:
    """The judge's TRM has no fallback: a TRM that cannot rank is not judged."""

    name = "none"

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        raise LookupError("the TRM cannot rank")


class Champion:
    """The candidates of one store, the evidence between them, and which one serves."""

    def __init__(
        self,
        store: Store,
        pin: Callable[[], str],
        holder: ModelHolder,
        directory: Path,
        lr_path: Path = SHIPPED_PATH,
    ) -> None:
        self.store = store
        self.pin = pin
        self.holder = holder
        self.directory = directory
        self.lr: LinearRanker | None
        self.lr, self.lr_error = shipped(lr_path)
        self.fallback: Ranker = self.lr if self.lr is not None else RULES
        self.trm: TRMRanker | None = None  # the serving TRM (its fallback is self.fallback)
        self._judge_trm = TRMRanker(holder, fallback=_Unavailable())
        self.champion = "lr" if self.lr is not None else "rules"
        self.champion_since = 0.0
        self.history: list[Judged] = []
        self.switches: list[dict[str, Any]] = []
        self._trm_since: dict[int, float] = {}
        self._lock = threading.Lock()

    # -- which serves ---------------------------------------------------------------------------

    def available(self) -> list[str]:
        out = ["rules"]
        if self.lr is not None:
            out.append("lr")
        if self.holder.get() is not None:
            out.append("trm")
        return out

    def serving(self) -> tuple[str, Ranker]:
        """(kind, ranker) that ranks now: the pinned candidate or the champion when it can
        rank, else the shipped ranker, else the rules."""
        pin = self.pin()
        want = pin if pin in KINDS else self.champion
        if want == "trm" and self.trm is not None and self.holder.get() is not None:
            return "trm", self.trm
        if want in ("trm", "lr") and self.lr is not None:
            return "lr", self.lr
        return "rules", RULES

    def since(self) -> dict[str, float]:
        """When each candidate became judgeable: the TRM's version from its checkpoint's
        write (what it trained on was all shown before), the others from the start."""
        version = self.holder.version if self.holder.get() is not None else 0
        out = {"rules": 0.0, "lr": 0.0, "trm": math.inf}
        if version:
            if version not in self._trm_since:
                try:
                    mtime = checkpoint_path(self.directory, version).stat().st_mtime
                except OSError:  # not written by this store's trainer: from now on
                    mtime = time.time()
                self._trm_since[version] = mtime
            out["trm"] = self._trm_since[version]
        return out

    # -- judging ------------------------------------------------------------------------------

    def judge_later(
        self, context: dict[str, Any], candidates: list[dict[str, Any]], accepted: int, at: float
    ) -> None:
        """Score the set with every candidate, on the judging thread (not the request path)."""
        _judges.submit(self._judge_logged, context, candidates, accepted, at)

    def _judge_logged(self, *args: Any) -> None:
        try:
            self.judge(*args)
        except Exception:  # judging is evidence only: never let it break anything
            log.exception("judging a shown set failed")

    def judge(
        self, context: dict[str, Any], candidates: list[dict[str, Any]], accepted: int, at: float
    ) -> Judged:
        rr: dict[str, float] = {"rules": reciprocal_rank(RULES.score(context, candidates),
                                                         candidates, accepted)}  # fmt: skip
        if self.lr is not None:
            rr["lr"] = reciprocal_rank(self.lr.score(context, candidates), candidates, accepted)
        model, version = self.holder.get_versioned()
        if model is not None:
            try:
                scores = self._judge_trm.score(context, candidates)
                rr["trm"] = reciprocal_rank(scores, candidates, accepted)
            except Exception as e:  # a TRM that cannot rank is not judged (serving logs it)
                log.debug("TRM not judged on a set: %s", e)
                version = 0
        else:
            version = 0
        judged = Judged(at, rr, version if "trm" in rr else 0)
        with self._lock:
            self.history.append(judged)
            del self.history[:-HISTORY_MAX]
            self._maybe_switch()
            row = self._row()
        self.store.execute_later(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (META_KEY, row),
        )
        return judged

    def _maybe_switch(self) -> None:
        version = self.holder.version if self.holder.get() is not None else 0
        won = decide(self.champion, self.available(), self.history, self.since(), version)
        if won is None:
            return
        kind, ev = won
        now = time.time()
        self.switches.append({"at": now, "from": self.champion, "to": kind, "sets": ev["sets"],
                              "meanDiff": ev["meanDiff"], "interval": ev["interval"]})  # fmt: skip
        del self.switches[:-SWITCHES_MAX]
        log.info("ranker %s now serves: it beat %s by %s MRR over %d sets (95%% interval %s)",
                 kind, self.champion, ev["meanDiff"], ev["sets"], ev["interval"])  # fmt: skip
        self.champion, self.champion_since = kind, now

    # -- the store ----------------------------------------------------------------------------

    def _row(self) -> str:
        return json.dumps({
            "champion": self.champion,
            "since": self.champion_since,
            "switches": self.switches,
            "judged": [j.to_json() for j in self.history],
            "trmSince": {str(k): v for k, v in self._trm_since.items()},
        })  # fmt: skip

    def load(self) -> None:
        """Read the champion and the judged sets back (the store's reader; not on the loop)."""
        try:
            rows = self.store.query("SELECT value FROM meta WHERE key = ?", (META_KEY,))
            raw = json.loads(rows[0]["value"]) if rows else None
        except Exception as e:  # unreadable: start afresh, the shipped ranker serving
            log.warning("the store's ranker evidence could not be read (%s); starting afresh", e)
            return
        if not isinstance(raw, dict):
            return
        history = [j for j in map(Judged.from_json, raw.get("judged") or []) if j is not None]
        champion = raw.get("champion")
        with self._lock:
            self.history = history[-HISTORY_MAX:]
            if champion in KINDS:
                self.champion = champion
                self.champion_since = float(raw.get("since") or 0.0)
            switches = raw.get("switches")
            self.switches = switches[-SWITCHES_MAX:] if isinstance(switches, list) else []
            for k, v in (raw.get("trmSince") or {}).items():
                if str(k).isdigit() and isinstance(v, (int, float)):
                    self._trm_since[int(k)] = float(v)

    # -- stats --------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """kenetic/stats: which serves, and each challenger's evidence against the champion."""
        with self._lock:
            history = list(self.history)
            champion = self.champion
        version = self.holder.version if self.holder.get() is not None else 0
        since = self.since()
        available = self.available()
        challengers = {}
        for kind in KINDS:
            if kind == champion:
                continue
            ev = evidence(history, kind, champion, since, version)
            ev.pop("lo")
            ev["available"] = kind in available
            if kind == "trm":
                ev["version"] = version
            challengers[kind] = ev
        pin = self.pin()
        return {
            "serving": self.serving()[0],
            "champion": champion,
            "championSince": self.champion_since,
            "pinned": pin if pin in KINDS else None,
            "judged": len(history),
            "minSets": MIN_SETS,
            "challengers": challengers,
            "switches": self.switches[-5:],
            "shipped": self.lr is not None,
            "shippedError": self.lr_error,
        }
