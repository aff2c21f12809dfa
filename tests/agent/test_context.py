"""The six-block context: resources within their share, stale reads, masking, summarising."""

from __future__ import annotations

from server.agent.context import Context, Resources, mechanical_digest, render_resources
from server.agent.messages import Message, ToolCall


def round_(i: int, output: str, tool: str = "read_file") -> list[Message]:
    return [
        Message("assistant", f"step {i}", [ToolCall(f"t{i}", tool, {"path": f"f{i}.py"})]),
        Message("tool", output, tool_call_id=f"t{i}", tool_name=tool),
    ]


def test_resources_render_in_order_and_within_budget() -> None:
    r = Resources(
        notes={"KENETIC.md": "Run tests with `make test`.", "user.md": "Prefers small diffs."},
        episodes=[{"id": i, "command": "pytest -q " + "x" * 50} for i in range(50)],
        skills=[
            {"id": "s1", "name": "add-type-hints", "before": "def f(x)", "after": "def f(x: int)"}
        ],
        patterns=[
            {"name": "fix tests", "steps": ["run pytest", "edit_file", "run pytest"], "support": 3}
        ],
        document={"path": "pkg/calc.py", "range": "lines 1-2", "text": "def add(a, b):"},
    )
    text = render_resources(r, 400)
    order = [
        "The user is at",
        "KENETIC.md",
        "user.md",
        "Reasoning patterns",
        "Learned skills",
        "Similar past work",
    ]
    positions = [text.index(title) for title in order]
    assert positions == sorted(positions)
    assert "run pytest -> edit_file -> run pytest" in text
    assert "(more left out)" in text and len(text) < 400 * 4 + 200
    ctx = Context("fix it", resources=r, budget_tokens=10_000)
    assert ctx.system().startswith("You are kenetic's agent") and "make test" in ctx.system()
    assert ctx.messages()[0].text == "Task: fix it"


def test_a_read_goes_stale_when_the_file_is_edited() -> None:
    ctx = Context("t")
    r = round_(1, "old contents")
    ctx.add(r[0])
    ctx.add(r[1], read_path="f1.py")
    ctx.add(Message("tool", "other", tool_call_id="t9", tool_name="read_file"), read_path="g.py")
    assert ctx.mark_edited("f1.py") == 1
    assert ctx.turns[1].text.startswith("[stale: f1.py was edited")
    assert ctx.turns[2].text == "other"
    assert ctx.mark_edited("f1.py") == 0


async def test_compaction_masks_then_summarises() -> None:
    ctx = Context("t", budget_tokens=3000, keep_recent=2)
    for i in range(4):
        for m in round_(i, "x" * 4000):
            ctx.add(m)
    assert ctx.over_budget()
    calls: list[str] = []

    async def summarise(text: str) -> str:
        calls.append(text)
        return "read f0..f1"

    done = await ctx.compact(summarise)
    # the two old rounds' outputs are masked first; that is enough here
    assert done == {"masked": 2, "summarised": 0} and not calls
    assert ctx.turns[1].text.startswith("[read_file output masked")
    assert ctx.turns[7].text == "x" * 4000  # recent rounds stay verbatim

    ctx.budget_tokens = 2200  # still over: summarise the old rounds away
    done = await ctx.compact(summarise)
    assert done["summarised"] == 4 and len(calls) == 1 and "called read_file" in calls[0]
    assert len(ctx.turns) == 4 and ctx.turns[0].role == "assistant"
    assert "Progress so far (earlier steps, summarised):\nread f0..f1" in ctx.messages()[0].text


async def test_compaction_survives_a_failing_summariser() -> None:
    ctx = Context("t", budget_tokens=700, keep_recent=1)
    for i in range(3):
        for m in round_(i, "y" * 3000):
            ctx.add(m)

    async def broken(text: str) -> str:
        raise RuntimeError("offline")

    await ctx.compact(broken)
    assert "called read_file" in ctx.summary  # the mechanical digest stands in
    assert mechanical_digest(round_(5, "first line\nsecond")).endswith("-> first line")


def test_calibration_follows_the_provider() -> None:
    ctx = Context("t" * 400)
    estimate = ctx.estimate()
    ctx.calibrate(estimate, estimate * 2)
    assert ctx.estimate() == estimate * 2
    ctx.calibrate(ctx.estimate(), 1)
    assert ctx.ratio == 0.5  # clamped: one odd count does not blind the budget
