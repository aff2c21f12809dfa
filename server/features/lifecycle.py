"""Initialisation, workspace folders, configuration changes and shutdown."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from lsprotocol import types

from server.features.capture import CaptureService
from server.features.memory import MemoryService
from server.protocol import to_plain
from server.workspaces import Workspaces

if TYPE_CHECKING:
    from server.server import KeneticServer

log = logging.getLogger(__name__)


def new_session_id() -> str:
    return uuid.uuid4().hex[:12]


def setup(server: KeneticServer) -> None:
    server.workspaces = Workspaces(notify_error=server.show_warning)
    server.session_id = new_session_id()

    @server.feature(types.INITIALIZE)
    def initialize(ls: KeneticServer, params: types.InitializeParams) -> None:
        """Read the folders and initializationOptions; open one store per folder."""
        ls.workspaces.init_options = to_plain(params.initialization_options) or {}
        if not isinstance(ls.workspaces.init_options, dict):
            ls.show_warning("kenetic: initializationOptions must be an object; ignored")
            ls.workspaces.init_options = {}
        uris = [f.uri for f in params.workspace_folders or []]
        if not uris and params.root_uri:
            uris = [params.root_uri]
        ls.workspaces.set_folders(uris)
        ls.service(CaptureService).configure()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_folders(
        ls: KeneticServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        """Folders come and go in multi-root workspaces; each keeps its own store."""
        for removed in params.event.removed:
            ls.workspaces.remove_folder(removed.uri)
        for added in params.event.added:
            ls.workspaces.add_folder(added.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(
        ls: KeneticServer, params: types.DidChangeConfigurationParams
    ) -> None:
        """The top settings layer; invalid values are reported and fall back."""
        settings = to_plain(params.settings)
        if isinstance(settings, dict):
            ls.workspaces.client_settings = settings
            ls.workspaces.reload()
            ls.service(CaptureService).configure()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: KeneticServer, *args: object) -> None:
        """Close open bursts and let the writers commit before the process ends."""
        ls.service(CaptureService).stop()
        deadline = 50
        while ls.service(CaptureService).recorder.pending and deadline:
            import time

            time.sleep(0.1)
            deadline -= 1
        ls.service(MemoryService).close()
        ls.workspaces.close()
