"""MCP servers' tools in the registry, through the real SDK and a real stdio server."""

from __future__ import annotations

import sys
from pathlib import Path

from server.agent.mcp_client import McpHub
from server.agent.tools import ToolRegistry

SERVER = str(Path(__file__).with_name("mcp_echo_server.py"))


async def test_mcp_tools_listed_and_called() -> None:
    tools = ToolRegistry()
    config = [
        {"name": "echo", "command": sys.executable, "args": [SERVER]},
        {"name": "broken", "command": "/nonexistent/mcp-server"},
    ]
    async with McpHub(config, startup_timeout_s=60) as hub:
        errors = await hub.start(tools)
        assert len(errors) == 1 and "'broken'" in errors[0] and "could not start" in errors[0]
        assert sorted(tools.names()) == ["echo__add", "echo__fail", "echo__shout"]
        spec = next(s for s in tools.specs() if s["name"] == "echo__add")
        assert spec["description"] == "[echo] Add two integers."
        assert spec["inputSchema"]["properties"].keys() == {"a", "b"}
        assert tools.get("echo__add").source == "mcp:echo"

        result = await tools.call("echo__add", {"a": 2, "b": 3})
        assert not result.is_error and result.content == "5"
        result = await tools.call("echo__shout", {"text": "hi"})
        assert result.content == "HI" and result.data == {"server": "echo", "tool": "shout"}
        result = await tools.call("echo__fail", {"reason": "nope"})
        assert result.is_error and "nope" in result.content
        result = await tools.call("echo__add", {"a": "x"})  # checked before it leaves
        assert result.is_error and "missing" in result.content
    result = await tools.call("echo__add", {"a": 1, "b": 1})
    assert result.is_error and "not running" in result.content
