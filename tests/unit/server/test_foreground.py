"""server.foreground.Gate: background work is stopped while the editor waits, never starved."""

from __future__ import annotations

import time

from server.foreground import Gate


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(**kw: float) -> tuple[Gate, list[str], Clock]:
    calls: list[str] = []
    clock = Clock()
    gate = Gate(lambda: calls.append("pause"), lambda: calls.append("resume"), clock=clock, **kw)
    return gate, calls, clock


def test_the_first_hold_pauses_and_the_last_one_resumes() -> None:
    gate, calls, clock = make()
    gate.begin("reading")
    gate.begin(("request", 1))
    gate.end("reading")
    assert calls == ["pause"] and gate.paused
    clock.t += 0.01
    gate.end(("request", 1))
    assert calls == ["pause", "resume"] and not gate.paused and not gate.held
    gate.end(("request", 1))  # a response to a request that held nothing changes nothing
    gate.end(("request", 99))
    assert calls == ["pause", "resume"]


def test_back_to_back_requests_leave_the_child_its_share_of_each_window() -> None:
    gate, calls, clock = make(window_s=1.0, max_share=0.5)
    for _ in range(6):  # requests of 0.125 s with no gap: the 4th uses the 0.5 s share up
        gate.begin("r")
        clock.t += 0.125
        gate.end("r")
    assert calls.count("pause") == 4 and calls.count("resume") == 4
    gate.begin("r")  # the rest of the window: the child runs
    assert not gate.paused
    gate.end("r")
    clock.t += 0.25  # a new window
    gate.begin("r")
    assert gate.paused and calls[-1] == "pause"


def test_a_long_hold_is_cut_at_the_share() -> None:
    gate, calls, clock = make(window_s=1.0, max_share=0.5)
    gate.begin("a")
    clock.t += 0.6
    gate.begin("b")  # still held, but the window's share is spent: resume now
    assert calls == ["pause", "resume"] and not gate.paused and gate.held


def test_a_hold_nobody_releases_is_given_up() -> None:
    calls: list[str] = []
    gate = Gate(lambda: calls.append("pause"), lambda: calls.append("resume"), max_hold_s=0.2,
                window_s=10.0, max_share=1.0)  # fmt: skip
    gate.begin(("request", 7))  # a handler that never answers
    deadline = time.monotonic() + 10
    while gate.held:
        assert time.monotonic() < deadline, "the hold was never given up"
        time.sleep(0.02)
    assert calls == ["pause", "resume"]


def test_a_failing_pause_is_logged_not_raised(caplog) -> None:  # type: ignore[no-untyped-def]
    def boom() -> None:
        raise OSError("no such process")

    gate = Gate(boom, boom)
    gate.begin("r")
    gate.end("r")
    assert "pausing or resuming background work failed" in caplog.text
