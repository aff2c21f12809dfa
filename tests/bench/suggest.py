"""Suggestion latency with 1,000 skills on a 5,000-line file, and mining time per episode.

Skills are synthesised from /work/shared/data/edit_replay_dev.jsonl (read in place, never copied):
every pair of a case's edits is mined with the real SkillMiner; distinct skills are kept, and when
they number fewer than 1,000 the rest are variants of them with renamed constants (same shapes,
other words). The 5,000-line file is made of the data's own Python files, so it holds real sites.

Measured (DESIGN §8: p95 <= 20 ms server side):
  * in process, around the registered codeAction / inlineCompletion handlers of a real server
    object: at random lines, after an edit (a new version to reparse) and on cursor moves;
    inline completion at sites where a rewrite has been started;
  * round trip over stdio to a `kenetic serve` that loaded the same skills from its store;
  * mining: structural edit and SkillMiner.add per episode.

    .venv/bin/python tests/bench/suggest.py [--skills 1000] [--lines 5000] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsprotocol import types  # noqa: E402

from memory.skills.edits import structural_edit  # noqa: E402
from memory.skills.miner import SkillMiner  # noqa: E402
from memory.skills.skill import Skill  # noqa: E402
from server.features.capture import CaptureService
from server.setup import create_server  # noqa: E402
from server.suggest.service import SuggestService
from tests.bench.replay import DATA, _fix_code_action_union  # noqa: E402
from tests.bench.replay_judge import apply_lines, offset  # noqa: E402


def pct(xs: list[float], q: float) -> float | None:
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 3) if xs else None


def summary(xs: list[float]) -> dict[str, Any]:
    return {"p50": pct(xs, 0.5), "p95": pct(xs, 0.95), "max": pct(xs, 1.0), "n": len(xs)}


def synthesise(cases: list[dict[str, Any]], want: int, timings: dict[str, list[float]]):
    """Skills from pairs of real edits, topped up with renamed variants."""
    found: dict[str, Skill] = {}
    for case in cases:
        edits = []
        for e in case["edits"][:6]:
            before = case["files"][e["path"]]
            after = apply_lines(before, e["start"][0], e["end"][0], e["new"])
            t0 = time.perf_counter()
            se = structural_edit(case["language"], before, after)
            timings["structural_edit"].append(time.perf_counter() - t0)
            if se is not None:
                edits.append(se)
        for i in range(len(edits)):
            for j in range(i + 1, len(edits)):
                miner = SkillMiner(2)
                t0 = time.perf_counter()
                miner.add(f"{case['id']}#{i}", edits[i])
                made = miner.add(f"{case['id']}#{j}", edits[j])
                timings["miner_add"].append((time.perf_counter() - t0) / 2)
                for s in made:
                    found.setdefault(s.id, s)
    base = list(found.values())
    skills = list(base)
    n = 0
    while len(skills) < want and base:
        src = base[n % len(base)]
        n += 1
        clone = Skill.from_json(json.loads(json.dumps(src.to_json())))
        suffix = f"_v{n}"
        for t in (*clone.before_template["parts"], *clone.after_template["parts"]):
            _rename(t, suffix)
        if clone.before_template == src.before_template:
            if n > 50 * len(base):
                break
            continue  # no constant to rename: a copy would be the same skill again
        clone.id = f"{src.id}{suffix}"
        clone.name = f"{src.name} ({n})"
        skills.append(clone)
    for s in skills:
        need = getattr(s, "needed_support", None)
        if need is not None:
            s.support = max(s.support, need())  # offered, as a skill with enough examples is
    return skills[:want], len(base)


def _rename(t: list[Any], suffix: str) -> None:
    if t[0] == "c" and "identifier" in t[1]:
        t[2] = t[2] + suffix
    elif t[0] == "n":
        for c in t[2]:
            _rename(c, suffix)


def big_file(cases: list[dict[str, Any]], lines: int) -> str:
    out: list[str] = []
    for case in cases:
        for text in case["files"].values():
            out += text.rstrip("\n").split("\n") + ["", ""]
            if len(out) >= lines:
                return "\n".join(out[:lines]) + "\n"
    return "\n".join(out) + "\n"


def drive(gen: Any) -> Any:
    """Run a pygls protocol generator (it yields the user handler to call) to its end."""
    try:
        item = next(gen)
        while True:
            handler, args, kwargs = item
            item = gen.send(handler(*args, **(kwargs or {})))
    except StopIteration as stop:
        return stop.value


async def in_process(skills: list[Skill], text: str, ws: Path, requests: int) -> dict[str, Any]:
    ls = create_server()
    drive(ls.protocol.lsp_initialize(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
        initialization_options={"capture": {"idleGapMs": 60000}})))  # fmt: skip
    folder = ls.workspaces.all()[0]
    lib = ls.service(SuggestService).library_for(folder)
    assert lib is not None
    while ls.service(SuggestService).pending:
        await asyncio.sleep(0.01)
    for s in skills:
        lib.adopt(s, used=False)
    assert folder.store is not None and folder.store.flush(60)
    uri = (ws / "big.py").as_uri()
    (ws / "big.py").write_text(text)
    drive(ls.protocol.lsp_text_document__did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                             text=text))))  # fmt: skip
    features = ls.protocol.fm.features
    code_action = features[types.TEXT_DOCUMENT_CODE_ACTION]
    inline = features[types.TEXT_DOCUMENT_INLINE_COMPLETION]
    n_lines = text.count("\n")
    rng = random.Random(7)
    version = 1
    moves: list[float] = []
    edits: list[float] = []
    hits = 0
    sites: list[tuple[int, dict[str, Any]]] = []

    def ask(line: int) -> list[Any] | None:
        return code_action(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line, 4), end=types.Position(line, 4)),
            context=types.CodeActionContext(diagnostics=[])))  # fmt: skip

    t0 = time.perf_counter()
    ask(0)  # the first request parses the whole file
    first = time.perf_counter() - t0
    for r in range(requests):
        line = rng.randrange(n_lines)
        if r % 3 == 0:  # an edit first: a new version, reparsed incrementally
            # a trailing space: a real change (a new version to reparse) that breaks no code
            end = len(ls.workspace.get_text_document(uri).source.split("\n")[line])
            version = _change(ls, uri, version, (line, end), (line, end), " ")
        t0 = time.perf_counter()
        result = ask(line)
        (edits if r % 3 == 0 else moves).append(time.perf_counter() - t0)
        for action in result or []:
            hits += 1
            if action.title.startswith("Apply skill: ") and action.edit:
                sites.append((line, ls.protocol._converter.unstructure(action.edit)))
    # inline: start each found rewrite by hand (its first new character), then ask
    inline_times: list[float] = []
    started: list[float] = []
    completed = 0
    doc = ls.workspace.get_text_document(uri)
    for _, edit in sites[:100]:
        te = edit["changes"][uri][0]
        new, start, end = te["newText"], te["range"]["start"], te["range"]["end"]
        if not new:
            continue
        source = doc.source
        old = source[offset(source, start["line"], start["character"]) : offset(
            source, end["line"], end["character"])]  # fmt: skip
        version = _change(ls, uri, version, (start["line"], start["character"]),
                          (end["line"], end["character"]), new[0])  # fmt: skip
        t0 = time.perf_counter()
        got = inline(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(start["line"], start["character"] + 1),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic)))  # fmt: skip
        started.append(time.perf_counter() - t0)
        completed += bool(got and got.items)
        # put the text back for the next one
        version = _change(ls, uri, version, (start["line"], start["character"]),
                          (start["line"], start["character"] + 1), old)  # fmt: skip
    for _ in range(50):  # inline at random places after a random edit: the common case
        line = rng.randrange(n_lines)
        t0 = time.perf_counter()
        inline(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line, 0),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic)))  # fmt: skip
        inline_times.append(time.perf_counter() - t0)
    ls.service(CaptureService).stop()
    ls.service(SuggestService).drain(10)
    ls.workspaces.close()
    return {
        "first_request_ms": round(1000 * first, 2),
        "codeAction_cursor_move": summary(moves),
        "codeAction_after_edit": summary(edits),
        "codeAction_all": summary(moves + edits),
        "codeAction_actions_returned": hits,
        "inlineCompletion_started_rewrite": summary(started),
        "inlineCompletion_elsewhere": summary(inline_times),
        "inlineCompletion_all": summary(started + inline_times),
        "inline_started_rewrites": min(100, len(sites)),
        "inline_completed": completed,
    }


def _change(
    ls: Any, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
) -> int:
    drive(ls.protocol.lsp_text_document__did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version + 1),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(*start), end=types.Position(*end)),
            text=text)])))  # fmt: skip
    return version + 1


async def round_trip(ws: Path, text: str, requests: int) -> dict[str, Any]:
    from pytest_lsp import client_capabilities
    from pytest_lsp.client import make_test_lsp_client

    from tests.e2e.conftest import SERVER, server_env

    home = ws.parent / "home"
    home.mkdir(exist_ok=True)
    client = make_test_lsp_client()
    await client.start_io(*SERVER, env=server_env(home))
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")]))  # fmt: skip
        _fix_code_action_union(client)
        t0 = time.monotonic()
        while (await client.protocol.send_request_async("kenetic/stats", {})).pending:
            await asyncio.sleep(0.02)
        load_s = time.monotonic() - t0
        uri = (ws / "big.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=text)))  # fmt: skip
        rng = random.Random(11)
        times: list[float] = []
        n_lines = text.count("\n")
        for _ in range(requests):
            line = rng.randrange(n_lines)
            t0 = time.perf_counter()
            await client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=types.Position(line, 4), end=types.Position(line, 4)),
                context=types.CodeActionContext(diagnostics=[])))  # fmt: skip
            times.append(time.perf_counter() - t0)
        stats = await client.protocol.send_request_async("kenetic/stats", {})
        await asyncio.wait_for(client.shutdown_session(), 30)
        return {
            "skills_loaded": stats.skills,
            "load_s": round(load_s, 2),
            "codeAction": summary(times[1:]),
            "first_ms": round(1000 * times[0], 2),
        }
    finally:
        if client._server is not None and client._server.returncode is None:
            client._server.kill()
        await client.stop()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    cases = [json.loads(line) for line in DATA.open()]
    timings: dict[str, list[float]] = {"structural_edit": [], "miner_add": []}
    t0 = time.monotonic()
    skills, distinct = synthesise(cases, args.skills, timings)
    synth_s = time.monotonic() - t0
    text = big_file(cases, args.lines)
    with tempfile.TemporaryDirectory(prefix="kenetic-suggest-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        local = await in_process(skills, text, ws, args.requests)
        remote = await round_trip(ws, text, args.requests)
    return {
        "skills": len(skills),
        "distinct_mined_skills": distinct,
        "file_lines": text.count("\n"),
        "in_process_ms": local,
        "round_trip_ms": remote,
        "mining_ms_per_episode": {
            "structural_edit": summary(timings["structural_edit"]),
            "miner_add": summary(timings["miner_add"]),
        },
        "synthesis_s": round(synth_s, 1),
        "budget_ms": 20,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skills", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=300)
    print(json.dumps(asyncio.run(main_async(ap.parse_args())), indent=2))


if __name__ == "__main__":
    main()
