"""The MCP server: kenetic's memory, skills and notes as tools and a resource, over stdio.

Built on the official SDK's MCPServer. Each tool does its work on a worker thread (SQLite, file
reads and tree-sitter parsing would otherwise hold the event loop that answers the client) and
one at a time (one store connection, one memory index). An expected failure (no store, an
unknown skill id, a path the sandbox refuses) is a tool error carrying one clear line; the
client's agent reads it and can correct its call.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from server import __version__
from server.mcp import sites
from server.mcp.workspace import McpWorkspace, Refused

log = logging.getLogger(__name__)
T = TypeVar("T")

NOTES_URI = "kenetic://notes"
INSTRUCTIONS = (
    "kenetic learned this project's code rewrites (skills) from the developer's own edits and"
    " keeps its memory (past edits, commands, agent tasks, notes). recall_memory finds what was"
    " done before; list_skills and skill_card show the rewrites; find_sites shows where one"
    " applies; apply_skill returns its edits and writes them only with apply=true. The project"
    f" notes are the resource {NOTES_URI}."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_app(ws: McpWorkspace) -> MCPServer:
    app: MCPServer = MCPServer(
        "kenetic", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    one_at_a_time = threading.Lock()

    async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def work() -> T:
            with one_at_a_time:
                return fn(*args, **kwargs)

        try:
            return await anyio.to_thread.run_sync(functools.partial(work))
        except Refused as exc:
            raise ToolError(str(exc)) from None

    @app.tool(annotations=READ_ONLY)
    async def recall_memory(
        query: Annotated[str, Field(description="what to recall, in words or code")],
        limit: Annotated[int, Field(ge=1, le=50, description="items at most")] = 10,
        kinds: Annotated[
            list[str] | None,
            Field(description="only these kinds: episode, skill, pattern, note"),
        ] = None,
    ) -> dict[str, Any]:
        """Recall the project's memory like a query: past edits, commands and agent tasks
        (episodes), learned skills, reasoning patterns and notes, best first."""
        return await run(ws.recall, query, limit, kinds)

    @app.tool(annotations=READ_ONLY)
    async def list_skills(
        language: Annotated[
            str | None, Field(description="only skills of this language, e.g. python")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The skills kenetic learned here (code rewrites mined from the developer's repeated
        edits): id, name, language, support (examples), outcomes of its suggestions, muted."""
        return await run(ws.list_skills, language, limit)

    @app.tool(annotations=READ_ONLY)
    async def skill_card(
        id: Annotated[str, Field(description="a skill id from list_skills")],
    ) -> dict[str, Any]:
        """One skill: its before and after patterns ($h0... are holes), holes, guards and how
        many examples taught it."""
        return await run(ws.skill_card, id)

    @app.tool(annotations=READ_ONLY)
    async def find_sites(
        id: Annotated[str, Field(description="a skill id from list_skills")],
        path: Annotated[str, Field(description="a file or folder, relative to the workspace")],
        limit: Annotated[int, Field(ge=1, le=sites.MAX_SITES)] = 200,
    ) -> dict[str, Any]:
        """Where a skill applies in a file or under a folder: each site's path, range (0-based
        line and character, characters as Unicode code points), current text and replacement."""
        return await run(lambda: sites.found_json(sites.plan(ws, id, path, limit)))

    @app.tool(annotations=ToolAnnotations(destructive_hint=False, open_world_hint=False))
    async def apply_skill(
        id: Annotated[str, Field(description="a skill id from list_skills")],
        path: Annotated[str, Field(description="a file or folder, relative to the workspace")],
        apply: Annotated[
            bool, Field(description="write the files; without it only the edits are returned")
        ] = False,
        expected_sha256: Annotated[
            dict[str, str] | None,
            Field(description="path -> sha256 from a dry run: a file that differs is not written"),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=sites.MAX_SITES)] = sites.MAX_SITES,
    ) -> dict[str, Any]:
        """A skill's edits in a file or under a folder, per file with its sha256. Files are
        written (atomically, each only if unchanged since read) only with apply=true."""
        return await run(
            sites.apply, ws, id, path, write=apply, expected=expected_sha256, limit=limit
        )

    @app.resource(
        NOTES_URI,
        name="project notes",
        description="KENETIC.md: the project's notes, secrets redacted",
        mime_type="text/markdown",
    )
    async def notes() -> str:
        try:
            return await anyio.to_thread.run_sync(ws.notes)
        except Refused as exc:
            raise ResourceError(str(exc)) from None

    return app


def run_mcp(workspace: str) -> int:
    """`kenetic mcp`: serve the workspace over stdio until the client closes it."""
    folder = Path(workspace).expanduser()
    if not folder.is_dir():
        print(f"kenetic mcp: {folder} is not a folder", file=sys.stderr)
        return 2
    ws = McpWorkspace(folder)
    if not ws.store_path.is_file():
        # the tools say so too; this line is for whoever reads the client's server log
        print(
            f"kenetic mcp: no kenetic store at {ws.store_path} yet; memory and skill tools"
            " will answer with an error until an editor's kenetic server creates it",
            file=sys.stderr,
        )
    try:
        build_app(ws).run("stdio")
    finally:
        ws.close()
    return 0
