"""One protocol, one way (issue 16, item 17): an id that names nothing answers InvalidParams in
every method that takes one, and every result key is camelCase (memory and ALS results
included), which `initialize` announces as kenetic protocol 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from server.server import PROTOCOL_VERSION
from tests.e2e.conftest import lsp_session, raw_exchange, request

UNKNOWN = "sk_000000000000"
LOOKUPS: list[tuple[str, dict[str, Any]]] = [
    ("kenetic/skill", {"id": UNKNOWN}),
    ("kenetic.renameSkill", {"id": UNKNOWN, "name": "a name"}),
    ("kenetic.deleteSkill", {"id": UNKNOWN}),
    ("kenetic.applySkill", {"id": UNKNOWN, "uri": "file:///nowhere.py"}),
    ("kenetic/pattern", {"id": "no-such-pattern"}),
    ("kenetic.runPattern", {"id": "no-such-pattern"}),
    ("kenetic.restore", {"id": "no-such-checkpoint"}),
]
# the user's own keys, and a checkpoint's row counts by table name: not the protocol's to name
FREE_FORM = {"data", "metadata", "counts"}


async def call(client: Any, method: str, params: dict[str, Any]) -> Any:
    if method.startswith("kenetic."):
        return await request(
            client,
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command=method, arguments=[params]),
        )
    return await request(client, method, params)


def snake_keys(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        # `_0`: the test client's namedtuples rename a key that is a Python keyword (`from`)
        found = [
            f"{path}.{k}" for k in value if isinstance(k, str) and "_" in k.lstrip("_0123456789")
        ]
        for k, v in value.items():
            if k not in FREE_FORM:
                found += snake_keys(v, f"{path}.{k}")
        return found
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in snake_keys(v, f"{path}[{i}]")]
    return []


async def test_an_unknown_id_is_invalid_params_everywhere(workspace: Path, home: Path) -> None:
    async with lsp_session([workspace], home) as client:
        for method, params in LOOKUPS:
            with pytest.raises(JsonRpcInvalidParams):
                answer = await call(client, method, params)
                pytest.fail(f"{method} answered {answer!r} for an unknown id")


async def test_memory_and_als_results_are_camel_case(workspace: Path, home: Path) -> None:
    async with lsp_session([workspace], home) as client:
        meta = {"importance": 0.8, "pinned": True, "data": {"my_key": 1}}
        stored = await call(
            client, "kenetic/memory/store", {"text": "deploys need the VPN", "kind": "note",
                                             "metadata": meta},
        )  # fmt: skip
        other = await call(
            client, "kenetic/memory/store", {"text": "use the logger", "kind": "note"}
        )
        answers = {
            "store": stored,
            "recall": await call(client, "kenetic/memory/recall", {"query": "VPN deploys"}),
            "link": await call(
                client,
                "kenetic/memory/link",
                {"from": stored["node"], "to": other["node"], "type": "related"},
            ),
            "path": await call(
                client, "kenetic/memory/path", {"from": stored["node"], "to": other["node"]}
            ),
            "als": await call(client, "kenetic/als", {}),
            "moments": await call(client, "kenetic/moments", {}),
            "remember": await call(client, "kenetic.remember", {"text": "tests need docker"}),
            "checkpoint": await call(client, "kenetic.checkpoint", {"description": "before"}),
            "checkpoints": await call(client, "kenetic/checkpoints", {}),
        }
        item = answers["recall"]["items"][0]["item"]
        # the keys the store names in snake_case reach the client in camelCase; the user's own
        # keys under `data` stay as they were stored
        assert {"refId", "createdAt", "usedAt", "useCount"} <= set(item), item
        assert {"debounceMs", "minScore", "maxSuggestions", "quietUntil"} <= set(answers["als"])
        assert item["data"] == {"my_key": 1}
        assert [k for name, a in answers.items() for k in snake_keys(a, name)] == []


def test_initialize_announces_the_protocol_version(workspace: Path, home: Path) -> None:
    (answer, *_) = raw_exchange(home, workspace, [])
    assert answer["id"] == 0
    assert answer["result"]["capabilities"]["experimental"] == {
        "kenetic": {"protocol": PROTOCOL_VERSION}
    }
    assert PROTOCOL_VERSION == 2
