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
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec

from memory.skills.templates import REDACTED
from server.capture import secret_forms

log = logging.getLogger(__name__)

# The one list of secret files, gitignore-style: capture never records them and the agent never
# reads, lists or searches them (server.agent.sandbox reads it through is_secret_path). A
# pattern with a directory matches at any depth (`**/`).
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
    "*.jks",
    "*.keystore",
    # credential files of package managers, databases, git and the shell
    ".npmrc",
    ".yarnrc.yml",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".my.cnf",
    ".git-credentials",
    ".htpasswd",
    # cloud and container tools
    "**/.aws/credentials",
    "**/.aws/config",
    "**/.docker/config.json",
    "**/.kube/config",
    "kubeconfig",
    "*.kubeconfig",
    "kubeconfig.y*ml",
    "**/.config/gcloud/**",
    "**/.azure/**",
    "**/.gem/credentials",
    "**/.config/gh/hosts.yml",
]
# detect-secrets plugins that flag things that are not secrets in source code
_SKIPPED_PLUGINS = {"IPPublicDetector"}
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?"
    r"(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
    re.DOTALL,
)
# a private key's tail without its head: text cut from the middle of a key (a context window)
_PRIVATE_KEY_TAIL = re.compile(
    r"\A(?:(?!-----BEGIN ).)*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----", re.DOTALL
)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]")
_SECRET_FILES = pathspec.GitIgnoreSpec.from_lines(SECRET_FILE_PATTERNS)


def is_secret_path(path: str | PurePosixPath | Path) -> bool:
    """A secret-looking file by its path (relative or absolute) or bare name. Only the path's
    last few parts count: the folders above a workspace (`/home/me/.env-tools/ws`) are not its
    files' business, and no pattern names more than a few levels."""
    parts = [p for p in PurePosixPath(Path(path).as_posix()).parts if p != "/"]
    return bool(parts) and _SECRET_FILES.match_file("/".join(parts[-5:]))


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
        if is_secret_path(path.resolve()):
            return True  # `.aws/credentials` where the folder is `.aws` itself
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
    # not leftwards over `=`: that is `NAME=value`, and the name is no part of the secret
    while start > 0 and line[start - 1] != "=" and _TOKEN_CHARS.match(line[start - 1]):
        start -= 1
    while end < len(line) and _TOKEN_CHARS.match(line[end]):
        end += 1
    return start, end


def redact(text: str, filename: str = "document", known: Collection[str] = ()) -> tuple[str, int]:
    """Text with secret-looking tokens replaced, and how many were replaced.

    The one function every text kenetic stores goes through: detect-secrets' plugins (provider
    keys, keyword assignments, high-entropy strings, JWTs), private-key blocks, and the shell and
    CLI forms of server.capture.secret_forms. `known` are secrets already found elsewhere in the
    same episode (see secrets()): they are cut wherever they appear, even where an edit broke the
    form that gave them away (`PGPASSWORD=x` edited to `PGPASSWORD1x`). Text already redacted
    stays as it is."""
    if not text:
        return text, 0
    count = 0

    def _cut(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return REDACTED

    text = _PRIVATE_KEY_BLOCK.sub(_cut, text)
    text = _PRIVATE_KEY_TAIL.sub(_cut, text)
    values = [v for v in known if len(v) >= _MIN_KNOWN]
    out_lines = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        merged = _spans(line, number, filename, values)
        for s, e in reversed(merged):
            line = line[:s] + REDACTED + line[e:]
            count += 1
        out_lines.append(line)
    return "".join(out_lines), count


def secrets(text: str, filename: str = "document") -> set[str]:
    """The secret-looking values in text, as redact() would cut them (for `known`)."""
    found: set[str] = set()
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        found.update(line[s:e] for s, e in _spans(line, number, filename, ()))
    return {v for v in found if len(v) >= _MIN_KNOWN and REDACTED not in v}


# a known secret shorter than this is not cut elsewhere: it would cut ordinary words
_MIN_KNOWN = 6


def _spans(line: str, number: int, filename: str, known: Collection[str]) -> list[list[int]]:
    """The merged [start, end) spans of secrets in one line."""
    spans: list[tuple[int, int]] = []
    for plugin in _plugins():
        try:
            found = plugin.analyze_line(filename=filename, line=line, line_number=number)
        except Exception:  # a plugin bug must not lose the episode
            continue
        for secret in found:
            value = secret.secret_value
            if not value or len(value) < 3 or REDACTED in value:
                continue
            pos = line.find(value)
            while pos != -1:
                spans.append(_expand(line, pos, pos + len(value)))
                pos = line.find(value, pos + len(value))
    spans += secret_forms.spans(line)
    for value in known:
        pos = line.find(value)
        while pos != -1:
            spans.append((pos, pos + len(value)))
            pos = line.find(value, pos + len(value))
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return merged


def redact_strings(value: Any, filename: str = "document") -> tuple[Any, int]:
    """A JSON-like value with every string in it redacted, and how many secrets were cut."""
    count = 0

    def cut(v: Any) -> Any:
        nonlocal count
        if isinstance(v, str):
            out, n = redact(v, filename)
            count += n
            return out
        if isinstance(v, dict):
            return {k: cut(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [cut(x) for x in v]
        return v

    return cut(value), count


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
