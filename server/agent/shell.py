"""Running a command the user confirmed: its own process group, a timeout that kills the whole
group, output read as it comes and capped as it is read, and an environment without secrets.

The output is never held whole: a command printing 100 MB costs the server the head and tail it
keeps (a few times `agent.outputCapChars`), not 100 MB and its decoded copy.

The environment: a variable is dropped when its name looks like a credential (a word such as
TOKEN, KEY, SECRET, PASSWORD, AUTH, CREDENTIAL or PAT among the parts of its name, or TOKEN,
SECRET, PASSWORD, APIKEY... anywhere in it) or its value is a URL with a password in it
(`DATABASE_URL=postgres://user:pw@host/db`), unless `agent.passEnv` names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import re
import signal
from collections.abc import Iterable, Mapping
from pathlib import Path

# a part of a variable's name (split at `_`, `-`, `.`) that marks a credential
SECRET_NAME_PARTS = {
    "TOKEN",
    "TOKENS",
    "KEY",
    "KEYS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASS",
    "PWD",
    "PW",
    "AUTH",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "PAT",
    "COOKIE",
    "SESSIONID",
}
# ...and words that mark one wherever they stand (`GITHUBTOKEN`, `OPENAI_APIKEY`)
_SECRET_WORDS = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|APIKEY|ACCESSKEY|PRIVATEKEY|AUTHKEY"
)
# names that merely look like it: the shell's working directories
_NOT_SECRET = {"PWD", "OLDPWD"}
_URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")


def is_secret_variable(name: str, value: str) -> bool:
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    parts = set(re.split(r"[_.\-]+", upper))
    return bool(
        parts & SECRET_NAME_PARTS or _SECRET_WORDS.search(upper) or _URL_WITH_PASSWORD.search(value)
    )


def command_env(environ: Mapping[str, str], pass_env: Iterable[str] = ()) -> dict[str, str]:
    """The environment a command the agent runs gets: `environ` without secret-looking
    variables, except those `pass_env` names (exact names or glob patterns)."""
    allowed = list(pass_env)
    return {
        k: v
        for k, v in environ.items()
        if not is_secret_variable(k, v) or any(fnmatch.fnmatchcase(k, p) for p in allowed)
    }


class CappedOutput:
    """The head and tail of a stream, as bytes, with a count of what fell in between."""

    def __init__(self, limit_chars: int) -> None:
        self.limit = limit_chars
        self.head_chars = limit_chars * 2 // 5
        self.tail_chars = limit_chars - self.head_chars
        # UTF-8 takes at most 4 bytes a character: enough bytes for the characters kept
        self.head_bytes = self.head_chars * 4
        self.tail_bytes = self.tail_chars * 4
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_bytes - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_bytes:
                del self.tail[: len(self.tail) - self.tail_bytes]

    def text(self) -> str:
        dropped = self.total - len(self.head) - len(self.tail)
        if dropped == 0:
            return cap((self.head + self.tail).decode(errors="replace"), self.limit)
        head, tail = self.head.decode(errors="replace"), self.tail.decode(errors="replace")
        # bytes never kept count as characters: exact for ASCII, near enough for the model
        cut = dropped + max(0, len(head) - self.head_chars) + max(0, len(tail) - self.tail_chars)
        head, tail = head[: self.head_chars], tail[-self.tail_chars :]
        return f"{head}\n… [{cut} characters cut] …\n{tail}"


def cap(text: str, limit: int) -> str:
    """Head and tail of a long output: the start says what ran, the end says how it ended."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters cut] …\n{text[-tail:]}"


async def run_shell(
    command: str,
    cwd: Path,
    *,
    timeout_s: float,
    output_cap: int,
    pass_env: Iterable[str] = (),
) -> tuple[int | None, str, bool]:
    """(exit code or None on timeout, capped output, timed out); the process group is killed."""
    proc = await asyncio.create_subprocess_shell(
        command,
        cwd=str(cwd),
        env=command_env(os.environ, pass_env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    out = CappedOutput(output_cap)
    timed_out = False
    try:
        await asyncio.wait_for(_drain(proc, out), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as exc:
        _kill_group(proc)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_drain(proc, out), 2.0)
        if isinstance(exc, asyncio.CancelledError):
            raise
        timed_out = True
    return (None if timed_out else proc.returncode), out.text(), timed_out


async def _drain(proc: asyncio.subprocess.Process, out: CappedOutput) -> None:
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(1 << 16):
        out.add(chunk)
    await proc.wait()


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
