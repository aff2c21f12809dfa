"""run_command's output and environment (issue 16, item 11): output is capped as it is read,
never held whole, and variables that look like credentials are stripped unless agent.passEnv
names them."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

from server.agent.builtins import RUN, BuiltinTools
from server.agent.config import AgentSettings
from server.agent.sandbox import PathSandbox, run_shell
from server.agent.shell import command_env, is_secret_variable
from tests.agent.conftest import FakeEditor

SECRETS = {
    "DATABASE_URL": "postgres://app:DBPASS-7f3a@db.internal:5432/app",
    "GH_PAT": "ghp_PATVALUE0123456789abcdefghijklmnopqr",
    "AWS_ACCESS_KEY_ID": "AKIAACCESSKEYVALUE01",
    "AWS_SECRET_ACCESS_KEY": "AWSSECRETVALUE/0123456789abcdefghij",
    "NPM_CONFIG__AUTH": "NPMAUTHVALUE==",
    "GITHUB_TOKEN": "GHTOKENVALUE",
    "MY_APP_PASSWD": "PASSWDVALUE",
    "OPENAI_APIKEY": "APIKEYVALUE",
    "REDIS_URL": "redis://:REDISPASS-1@cache:6379/0",
    "GOOGLE_APPLICATION_CREDENTIALS": "/home/u/creds.json",
}
PLAIN = {
    "KENETIC_PLAIN": "visible",
    "GIT_AUTHOR_NAME": "Ada",
    "LANG": "C.UTF-8",
    "PIP_INDEX_URL": "https://pypi.org/simple",
    "KEYMAP": "us",
}


def test_names_and_values_that_look_like_credentials() -> None:
    for name, value in SECRETS.items():
        assert is_secret_variable(name, value), name
    for name, value in PLAIN.items():
        assert not is_secret_variable(name, value), name
    assert not is_secret_variable("PWD", "/home/u/work")  # the shell's, not a password
    env = command_env({**SECRETS, **PLAIN}, ["GH_PAT", "AWS_*"])
    assert set(env) == {*PLAIN, "GH_PAT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


async def test_a_command_sees_no_secret_unless_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**SECRETS, **PLAIN}.items():
        monkeypatch.setenv(name, value)
    settings = AgentSettings.model_validate({"passEnv": ["GH_PAT"]})
    editor = FakeEditor(answers=[RUN])
    tools = BuiltinTools(PathSandbox([tmp_path]), editor.callbacks(), pass_env=settings.pass_env)
    result = await tools.run_command({"command": "env"})
    assert not result.is_error, result.content
    for name, value in SECRETS.items():
        if name != "GH_PAT":
            assert value not in result.content and f"{name}=" not in result.content, name
    assert f"GH_PAT={SECRETS['GH_PAT']}" in result.content
    assert "KENETIC_PLAIN=visible" in result.content and "GIT_AUTHOR_NAME=Ada" in result.content


async def test_output_is_capped_as_it_is_read(tmp_path: Path) -> None:
    """40 MB of output: what the server holds at its peak stays near the cap, not 40 MB."""
    size = 40_000_000
    command = (
        f"{sys.executable} -c \"import sys; sys.stdout.write('START' + 'x' * {size} + 'END')\""
    )
    tracemalloc.start()
    try:
        code, out, timed_out = await run_shell(command, tmp_path, timeout_s=120, output_cap=2000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 0 and not timed_out
    assert out.startswith("START") and out.endswith("END") and len(out) < 2100
    assert f"[{size + 8 - 2000} characters cut]" in out  # START, END and the x's, less the kept
    assert peak < 4_000_000, peak  # the head and tail kept, a read buffer: never the stream
