"""Choosing the agent's tools (and skills) with the project's ranker and the tools' history."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from memory.store.database import Episode, Store
from server.agent.loop import run_task
from server.agent.tool_ranking import ToolRanker, rank_skills, tool_history
from server.agent.tools import Tool, ToolRegistry, ToolResult
from tests.agent.conftest import FakeEditor, FakeHTTP
from tests.agent.test_loop import setup as llm_and_tools
from tests.agent.wire import anthropic_stream, text
from trm.ranker import RuleRanker

NOW = time.time()
PR = "Open a pull request for a branch"


def noop_tool(name: str, description: str) -> Tool:
    async def handler(args: dict[str, Any]) -> ToolResult:
        return ToolResult(name)

    return Tool(name, description, {"type": "object", "properties": {}}, handler, "mcp:x")


def many_tools() -> ToolRegistry:
    """32 tools: two that match a pull-request task word for word, and 30 that do not."""
    tools = ToolRegistry()
    tools.register(noop_tool("alpha_pull_request", PR))
    tools.register(noop_tool("beta_pull_request", PR))
    for i in range(30):
        tools.register(noop_tool(f"weather_{i}", "Forecast the weather for a city"))
    return tools


def rules(context: dict[str, Any], candidates: list[dict[str, Any]]) -> tuple[list[float], str]:
    return RuleRanker().score(context, candidates), "rules"


def episode(outcome: str, *tools: str, reason: str = "answered", ended: float = NOW) -> Episode:
    trajectory: list[dict[str, Any]] = [{"step": 1, "type": "llm"}]
    trajectory += [{"step": 1, "type": "tool", "tool": t, "isError": False} for t in tools]
    data = {"task": "t", "trajectory": trajectory, "outcome": outcome, "reason": reason}
    return Episode("agent", "s", ended - 5, ended, data)


def stored_history(tmp_path: Path, episodes: list[Episode]) -> dict[str, dict[str, Any]]:
    """The history as the server reads it: agent episodes listed from a real store."""
    store = Store(tmp_path / "k.db")
    try:
        for e in episodes:
            store.add_episode(e)
        store.add_episode(Episode("command", "s", NOW, NOW, {"command": "ls"}))
        assert store.flush()
        return tool_history(e.to_json() for e in store.episodes(kind="agent", limit=200))
    finally:
        store.close()


def test_history_counts_episodes_by_outcome(tmp_path: Path) -> None:
    history = stored_history(
        tmp_path,
        [
            episode("success", "read_file", "read_file", "edit_file", ended=NOW - 100),
            episode("success", "read_file", ended=NOW),
            episode("failure", "read_file", "run_command", reason="commandFailed"),
            episode("failure", "edit_file", reason="undone"),
            episode("cancelled", "search", reason="cancelled"),
        ],
    )
    assert history["read_file"] == {
        "support": 3,  # episodes, not calls
        "accepted": 2,
        "rejected": 1,
        "undone": 0,
        "lastUsed": NOW,
    }
    assert history["edit_file"]["accepted"] == 1 and history["edit_file"]["undone"] == 1
    assert history["edit_file"]["lastUsed"] == NOW - 100
    assert history["run_command"] == {
        "support": 1,
        "accepted": 0,
        "rejected": 1,
        "undone": 0,
        "lastUsed": 0.0,
    }
    assert history["search"]["support"] == 1 and history["search"]["accepted"] == 0
    refused = {"type": "tool", "tool": "weather_0", "isError": True, "refused": True}
    assert tool_history([{"outcome": "success", "trajectory": [refused]}]) == {}


def test_history_backed_tool_wins_a_tie_and_unrelated_tools_stay_out(tmp_path: Path) -> None:
    tools = many_tools()
    task = {"task": "open a pull request for my branch"}
    # the words alone tie: the first registered wins
    assert tools.select(task, limit=1, always=()) == ["alpha_pull_request"]
    history = stored_history(
        tmp_path,
        [episode("success", "beta_pull_request") for _ in range(3)]
        # an unrelated tool with a far longer, better record
        + [episode("success", "weather_7") for _ in range(20)],
    )
    ranker = ToolRanker(rules, history)
    assert tools.select(task, limit=1, always=(), ranker=ranker) == ["beta_pull_request"]
    assert ranker.last_ranker == "rules"
    # the relevant tool never used here still comes before the unrelated one with history
    chosen = tools.select(task, limit=2, always=(), ranker=ranker)
    assert chosen == ["beta_pull_request", "alpha_pull_request"]
    # the slots left after the relevant tools go by history, not registration order
    assert tools.select(task, limit=3, always=(), ranker=ranker)[2] == "weather_7"
    assert tools.select(task, limit=3, always=())[2] == "weather_0"


def test_failed_history_does_not_win_and_trm_logits_stay_within_the_tier() -> None:
    tools = many_tools()
    task = {"task": "open a pull request for my branch"}
    failed = {"beta_pull_request": {"support": 4, "rejected": 4, "undone": 2}}
    good = {"alpha_pull_request": {"support": 2, "accepted": 2, "lastUsed": NOW}}
    ranker = ToolRanker(rules, {**failed, **good})
    assert tools.select(task, limit=1, always=(), ranker=ranker) == ["alpha_pull_request"]

    def trm(context: dict[str, Any], candidates: list[dict[str, Any]]) -> tuple[list[float], str]:
        # a model sure of an unrelated tool (logits, not probabilities) and mildly of beta
        return [
            50.0 if c["skillId"] == "tool:weather_3" else 1.0 if "beta" in c["name"] else 0.0
            for c in candidates
        ], "trm v2"

    ranker = ToolRanker(trm)
    chosen = tools.select(task, limit=3, always=(), ranker=ranker)
    assert sorted(chosen[:2]) == ["alpha_pull_request", "beta_pull_request"]
    assert chosen[2] == "weather_3"
    # a tool that shares one word with the task, among many, still beats the model's favourite
    tools.register(
        noop_tool(
            "archive_snapshots",
            "Archive old snapshots of a branch into cold storage buckets every night, for "
            "compliance audits, retention policies, quarterly reports and disaster recovery",
        )
    )
    chosen = tools.select(task, limit=4, always=(), ranker=ranker)
    assert chosen[2:] == ["archive_snapshots", "weather_3"]
    assert ranker.last_ranker == "trm v2"


def test_candidates_carry_relevance_and_history() -> None:
    seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def spy(context: dict[str, Any], candidates: list[dict[str, Any]]) -> tuple[list[float], str]:
        seen.append((context, candidates))
        return rules(context, candidates)

    history = {"beta_pull_request": {"support": 3, "accepted": 3, "lastUsed": NOW}}
    many_tools().select({"task": "open a pull request"}, limit=2, ranker=ToolRanker(spy, history))
    (context, candidates), *_ = seen
    assert context["kind"] == "agentTool" and context["task"] == "open a pull request"
    by_id = {c["skillId"]: c for c in candidates}
    assert by_id["tool:alpha_pull_request"]["specificity"] == 1.0
    assert by_id["tool:alpha_pull_request"]["support"] == 0
    assert by_id["tool:weather_0"]["specificity"] == 0.0
    beta = by_id["tool:beta_pull_request"]
    assert (beta["support"], beta["accepted"], beta["lastUsed"]) == (3, 3, NOW)
    assert beta["templateText"] == PR and beta["distance"] is None


def test_a_failing_ranker_falls_back_to_the_lexical_one() -> None:
    tools = many_tools()
    history = {"beta_pull_request": {"support": 3, "accepted": 3, "lastUsed": NOW}}

    def broken(context: dict[str, Any], candidates: list[dict[str, Any]]) -> Any:
        raise RuntimeError("model not loaded")

    def short(context: dict[str, Any], candidates: list[dict[str, Any]]) -> Any:
        return [1.0], "rules"

    def nan(context: dict[str, Any], candidates: list[dict[str, Any]]) -> Any:
        return [float("nan")] * len(candidates), "trm v1"

    task = {"task": "open a pull request"}
    for learned in (broken, short, nan):
        ranker = ToolRanker(learned, history)
        assert tools.select(task, limit=1, always=(), ranker=ranker) == ["alpha_pull_request"]


def skill(id_: str, before: str, after: str, support: int, **outcomes: int) -> dict[str, Any]:
    return {
        "id": id_,
        "name": f"{before} => {after}",
        "language": "python",
        "before": before,
        "after": after,
        "support": support,
        "specificity": 0.8,
        "outcomes": {"shown": 0, "accepted": 0, "rejected": 0, "undone": 0, **outcomes},
    }


def test_skills_are_ranked_with_their_outcomes_among_the_relevant_ones() -> None:
    skills = [
        skill("s1", "assertEqual(a, b)", "assert a == b", 2, shown=5, rejected=5),
        skill("s2", "assertEqual(a, b)", "assert a == b", 2, shown=5, accepted=5),
        skill("s3", "print(x)", "log.info(x)", 50, shown=40, accepted=40),  # unrelated
    ]
    task = "replace assertEqual with plain assert"
    assert [s["id"] for s in rank_skills(task, skills, 5)] == ["s1", "s2"]
    ranked = rank_skills(task, skills, 5, ToolRanker(rules))
    assert [s["id"] for s in ranked] == ["s2", "s1"]
    assert [s["id"] for s in rank_skills(task, skills, 1, ToolRanker(rules))] == ["s2"]

    def broken(context: dict[str, Any], candidates: list[dict[str, Any]]) -> Any:
        raise RuntimeError("boom")

    assert [s["id"] for s in rank_skills(task, skills, 5, ToolRanker(broken))] == ["s1", "s2"]


async def test_the_loop_offers_the_ranked_tools(fake_http: FakeHTTP, workspace: Path) -> None:
    fake_http.push(anthropic_stream(text("Done.")))
    llm, tools = llm_and_tools(fake_http, workspace, FakeEditor())
    tools.register(noop_tool("alpha_pull_request", PR))
    tools.register(noop_tool("beta_pull_request", PR))
    for i in range(30):
        tools.register(noop_tool(f"weather_{i}", "Forecast the weather for a city"))
    history = {"beta_pull_request": {"support": 3, "accepted": 3, "lastUsed": NOW}}
    result = await run_task(
        "open a pull request for my branch",
        llm=llm,
        tools=tools,
        budget={"maxTools": 4},
        ranker=ToolRanker(rules, history),
    )
    assert result["outcome"] == "success"
    offered = [t["name"] for t in fake_http.bodies()[0]["tools"]]
    assert offered == ["read_file", "edit_file", "search", "beta_pull_request"]
