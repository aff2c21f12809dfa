"""`kenetic demo`: the main job on embedded defaults.

Starts the real server over stdio, drives it with pygls's LSP client through a short editing
session bundled with kenetic (session.json), and prints what was captured — and, once skills
are learned, the suggestions the server makes at the sites the developer has not edited yet.
Needs no configuration, network or API key; the workspace is a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from server.protocol import to_plain

IDLE_GAP_MS = 200


def load_session() -> dict[str, Any]:
    text = resources.files("server.demo").joinpath("session.json").read_text(encoding="utf-8")
    return json.loads(text)


class Demo:
    def __init__(self, workspace: Path, session: dict[str, Any]) -> None:
        self.workspace = workspace
        self.session = session
        self.client = LanguageClient("kenetic-demo", "1")
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}
        self.messages: list[str] = []
        self.code_actions = False

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def _show(_client: LanguageClient, params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.client.feature(types.WORKSPACE_APPLY_EDIT)
        def _apply(_client: LanguageClient, params: types.ApplyWorkspaceEditParams) -> Any:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="demo is read-only")

    def uri(self, name: str) -> str:
        return (self.workspace / name).as_uri()

    async def request(self, method: str, params: Any) -> Any:
        return to_plain(await self.client.protocol.send_request_async(method, params))

    async def wait_idle(self, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stats = await self.request("kenetic/stats", {})
            if stats["pending"] == 0 or time.monotonic() > deadline:
                return stats
            await asyncio.sleep(0.05)

    def _edit(self, name: str, line: int, old: str, new: str) -> None:
        text = self.texts[name]
        line_text = text.splitlines()[line]
        col = line_text.index(old)
        self.versions[name] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri(name), version=self.versions[name]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=line, character=col),
                            end=types.Position(line=line, character=col + len(old)),
                        ),
                        text=new,
                    )
                ],
            )
        )
        lines = text.splitlines(keepends=True)
        lines[line] = lines[line].replace(old, new, 1)
        self.texts[name] = "".join(lines)

    async def run(self) -> dict[str, Any]:
        for name, text in self.session["files"].items():
            (self.workspace / name).write_text(text, encoding="utf-8")
            self.texts[name] = text
        await self.client.start_io(sys.executable, "-m", "server.cli", "serve")
        init = await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                workspace_folders=[types.WorkspaceFolder(uri=self.workspace.as_uri(), name="demo")],
                initialization_options={"capture": {"idleGapMs": IDLE_GAP_MS}},
            )
        )
        self.client.initialized(types.InitializedParams())
        self.code_actions = init.capabilities.code_action_provider is not None
        suggestions: list[dict[str, Any]] = []
        for step in self.session["steps"]:
            await self._step(step, suggestions)
        stats = await self.wait_idle()
        episodes = (await self.request("kenetic/episodes", {"limit": 100}))["episodes"]
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
        return {
            "workspace": str(self.workspace),
            "stats": stats,
            "episodes": list(reversed(episodes)),
            "suggestions": suggestions,
            "messages": self.messages,
        }

    async def _step(self, step: dict[str, Any], suggestions: list[dict[str, Any]]) -> None:
        if "open" in step:
            name = step["open"]
            self.versions[name] = 1
            self.client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=self.uri(name),
                        language_id=step.get("language", "plaintext"),
                        version=1,
                        text=self.texts[name],
                    )
                )
            )
        elif "type" in step:
            self._edit(step["type"], step["line"], step["old"], step["new"])
        elif step.get("pause"):
            await asyncio.sleep(IDLE_GAP_MS / 1000 * 1.5)
        elif "save" in step:
            self.client.text_document_did_save(
                types.DidSaveTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=self.uri(step["save"]))
                )
            )
        elif "command" in step:
            params = {k: step[k] for k in ("command", "exitCode", "durationMs", "source")}
            params["cwd"] = str(self.workspace)
            self.client.protocol.notify("kenetic/didRunCommand", params)
        elif "suggest" in step and self.code_actions:
            await self.wait_idle()
            suggestions.extend(await self._suggest(step["suggest"], step["line"]))

    async def _suggest(self, name: str, line: int) -> list[dict[str, Any]]:
        pos = types.Position(line=line, character=4)
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri(name)),
                range=types.Range(start=pos, end=pos),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        found = []
        for action in actions or []:
            if isinstance(action, types.CodeAction):
                found.append({"at": f"{name}:{line + 1}", "title": action.title})
        return found


def _print(result: dict[str, Any]) -> None:
    stats = result["stats"]
    print("kenetic demo: a bundled editing session replayed through the real server")
    print(f"workspace: {result['workspace']}")
    print(f"store:     {stats['store']['path'] if stats['store'] else '(none)'}")
    counts = stats["episodes"]
    print(
        f"captured:  {counts['edit']} edit, {counts['command']} command, "
        f"{counts['agent']} agent episodes; {stats['skills']} skills; ranker {stats['ranker']}"
    )
    for ep in result["episodes"]:
        if ep["kind"] == "edit":
            region = ep["region"]
            where = f"{ep['uri'].rsplit('/', 1)[-1]}:{region['startLine'] + 1}"
            node = (ep.get("node") or {}).get("after") or {}
            before = (region["before"] or "").strip()
            after = (region["after"] or "").strip()
            print(f"  edit     {where:<22} {before!r} -> {after!r}  [{node.get('type', 'text')}]")
        else:
            code = ep.get("exitCode")
            print(f"  command  {ep['command']:<22} exit {code}  ({ep['source']})")
    if result["suggestions"]:
        print("suggestions at sites not edited yet:")
        for s in result["suggestions"]:
            print(f"  {s['at']:<22} {s['title']}")
    else:
        print("suggestions: none yet (skills are offered once they are learned)")
    for message in result["messages"]:
        print(f"server said: {message}")


def run_demo(*, as_json: bool = False, keep: str | None = None) -> int:
    session = load_session()
    if keep:
        workspace = Path(keep).resolve()
        workspace.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(Demo(workspace, session).run())
    else:
        with tempfile.TemporaryDirectory(prefix="kenetic-demo-") as tmp:
            result = asyncio.run(Demo(Path(tmp), session).run())
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    edits = result["stats"]["episodes"]["edit"]
    return 0 if edits > 0 else 1
