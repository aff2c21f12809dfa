"""The agent loop: context -> LLM -> tool calls -> repeat, until a final answer or the budget.

`run_task` knows nothing of LSP: the server lends it callbacks (apply_edit, confirm, progress,
is_cancelled, recall, skills, apply_skill, document_text) and records the returned dict as an
`agent` episode. Cancellation is checked before every await that can take long (each LLM call,
each stream event, each tool call) and ends the task with outcome "cancelled"; an asyncio
cancellation of the task itself ($/cancelRequest on an async handler) propagates as usual.

Outcome: "success" when the model gave a final answer, the last edit it attempted was applied
and the last command it ran (if any) exited 0; "failure" otherwise (errors, refusals by the
editor, a failing last command, the step budget spent, every tool call refused); "cancelled".

A reply that stopped on max_tokens never has its tool calls executed: their arguments may be
cut anywhere (an edit's newText missing its end), so each is answered with an error asking for
it again, smaller. Tool arguments are parsed strictly (server.agent.messages).
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from server.agent.context import PERSONA, SUMMARY_PROMPT, Context, Resources, transcript
from server.agent.messages import (
    MAX_TOKENS,
    TRUNCATED_CALL,
    LLMError,
    Message,
    NoProviderConfigured,
    TaskCancelled,
)
from server.agent.sandbox import PRIVATE_DIRS, PathSandbox, SandboxError, from_uri, is_secret_name
from server.agent.tool_ranking import ToolRanker, rank_skills
from server.agent.tools import (
    REFUSED,
    AgentCallbacks,
    Ranker,
    ToolRegistry,
    ToolResult,
    executed,
    maybe_await,
    read_text,
)

log = logging.getLogger(__name__)

EDIT_TOOLS = {"edit_file", "apply_skill"}


@dataclass
class Budget:
    max_steps: int = 25
    # tokens the context may fill; None: the primary provider's contextTokens
    context_tokens: int | None = None
    max_output_tokens: int | None = None
    max_tools: int = 24
    recall_k: int = 5
    skills_k: int = 5

    @classmethod
    def of(cls, value: Budget | Mapping[str, Any] | int | None) -> Budget:
        if isinstance(value, Budget):
            return value
        if isinstance(value, int):
            return cls(max_steps=value)
        names = {f.name for f in fields(cls)}
        aliases = {
            "maxSteps": "max_steps",
            "contextTokens": "context_tokens",
            "maxOutputTokens": "max_output_tokens",
            "maxTools": "max_tools",
        }
        return cls(
            **{
                aliases.get(k, k): v
                for k, v in dict(value or {}).items()
                if aliases.get(k, k) in names
            }
        )


def _clip(value: Any, chars: int = 2000) -> Any:
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + " …"
    if isinstance(value, dict):
        return {k: _clip(v, 500) for k, v in value.items() if k != "edit"}
    return value


def _check(cb: AgentCallbacks) -> None:
    if cb.cancelled():
        raise TaskCancelled()


async def _progress(cb: AgentCallbacks, step: int, message: str) -> None:
    if cb.progress is not None:
        try:
            await maybe_await(cb.progress(step, message))
        except Exception as exc:  # a progress report must never end the task
            log.debug("progress callback failed: %s", exc)


def _describe(name: str, args: Mapping[str, Any]) -> str:
    key = next((k for k in ("path", "command", "query", "id") if k in args), None)
    return f"{name} {str(args[key])[:80]}" if key else name


def document_resource(
    text_document: Mapping[str, Any] | None,
    range_: Mapping[str, Any] | None,
    cb: AgentCallbacks,
    sandbox: PathSandbox | None = None,
) -> dict[str, Any] | None:
    """Where the user is: the document's path, the range, and the selected lines' text.

    The document goes through the same rules as read_file (inside a workspace folder, not a
    secrets file, not .git/.kenetic): its text lands in the system prompt. A refused document
    gives no resource at all. Its path is workspace-relative, as the persona promises.
    """
    if not text_document or not text_document.get("uri"):
        return None
    uri = str(text_document["uri"])
    shown: str
    if sandbox is not None:
        try:
            path = sandbox.resolve(uri)
        except SandboxError as exc:
            log.info("the task's document is not given to the agent: %s", exc)
            return None
        shown = sandbox.relative(path)
    else:  # no folders to judge by: at least never a secrets file or git's internals
        path = from_uri(uri)
        if is_secret_name(path) or PRIVATE_DIRS & set(path.parts):
            log.info("the task's document is not given to the agent: %s", path.name)
            return None
        shown = str(path)
    text = cb.document_text(uri) if cb.document_text else None
    if text is None:
        try:
            text = read_text(path)
        except (OSError, ValueError):
            text = None
    out: dict[str, Any] = {"path": shown}
    if range_:
        start, end = range_.get("start", {}), range_.get("end", {})
        first, last = int(start.get("line", 0)), int(end.get("line", start.get("line", 0)))
        if last > first and int(end.get("character", 1)) == 0:
            last -= 1  # a selection ending at the start of a line does not include that line
        out["range"] = f"lines {first + 1}-{last + 1}"
        if text is not None:
            out["text"] = "".join(text.splitlines(keepends=True)[first : last + 1])
    return out


async def _gather_resources(
    task: str,
    resources: Resources,
    cb: AgentCallbacks,
    budget: Budget,
    ranker: Ranker | None = None,
) -> None:
    """Fill what the caller left empty from the callbacks: recalled episodes, relevant skills
    (those sharing a word with the task; ordered with the project's ranker when one is lent)."""
    if cb.recall is not None and not resources.episodes:
        try:
            resources.episodes = list(await maybe_await(cb.recall(task, budget.recall_k)) or [])
        except Exception as exc:
            log.warning("memory recall for the agent failed: %s", exc)
    if cb.skills is not None and not resources.skills:
        try:
            skills = list(await maybe_await(cb.skills()) or [])
            learned = ranker if isinstance(ranker, ToolRanker) else None
            resources.skills = rank_skills(task, skills, budget.skills_k, learned)
        except Exception as exc:
            log.warning("listing skills for the agent failed: %s", exc)


async def run_task(
    task: str,
    *,
    textDocument: Mapping[str, Any] | None = None,  # noqa: N803
    range: Mapping[str, Any] | None = None,
    llm: Any,
    tools: ToolRegistry,  # noqa: A002
    callbacks: AgentCallbacks | None = None,
    budget: Budget | Mapping[str, Any] | int | None = None,
    resources: Resources | None = None,
    ranker: Ranker | None = None,
    persona: str = PERSONA,
    sandbox: PathSandbox | None = None,
) -> dict[str, Any]:
    """Run one agent task; the dict it returns is the agent episode's payload.

    `ranker` picks the tools to offer when there are more than the budget's max_tools (the
    LexicalRanker without one, or when it fails); a `ToolRanker` also orders the skills.
    `sandbox` (the tools' own) judges the task's document before its text enters the context.
    """
    if llm is None:
        raise NoProviderConfigured()
    cb = callbacks or AgentCallbacks()
    b = Budget.of(budget)
    started = time.monotonic()
    trajectory: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    state: dict[str, Any] = {
        "edits": 0,
        "last_edit": None,
        "last_exit": None,
        "steps": 0,
        "calls": 0,
        "executed": 0,
    }

    def finish(outcome: str, summary: str, reason: str) -> dict[str, Any]:
        return {
            "task": task,
            "textDocument": dict(textDocument) if textDocument else None,
            "range": dict(range) if range else None,
            "summary": summary,
            "editsApplied": state["edits"],
            "steps": state["steps"],
            "trajectory": trajectory,
            "usage": usage,
            "outcome": outcome,
            "reason": reason,
            "tokens": {
                "input": sum(u["input_tokens"] for u in usage),
                "output": sum(u["output_tokens"] for u in usage),
            },
            "durationMs": round((time.monotonic() - started) * 1000, 1),
        }

    async def summarise(text: str) -> str:
        reply = await llm.chat(
            [Message("user", SUMMARY_PROMPT.format(transcript=text))],
            role="summarise",
            max_tokens=800,
            is_cancelled=cb.is_cancelled,
        )
        usage.append(reply.usage.to_json())
        return str(reply.message.text)

    try:
        _check(cb)
        res = resources or Resources()
        if res.document is None:
            res.document = document_resource(textDocument, range, cb, sandbox)
        await _gather_resources(task, res, cb, b, ranker)
        offered = tools.select(
            {"task": task, "document": str((res.document or {}).get("path", ""))},
            limit=b.max_tools,
            ranker=ranker,
        )
        if isinstance(ranker, ToolRanker) and ranker.last_ranker and len(tools) > b.max_tools:
            log.info("agent tools chosen by %s: %s", ranker.last_ranker, ", ".join(offered))
        specs = tools.specs(offered)
        window = b.context_tokens or llm.context_tokens()
        ctx = Context(
            task,
            resources=res,
            tool_specs=specs,
            persona=persona,
            budget_tokens=max(1000, window - (b.max_output_tokens or 4096)),
        )
        for step in builtins.range(1, b.max_steps + 1):  # `range` is the LSP range here
            _check(cb)
            state["steps"] = step
            await _progress(cb, step, "thinking")
            if ctx.over_budget():
                stats = await ctx.compact(summarise)
                trajectory.append({"step": step, "type": "compact", **stats})
            estimate = ctx.estimate()
            t0 = time.monotonic()
            reply = await llm.chat(
                ctx.messages(),
                system=ctx.system(),
                tools=specs,
                role="main",
                max_tokens=b.max_output_tokens,
                is_cancelled=cb.is_cancelled,
            )
            ctx.calibrate(estimate, None if reply.usage.estimated else reply.usage.input_tokens)
            usage.append(reply.usage.to_json())
            trajectory.append(
                {
                    "step": step,
                    "type": "llm",
                    "provider": reply.usage.provider,
                    "model": reply.usage.model,
                    "inputTokens": reply.usage.input_tokens,
                    "outputTokens": reply.usage.output_tokens,
                    "estimated": reply.usage.estimated,
                    "attempts": reply.usage.attempts,
                    "ms": round((time.monotonic() - t0) * 1000, 1),
                    "text": _clip(reply.message.text),
                    "stopReason": reply.stop_reason,
                    "toolCalls": [c.name for c in reply.message.tool_calls],
                }
            )
            ctx.add(reply.message)
            if not reply.message.tool_calls:
                return finish(*_verdict(state, reply.message.text))
            truncated = reply.stop_reason == MAX_TOKENS
            for call in reply.message.tool_calls:
                _check(cb)
                await _progress(cb, step, _describe(call.name, call.arguments))
                t0 = time.monotonic()
                if truncated:
                    result = ToolResult(TRUNCATED_CALL, True, {**REFUSED, "truncated": True})
                elif call.error:
                    result = ToolResult(call.error, True, dict(REFUSED))
                elif call.name not in offered:
                    result = ToolResult(
                        f"{call.name} is not available for this task", True, dict(REFUSED)
                    )
                else:
                    result = await tools.call(call.name, call.arguments)
                refused = not executed(result)
                state["calls"] += 1
                state["executed"] += not refused
                if call.name in EDIT_TOOLS and (truncated or call.error):
                    state["last_edit"] = False  # attempted, never applied
                trajectory.append(
                    {
                        "step": step,
                        "type": "tool",
                        "tool": call.name,
                        **({"refused": True} if refused else {}),
                        "arguments": _clip(call.arguments),
                        "isError": result.is_error,
                        "result": _clip(result.content),
                        "data": _clip(result.data),
                        "ms": round((time.monotonic() - t0) * 1000, 1),
                    }
                )
                path = result.data.get("path")
                ctx.add(
                    Message(
                        "tool",
                        result.content,
                        tool_call_id=call.id,
                        tool_name=call.name,
                        is_error=result.is_error,
                    ),
                    read_path=path if call.name == "read_file" and not result.is_error else None,
                )
                if call.name in EDIT_TOOLS and "applied" in result.data:
                    state["last_edit"] = bool(result.data["applied"])
                    if result.data["applied"]:
                        state["edits"] += 1
                        if path:
                            ctx.mark_edited(path)
                if call.name == "run_command" and result.data.get("confirmed"):
                    code = result.data.get("exitCode")
                    state["last_exit"] = -1 if code is None else code  # timed out: not a pass
        return finish(
            "failure", f"stopped after {b.max_steps} steps without a final answer", "maxSteps"
        )
    except TaskCancelled:
        return finish("cancelled", "cancelled by the user", "cancelled")
    except LLMError as exc:
        log.warning("agent task failed: %s", exc)
        return finish("failure", f"the LLM could not be reached: {exc}", "llmError")


def _verdict(state: dict[str, Any], answer: str) -> tuple[str, str, str]:
    if state["last_edit"] is False:
        return "failure", answer, "editNotApplied"
    if state["last_exit"] not in (None, 0):
        return "failure", answer, "commandFailed"
    if state["calls"] and not state["executed"]:
        return "failure", answer, "allRefused"  # nothing was done: the answer is not a result
    return "success", answer, "answered"


__all__ = ["Budget", "run_task", "transcript"]
