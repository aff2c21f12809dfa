"""Credential files are one list for capture and the agent: never captured, never read, listed
or searched by the agent (issue 16, item 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from server.agent.builtins import BuiltinTools
from server.agent.sandbox import PathSandbox, SandboxError
from server.agent.tools import ToolRegistry
from server.capture.privacy import IgnoreRules
from tests.agent.conftest import FakeEditor

MARK = "kenetic-credential-" + "marker"
CREDENTIAL_FILES = [
    ".npmrc",
    ".netrc",
    ".pgpass",
    ".aws/credentials",
    ".docker/config.json",
    ".git-credentials",
    "certs/client.p12",
    "certs/client.pfx",
    ".kube/config",
    "deploy/prod.kubeconfig",
    "sub/project/.npmrc",
]


@pytest.fixture
def creds(workspace: Path) -> Path:
    for name in CREDENTIAL_FILES:
        path = workspace / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{MARK} {name}\n")
    # ordinary files with the same names in other places stay readable
    (workspace / "app").mkdir()
    (workspace / "app" / "config.json").write_text('{"debug": true}\n')
    (workspace / "app" / "config").write_text("ordinary\n")
    return workspace


@pytest.mark.parametrize("name", CREDENTIAL_FILES)
def test_the_agent_may_not_read_a_credential_file(creds: Path, name: str) -> None:
    box = PathSandbox([creds])
    with pytest.raises(SandboxError, match="secrets"):
        box.resolve(name)
    assert box.resolve("app/config.json") == creds.resolve() / "app" / "config.json"
    assert box.resolve("app/config") == creds.resolve() / "app" / "config"


@pytest.mark.parametrize("name", CREDENTIAL_FILES)
def test_capture_ignores_a_credential_file(creds: Path, name: str) -> None:
    assert IgnoreRules(creds).ignored(creds / name)
    assert not IgnoreRules(creds).ignored(creds / "app" / "config.json")


def test_a_folder_that_is_the_credentials_directory(tmp_path: Path) -> None:
    aws = tmp_path / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(f"{MARK}\n")
    assert IgnoreRules(aws).ignored(aws / "credentials")
    with pytest.raises(SandboxError):
        PathSandbox([aws]).resolve("credentials")


@pytest.mark.parametrize("engine", ["python", "rg"])
async def test_listing_and_searching_skip_credential_files(creds: Path, engine: str) -> None:
    if engine == "rg" and shutil.which("rg") is None:
        pytest.skip("ripgrep is not installed")
    tools = ToolRegistry(
        BuiltinTools(
            PathSandbox([creds]), FakeEditor().callbacks(), rg="auto" if engine == "rg" else None
        ).tools()
    )
    listing = (await tools.call("list_files", {"depth": 8})).content
    assert "app/config.json" in listing
    for name in CREDENTIAL_FILES:
        assert name not in listing.splitlines(), listing
    found = await tools.call("search", {"query": MARK})
    assert MARK not in found.content, found.content
