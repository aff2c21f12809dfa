"""The KeneticServer: a pygls LanguageServer that holds kenetic's state.

Two protocol-level adjustments live here because pygls has no hook for them:
- custom `kenetic/*` params reach handlers as plain JSON so pydantic can validate them, and any
  request whose params do not even deserialise is answered InvalidParams instead of being
  dropped (pygls would log and leave the client waiting forever);
- didChange hands capture the document text from just before each change (an O(1) reference),
  which is what lets a burst close at a jump elsewhere without re-applying edits;
- positions are converted by server.positions (in C), not pygls's per-character loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage

from server import __version__
from server.foreground import FOREGROUND_METHODS, GATE
from server.positions import FastPositionCodec

if TYPE_CHECKING:
    from server.workspaces import Workspaces

log = logging.getLogger(__name__)

CUSTOM_PREFIX = "kenetic/"
# the shape of kenetic's own methods, in `initialize`'s capabilities.experimental.kenetic:
# 2 answers memory and ALS results with camelCase keys (1: snake_case) and an unknown skill id
# with InvalidParams everywhere (1: renameSkill and deleteSkill answered false)
PROTOCOL_VERSION = 2
S = TypeVar("S")
# (command, arguments, session id): told of every kenetic.* command that ran
CommandListener = Callable[[str, "Sequence[Any] | None", str], None]


class ChangeListener(Protocol):
    """Who didChange tells of each change, with the text from just before it (capture)."""

    def on_change(self, uri: str, version: int, before: str, after: str, change: Any) -> None: ...

    def note_unknown_change(self, uri: str) -> None: ...


class _Answered:
    """Marks a message that was already answered while deserialising it."""

    jsonrpc = "2.0"


class KeneticProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" not in data:
            return data
        method = data.get("method")
        if isinstance(method, str) and method.startswith(CUSTOM_PREFIX):
            jsonrpc, params = str(data.get("jsonrpc")), data.get("params")
            if "id" in data:
                return JsonRPCRequestMessage(
                    id=data["id"], method=method, jsonrpc=jsonrpc, params=params
                )
            return JsonRPCNotification(method=method, jsonrpc=jsonrpc, params=params)
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data:
                error = exc if isinstance(exc, JsonRpcInvalidParams) else JsonRpcInvalidParams()
                self._send_response(data["id"], None, error.to_response_error())
                return _Answered()
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Answered):
            return
        # the editor waits on this one: background work stays stopped until it is answered
        if getattr(message, "method", None) in FOREGROUND_METHODS and hasattr(message, "id"):
            GATE.begin(("request", message.id))
        super().handle_message(message)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        try:
            super()._send_response(msg_id, result, error)
        finally:
            GATE.end(("request", msg_id))

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        result = yield from super().lsp_initialize(params)
        # pygls made the workspace with its own codec; documents opened from now on convert
        # positions in C (server.positions: a minified file's line must not stall didChange)
        codec = self.workspace.position_codec
        self.workspace._position_codec = FastPositionCodec(codec.encoding)
        # a client that reads kenetic's results can tell which shapes this server answers with
        result.capabilities.experimental = {"kenetic": {"protocol": PROTOCOL_VERSION}}
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        uri = unquote(params.text_document.uri)
        documents = self.workspace.text_documents
        capture = self._server.change_listener if isinstance(self._server, KeneticServer) else None
        if uri not in documents:
            log.warning("didChange for %s, which was never opened; ignored", uri)
            if capture is not None:
                capture.note_unknown_change(uri)
            return
        doc = documents[uri]
        for change in params.content_changes:
            before = doc.source
            self.workspace.update_text_document(params.text_document, change)
            if capture is not None:
                capture.on_change(uri, params.text_document.version, before, doc.source, change)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        session = getattr(self._server, "session_id", "")
        result = yield from super().lsp_workspace__execute_command(params)
        # every kenetic.* command that ran (arguments valid) is itself an episode, kept in
        # the session it ended or changed
        if isinstance(self._server, KeneticServer):
            for listener in self._server.command_listeners:
                listener(params.command, params.arguments, session)
        return result


class KeneticServer(LanguageServer):
    """Holds kenetic's per-session state; features attach their services in server.setup.

    The server knows no feature: each feature's setup() attaches its service object, and the
    modules that need another feature's service ask for it by type (`ls.service(CaptureService)`),
    so imports run from the features to this module and never back.
    """

    workspaces: Workspaces

    def __init__(self) -> None:
        super().__init__("kenetic", __version__, protocol_cls=KeneticProtocol)
        self.session_id = ""
        self.settings_errors_shown: set[str] = set()
        self._services: dict[type, object] = {}
        self.change_listener: ChangeListener | None = None
        self.command_listeners: list[CommandListener] = []

    def attach(self, service: S) -> S:
        """Register a feature's service under its type; returns it."""
        self._services[type(service)] = service
        return service

    def service(self, kind: type[S]) -> S:
        """The attached service of this type; LookupError when that feature is not set up."""
        found = self._services.get(kind)
        if not isinstance(found, kind):
            raise LookupError(f"{kind.__name__} is not attached to this server")
        return found

    def find(self, kind: type[S]) -> S | None:
        """The attached service of this type, or None."""
        found = self._services.get(kind)
        return found if isinstance(found, kind) else None

    def show_error(self, message: str) -> None:
        """A message the user sees once per session (repeats of the same text are dropped)."""
        self._show(types.MessageType.Error, message)

    def show_warning(self, message: str) -> None:
        self._show(types.MessageType.Warning, message)

    def _show(self, kind: types.MessageType, message: str) -> None:
        if message in self.settings_errors_shown:
            return
        self.settings_errors_shown.add(message)
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, message)
        # not connected yet (handlers exercised without a transport): the log line is enough
        with contextlib.suppress(Exception):
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))
