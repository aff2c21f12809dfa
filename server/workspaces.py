"""Workspace folders, each with its settings, ignore rules and store.

Multi-root workspaces keep one store per folder, so what is learned in one project stays there.
A document belongs to the innermost folder that contains it. With no folder at all (a single
file opened without a project) documents go to the user store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from memory.store.database import Store, StoreError, project_store_path, user_store_path
from server.capture.privacy import IgnoreRules
from server.settings import Settings, read_toml, resolve, unwrap, user_config_path
from server.team_sync import TeamSync

log = logging.getLogger(__name__)


def uri_to_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"
    return Path(path)


@dataclass
class Folder:
    uri: str
    path: Path | None  # None: the user store serving documents outside any folder
    settings: Settings = field(default_factory=Settings)
    store: Store | None = None
    store_error: str | None = None
    ignore: IgnoreRules | None = None

    def describe(self) -> dict[str, Any]:
        stats = self.store.stats if self.store is not None else None
        return {
            "folder": self.uri,
            "path": str(self.store.path) if self.store else None,
            "ok": self.store is not None,
            "error": self.store_error,
            # writes lost for good, and why writes are held for retry right now (disk full)
            "failedWrites": stats.failed_writes if stats else 0,
            "writeError": stats.write_error if stats else None,
        }


class Workspaces:
    """Routes documents to folders and keeps their settings and stores current."""

    def __init__(self, notify_error: Callable[[str], None]) -> None:
        self._notify_error = notify_error
        self.init_options: dict[str, Any] = {}
        self.client_settings: dict[str, Any] = {}
        self.folders: dict[Path, Folder] = {}
        self.fallback: Folder | None = None
        self.settings = Settings()
        # called with a folder each time its store is (re)opened: features attach to it here
        self.store_opened: list[Callable[[Folder], None]] = []
        # each folder's team sync thread (team.* settings), started and stopped with its store
        self.team = TeamSync(notify_error)

    # -- settings -------------------------------------------------------------------------

    def _layers(self, folder: Path | None) -> list[dict[str, Any]]:
        user, errors = read_toml(user_config_path())
        layers = [user]
        if folder is not None:
            path = folder / ".kenetic" / "config.toml"
            project, more = read_toml(path)
            errors += more
            # a repository merely opened must not choose where the developer's skills go, nor
            # whose rewrites come back (docs/team.md): team.* never comes from a project file.
            # unwrap first, so `[kenetic.team]` and `"team.url" = ...` are caught as well
            project = unwrap(project)
            # no setting is named kenetic: resolve's own unwrap must not lift a nested one
            project.pop("kenetic", None)
            if project.pop("team", None) is not None:
                errors.append(
                    f"kenetic: ignoring [team] in {path}: team settings are read only from the"
                    " user config file or the editor's user settings"
                )
            layers.append(project)
        for message in errors:
            self._notify_error(message)
        return [*layers, self.init_options, self.client_settings]

    def _resolve(self, folder: Path | None) -> Settings:
        settings, errors = resolve(self._layers(folder))
        for message in errors:
            self._notify_error(message)
        return settings

    def reload(self) -> None:
        """Recompute every folder's settings; reopen a store whose path setting changed."""
        self.settings = self._resolve(None)
        for folder in [*self.folders.values(), *([self.fallback] if self.fallback else [])]:
            old = folder.settings.store.path
            folder.settings = self._resolve(folder.path)
            if folder.path is not None:
                folder.ignore = IgnoreRules(folder.path, folder.settings.capture.ignore)
            if folder.settings.store.path != old:
                self._close_store(folder)
                self._open_store(folder)
            else:
                self.team.update(folder)

    # -- folders --------------------------------------------------------------------------

    def set_folders(self, uris: list[str]) -> None:
        for uri in uris:
            self.add_folder(uri)
        self.settings = self._resolve(None)

    def add_folder(self, uri: str) -> Folder | None:
        path = uri_to_path(uri)
        if path is None:
            log.warning("workspace folder %s is not a file: URI; not captured", uri)
            return None
        if path in self.folders:
            return self.folders[path]
        settings = self._resolve(path)
        folder = Folder(uri=uri, path=path, settings=settings)
        folder.ignore = IgnoreRules(path, settings.capture.ignore)
        self._open_store(folder)
        self.folders[path] = folder
        return folder

    def remove_folder(self, uri: str) -> None:
        path = uri_to_path(uri)
        folder = self.folders.pop(path, None) if path else None
        if folder is not None:
            self._close_store(folder)

    def folder_for(self, uri: str) -> Folder | None:
        """The innermost folder holding a file: URI; None for untitled and outside documents."""
        path = uri_to_path(uri)
        if path is None:
            return None
        best: Folder | None = None
        for root, folder in self.folders.items():
            inside = path == root or root in path.parents
            if inside and (best is None or len(root.parts) > len(best.path.parts)):  # type: ignore[union-attr]
                best = folder
        if best is None and not self.folders:
            return self._fallback()
        return best

    def _fallback(self) -> Folder:
        if self.fallback is None:
            self.fallback = Folder(uri="user:", path=None, settings=self._resolve(None))
            self._open_store(self.fallback)
        return self.fallback

    def all(self) -> list[Folder]:
        return [*self.folders.values(), *([self.fallback] if self.fallback else [])]

    def _open_store(self, folder: Folder) -> None:
        configured = folder.settings.store.path or None
        if folder.path is None:
            path = user_store_path()
        else:
            path = project_store_path(folder.path, configured)
        try:
            folder.store = Store(path)
            folder.store_error = None
        except (StoreError, OSError) as exc:
            folder.store = None
            folder.store_error = str(exc)
            self._notify_error(f"kenetic: capture is off for {folder.uri}: {exc}")
        except Exception as exc:  # sqlite3 errors of every other kind: same treatment
            folder.store = None
            folder.store_error = f"{type(exc).__name__}: {exc}"
            self._notify_error(f"kenetic: capture is off for {folder.uri}: {folder.store_error}")

        if folder.store is not None:
            self._announce(folder)

    def _watch_writes(self, folder: Folder, store: Store) -> None:
        """Tell the user once when a store's writes start failing (they are held and retried);
        kenetic/stats shows it for as long as it lasts."""

        def changed(message: str | None) -> None:
            if message is not None:
                self._notify_error(f"{message} (workspace folder {folder.uri})")

        store.write_listeners.append(changed)

    def _announce(self, folder: Folder) -> None:
        if folder.store is not None:
            self._watch_writes(folder, folder.store)
        self.team.update(folder)
        for hook in self.store_opened:
            try:
                hook(folder)
            except Exception:
                log.exception("store hook failed for %s", folder.uri)

    def replace_store(self, folder: Folder, store: Store) -> None:
        """Swap in a reopened store (after a restore) and tell the features."""
        folder.store = store
        folder.store_error = None
        self._announce(folder)

    def _close_store(self, folder: Folder) -> None:
        self.team.closed(folder)  # before the store it reads closes
        if folder.store is not None:
            folder.store.close()
            folder.store = None

    def close(self) -> None:
        self.team.close()
        for folder in self.all():
            self._close_store(folder)
