"""The agent: command-palette tasks run by an LLM with the project's memory, through the editor.

The server builds these once per task (see docs/agent.md):

    llm = LLMGateway.from_settings(settings.agent)          # NoProviderConfigured: show .args[0]
    tools = ToolRegistry(builtin_tools(PathSandbox(folders), callbacks, ...))
    async with McpHub(settings.agent.mcp_servers) as hub:   # optional
        await hub.start(tools)
        result = await run_task(task, textDocument=..., range=..., llm=llm, tools=tools,
                                callbacks=callbacks, budget={"maxSteps": ...})

Nothing here imports an LLM SDK until a provider is first called.
"""

from server.agent.builtins import builtin_tools
from server.agent.config import AgentSettings, McpServerSettings
from server.agent.context import Resources
from server.agent.llm import (
    AgentConfigError,
    LLMError,
    LLMGateway,
    Message,
    NoProviderConfigured,
    RetryPolicy,
    TaskCancelled,
    ToolCall,
)
from server.agent.loop import Budget, run_task
from server.agent.mcp_client import McpHub, McpServer
from server.agent.patterns import (
    JsonRepairError,
    mine_patterns,
    parse_json_loose,
    patterns_from_llm,
)
from server.agent.sandbox import CommandPolicy, PathSandbox, SandboxError
from server.agent.tools import AgentCallbacks, LexicalRanker, Tool, ToolRegistry, ToolResult

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
    "ToolRegistry",
    "ToolResult",
    "builtin_tools",
    "mine_patterns",
    "parse_json_loose",
    "patterns_from_llm",
    "run_task",
]
