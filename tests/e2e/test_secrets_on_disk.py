"""The secrets corpus test (issue 16): every sample, typed in a document and run as a command
through the real server, is absent byte for byte from every file kenetic wrote — the store, its
write-ahead log, vectors, the user store and the log file — and from what kenetic/episodes
answers. The lines are remembered as memory notes too: every stored text goes through the one
redaction."""

from __future__ import annotations

import json
from pathlib import Path

from lsprotocol import types

from tests.e2e.conftest import FAST, change, lsp_session, open_doc, request, wait_idle
from tests.unit.server.secret_corpus import samples

SAMPLES = samples()


def _written(workspace: Path, home: Path) -> dict[Path, bytes]:
    """Every file kenetic wrote: under the folder's .kenetic/ and under its home dirs."""
    files = [p for p in (workspace / ".kenetic").rglob("*") if p.is_file()]
    files += [p for p in home.rglob("*") if p.is_file()]
    return {p: p.read_bytes() for p in files}


def _save(client: object, uri: str) -> None:
    client.text_document_did_save(  # type: ignore[attr-defined]
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )


async def test_no_sample_reaches_disk(workspace: Path, home: Path) -> None:
    log_file = home / "kenetic.log"
    # the most the log says: every message pygls would log, every line kenetic would
    env = {"KENETIC_LOG": "DEBUG", "KENETIC_LOG_FILE": str(log_file)}
    docs = {"settings.py": "python", "deploy.sh": "shellscript"}
    # settings hold secrets too: an MCP server's token in its environment
    token = next(s for s in SAMPLES if s.name == "github token").secret
    mcp = {"name": "gh", "command": "true", "env": {"GITHUB_TOKEN": token}}
    options = {**FAST, "agent": {"mcpServers": [mcp]}}
    async with lsp_session([workspace], home, init_options=options, env=env) as client:
        for name, language in docs.items():
            path = workspace / name
            text = "import os\n\ntimeout = 0\n"
            path.write_text(text)
            uri = path.as_uri()
            open_doc(client, uri, text, language)
            version, line = 1, 2  # the line `timeout = …` is on
            for number, sample in enumerate(SAMPLES, 1):
                # the developer types the secret above `timeout`, then changes `timeout`: the
                # next sample goes above this one, and the document keeps every secret
                version += 1
                change(client, uri, version, (2, 0), (2, 0), sample.line + "\n")
                _save(client, uri)
                line += sample.line.count("\n") + 1
                version += 1
                change(client, uri, version, (line, 10), (line, 11), str(number % 10))
                _save(client, uri)
            # then edits each secret's own line, often breaking the form that gave the secret
            # away (`PGPASSWORD=x` becomes `PGPASSWORD9x`, `Authorization` `Auth9rization`)
            first = 2
            for sample in reversed(SAMPLES):
                version += 1
                change(client, uri, version, (first, 10), (first, 11), "9")
                _save(client, uri)
                first += sample.line.count("\n") + 1
        for sample in SAMPLES:
            client.protocol.notify(
                "kenetic/didRunCommand",
                {
                    "command": sample.line,
                    "cwd": str(workspace),
                    "exitCode": 0,
                    "source": "terminal",
                },
            )
        for sample in SAMPLES:  # an agent or the developer remembers the line as a note
            await request(client, "kenetic/memory/store", {"text": sample.line, "kind": "note"})
        stats = await wait_idle(client, timeout=120)
        assert stats["episodes"]["command"] >= len(SAMPLES)
        assert stats["episodes"]["edit"] >= 2 * len(SAMPLES)
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kenetic.freeze", arguments=[])
        )
        await wait_idle(client, timeout=120)
        answered = await request(client, "kenetic/episodes", {"limit": 1000, "full": True})
    wire = json.dumps(answered, ensure_ascii=False)
    written = _written(workspace, home)
    assert log_file in written and workspace / ".kenetic" / "kenetic.db" in written
    # what was written is there to be searched: the edits and commands around the secrets
    store = written[workspace / ".kenetic" / "kenetic.db"] + written.get(
        workspace / ".kenetic" / "kenetic.db-wal", b""
    )
    assert b"psql -h db -U app" in store and b"redacted" in store
    leaks = [
        f"{sample.name} in {path.relative_to(path.anchor)}"
        for sample in SAMPLES
        for path, data in written.items()
        if sample.secret.encode() in data
    ]
    assert not leaks, leaks
    assert not [s.name for s in SAMPLES if s.secret in wire]
