"""Burst grouping: turning a stream of incremental changes into edit episodes.

A burst is the run of changes a developer makes to one place of one document. It closes after
`idleGapMs` without a change to it, on a change more than a few lines away (a jump elsewhere), on
save and on close. This module is plain logic with an injected clock so tests need no server;
the cost per change is a few comparisons, since it runs inside didChange.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Burst:
    uri: str
    baseline: str  # document text before the first change of the burst
    first_version: int
    last_version: int
    started_at: float
    last_change_at: float
    lo: int  # first line touched, in current document coordinates
    hi: int  # last line touched, in current document coordinates
    current: str  # document text after the latest change (a reference, never a copy)
    idle_gap_s: float  # each folder may set its own gap
    changes: int = 1


@dataclass(frozen=True)
class ClosedBurst:
    """A finished burst with both texts: what the episode is built from."""

    uri: str
    before: str
    after: str
    first_version: int
    last_version: int
    started_at: float
    ended_at: float
    changes: int
    reason: str  # idle | jump | save | close | flush


class BurstTracker:
    """Open bursts per document. Every method returns the bursts it closed."""

    def __init__(self, idle_gap_s: float, jump_lines: int) -> None:
        self.idle_gap_s = idle_gap_s
        self.jump_lines = jump_lines
        self._open: dict[str, Burst] = {}

    def __len__(self) -> int:
        return len(self._open)

    def open_burst(self, uri: str) -> Burst | None:
        """The burst still open on a document (read-only: it keeps growing as changes come)."""
        return self._open.get(uri)

    def shortest_gap(self) -> float:
        return min((b.idle_gap_s for b in self._open.values()), default=self.idle_gap_s)

    def change(
        self,
        uri: str,
        version: int,
        before: str,
        after: str,
        start_line: int | None,
        end_line: int | None,
        new_lines: int,
        now: float,
        idle_gap_s: float | None = None,
    ) -> list[ClosedBurst]:
        """Record one change. `before`/`after` are the whole document around this change;
        start/end lines are its range (None for a full-document change), `new_lines` the
        number of line breaks in its inserted text; `idle_gap_s` overrides the default gap."""
        closed: list[ClosedBurst] = []
        gap = self.idle_gap_s if idle_gap_s is None else idle_gap_s
        burst = self._open.get(uri)
        if burst is not None and now - burst.last_change_at >= burst.idle_gap_s:
            closed.append(self._close(uri, burst.last_change_at, "idle"))
            burst = None
        if burst is not None and start_line is not None and end_line is not None:
            far = start_line > burst.hi + self.jump_lines or end_line < burst.lo - self.jump_lines
            if far:
                closed.append(self._close(uri, now, "jump"))
                burst = None
        if burst is None:
            lo = start_line if start_line is not None else 0
            hi = (start_line + new_lines) if start_line is not None else 0
            self._open[uri] = Burst(uri, before, version, version, now, now, lo, hi, after, gap)
            return closed
        burst.current = after
        burst.last_version = version
        burst.last_change_at = now
        burst.changes += 1
        if start_line is None or end_line is None:
            return closed
        delta = new_lines - (end_line - start_line)
        if start_line <= burst.hi:
            # lines below the change shift; the burst's end moves with them
            burst.hi = max(burst.hi + delta, start_line + new_lines)
        else:
            burst.hi = start_line + new_lines
        burst.lo = min(burst.lo, start_line)
        burst.hi = max(burst.hi, burst.lo)
        return closed

    def expire(self, now: float) -> list[ClosedBurst]:
        """Close the bursts that have been idle for the gap."""
        return [
            self._close(uri, now, "idle")
            for uri, burst in list(self._open.items())
            if now - burst.last_change_at >= burst.idle_gap_s
        ]

    def close(self, uri: str, now: float, reason: str) -> list[ClosedBurst]:
        if uri not in self._open:
            return []
        return [self._close(uri, now, reason)]

    def close_all(self, now: float) -> list[ClosedBurst]:
        return [self._close(uri, now, "flush") for uri in list(self._open)]

    def _close(self, uri: str, now: float, reason: str) -> ClosedBurst:
        burst = self._open.pop(uri)
        return ClosedBurst(
            uri=uri,
            before=burst.baseline,
            after=burst.current,
            first_version=burst.first_version,
            last_version=burst.last_version,
            started_at=burst.started_at,
            ended_at=max(now, burst.last_change_at) if reason != "idle" else burst.last_change_at,
            changes=burst.changes,
            reason=reason,
        )


def changed_region(before: str, after: str) -> tuple[int, list[str], list[str]]:
    """The smallest run of whole lines that differs: (first line, before lines, after lines).

    Lines keep their line breaks. Equal texts give an empty region at line 0.
    """
    if before == after:
        return 0, [], []
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    start = 0
    limit = min(len(a), len(b))
    while start < limit and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    return start, a[start:end_a], b[start:end_b]
