"""The agent's tools: a registry of JSON-schema specs in MCP shape, and the built-in tools.

Every tool is `{name, description, inputSchema}` plus an async handler returning a `ToolResult`
(text for the model, `data` for the loop's trajectory). Built-ins act through the editor where it
matters: `edit_file` builds a WorkspaceEdit and hands it to the injected `apply_edit` (the server's
workspace/applyEdit, so the edit can be undone there); `run_command` asks the injected `confirm`
(window/showMessageRequest) first and refuses blocked commands before asking. Reads prefer the
editor's open buffer (`document_text`) to the disk, so the agent sees unsaved work.

With more tools than a budget allows (MCP servers add many), `select` offers the model the most
relevant ones, ranked by a `score(context, candidates) -> list[float]` ranker: the server lends
server.agent.tool_ranking.ToolRanker (the project's ranker over the tools' history), the
LexicalRanker ranks without one and whenever it fails.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from server.agent.messages import TaskCancelled

log = logging.getLogger(__name__)


@dataclass
class ToolResult:
    content: str
    is_error: bool = False
    data: dict[str, Any] = field(default_factory=dict)


def executed(result: ToolResult) -> bool:
    """Whether a tool call really ran: not refused (sandbox, malformed or truncated arguments,
    a tool not offered), blocked (command policy), declined (by the user) or not applied (by the
    editor). Only executed calls are steps of a reasoning pattern or make a task a success."""
    data = result.data
    return not (
        data.get("refused")
        or data.get("blocked")
        or data.get("declined")
        or data.get("applied") is False
    )


REFUSED = {"refused": True}


Handler = Callable[[dict[str, Any]], Awaitable[ToolResult]]


@dataclass
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler
    source: str = "builtin"  # or "mcp:<server name>"

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        }


@dataclass
class AgentCallbacks:
    """What the server lends the agent; every one optional (a tool without its callback is absent).

    apply_edit(workspace_edit) -> awaitable bool: workspace/applyEdit.
    confirm(message, actions) -> awaitable chosen action or None: window/showMessageRequest.
    progress(step, message): $/progress report. is_cancelled() -> bool: $/cancelRequest seen.
    recall(query, k) -> list[dict] (or awaitable): memory recall. skills() -> list[dict].
    apply_skill(id=, uri=, scope=) -> bool | dict (or awaitable).
    document_text(uri) -> str | None: an open document's current text.
    """

    apply_edit: Callable[[dict[str, Any]], Awaitable[bool]] | None = None
    confirm: Callable[[str, list[str]], Awaitable[str | None]] | None = None
    progress: Callable[[int, str], Any] | None = None
    is_cancelled: Callable[[], bool] | None = None
    recall: Callable[[str, int], Any] | None = None
    skills: Callable[[], Any] | None = None
    apply_skill: Callable[..., Any] | None = None
    document_text: Callable[[str], str | None] | None = None

    def cancelled(self) -> bool:
        return bool(self.is_cancelled and self.is_cancelled())


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class Ranker(Protocol):
    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]: ...


_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+")
_STOP = {
    "the",
    "a",
    "an",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "is",
    "it",
    "this",
    "that",
    "from",
    "by",
    "as",
    "be",
    "at",
    "file",
    "files",
    "tool",
    "use",
    "given",
}


def words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


class LexicalRanker:
    """Default ranker: word overlap of the task context with a tool's name and description."""

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        query = words(" ".join(str(v) for v in context.values() if isinstance(v, str)))
        scores = []
        for c in candidates:
            name, desc = words(str(c.get("name", ""))), words(str(c.get("description", "")))
            # a word in the tool's name counts double: names are chosen, descriptions ramble
            hits = 2 * len(query & name) + len(query & (desc - name))
            scores.append(hits / math.sqrt(1 + len(name | desc)))
        return scores


def check_arguments(schema: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """A light JSON-schema check (required keys, primitive types) with a message for the model."""
    if not isinstance(args, Mapping):
        return "arguments must be a JSON object"
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    kinds: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "array": list,
        "object": dict,
    }
    for key, value in args.items():
        prop = (schema.get("properties") or {}).get(key)
        expected = prop.get("type") if isinstance(prop, Mapping) else None
        if isinstance(expected, str) and expected in kinds:
            ok = isinstance(value, kinds[expected])
            if expected in ("integer", "number") and isinstance(value, bool):
                ok = False
            if not ok:
                return f"argument {key} must be of type {expected}"
    return None


class ToolRegistry:
    def __init__(self, tools: Sequence[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool, *, replace: bool = False) -> None:
        if tool.name in self._tools and not replace:
            raise ValueError(f"a tool named {tool.name} is already registered")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def specs(self, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        chosen = (
            self._tools if names is None else {n: self._tools[n] for n in names if n in self._tools}
        )
        return [t.spec() for t in chosen.values()]

    def select(
        self,
        context: dict[str, Any],
        *,
        limit: int,
        ranker: Ranker | None = None,
        always: Sequence[str] = ("read_file", "edit_file", "search"),
    ) -> list[str]:
        """The tools to offer for this task: all of them, or the `limit` most relevant."""
        if len(self._tools) <= limit:
            return self.names()
        kept = [n for n in always if n in self._tools][:limit]
        rest = [t.spec() for n, t in self._tools.items() if n not in kept]
        try:
            scores = list((ranker or LexicalRanker()).score(context, rest))
            if len(scores) != len(rest):
                raise ValueError(f"ranker returned {len(scores)} scores for {len(rest)} tools")
        except Exception as exc:  # a broken ranker must not break the task
            log.warning("tool ranker failed (%s); using the lexical ranker", exc)
            scores = LexicalRanker().score(context, rest)
        order = sorted(range(len(rest)), key=lambda i: (-scores[i], i))
        return kept + [rest[i]["name"] for i in order[: limit - len(kept)]]

    async def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(
                f"unknown tool {name}; available: {', '.join(self._tools)}", True, dict(REFUSED)
            )
        problem = check_arguments(tool.input_schema, arguments)
        if problem:
            return ToolResult(f"{name}: {problem}", True, dict(REFUSED))
        try:
            return await tool.handler(dict(arguments))
        except (TaskCancelled, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.warning("tool %s failed: %s", name, exc, exc_info=True)
            return ToolResult(f"{name} failed: {type(exc).__name__}: {exc}", True)


def schema(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def text_result(value: Any, cap_chars: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str)
    return text if len(text) <= cap_chars else text[:cap_chars] + "\n… [cut]"


def utf16_position(text: str, offset: int) -> dict[str, int]:
    """An LSP position (UTF-16 code units, the protocol's default) of a string offset."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    prefix = text[start:offset]
    return {"line": line, "character": len(prefix.encode("utf-16-le")) // 2}


def read_text(path: Path, limit_bytes: int = 2_000_000) -> str:
    if path.stat().st_size > limit_bytes:
        raise ValueError(f"{path.name} is larger than {limit_bytes} bytes")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ValueError(f"{path.name} looks binary")
    return data.decode("utf-8", errors="replace")
