"""What the agent may touch: paths inside the workspace, and commands that are not blocked.

Paths: every path the agent names must land inside a workspace folder.

A path is resolved the way the OS would follow it (symlinks included, for the parts that exist)
and only then compared with the folders, so `..`, absolute paths, a symlink pointing outside and a
symlinked directory are judged by where they really lead. NUL bytes and `~` are refused outright
(no home expansion: the agent has no business there). Secret-looking files (`.env`, keys) and the
`.git`/`.kenetic` internals are refused too: their contents would go to the LLM.

Commands: `CommandPolicy` refuses the blocked patterns (the built-ins plus
`agent.blockedCommands`) before the user is even asked; `run_shell` (server.agent.shell) runs what
the user confirmed in its own process group, without secret-looking environment variables, with a
timeout that kills the whole group, and caps the output as it reads it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

# re-exported: where the tools and their tests have always found them
from server.agent.shell import cap, run_shell  # noqa: F401
from server.capture.privacy import is_secret_path

log = logging.getLogger(__name__)

PRIVATE_DIRS = {".git", ".kenetic"}


class SandboxError(Exception):
    """A path the agent may not use; the message goes back to the model as the tool's error."""


class PathSandbox:
    def __init__(self, roots: list[Path] | list[str]) -> None:
        if not roots:
            raise ValueError("the sandbox needs at least one workspace folder")
        self.roots = [Path(os.path.realpath(r)) for r in roots]

    @property
    def primary(self) -> Path:
        return self.roots[0]

    def resolve(self, path: str, *, must_exist: bool = False, for_write: bool = False) -> Path:
        """The real path inside a folder; SandboxError otherwise. Relative to the first folder."""
        if not isinstance(path, str) or not path.strip():
            raise SandboxError("a path is required")
        if "\x00" in path:
            raise SandboxError("a path may not contain NUL bytes")
        if path.startswith("file:"):
            parsed = urlparse(path)
            if parsed.netloc not in ("", "localhost"):
                raise SandboxError(f"{path}: only local file URIs are allowed")
            path = unquote(parsed.path)
        if path.startswith("~"):
            raise SandboxError(f"{path}: `~` is outside the workspace; use a workspace path")
        candidate = Path(path)
        if not candidate.is_absolute():
            # multi-root: `<folder name>/...` names another folder, as `relative` writes it
            other = next(
                (
                    r
                    for r in self.roots[1:]
                    if candidate.parts
                    and candidate.parts[0] == r.name
                    and not (self.primary / candidate.parts[0]).exists()
                ),
                None,
            )
            candidate = (
                other.joinpath(*candidate.parts[1:])
                if other is not None
                else self.primary / candidate
            )
        real = Path(os.path.realpath(candidate))
        root = self.root_of(real)
        if root is None:
            raise SandboxError(f"{path}: outside the workspace folders; refused")
        rel = real.relative_to(root)
        if rel.parts and rel.parts[0] in PRIVATE_DIRS:
            raise SandboxError(f"{path}: {rel.parts[0]}/ is kenetic's or git's own; refused")
        if is_secret_name(real):
            raise SandboxError(f"{path}: looks like a secrets file; refused")
        if must_exist and not real.exists():
            raise SandboxError(f"{path}: no such file")
        if for_write and real.exists() and not real.is_file():
            raise SandboxError(f"{path}: not a regular file")
        return real

    def root_of(self, real: Path) -> Path | None:
        for root in self.roots:
            if real == root or real.is_relative_to(root):
                return root
        return None

    def relative(self, real: Path) -> str:
        """How the agent sees a path: relative to the first folder, else to its own folder."""
        root = self.root_of(real)
        if root is None:
            return str(real)
        rel = real.relative_to(root).as_posix() or "."
        return rel if root == self.primary else f"{root.name}/{rel}"


def is_secret_name(path: str | Path) -> bool:
    """A secrets file by its name or path, by capture's one list (SECRET_FILE_PATTERNS):
    `.aws/credentials` and `.docker/config.json` are known by their directory too."""
    return is_secret_path(path)


def to_uri(path: Path) -> str:
    return path.as_uri()


def from_uri(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


# ----------------------------------------------------------------------------- commands

# Refused whatever the user answers: a backstop behind the confirmation, not a shell parser.
BLOCKED_COMMANDS = [
    # recursive rm of /, ~, $HOME or a system directory (and --no-preserve-root anywhere)
    r"\brm\s+[^;&|]*?(?:-[a-zA-Z]*[rR][a-zA-Z]*|--recursive)\b[^;&|]*?\s"
    r"(?:/\*?|~/?|\$\{?HOME\}?/?|/(?:bin|boot|dev|etc|home|lib\w*|opt|proc|root|sbin|srv|sys"
    r"|usr|var)\b[^\s;&|]*)(?=$|[\s;&|])",
    r"--no-preserve-root",
    r"(?:^|[\s;&|(`]|\$\()(?:sudo|doas|su|pkexec)(?=$|\s)",
    r"\b(?:curl|wget|fetch)\b[^;]*\|\s*(?:sudo\s+)?(?:ba|z|k|da|fi)?sh\b",
    r"\b(?:curl|wget|fetch)\b[^;]*\|\s*(?:python[0-9.]*|perl|ruby|node)\b",
    r"\b(?:ba|z|k|da)?sh\b[^;]*(?:<\(|\$\(|`)\s*(?:curl|wget)\b",
    r"\bdd\b[^;&|]*\bof=/dev/",
    r">\s*/dev/(?:sd|nvme|hd|vd|xvd|disk|mmcblk)",
    r"\bmkfs(?:\.\w+)?\b",
    r"(?P<f>[\w:.]+)\s*\(\)\s*\{\s*(?P=f)\s*\|\s*(?P=f)\s*&\s*\}",  # fork bomb
    r"\bgit\b[^;&|]*\bpush\b[^;&|]*(?:\s--force\b|\s-[a-zA-Z]*f\b|\s\+\S)",
    r"\b(?:shutdown|reboot|halt|poweroff)\b",
    r"\bchmod\s+-[a-zA-Z]*R[a-zA-Z]*\s+[0-7]*7[0-7]*\s+/(?:$|\s)",
    r"\bchown\s+-[a-zA-Z]*R[a-zA-Z]*\s+\S+\s+/(?:$|\s)",
]


class CommandPolicy:
    """Decides whether a shell command may even be offered for confirmation."""

    def __init__(self, extra: list[str] | None = None) -> None:
        self.patterns = []
        for source in [*BLOCKED_COMMANDS, *(extra or [])]:
            try:
                self.patterns.append(re.compile(source))
            except re.error as exc:
                log.warning("agent.blockedCommands: ignoring %r: %s", source, exc)

    def blocked(self, command: str) -> str | None:
        """The pattern that refuses this command, or None."""
        flat = " ".join(command.split())
        # quotes and backslashes removed too: `"su""do"`, `r\m -rf /`
        plain = re.sub(r"[\"'\\]", "", flat)
        for pattern in self.patterns:
            if pattern.search(flat) or pattern.search(plain):
                return pattern.pattern
        return None
