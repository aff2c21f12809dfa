"""Every custom method answers every malformed param with InvalidParams (issue 16, item 16).

One real server over stdio walks every `kenetic/*` request and `kenetic.*` command the server
registers (a method added without an entry here fails the walk): the params as a whole of the
wrong shape, each top-level field given values of the wrong type, and nested values the handlers
read (a ranking candidate's `support`, a memory item's `metadata.data`). None may answer
InternalError, and none may be left unanswered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import types
from pydantic import BaseModel, ValidationError
from pygls.exceptions import JsonRpcException

from server import protocol as p
from server.setup import create_server
from tests.e2e.conftest import lsp_session, request

WRONG_VALUES: list[Any] = ["text", 7, -3, 2.5, True, None, [], [1], {}, {"x": 1}, 10**30]

# method -> (its params model, params that are valid, nested malformed params)
REQUESTS: dict[str, tuple[type[BaseModel], dict[str, Any], list[Any]]] = {
    "kenetic/stats": (p.StatsParams, {}, []),
    "kenetic/episodes": (p.EpisodesParams, {}, []),
    "kenetic/nextEdits": (
        p.NextEditsParams,
        {"textDocument": {"uri": "file:///x.py"}},
        [
            {"textDocument": {"uri": 5}},
            {"textDocument": {"uri": "file:///x.py"}, "position": {"line": "1", "character": 0}},
            {"textDocument": {"uri": "file:///x.py"}, "position": {"line": -1, "character": 0}},
        ],
    ),
    "kenetic/skills": (p.SkillsParams, {}, []),
    "kenetic/skill": (p.SkillParams, {"id": "s"}, []),
    "kenetic/patterns": (p.PatternsParams, {}, []),
    "kenetic/pattern": (p.PatternParams, {"id": "p"}, []),
    "kenetic/rank": (
        p.RankParams,
        {"candidates": []},
        [
            {"candidates": [{"support": "lots"}]},
            {"candidates": [{"support": -2}]},
            {"candidates": [{"lastUsed": "yesterday"}]},
            {"candidates": [{"specificity": [0.5]}]},
            {"candidates": [{"accepted": {"n": 1}}]},
            {"candidates": [{"lineDelta": "3", "sameFile": "yes"}]},
            {"candidates": [{"skillId": 5}]},
            {"candidates": [5]},
            {"context": {"now": "soon"}, "candidates": [{}]},
            {"context": {"cursorLine": "x"}, "candidates": [{"lineDelta": 1}]},
            {"context": {"recentEditLines": ["a"]}, "candidates": [{}]},
            {"context": {"recentCommands": [{"exitCode": "x"}]}, "candidates": [{}]},
            {"context": {"recentCommands": ["ls"]}, "candidates": [{}]},
            {"context": {"cursorNodeTypes": "call"}, "candidates": [{}]},
            {"context": {"uri": 5}, "candidates": []},
        ],
    ),
    "kenetic/memory/recall": (
        p.RecallParams,
        {"query": "q"},
        [{"query": "q", "kinds": ["nope"]}, {"query": "q", "since": "yesterday"}],
    ),
    "kenetic/memory/store": (
        p.StoreParams,
        {"text": "t", "kind": "note"},
        [
            {"text": "t", "kind": "note", "metadata": {"data": 5}},
            {"text": "t", "kind": "note", "metadata": {"data": [1]}},
            {"text": "t", "kind": "note", "metadata": {"importance": "high"}},
            {"text": "t", "kind": "note", "metadata": {"importance": 7}},
            {"text": "t", "kind": "note", "metadata": {"pinned": "yes"}},
            {"text": "t", "kind": "note", "metadata": {"ref": [1]}},
            {"text": "t", "kind": "note", "metadata": {"colour": "red"}},
            {"text": "t", "kind": "nope"},
        ],
    ),
    "kenetic/memory/link": (
        p.LinkParams,
        {"from": "episode:1", "to": "episode:2", "type": "related"},
        [{"from": "nonsense", "to": "episode:2", "type": "related"}],
    ),
    "kenetic/memory/path": (
        p.PathParams,
        {"from": "episode:1", "to": "episode:2"},
        [{"from": "nonsense", "to": "??"}],
    ),
    "kenetic/als": (p.FolderParams, {}, []),
    "kenetic/moments": (p.MomentsParams, {}, []),
    "kenetic/checkpoints": (p.FolderParams, {}, []),
    "kenetic/agent/run": (
        p.AgentRunParams,
        {"task": "t"},
        [{"task": "t", "range": {"start": {"line": 0}, "end": {"line": 0, "character": 0}}}],
    ),
}
COMMANDS: dict[str, tuple[type[BaseModel], dict[str, Any], list[Any]]] = {
    "kenetic.newSession": (p.SessionCommandParams, {}, []),
    "kenetic.freeze": (p.SessionCommandParams, {}, []),
    "kenetic.recordOutcome": (p.RecordOutcomeParams, {"suggestionId": "sg"}, []),
    "kenetic.toggleSuggestions": (p.ToggleSuggestionsParams, {}, []),
    "kenetic.deleteSkill": (p.DeleteSkillParams, {"id": "s"}, []),
    "kenetic.renameSkill": (p.RenameSkillParams, {"id": "s", "name": "n"}, []),
    "kenetic.exportSkill": (p.ExportSkillParams, {"skillId": "s"}, [{"skillId": "s", "dir": ""}]),
    "kenetic.applySkill": (
        p.ApplySkillParams,
        {"id": "s", "uri": "file:///x.py"},
        [{"id": "s", "uri": "file:///x.py", "position": {"line": 0, "character": "0"}}],
    ),
    "kenetic.runPattern": (p.RunPatternParams, {"id": "p"}, []),
    "kenetic.train": (p.TrainParams, {}, []),
    "kenetic.remember": (p.RememberParams, {"text": "t"}, [{"text": "t", "scope": "team"}]),
    "kenetic.checkpoint": (p.CheckpointParams, {}, []),
    "kenetic.restore": (p.RestoreParams, {"id": "c"}, []),
}
NOTIFICATIONS = {"kenetic/didRunCommand"}  # nobody to answer: a warning (test_robustness.py)


def malformed(model: type[BaseModel], valid: dict[str, Any], nested: list[Any]) -> list[Any]:
    """Whole params of the wrong shape, each field with each value its model refuses (the
    model is the oracle, so every value sent is one the server must refuse), then the nested
    samples, which the handlers read past the top level."""
    out: list[Any] = [42, "junk", [1, 2], {**valid, "unexpected": 1}]
    for name, field in model.model_fields.items():
        key = field.alias or name
        for value in WRONG_VALUES:
            candidate = {**valid, key: value}
            try:
                model.model_validate(candidate)
            except ValidationError:
                out.append(candidate)
    return out + nested


def test_the_walk_covers_every_custom_method() -> None:
    server = create_server()
    features = {m for m in server.protocol.fm.features if m.startswith("kenetic/")}
    assert features == set(REQUESTS) | NOTIFICATIONS
    assert set(server.protocol.fm.commands) == set(COMMANDS)


async def test_every_malformed_param_is_invalid_params(workspace: Path, home: Path) -> None:
    wrong: list[str] = []
    async with lsp_session([workspace], home) as client:
        calls: list[tuple[str, Any]] = []
        for method, (model, valid, nested) in REQUESTS.items():
            calls += [(method, bad) for bad in malformed(model, valid, nested)]
        for command, (model, valid, nested) in COMMANDS.items():
            for bad in malformed(model, valid, nested):
                args = bad if isinstance(bad, list) else [bad]
                params = types.ExecuteCommandParams(command=command, arguments=args)
                calls.append((types.WORKSPACE_EXECUTE_COMMAND, params))
            calls.append(  # one argument object at most
                (
                    types.WORKSPACE_EXECUTE_COMMAND,
                    types.ExecuteCommandParams(command=command, arguments=[valid, valid]),
                )
            )
        for method, params in calls:
            try:
                result = await request(client, method, params)
            except JsonRpcException as exc:
                if exc.code != -32602:
                    wrong.append(f"{method} {params!r}: {exc.code} {exc}")
            else:
                wrong.append(f"{method} {params!r}: answered {result!r}")
        assert len(calls) > 300
        # still serving afterwards
        assert (await request(client, "kenetic/stats", {}))["pending"] >= 0
    assert not wrong, "\n".join(wrong)
