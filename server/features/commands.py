"""Command episodes: kenetic.* commands and commands the developer ran outside the editor.

Every `kenetic.*` command executed through `workspace/executeCommand` is itself recorded as a
command episode (source "editor"), and clients forward terminal and task exits with the
`kenetic/didRunCommand` notification.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memory.store.database import Episode
from server.capture.privacy import redact, redact_strings
from server.capture.recorder import clean_text
from server.features.capture import CaptureService
from server.features.lifecycle import new_session_id
from server.features.patterns import PatternService
from server.protocol import (
    DidRunCommandParams,
    SessionCommandParams,
    to_plain,
    validate,
    validate_command_args,
)

# imported at run time: pygls reads command handlers' annotations with get_type_hints
from server.server import KeneticServer  # noqa: E402

log = logging.getLogger(__name__)


def record_command(
    ls: KeneticServer,
    command: str,
    *,
    source: str,
    cwd: str | None = None,
    exit_code: int | None = None,
    duration_ms: float | None = None,
    arguments: Any = None,
    session: str | None = None,
) -> int:
    """Queue a command episode in the store of the folder it ran in; 1 if queued."""
    cwd_uri = _as_uri(cwd) if cwd else None
    folder = ls.workspaces.folder_for(cwd_uri) if cwd_uri else None
    if folder is None:
        # a command run outside every folder (or without a cwd) belongs to the first folder
        folders = ls.workspaces.all()
        folder = folders[0] if folders else None
    if folder is None or folder.store is None:
        return 0
    # the work per command is bounded like an edit's region: redacting runs on the event loop
    limit = folder.settings.capture.max_region_bytes
    truncated = len(command) > limit
    # every text of the episode goes through the one redaction (a shell line's
    # `PGPASSWORD=… psql`, a kenetic.* command's arguments), before it is queued
    if truncated:
        # cut at a space: a secret cut in two might no longer look like one
        head = command[:limit].rsplit(None, 1)
        command = head[0] if len(head) == 2 else ""
    text, redactions = redact(clean_text(command), "command")
    now = time.time()
    started = now - (duration_ms or 0) / 1000
    data: dict[str, Any] = {
        "command": text,
        "cwd": redact(clean_text(cwd), "command")[0] if cwd else cwd,
        "exitCode": exit_code,
        "durationMs": duration_ms,
        "source": source,
        "redactions": redactions,
    }
    if truncated:
        data["truncated"] = True
    if arguments:
        data["arguments"], n = redact_strings(arguments, "command")
        data["redactions"] = redactions + n
    folder.store.add_episode(
        Episode("command", session or ls.session_id, started, now, data, uri=cwd_uri)
    )
    return 1


def _as_uri(cwd: str) -> str | None:
    try:
        return Path(cwd).resolve().as_uri()
    except (ValueError, OSError):
        return None


def setup(server: KeneticServer) -> None:
    def ran(command: str, arguments: Sequence[Any] | None, session: str) -> None:
        # every kenetic.* command that ran is itself an episode, in the session it ended or changed
        plain = to_plain(arguments) or None
        record_command(server, command, source="editor", arguments=plain, session=session)

    server.command_listeners.append(ran)

    @server.feature("kenetic/didRunCommand")
    def did_run_command(ls: KeneticServer, params: Any) -> None:
        """A terminal, task or editor command finished (client -> server notification)."""
        try:
            p = validate(DidRunCommandParams, params)
        except Exception as exc:
            # a notification has no reply: tell the user instead of dropping it silently
            ls.show_warning(f"kenetic/didRunCommand ignored: {exc}")
            return
        record_command(
            ls,
            p.command,
            source=p.source,
            cwd=p.cwd,
            exit_code=p.exit_code,
            duration_ms=p.duration_ms,
        )

    @server.command("kenetic.newSession")
    def new_session(ls: KeneticServer, *args: Any) -> dict[str, str]:
        """Start a new session: later episodes are grouped apart from earlier ones."""
        validate_command_args(SessionCommandParams, list(args))
        ls.service(CaptureService).flush()
        ls.session_id = new_session_id()
        return {"sessionId": ls.session_id}

    @server.command("kenetic.freeze")
    async def freeze(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """End the session: what it did is kept together, and becomes reasoning patterns."""
        validate_command_args(SessionCommandParams, list(args))
        ls.service(CaptureService).flush()
        frozen = ls.session_id
        ls.session_id = new_session_id()
        patterns = await ls.service(PatternService).freeze(frozen)
        return {"frozenSession": frozen, "sessionId": ls.session_id, "patterns": patterns}
