"""The agent: command-palette tasks run by an LLM with the project's memory, through the editor.

The server builds these once per task (see docs/agent.md):

    llm = LLMGateway.from_settings(settings.agent)          # NoProviderConfigured: show .args[0]
    tools = ToolRegistry(builtin_tools(PathSandbox(folders), callbacks, ...))
    async with McpHub(settings.agent.mcp_servers) as hub:   # optional
        await hub.start(tools)
        result = await run_task(task, textDocument=..., range=..., llm=llm, tools=tools,
                                callbacks=callbacks, budget={"maxSteps": ...})

The package imports lazily: `server.agent.config` (the settings, which server.settings mounts)
costs pydantic only, and the names below load their module on first use, so starting the server
imports none of the agent. Nothing here imports an LLM SDK until a provider is first called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.agent.builtins import builtin_tools
    from server.agent.config import AgentSettings, McpServerSettings
    from server.agent.context import Resources
    from server.agent.jsonrepair import JsonRepairError, parse_json_loose
    from server.agent.llm import LLMGateway, RetryPolicy
    from server.agent.loop import Budget, run_task
    from server.agent.mcp_client import McpHub, McpServer
    from server.agent.messages import (
        AgentConfigError,
        LLMError,
        Message,
        NoProviderConfigured,
        TaskCancelled,
        ToolCall,
    )
    from server.agent.patterns import mine_patterns, patterns_from_llm
    from server.agent.sandbox import CommandPolicy, PathSandbox, SandboxError
    from server.agent.tool_ranking import ToolRanker
    from server.agent.tools import AgentCallbacks, LexicalRanker, Tool, ToolRegistry, ToolResult

# public name -> the module that defines it
_WHERE = {
    "builtin_tools": "builtins",
    "AgentSettings": "config",
    "McpServerSettings": "config",
    "Resources": "context",
    "AgentConfigError": "messages",
    "LLMError": "messages",
    "LLMGateway": "llm",
    "Message": "messages",
    "NoProviderConfigured": "messages",
    "RetryPolicy": "llm",
    "TaskCancelled": "messages",
    "ToolCall": "messages",
    "Budget": "loop",
    "run_task": "loop",
    "McpHub": "mcp_client",
    "McpServer": "mcp_client",
    "JsonRepairError": "jsonrepair",
    "mine_patterns": "patterns",
    "parse_json_loose": "jsonrepair",
    "patterns_from_llm": "patterns",
    "CommandPolicy": "sandbox",
    "PathSandbox": "sandbox",
    "SandboxError": "sandbox",
    "ToolRanker": "tool_ranking",
    "AgentCallbacks": "tools",
    "LexicalRanker": "tools",
    "Tool": "tools",
    "ToolRegistry": "tools",
    "ToolResult": "tools",
}

__all__ = [
    "AgentCallbacks",
    "AgentConfigError",
    "AgentSettings",
    "Budget",
    "CommandPolicy",
    "JsonRepairError",
    "LLMError",
    "LLMGateway",
    "LexicalRanker",
    "McpHub",
    "McpServer",
    "McpServerSettings",
    "Message",
    "NoProviderConfigured",
    "PathSandbox",
    "Resources",
    "RetryPolicy",
    "SandboxError",
    "TaskCancelled",
    "Tool",
    "ToolCall",
    "ToolRanker",
    "ToolRegistry",
    "ToolResult",
    "builtin_tools",
    "mine_patterns",
    "parse_json_loose",
    "patterns_from_llm",
    "run_task",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
