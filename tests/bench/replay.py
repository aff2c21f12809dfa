"""Replay real systematic edits through the real server, by the protocol in the data README.

For each case of /work/shared/data/edit_replay_dev.jsonl (read in place, never copied) and each k
in (1, 2): a fresh temp workspace holding the case's files and a fresh store, `kenetic serve` over
stdio, every file opened; edits[0..k-1] sent one incremental didChange each, each followed by a
pause longer than the capture idle gap and a wait until kenetic/stats reports nothing pending
(so a late idle timer cannot merge two edits into one burst); then kenetic/nextEdits
once (at the last edit) and textDocument/codeAction at every remaining site. A suggestion is
correct when applying it gives exactly the document with one remaining site's ground-truth edit
applied (trailing whitespace ignored). k = 1 runs with skills.minExamples = 1.

    .venv/bin/python tests/bench/replay.py [--limit N] [--jobs J] [--k 1|2] [--every N]
        [--case ID] [--rows FILE]

Prints one JSON report: precision, recall, hit rate per k and per kind, and the p50/p95 round
trip of codeAction and nextEdits. precision_at_changed_sites counts only suggestions at a site
the commit changed, since the data leaves unchanged sites unlabelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Union

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsprotocol import types  # noqa: E402
from pytest_lsp import client_capabilities  # noqa: E402
from pytest_lsp.client import make_test_lsp_client  # noqa: E402

from server.protocol import to_plain  # noqa: E402

DATA = Path("/work/shared/data/edit_replay_dev.jsonl")
REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "server.cli", "serve"]
IDLE_GAP_MS = 50


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.split("\n")
    head = "\n".join(lines[:start]) + ("\n" if start else "")
    tail = "\n".join(lines[end:])
    return head + new + tail


def _offset(text: str, line: int, character: int) -> int:
    """Offset of an LSP (UTF-16) position in text."""
    pos = 0
    for _ in range(line):
        nl = text.find("\n", pos)
        if nl == -1:
            return len(text)
        pos = nl + 1
    units, k = 0, pos
    while k < len(text) and text[k] != "\n" and units < character:
        units += 2 if ord(text[k]) > 0xFFFF else 1
        k += 1
    return k


def _apply_edits(text: str, edits: list[dict[str, Any]]) -> str:
    spans = []
    for e in edits:
        r = e["range"]
        a = _offset(text, r["start"]["line"], r["start"]["character"])
        b = _offset(text, r["end"]["line"], r["end"]["character"])
        spans.append((a, b, e.get("newText", e.get("new_text", ""))))
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def _fix_code_action_union(client: Any) -> None:
    """lsprotocol's client-side hook reads every code action with a command as a bare Command."""
    conv = client.protocol._converter

    def hook(obj: Any, _: Any) -> Any:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return conv.structure(obj, kind)

    conv.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


async def _request(client: Any, method: str, params: Any, timeout: float = 60) -> Any:
    result = await asyncio.wait_for(client.protocol.send_request_async(method, params), timeout)
    if method.startswith("kenetic/"):
        return to_plain(result)  # custom results arrive as namedtuple-like objects
    return client.protocol._converter.unstructure(result)


