"""Reasoning patterns: the deterministic miner, and the LLM's JSON with its layered repair."""

from __future__ import annotations

from typing import Any

import pytest

from server.agent.jsonrepair import JsonRepairError, parse_json_loose
from server.agent.llm import LLMGateway
from server.agent.messages import Message
from server.agent.patterns import command_head, mine_patterns, patterns_from_llm
from server.agent.providers import AnthropicProvider
from tests.agent.conftest import FAST_RETRY, KEY, FakeHTTP
from tests.agent.wire import anthropic_stream, text


def agent(id_: int, *steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": id_,
        "kind": "agent",
        "task": f"task {id_}",
        "outcome": "success",
        "trajectory": [{"type": "llm"}]
        + [{"type": "tool", "tool": t, "arguments": a} for t, a in steps],
    }


def command(id_: int, session: str, cmd: str, at: float) -> dict[str, Any]:
    return {
        "id": id_,
        "kind": "command",
        "sessionId": session,
        "command": cmd,
        "exitCode": 0,
        "startedAt": at,
    }


READ = ("read_file", {"path": "a.py"})
EDIT = ("edit_file", {"path": "a.py"})
TEST = ("run_command", {"command": "python -m pytest -x tests/test_a.py"})


def test_command_heads() -> None:
    assert command_head("FOO=1 python3 -m pytest -x") == "python -m pytest"
    assert command_head("git -C x commit -m 'a b'") == "git commit"
    assert command_head("/usr/bin/make test") == "make test"
    assert command_head("ls -la") == "ls"
    assert command_head("echo 'unclosed") == "echo"


def test_miner_finds_frequent_closed_sequences() -> None:
    episodes = [
        agent(1, READ, READ, EDIT, TEST),
        agent(2, ("search", {"query": "x"}), READ, EDIT, TEST, EDIT, TEST),
        agent(3, READ, EDIT, TEST),
        agent(4, ("list_files", {})),
        command(10, "s1", "git add -A", 1),
        command(11, "s1", "git commit -m x", 2),
        command(12, "s2", "git add .", 1),
        command(13, "s2", "git commit -m y", 2),
    ]
    patterns = mine_patterns(episodes)
    top = patterns[0]
    assert top["steps"] == ["read_file", "edit_file", "run python -m pytest"]
    assert top["support"] == 3 and top["episodeIds"] == [1, 2, 3]
    assert top["name"] == "read_file → edit_file → run python -m pytest"
    assert top["template"].startswith("{task}") and "Run `python -m pytest`" in top["template"]
    # closed: read→edit has the same support as read→edit→test, so only the longer one is kept
    assert ["read_file", "edit_file"] not in [p["steps"] for p in patterns]
    git = next(p for p in patterns if p["steps"] == ["run git add", "run git commit"])
    assert git["support"] == 2 and git["episodeIds"] == [10, 11, 12, 13]
    assert mine_patterns(episodes, min_support=4) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n[{"a": 1}]\n```', [{"a": 1}]),
        ('Here you go:\n{"a": {"b": [1, 2]}} hope it helps', {"a": {"b": [1, 2]}}),
        ('{"a": [1, 2,], "b": 3,}', {"a": [1, 2], "b": 3}),
        (
            "{'name': 'it\\'s', 'ok': True, 'none': None}",
            {"name": "it's", "ok": True, "none": None},
        ),
        ('{name: "x", steps: ["a"]}', {"name": "x", "steps": ["a"]}),
        ('[{"name": "x", "steps": ["a", "b"', [{"name": "x", "steps": ["a", "b"]}]),
        ("\u201cquoted\u201d", "quoted"),
    ],
)
def test_json_repair_layers(raw: str, expected: Any) -> None:
    assert parse_json_loose(raw) == expected


@pytest.mark.parametrize("raw", ["", "no json here at all", "{{{{ ::: }}"])
def test_json_repair_gives_up_clearly(raw: str) -> None:
    with pytest.raises(JsonRepairError, match="JSON"):
        parse_json_loose(raw)


async def test_patterns_by_the_llm_from_a_malformed_reply(fake_http: FakeHTTP) -> None:
    reply = (
        'Sure! ```json\n[{"name": "fix failing test", "steps": ["run pytest", "read the '
        'failure", "edit", "run pytest",], "template": "Fix: {task}", "episodeIds": [1, 3, '
        '99]}, {"name": "no steps"}]\n```'
    )
    fake_http.push(anthropic_stream(text(reply)))
    llm = LLMGateway([AnthropicProvider(KEY, base_url=fake_http.url)], retry=FAST_RETRY)
    episodes = [agent(1, READ, EDIT, TEST), agent(3, READ, EDIT, TEST)]
    patterns, usage = await patterns_from_llm(episodes, llm)
    assert patterns == [
        {
            "name": "fix failing test",
            "steps": ["run pytest", "read the failure", "edit", "run pytest"],
            "template": "Fix: {task}",
            "support": 2,
            "episodeIds": [1, 3],
            "source": "llm",
        }
    ]
    assert usage.role == "summarise"
    body = fake_http.bodies()[0]
    assert (
        body["model"] == "claude-haiku-4-5"
        and "id 1 agent task" in body["messages"][0]["content"][0]["text"]
    )
    fake_http.push(anthropic_stream(text("I could not find any patterns, sorry.")))
    with pytest.raises(JsonRepairError):
        await patterns_from_llm(episodes, llm)
    assert Message  # the gateway's message type is what patterns_from_llm sends
