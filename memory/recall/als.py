"""The active learning state (ALS): focus, reflections, stage, and self-tuning suggestion knobs.

Outcomes tune how eagerly kenetic suggests. Copilot's next-edit suggestions multiply their
debounce by 1.5 on a rejection and by 0.8 on an acceptance, clamped. kenetic does that and
more, so a developer who keeps dismissing suggestions gets a quieter kenetic and one who keeps
taking them gets a bolder one:

- `acceptance`: an exponentially weighted acceptance rate (alpha `ewma_alpha`), starting at a
  neutral prior, so one outcome moves it a little and a streak moves it a lot;
- `debounce_ms`: x`reject_factor` on a rejection (x`undo_factor` on an undo, which is a stronger
  no), x`accept_factor` on an acceptance, clamped;
- `min_score`: the ranker score a suggestion needs; follows the acceptance rate (low acceptance
  -> a higher bar), clamped;
- `max_suggestions`: how many to show at once, from 1 to `max_suggestions_cap`, by acceptance;
- `eagerness` in [0, 1], the summary a UI can show: acceptance rate shrunk towards the prior
  while there are few outcomes;
- a cool-down: `quiet_after` rejections in a row silence suggestions for `quiet_s` seconds.

What the server does with them (server.features.memory): during a cool-down it answers inline
completions and `kenetic/nextEdits` with nothing (code actions, which the developer asks for,
stay); an acceptance ends the cool-down. The other knobs are published in `kenetic/als` for
clients (e.g. to debounce their inline requests by `debounce_ms`) and the agent's context.
The outcomes come from the developer's own decisions on suggestions (kenetic.recordOutcome,
kenetic.applySkill, an undo seen in didChange), not from alternatives an acceptance rejected.

`shown` alone teaches nothing (the user may not have looked). The state persists in the store's
memory_state table under the key `als` and is reloaded on open.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from memory.store.database import Store
from memory.store.schema import get_state, put_state

STAGES = ("cold", "learning", "tuned")  # by outcome count: no outcomes, < tuned_after, beyond
OUTCOME_KINDS = ("shown", "accepted", "rejected", "undone")


@dataclass
class AlsSettings:
    """How the knobs move (defaults after Copilot NES, plus the score and count knobs)."""

    debounce_ms: float = 300.0  # starting debounce
    debounce_min_ms: float = 75.0
    debounce_max_ms: float = 3000.0
    accept_factor: float = 0.8
    reject_factor: float = 1.5
    undo_factor: float = 2.0
    ewma_alpha: float = 0.15  # weight of the newest outcome in the acceptance rate
    prior_acceptance: float = 0.5
    min_score_low: float = 0.05  # the bar at acceptance 1
    min_score_high: float = 0.6  # the bar at acceptance 0
    max_suggestions_cap: int = 5
    quiet_after: int = 3  # rejections in a row that start a cool-down (0: never)
    quiet_s: float = 60.0
    max_reflections: int = 20
    tuned_after: int = 50  # outcomes before the stage is "tuned"


@dataclass
class Reflection:
    at: float
    text: str
    source: str = "user"


@dataclass
class ActiveLearningState:
    focus: dict[str, Any] = field(default_factory=dict)  # {uri?, symbol?, task?, since}
    reflections: list[Reflection] = field(default_factory=list)  # newest last
    stage: str = "cold"
    debounce_ms: float = 300.0
    min_score: float = 0.325
    max_suggestions: int = 3
    acceptance: float = 0.5
    eagerness: float = 0.5
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_KINDS, 0))
    rejection_streak: int = 0
    quiet_until: float = 0.0
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActiveLearningState:
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known and k != "reflections"})
        state.reflections = [Reflection(**r) for r in data.get("reflections", [])]
        state.outcomes = {**dict.fromkeys(OUTCOME_KINDS, 0), **state.outcomes}
        return state


class Als:
    """The ALS of one store; every change is persisted through the writer queue."""

    KEY = "als"

    def __init__(self, store: Store, settings: AlsSettings | None = None) -> None:
        self.store = store
        self.settings = settings or AlsSettings()
        saved = get_state(store, self.KEY)
        if isinstance(saved, dict):
            try:
                self.state = ActiveLearningState.from_json(saved)
            except (TypeError, ValueError):
                self.state = self._fresh()
        else:
            self.state = self._fresh()

    def _fresh(self) -> ActiveLearningState:
        s = self.settings
        state = ActiveLearningState(debounce_ms=s.debounce_ms, acceptance=s.prior_acceptance)
        self._derive(state)
        return state

    def _save(self, now: float) -> None:
        self.state.updated_at = now
        put_state(self.store, self.KEY, self.state.to_json())

    # -- outcomes ---------------------------------------------------------------------------

    def record_outcome(self, outcome: str, now: float | None = None) -> ActiveLearningState:
        """Move the knobs after a suggestion's outcome; returns the new state."""
        if outcome not in OUTCOME_KINDS:
            raise ValueError(f"unknown outcome {outcome!r}: expected one of {OUTCOME_KINDS}")
        now = time.time() if now is None else now
        s, st = self.settings, self.state
        st.outcomes[outcome] = st.outcomes.get(outcome, 0) + 1
        if outcome != "shown":
            accepted = outcome == "accepted"
            # an undo is a rejection that cost the user an edit: it counts twice
            steps = 2 if outcome == "undone" else 1
            for _ in range(steps):
                st.acceptance += s.ewma_alpha * ((1.0 if accepted else 0.0) - st.acceptance)
            factor = {
                "accepted": s.accept_factor,
                "rejected": s.reject_factor,
                "undone": s.undo_factor,
            }[outcome]
            st.debounce_ms = min(s.debounce_max_ms, max(s.debounce_min_ms, st.debounce_ms * factor))
            if accepted:
                st.rejection_streak = 0
                st.quiet_until = 0.0
            else:
                st.rejection_streak += 1
                if s.quiet_after and st.rejection_streak >= s.quiet_after:
                    st.quiet_until = now + s.quiet_s
                    st.rejection_streak = 0
            self._derive(st)
        self._save(now)
        return st

    def _derive(self, st: ActiveLearningState) -> None:
        s = self.settings
        a = min(1.0, max(0.0, st.acceptance))
        st.min_score = round(s.min_score_high - (s.min_score_high - s.min_score_low) * a, 4)
        st.max_suggestions = max(
            1, min(s.max_suggestions_cap, round(1 + a * s.max_suggestions_cap))
        )
        decided = sum(st.outcomes.get(k, 0) for k in ("accepted", "rejected", "undone"))
        trust = decided / (decided + 5)  # few outcomes: stay near the prior
        st.eagerness = round(trust * a + (1 - trust) * s.prior_acceptance, 4)
        st.stage = "cold" if decided == 0 else "learning" if decided < s.tuned_after else "tuned"

    def quiet(self, now: float | None = None) -> bool:
        """In a cool-down: the server offers no unasked-for suggestions (inline completions,
        next edits) until it ends or the developer accepts one."""
        now = time.time() if now is None else now
        return now < self.state.quiet_until

    def allows(self, score: float, now: float | None = None) -> bool:
        """Whether a suggestion with this ranker score may be shown now."""
        now = time.time() if now is None else now
        return now >= self.state.quiet_until and score >= self.state.min_score

    # -- focus, reflections, stage ----------------------------------------------------------

    def set_focus(
        self,
        uri: str | None = None,
        symbol: str | None = None,
        task: str | None = None,
        now: float | None = None,
    ) -> None:
        now = time.time() if now is None else now
        focus = {"uri": uri, "symbol": symbol, "task": task}
        focus = {k: v for k, v in focus.items() if v}
        if focus != {k: v for k, v in self.state.focus.items() if k != "since"}:
            self.state.focus = {**focus, "since": now}
            self._save(now)

    def reflect(self, text: str, source: str = "user", now: float | None = None) -> None:
        """Add a reflection; only the newest `max_reflections` are kept."""
        if not text.strip():
            raise ValueError("a reflection needs text")
        now = time.time() if now is None else now
        self.state.reflections.append(Reflection(now, text.strip(), source))
        del self.state.reflections[: -self.settings.max_reflections]
        self._save(now)

    def set_stage(self, stage: str, now: float | None = None) -> None:
        """Override the stage (the server may know better, e.g. while training)."""
        self.state.stage = stage
        self._save(time.time() if now is None else now)

    def replace(self, data: dict[str, Any]) -> None:
        """Adopt a saved state (an import); persisted."""
        self.state = ActiveLearningState.from_json(data)
        self._save(self.state.updated_at or time.time())

    def to_json(self) -> dict[str, Any]:
        return self.state.to_json()
