"""`kenetic demo`: the main job on embedded defaults.

Starts the real server over stdio, drives it with pygls's LSP client through a short editing
session bundled with kenetic (session.json), and prints what was captured, the skill mined from
the change made twice (kenetic/skills), the code action and next edits offered at the sites not
edited yet, and the outcome recorded when the demo accepts one as an editor would (apply the
action's edit, send didChange, run its kenetic.recordOutcome command). Needs no configuration,
network or API key; the workspace is a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Union

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import default_converter

from server.protocol import to_plain

IDLE_GAP_MS = 200


def _converter() -> Any:
    """pygls's converter, except that a code action carrying a command stays a CodeAction
    (lsprotocol reads any result item with a `command` field as a bare Command)."""
    converter = default_converter()

    def action(obj: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], action)  # noqa: UP007
    return converter


def load_session() -> dict[str, Any]:
    text = resources.files("server.demo").joinpath("session.json").read_text(encoding="utf-8")
    return json.loads(text)


class Demo:
    def __init__(self, workspace: Path, session: dict[str, Any]) -> None:
        self.workspace = workspace
        self.session = session
        self.client = LanguageClient("kenetic-demo", "1", converter_factory=_converter)
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
        for step in self.session["steps"]:
            await self._step(step)
        captured = await self.wait_idle()
        episodes = (await self.request("kenetic/episodes", {"limit": 100}))["episodes"]
        skills = (await self.request("kenetic/skills", {}))["skills"]
        result: dict[str, Any] = {
            "workspace": str(self.workspace),
            "stats": captured,
            "episodes": list(reversed(episodes)),
            "skills": [
                {k: s[k] for k in ("id", "name", "before", "after", "support")} for s in skills
            ],
            "suggestions": [],
            "nextEdits": [],
            "applied": None,
        }
        site = self.session.get("suggest")
        if site and self.code_actions:
            await self._suggest(site["file"], site["line"], result)
        result["final"] = await self.wait_idle()
        result["messages"] = self.messages
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
        return result

    async def _step(self, step: dict[str, Any]) -> None:
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

    async def _suggest(self, name: str, line: int, result: dict[str, Any]) -> None:
        """What the editor would show at a site not edited yet, then accept the best action."""
        uri = self.uri(name)
        pos = types.Position(line=line, character=4)
        actions = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=pos, end=pos),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        offered = [
            a
            for a in actions or []
            if isinstance(a, types.CodeAction) and a.title.startswith("Apply skill:")
        ]
        result["suggestions"] = [{"at": f"{name}:{line + 1}", "title": a.title} for a in offered]
        places = await self.request("kenetic/nextEdits", {"textDocument": {"uri": uri}})
        result["nextEdits"] = [
            {
                "at": f"{e['uri'].rsplit('/', 1)[-1]}:{e['range']['start']['line'] + 1}",
                "newText": e["newText"],
                "score": e["score"],
            }
            for e in places["edits"]
        ]
        action = offered[0] if offered else None
        if action is None or action.edit is None:
            return
        # as an editor does: apply the action's edit, then run its command
        for edit_uri, edits in (action.edit.changes or {}).items():
            self._apply_edits(edit_uri, edits)
        recorded: Any = None
        if action.command is not None:
            recorded = to_plain(
                await self.client.workspace_execute_command_async(
                    types.ExecuteCommandParams(
                        command=action.command.command, arguments=action.command.arguments
                    )
                )
            )
        line_now = self.texts[name].splitlines()[line].strip()
        result["applied"] = {
            "at": f"{name}:{line + 1}",
            "title": action.title,
            "text": line_now,
            "outcome": recorded,
        }

    def _apply_edits(self, uri: str, edits: Sequence[types.TextEdit]) -> None:
        """Apply text edits to the in-memory document and send them as one didChange."""
        name = next(n for n in self.texts if self.uri(n) == uri)
        text = self.texts[name]
        starts = [0]
        for line in text.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))

        def offset(p: types.Position) -> int:
            return starts[min(p.line, len(starts) - 1)] + p.character

        # last edit first, so that earlier ranges stay valid (all ASCII: UTF-16 == code points)
        ordered = sorted(edits, key=lambda e: offset(e.range.start), reverse=True)
        for e in ordered:
            text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end) :]
        self.texts[name] = text
        self.versions[name] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[name]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
                    for e in ordered
                ],
            )
        )


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
    if result["skills"]:
        print("skills learned (kenetic/skills):")
        for s in result["skills"]:
            print(f"  {s['name']}   [{s['support']} examples]")
            print(f"    {s['before']!r} -> {s['after']!r}")
    else:
        print("skills learned: none (a skill needs the same kind of change made twice)")
    if result["suggestions"]:
        print("code actions at a site not edited yet (textDocument/codeAction):")
        for s in result["suggestions"]:
            print(f"  {s['at']:<22} {s['title']}")
    else:
        print("code actions: none offered")
    if result["nextEdits"]:
        print("next edits (kenetic/nextEdits), best first:")
        for e in result["nextEdits"]:
            print(f"  {e['at']:<22} -> {e['newText']!r}  score {e['score']:.3f}")
    applied = result["applied"]
    if applied:
        outcome = (applied["outcome"] or {}).get("outcome", "not recorded")
        totals = result["final"]["outcomes"]
        print(f"applied:   {applied['title']} at {applied['at']}")
        print(f"  now      {applied['text']!r}")
        print(
            f"  outcome  {outcome} (kenetic.recordOutcome); stats: "
            + ", ".join(f"{v} {k}" for k, v in totals.items())
        )
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
