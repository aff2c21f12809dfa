"""What the memory's ALS hears of suggestions: the developer's own decisions (accept, reject,
undo), never the alternatives an acceptance rejects on its behalf."""

from __future__ import annotations

from typing import Any

from server.suggest.outcomes import Suggestions

URI = "file:///a.py"


class FakeSkillStore:
    def record_suggestion(self, *args: Any) -> None:
        pass


class FakeLibrary:
    def __init__(self) -> None:
        self.skill_store = FakeSkillStore()
        self.recorded: list[tuple[str, str]] = []

    def record(self, suggestion_id: str, skill_id: str, outcome: str) -> None:
        self.recorded.append((skill_id, outcome))


def test_decision_hooks_hear_decisions_and_not_the_alternatives() -> None:
    lib = FakeLibrary()
    sugs = Suggestions(undo_window_s=30)
    heard: list[tuple[str, str]] = []
    told: list[tuple[str, str]] = []
    sugs.on_outcome = lambda s, o: told.append((s.skill_id, o))
    sugs.decision_hooks.append(lambda s, o: heard.append((s.skill_id, o)))
    batch = sugs.new_batch()
    text = "x = print(a)\n"
    applied = text.replace("print", "log", 1)
    a = sugs.offer(lib, "A", "codeAction", URI, 1, [(4, "print", "log")], 0.5, batch)  # type: ignore[arg-type]
    sugs.offer(lib, "B", "codeAction", URI, 1, [(4, "print", "out")], 0.4, batch)  # type: ignore[arg-type]
    assert sugs.accept(a, applied) is True  # recordOutcome after the client applied the edit
    assert heard == [("A", "accepted")]  # B was rejected for the developer: not a decision
    assert told == [("A", "accepted"), ("B", "rejected")]  # the shown-set log hears both

    c = sugs.offer(lib, "C", "inline", URI, 2, [(0, "y", "z")], 0.3, sugs.new_batch())  # type: ignore[arg-type]
    assert sugs.reject(c) is True
    assert heard[-1] == ("C", "rejected")

    # the accepted rewrite reverted within the undo window: an undo
    undone = sugs.on_change(URI, applied, text)
    assert [s.skill_id for s in undone] == ["A"]
    assert heard[-1] == ("A", "undone")


def test_a_failing_hook_does_not_stop_the_outcome() -> None:
    lib = FakeLibrary()
    sugs = Suggestions()

    def broken(*_: Any) -> None:
        raise RuntimeError("hook bug")

    sugs.decision_hooks.append(broken)
    sug = sugs.offer(lib, "A", "inline", URI, 1, [(0, "a", "b")], 0.5, "b1")  # type: ignore[arg-type]
    assert sugs.reject(sug) is True and sug.state == "rejected"
    assert lib.recorded[-1] == ("A", "rejected")
