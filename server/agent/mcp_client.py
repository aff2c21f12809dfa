"""MCP servers' tools in the agent's registry, through the official `mcp` SDK over stdio.

Each configured server (`agent.mcpServers`: {name, command, args, env, cwd}) gets an owner task
that enters `stdio_client` and `ClientSession`, lists the tools, then serves calls from a queue.
The SDK's contexts are anyio cancel scopes that must be entered and left in one task; the owner
task makes that hold while calls come from whatever task runs the agent. Tools are registered as
`<server>__<tool>` so two servers (or a built-in) never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from server.agent.config import McpServerSettings
from server.agent.tools import Tool, ToolRegistry, ToolResult

log = logging.getLogger(__name__)


class McpError(Exception):
    """An MCP server that could not be started or used; the message is meant for the user."""


def _errlog() -> TextIO:
    # the child's stderr needs a real descriptor; under a capturing runner sys.stderr has none
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def result_text(result: Any) -> str:
    """A CallToolResult as text for the model: text blocks, else structured content."""
    parts = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource {resource.uri}]")
        else:
            parts.append(f"[{kind} content]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, default=str))
    return "\n".join(parts)


class McpServer:
    def __init__(
        self,
        config: McpServerSettings | Mapping[str, Any],
        *,
        startup_timeout_s: float = 30.0,
        call_timeout_s: float = 120.0,
    ) -> None:
        self.config = (
            config
            if isinstance(config, McpServerSettings)
            else McpServerSettings.model_validate(dict(config))
        )
        self.name = self.config.name
        self.startup_timeout_s = startup_timeout_s
        self.call_timeout_s = call_timeout_s
        self.tools: list[Any] = []
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], asyncio.Future[Any]] | None] = (
            asyncio.Queue()
        )
        self._ready: asyncio.Future[list[Any]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> list[Tool]:
        """Start the server and list its tools; McpError if it does not come up in time."""
        self._ready = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._own(), name=f"mcp:{self.name}")
        try:
            self.tools = await asyncio.wait_for(asyncio.shield(self._ready), self.startup_timeout_s)
        except Exception as exc:
            await self.close()
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{exc}"
            raise McpError(
                f"kenetic: MCP server {self.name!r} ({self.config.command}) could "
                f"not start: {reason}"
            ) from None
        return [self._as_tool(t) for t in self.tools]

    def _as_tool(self, spec: Any) -> Tool:
        remote = spec.name

        async def handler(args: dict[str, Any]) -> ToolResult:
            return await self.call(remote, args)

        return Tool(
            f"{self.name}__{remote}"[:64],
            f"[{self.name}] {spec.description or remote}",
            dict(spec.input_schema or {"type": "object"}),
            handler,
            f"mcp:{self.name}",
        )

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolResult:
        if self._task is None or self._task.done():
            return ToolResult(f"MCP server {self.name} is not running", True)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put((tool, arguments, future))
        try:
            result = await asyncio.wait_for(future, self.call_timeout_s + 5)
        except TimeoutError:
            return ToolResult(f"{self.name}/{tool} timed out", True)
        except Exception as exc:
            return ToolResult(f"{self.name}/{tool} failed: {exc}", True)
        return ToolResult(
            result_text(result), bool(result.is_error), {"server": self.name, "tool": tool}
        )

    async def _own(self) -> None:
        from mcp import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        assert self._ready is not None
        params = StdioServerParameters(
            command=self.config.command,
            args=self.config.args,
            env=self.config.env or None,
            cwd=self.config.cwd or None,
        )
        pending: asyncio.Future[Any] | None = None
        try:
            async with (
                stdio_client(params, errlog=_errlog()) as (read, write),
                ClientSession(read, write, read_timeout_seconds=self.call_timeout_s) as session,
            ):
                await session.initialize()
                tools, cursor = [], None
                while True:
                    from mcp_types import PaginatedRequestParams

                    page = await session.list_tools(
                        params=PaginatedRequestParams(cursor=cursor) if cursor else None
                    )
                    tools += page.tools
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self._ready.set_result(tools)
                while (item := await self._queue.get()) is not None:
                    name, args, pending = item
                    try:
                        pending.set_result(await session.call_tool(name, args))
                    except Exception as exc:
                        pending.set_exception(exc)
                    pending = None
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(
                    exc if isinstance(exc, Exception) else McpError("cancelled")
                )
            if pending is not None and not pending.done():
                pending.set_exception(McpError(f"MCP server {self.name} stopped: {exc}"))
            if not isinstance(exc, Exception):
                raise
            log.warning("MCP server %s stopped: %s", self.name, exc)
        finally:
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None and not item[2].done():
                    item[2].set_exception(McpError(f"MCP server {self.name} stopped"))

    async def close(self) -> None:
        if self._task is None:
            return
        if not self._task.done():
            await self._queue.put(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        self._task = None


class McpHub:
    """Every configured MCP server, started together; a server that fails is reported, not fatal."""

    def __init__(self, configs: Sequence[McpServerSettings | Mapping[str, Any]], **options: Any):
        self.servers = [McpServer(c, **options) for c in configs]
        self.errors: list[str] = []

    async def start(self, registry: ToolRegistry) -> list[str]:
        """Register every server's tools; the error messages of those that failed."""
        results = await asyncio.gather(*(s.start() for s in self.servers), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.errors.append(str(result))
                log.warning("%s", result)
                continue
            for tool in result:
                registry.register(tool, replace=True)
        return self.errors

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.servers), return_exceptions=True)

    async def __aenter__(self) -> McpHub:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
