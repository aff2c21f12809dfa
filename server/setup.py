"""The one place that builds the server and registers every feature (esbonio's pattern)."""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from server.features import (
    agent,
    capture,
    commands,
    lifecycle,
    memory,
    patterns,
    queries,
    ranking,
    skills,
)
from server.server import KeneticServer

FEATURES = [lifecycle, capture, memory, patterns, agent, commands, queries, skills, ranking]


class AnsweredErrors(logging.Filter):
    """pygls logs every error answer at ERROR with a traceback. Malformed params or a request
    that cannot be done (InvalidParams, RequestFailed) are answered to the client, which shows
    them; in the server's log (the editor's output channel) they are one warning line, not a
    stack trace that reads like a crash. Internal errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError):
            record.msg = f"{record.getMessage()}: answered {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_ANSWERED = AnsweredErrors()


def create_server() -> KeneticServer:
    logger = logging.getLogger("pygls.protocol.json_rpc")
    if _ANSWERED not in logger.filters:
        logger.addFilter(_ANSWERED)
    server = KeneticServer()
    for feature in FEATURES:
        feature.setup(server)
    return server
