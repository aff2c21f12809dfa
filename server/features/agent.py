"""Agent tasks over LSP: `kenetic/agent/run` and the `kenetic.runPattern` command.

The loop itself (server/agent/) knows nothing of LSP; this module (with
server.features.agent_editor, which builds the task's callbacks) lends it the editor:
`workspace/applyEdit` for edits (undoable there), `window/showMessageRequest` before each
command, `$/progress` per step (cancellable: `window/workDoneProgress/cancel` stops the task at
its next step), open documents' unsaved text, and memory (ALS, notes, recalled episodes, skills,
patterns). `$/cancelRequest` cancels the handler's task at its next await; the partial
trajectory is still recorded. Every task ends as one `agent` episode. With more tools than
agent.maxTools, the folder's active ranker (rules or the TRM, server.suggest.ranking) helps
choose them from their history in this store's agent episodes (server.agent.tool_ranking); it
orders the relevant skills too.

server.agent is imported inside the handlers: initialize never pays for it, and an LLM SDK is
only imported when a provider is first called.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from memory.store.database import Episode
from server.capture.privacy import redact, redact_strings
from server.features.agent_editor import Progress, UndoWatch, task_callbacks
from server.features.memory import MemoryService
from server.features.patterns import PatternService
from server.protocol import AgentRunParams, RunPatternParams, validate, validate_command_args
from server.server import KeneticServer  # at run time: pygls reads command annotations
from server.suggest.service import SuggestService

if TYPE_CHECKING:
    from server.workspaces import Folder

log = logging.getLogger(__name__)

REQUEST_FAILED = -32803  # LSP ErrorCodes.RequestFailed: well-formed, but it could not be done
NOTES_CHARS = 20_000
HISTORY_EPISODES = 200  # the newest agent episodes whose tool calls the tool ranker reads
EDITS = ("edit_file", "apply_skill")


class AgentUnavailable(JsonRpcException):
    """No provider (or the agent is off): the message says how to fix it, shown to the user."""

    CODE = REQUEST_FAILED


def _folder(ls: KeneticServer, uri: str | None) -> Folder:
    folder = ls.workspaces.folder_for(uri) if uri else None
    if folder is None:
        folder = next((f for f in ls.workspaces.all() if f.path is not None), None)
    if folder is None or folder.path is None:
        raise AgentUnavailable("kenetic: agent tasks need a workspace folder to work in")
    return folder


def _unavailable(ls: KeneticServer, message: str) -> AgentUnavailable:
    # a setting to change, not a crash: a warning, once per task (the clients show this message
    # and not the error answer too)
    ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
    return AgentUnavailable(message, data={"reason": "noProvider"})


def _notes(folder: Folder) -> dict[str, str]:
    from memory.recall.notes import notes_path

    out = {}
    for name, scope in (("KENETIC.md", "project"), ("user.md", "user")):
        try:
            text = notes_path(scope, folder.path).read_text(errors="replace")  # type: ignore[arg-type]
        except (OSError, ValueError):
            continue
        if text.strip():
            out[name] = text[:NOTES_CHARS]
    return out


async def _resources(ls: KeneticServer, folder: Folder, task: str) -> Any:
    """Block 2 of the context: notes, patterns (episodes and skills come by callback; the ALS
    is kenetic's own tuning, not context for the model)."""
    from server.agent import Resources

    res = Resources(notes=await asyncio.to_thread(_notes, folder))

    # a recall's query is kept in memory's moments: through the one redaction like any text
    query = redact(task, "task")[0]

    def read(m: Any) -> list[dict[str, Any]]:
        hits = m.recall(query, 3, ["pattern"], trigger="kenetic/agent/run")["items"]
        return [h["item"]["data"] for h in hits if h["item"].get("data")]

    try:
        res.patterns = await ls.service(MemoryService).call(folder.uri, read)
    except Exception as exc:  # memory is context, not a requirement
        log.warning("agent context from memory failed: %s", exc)
    if not res.patterns:
        res.patterns = ls.service(PatternService).cached(folder)[:3]
    return res


async def _tool_ranker(
    ls: KeneticServer, folder: Folder, uri: str | None, with_history: bool
) -> Any:
    """The folder's active ranker (rules or TRM, server.suggest.ranking) behind the agent's
    ToolRanker, with the tools' history in this store's agent episodes when tools are to be
    chosen (more of them than agent.maxTools); None without a suggestion service."""
    suggest = ls.find(SuggestService)
    if suggest is None:
        return None
    from server.agent.tool_ranking import ToolRanker, tool_history

    ranking = suggest.ranking
    base: dict[str, Any] = {"uri": uri or folder.uri}
    try:
        state = ranking.state_for(folder.uri)
        doc = ls.workspace.text_documents.get(unquote(uri)) if uri else None
        if doc is not None:
            base["language"] = doc.language_id
        if state is not None:
            base.update(state.context())  # recent edits and commands, as for suggestions
    except Exception as exc:  # the LexicalRanker chooses
        log.warning("no ranker for the agent's tools: %s", exc)
        return None

    def learned(context: dict[str, Any], candidates: list[dict[str, Any]]) -> Any:
        return ranking.score(state, {**base, **context}, candidates)

    history: dict[str, Any] = {}
    if with_history and folder.store is not None:
        try:
            found = await asyncio.to_thread(
                folder.store.episodes, kind="agent", limit=HISTORY_EPISODES
            )
            history = tool_history(e.to_json() for e in found)
        except Exception as exc:  # no history: the ranker still sees the task's words
            log.warning("agent tool history not read: %s", exc)
    return ToolRanker(learned, history)


def _tracked(tools: Any, calls: list[dict[str, Any]]) -> None:
    """Note every tool call as it ends, so a task cancelled mid-way still has its trajectory
    (refused calls marked as the loop marks them: they are no pattern's steps)."""
    from server.agent.tools import executed

    for name in tools.names():
        tool = tools.get(name)

        def wrap(handler: Any, tool_name: str) -> Any:
            async def tracked(args: dict[str, Any]) -> Any:
                t0 = time.monotonic()
                result = await handler(args)
                calls.append(
                    {
                        "type": "tool",
                        "tool": tool_name,
                        "arguments": {k: str(v)[:500] for k, v in args.items()},
                        "isError": result.is_error,
                        **({} if executed(result) else {"refused": True}),
                        "ms": round((time.monotonic() - t0) * 1000, 1),
                    }
                )
                return result

            return tracked

        tool.handler = wrap(tool.handler, name)


def _record(
    ls: KeneticServer, folder: Folder, data: dict[str, Any], started: float, uri: str | None
) -> asyncio.Future[int | None]:
    """Queue the agent episode; the future gets its id once it committed."""
    loop = asyncio.get_running_loop()
    committed: asyncio.Future[int | None] = loop.create_future()

    def done(rowid: int | None) -> None:
        def settle() -> None:
            if not committed.done():
                committed.set_result(rowid)

        loop.call_soon_threadsafe(settle)

    doc = ls.workspace.text_documents.get(unquote(uri)) if uri else None
    assert folder.store is not None
    # the task's words, tool arguments (a run_command line) and tool results are stored text
    # like any other: secrets in them are cut by the one redaction function
    data, _ = redact_strings(data)
    folder.store.add_episode(
        Episode(
            "agent",
            ls.session_id,
            started,
            time.time(),
            data,
            uri=uri,
            language=doc.language_id if doc is not None else None,
        ),
        done,
    )
    return committed


async def run_agent(
    ls: KeneticServer,
    task: str,
    *,
    text_document: dict[str, Any] | None = None,
    range_: dict[str, Any] | None = None,
    work_done_token: str | int | None = None,
    pattern: dict[str, Any] | None = None,
    undo: UndoWatch | None = None,
) -> dict[str, Any]:
    """One agent task, start to recorded episode; what kenetic/agent/run answers."""
    uri = text_document["uri"] if text_document else None
    folder = _folder(ls, uri)
    settings = folder.settings.agent
    if not settings.enabled:
        raise _unavailable(ls, "kenetic: agent tasks are off (setting agent.enabled)")
    if folder.store is None:
        raise _unavailable(ls, f"kenetic: no store for {folder.uri}: {folder.store_error}")
    from server import agent as A

    try:
        llm = A.LLMGateway.from_settings(settings)
    except A.AgentConfigError as exc:
        raise _unavailable(ls, str(exc)) from None
    started = time.time()
    progress = Progress(ls, work_done_token, settings.max_steps)
    originals: dict[str, str] = {}
    calls: list[dict[str, Any]] = []
    callbacks = task_callbacks(ls, folder, progress, originals)
    # the task's folder first: relative paths resolve there
    root = folder.path
    assert root is not None  # _folder picks folders with a path
    roots = [root] + [f.path for f in ls.workspaces.all() if f.path is not None and f.path != root]
    sandbox = A.PathSandbox(roots)
    tools = A.ToolRegistry(
        A.builtin_tools(
            sandbox,
            callbacks,
            policy=A.CommandPolicy(settings.blocked_commands),
            command_timeout_s=settings.command_timeout_s,
            output_cap=settings.output_cap_chars,
            pass_env=settings.pass_env,
        )
    )
    extra = {"patternId": pattern["id"]} if pattern else {}
    await progress.begin("kenetic agent", task)
    try:
        resources = await _resources(ls, folder, task)
        async with A.McpHub(settings.mcp_servers) as hub:
            if settings.mcp_servers:
                try:
                    await hub.start(tools)
                except Exception as exc:  # MCP tools are extras: the task goes on without
                    log.warning("MCP servers did not start: %s", exc)
            _tracked(tools, calls)
            ranker = await _tool_ranker(ls, folder, uri, len(tools) > settings.max_tools)
            result = await A.run_task(
                task,
                textDocument=text_document,
                range=range_,
                llm=llm,
                tools=tools,
                callbacks=callbacks,
                budget={"maxSteps": settings.max_steps, "maxTools": settings.max_tools},
                resources=resources,
                ranker=ranker,
                sandbox=sandbox,  # the task's own document is judged as read_file would
            )
    except asyncio.CancelledError:
        # $/cancelRequest: the await in flight was cancelled (a running command is killed);
        # keep what was done, then let pygls answer RequestCancelled
        usage = [u.to_json() for u in llm.calls]
        _record(
            ls,
            folder,
            {
                "task": task,
                "textDocument": text_document,
                "range": range_,
                "summary": "cancelled by the user ($/cancelRequest)",
                "editsApplied": sum(
                    1
                    for c in calls
                    if c["tool"] in EDITS and not c["isError"] and not c.get("refused")
                ),
                "steps": len(llm.calls),
                "trajectory": calls,
                "usage": usage,
                "outcome": "cancelled",
                "reason": "cancelled",
                "tokens": {
                    "input": sum(u["input_tokens"] for u in usage),
                    "output": sum(u["output_tokens"] for u in usage),
                },
                "durationMs": round((time.time() - started) * 1000, 1),
                **extra,
            },
            started,
            uri,
        )
        progress.end("cancelled")
        raise
    except Exception:
        progress.end("failed")
        raise
    progress.end(f"{result['outcome']}: {result['summary']}")
    episode_id = await asyncio.wait_for(_record(ls, folder, {**result, **extra}, started, uri), 30)
    if undo is not None and episode_id is not None and originals and result["editsApplied"]:
        undo.watch(originals, episode_id)
    return {
        "episodeId": episode_id,
        "summary": result["summary"],
        "editsApplied": result["editsApplied"],
        "steps": result["steps"],
        "outcome": result["outcome"],
        "reason": result["reason"],
    }


def _plain_range(value: Any) -> dict[str, Any] | None:
    return value.model_dump(by_alias=True) if value is not None else None


def setup(server: KeneticServer) -> None:
    undo = UndoWatch(server)
    undo.hook()

    @server.feature("kenetic/agent/run")
    async def agent_run(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """Run a task with the LLM, acting through the editor; answers with the episode."""
        p = validate(AgentRunParams, params)
        return await run_agent(
            ls,
            p.task,
            text_document={"uri": p.text_document.uri} if p.text_document else None,
            range_=_plain_range(p.range),
            work_done_token=p.work_done_token,
            undo=undo,
        )

    @server.command("kenetic.runPattern")
    async def run_pattern(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Start an agent task from a reasoning pattern's template (the code action's command)."""
        p = validate_command_args(RunPatternParams, list(args))
        found = await asyncio.to_thread(ls.service(PatternService).find, p.id)
        if found is None:
            raise JsonRpcInvalidParams(f"no pattern {p.id!r}")
        pattern = found[1]
        where = Path(unquote(p.uri.removeprefix("file://"))).name if p.uri else "the workspace"
        task = p.task or f"Apply the pattern “{pattern['name']}” to {where}."
        prompt = str(pattern.get("template") or "{task}").replace("{task}", task)
        return await run_agent(
            ls,
            prompt,
            text_document={"uri": p.uri} if p.uri else None,
            range_=_plain_range(p.range),
            pattern=pattern,
            undo=undo,
        )
