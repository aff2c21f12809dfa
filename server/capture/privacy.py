"""What kenetic must never keep: ignored files and secrets.

Files matched by the workspace's `.gitignore` files, `.kenetic/ignore`, the `capture.ignore`
setting, or a secret-looking name are never captured. Text that is captured has secret-looking
tokens replaced before it reaches the store: detect-secrets' plugins find them (cloud keys, API
tokens, keyword assignments, high-entropy strings), and private-key blocks are cut whole.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec

from memory.skills.templates import REDACTED

log = logging.getLogger(__name__)

SECRET_FILE_PATTERNS = [
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "id_ecdsa*",
    "id_dsa*",
    "*.p12",
    "*.pfx",
]
# detect-secrets plugins that flag things that are not secrets in source code
_SKIPPED_PLUGINS = {"IPPublicDetector"}
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?"
    r"(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]")


class IgnoreRules:
    """Decides whether a file inside a workspace folder may be captured."""

    def __init__(self, root: Path, extra_globs: list[str] | None = None) -> None:
        self.root = root
        self._extra = pathspec.GitIgnoreSpec.from_lines(
            [*SECRET_FILE_PATTERNS, *(extra_globs or [])]
        )
        self._kenetic = _spec_file(root / ".kenetic" / "ignore")

    def ignored(self, path: Path) -> bool:
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except (ValueError, OSError):
            return True  # outside the folder: not ours to capture
        posix = rel.as_posix()
        if posix.startswith(".kenetic/") or posix.startswith(".git/"):
            return True
        if self._extra.match_file(posix) or self._kenetic.match_file(posix):
            return True
        return self._gitignored(rel)

    def _gitignored(self, rel: PurePosixPath | Path) -> bool:
        # every .gitignore from the root down to the file's directory, each relative to its dir
        parts = rel.parts
        verdict = False
        for depth in range(len(parts)):
            base = self.root.joinpath(*parts[:depth])
            spec = _spec_file(base / ".gitignore")
            sub = PurePosixPath(*parts[depth:]).as_posix()
            result = spec.check_file(sub)
            if result.include is not None:
                verdict = bool(result.include)
        return verdict


def _spec_file(path: Path) -> pathspec.GitIgnoreSpec:
    try:
        stat = path.stat()
    except OSError:
        return _EMPTY
    return _cached_spec(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _cached_spec(path: str, _mtime: int, _size: int) -> pathspec.GitIgnoreSpec:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return _EMPTY
    return pathspec.GitIgnoreSpec.from_lines(lines)


_EMPTY = pathspec.GitIgnoreSpec.from_lines([])


@lru_cache(maxsize=1)
def _plugins() -> list:
    from detect_secrets.core.scan import get_plugins
    from detect_secrets.settings import default_settings

    with default_settings():
        return [p for p in get_plugins() if p.__class__.__name__ not in _SKIPPED_PLUGINS]


def _expand(line: str, start: int, end: int) -> tuple[int, int]:
    """Grow a found secret to the whole token around it (some plugins report a prefix)."""
    while start > 0 and _TOKEN_CHARS.match(line[start - 1]):
        start -= 1
    while end < len(line) and _TOKEN_CHARS.match(line[end]):
        end += 1
    return start, end


def redact(text: str, filename: str = "document") -> tuple[str, int]:
    """Text with secret-looking tokens replaced, and how many were replaced."""
    if not text:
        return text, 0
    count = 0

    def _cut(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return REDACTED

    text = _PRIVATE_KEY_BLOCK.sub(_cut, text)
    plugins = _plugins()
    out_lines = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        spans: list[tuple[int, int]] = []
        for plugin in plugins:
            try:
                found = plugin.analyze_line(filename=filename, line=line, line_number=number)
            except Exception:  # a plugin bug must not lose the episode
                continue
            for secret in found:
                value = secret.secret_value
                if not value or len(value) < 3:
                    continue
                pos = line.find(value)
                while pos != -1:
                    spans.append(_expand(line, pos, pos + len(value)))
                    pos = line.find(value, pos + len(value))
        if spans:
            spans.sort()
            merged: list[list[int]] = []
            for s, e in spans:
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            for s, e in reversed(merged):
                line = line[:s] + REDACTED + line[e:]
                count += 1
        out_lines.append(line)
    return "".join(out_lines), count


class RedactedJSON:
    """A value stored as JSON with secret-looking tokens redacted in the strings under `keys`
    (texts cut from the developer's code: a suggestion's old and new text). The JSON is made
    where sqlite3 adapts the value, on the store's writer thread, off the request path."""

    def __init__(self, value: Any, keys: frozenset[str]) -> None:
        self.value = value
        self.keys = keys

    def __conform__(self, protocol: object) -> str | None:
        if protocol is not sqlite3.PrepareProtocol:
            return None
        return json.dumps(self._cut(self.value), ensure_ascii=False, separators=(",", ":"))

    def _cut(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: redact(v)[0] if k in self.keys and isinstance(v, str) else self._cut(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._cut(v) for v in value]
        return value