async def _wait_idle(client: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await _request(client, "kenetic/stats", {})
        if stats["pending"] == 0:
            return
        await asyncio.sleep(0.03)


async def run_case(case: dict[str, Any], k: int, timings: dict[str, list[float]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kenetic-replay-") as tmp:
        root = Path(tmp)
        ws, home = root / "ws", root / "home"
        ws.mkdir()
        home.mkdir()
        docs = dict(case["files"])
        for path, text in docs.items():
            (ws / path).parent.mkdir(parents=True, exist_ok=True)
            (ws / path).write_text(text)
        env = dict(os.environ)
        env.update(XDG_CONFIG_HOME=str(home / "c"), XDG_DATA_HOME=str(home / "d"),
                   PYTHONPATH=str(REPO))  # fmt: skip
        env.pop("KENETIC_HOME", None)
        client = make_test_lsp_client()
        await client.start_io(*SERVER, env=env)
        try:
            options = {"capture": {"idleGapMs": IDLE_GAP_MS},
                       "skills": {"minExamples": 1 if k == 1 else 2}}  # fmt: skip
            await client.initialize_session(
                types.InitializeParams(
                    capabilities=client_capabilities("visual-studio-code"),
                    workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
                    initialization_options=options,
                )
            )
            _fix_code_action_union(client)
            return await _replay(client, case, k, ws, docs, timings)
        finally:
            proc = client._server
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_session(), 20)
            if proc is not None and proc.returncode is None:
                proc.kill()
            await client.stop()


async def _replay(
    client: Any, case: dict[str, Any], k: int, ws: Path, docs: dict[str, str], timings: Any
) -> dict[str, Any]:
    uri = {path: (ws / path).as_uri() for path in docs}
    version = dict.fromkeys(docs, 1)
    for path, text in docs.items():
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri[path], language_id=case["language"], version=1, text=text
                )
            )
        )
    shift = dict.fromkeys(docs, 0)
    edits = case["edits"]
    last = None
    for e in edits[:k]:
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        version[path] += 1
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri[path], version=version[path]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(start, 0), end=types.Position(end, 0)
                        ),
                        text=e["new"],
                    )  # fmt: skip
                ],
            )
        )
        docs[path] = _apply_lines(docs[path], start, end, e["new"])
        shift[path] += e["new"].count("\n") - e["old"].count("\n")
        last = (path, start)
        await asyncio.sleep(2 * IDLE_GAP_MS / 1000)
        # and until the server closed the burst: on a loaded machine its idle timer can fire
        # late, and two edits a few lines apart would then be captured as one
        await _wait_idle(client)
    remaining = []
    for e in edits[k:]:
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        want = _norm(_apply_lines(docs[path], start, end, e["new"]))
        remaining.append((path, start, end, want))
    hit_sites: set[int] = set()

    def judge(path: str, text_edits: list[dict[str, Any]]) -> list[int]:
        result = _norm(_apply_edits(docs[path], text_edits))
        return [i for i, (p, _, _, want) in enumerate(remaining) if p == path and want == result]

    assert last is not None
    t0 = time.perf_counter()
    nxt = await _request(client, "kenetic/nextEdits", {
        "textDocument": {"uri": uri[last[0]]},
        "position": {"line": last[1], "character": 0}, "limit": 1000})  # fmt: skip
    timings["nextEdits"].append(time.perf_counter() - t0)
    by_uri = {u: p for p, u in uri.items()}
    correct = at_sites = 0
    for edit in nxt["edits"]:
        path = by_uri.get(edit["uri"])
        ok = judge(path, [edit]) if path else []
        if ok:
            correct += 1
            hit_sites.update(ok)
        line = edit["range"]["start"]["line"]
        # at a site the commit changed (labelled), as opposed to one the developer left alone
        at_sites += any(p == path and a <= line <= max(a, b - 1) for p, a, b, _ in remaining)
    action_hits = 0
    for i, (path, start, end, _) in enumerate(remaining):
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri[path]),
            range=types.Range(start=types.Position(start, 0), end=types.Position(end, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
        t0 = time.perf_counter()
        actions = await _request(client, "textDocument/codeAction", params) or []
        timings["codeAction"].append(time.perf_counter() - t0)
        for action in actions:
            edit = action.get("edit") or {}
            changes = (edit.get("changes") or {}).get(uri[path])
            if changes and i in judge(path, changes):
                action_hits += 1
                hit_sites.add(i)
                break
    return {
        "id": case["id"],
        "kind": case["kind"],
        "suggestions": len(nxt["edits"]),
        "correct": correct,
        "at_sites": at_sites,
        "sites": len(remaining),
        "sites_hit": len(hit_sites),
        "action_hits": action_hits,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    sugg = sum(r["suggestions"] for r in rows)
    corr = sum(r["correct"] for r in rows)
    labelled = sum(r.get("at_sites", 0) for r in rows)
    sites = sum(r["sites"] for r in rows)
    hit = sum(r["sites_hit"] for r in rows)
    return {
        "cases": len(rows),
        "suggestions": sugg,
        "precision": round(corr / sugg, 3) if sugg else None,
        # precision over suggestions at sites the commit changed: how often the rewrite itself
        # is right where a rewrite was wanted (the rest fell at sites left unchanged)
        "precision_at_changed_sites": round(corr / labelled, 3) if labelled else None,
        "recall": round(hit / sites, 3) if sites else None,
        "hit": round(sum(1 for r in rows if r["sites_hit"] or r["correct"]) / len(rows), 3)
        if rows
        else None,
        "codeAction_site_hits": sum(r["action_hits"] for r in rows),
    }


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 2)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    cases = [json.loads(line) for line in args.data.open()]
    if args.case:
        cases = [c for c in cases if any(x in c["id"] for x in args.case)]
    cases = cases[:: max(1, args.every)]
    if args.limit:
        cases = cases[: args.limit]
    report: dict[str, Any] = {"cases": len(cases), "jobs": args.jobs}
    out = args.rows.open("w") if args.rows else None
    gate = asyncio.Semaphore(args.jobs)
    for k in args.k or (1, 2):
        timings: dict[str, list[float]] = {"codeAction": [], "nextEdits": []}

        async def one(case: dict[str, Any], k: int = k, timings: Any = timings) -> dict[str, Any]:
            async with gate:
                try:
                    return await run_case(case, k, timings)
                except Exception as exc:  # a failed case is reported, not fatal
                    return {"id": case["id"], "kind": case["kind"], "suggestions": 0,
                            "correct": 0, "at_sites": 0, "sites": len(case["edits"]) - k,
                            "sites_hit": 0,
                            "action_hits": 0, "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip

        t0 = time.monotonic()
        rows = await asyncio.gather(*(one(c) for c in cases))
        for r in rows:
            if out is not None:
                out.write(json.dumps({"k": k, **r}) + "\n")
        report[f"k={k}"] = {
            "all": summarise(rows),
            "identical": summarise([r for r in rows if r["kind"] == "identical"]),
            "same-shape": summarise([r for r in rows if r["kind"] == "same-shape"]),
            "errors": sum(1 for r in rows if "error" in r),
            "latency_ms": {
                "codeAction": {
                    "p50": _pct(timings["codeAction"], 0.5),
                    "p95": _pct(timings["codeAction"], 0.95),
                    "n": len(timings["codeAction"]),
                },
                "nextEdits": {
                    "p50": _pct(timings["nextEdits"], 0.5),
                    "p95": _pct(timings["nextEdits"], 0.95),
                    "n": len(timings["nextEdits"]),
                },
            },  # fmt: skip
            "wall_s": round(time.monotonic() - t0, 1),
        }
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases")
    ap.add_argument("--jobs", type=int, default=1, help="cases replayed at once")
    ap.add_argument("--case", action="append", default=[], help="only cases whose id contains this")
    ap.add_argument("--k", type=int, action="append", choices=(1, 2), help="default: 1 and 2")
    ap.add_argument("--every", type=int, default=1, help="keep every Nth case")
    ap.add_argument("--rows", type=Path, help="write one JSON line per case and k here")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
