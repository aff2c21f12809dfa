"""Replay real systematic edits through the real server, by the protocol in the data README.

For each case of a corpus (default /work/shared/data/edit_replay_dev.jsonl, read in place, never
copied; `--data` takes any file of the same format) and each k in (1, 2): a fresh temp workspace
holding the case's files and a fresh store, `kenetic serve` over stdio, every file opened with the
case's language id; edits[0..k-1] sent one incremental didChange each, each followed by a pause
longer than the capture idle gap and a wait until kenetic/stats reports nothing pending (so a
late idle timer cannot merge two edits into one burst). Then kenetic/nextEdits once, at the
cursor of the last example edit, and textDocument/codeAction at every remaining site with an
empty range (the cursor) on the first character the site's edit changes (for a pure insertion,
the start of the line it goes before). k = 1 runs with skills.minExamples = 1.

A suggestion is correct when applying it gives exactly the document with one remaining site's
ground-truth edit applied (trailing whitespace ignored). A nextEdits suggestion that is not is
judged against the commit (the case's commit_edits): same, different or unchanged
(tests/bench/replay_judge.py). precision = (correct + same) / suggestions;
labelled_only_precision = correct / suggestions (for cases without commit_edits precision is
labelled-only, and the report says how many). recall = remaining sites with a correct nextEdits
suggestion or code action; hit = cases with one. reversals = nextEdits suggestions and code
actions that would put back the old text of an example edit.

    .venv/bin/python tests/bench/replay.py [--data FILE] [--limit N] [--jobs J] [--k 1|2]
        [--every N] [--case ID] [--rows FILE] [--action-range cursor|line]

Prints one JSON report per k: all, by_kind, by_language, errors, and the p50/p95 round trip of
codeAction and nextEdits. `--action-range line` also asks the code action with a range over the
site's whole lines (the bench before the cursor protocol) and reports its recall beside, and
how many sites only that range finds.
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
from tests.bench import replay_judge as J  # noqa: E402

DATA = Path("/work/shared/data/edit_replay_dev.jsonl")
REPO = Path(__file__).resolve().parents[2]
SERVER = [sys.executable, "-m", "server.cli", "serve"]
IDLE_GAP_MS = 50


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


async def run_case(
    case: dict[str, Any], k: int, timings: dict[str, list[float]], line_range: bool = False
) -> dict[str, Any]:
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
            return await _replay(client, case, k, ws, docs, timings, line_range)
        finally:
            proc = client._server
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.shutdown_session(), 20)
            if proc is not None and proc.returncode is None:
                proc.kill()
            await client.stop()


def _did_change(client: Any, uri: str, version: int, start: int, end: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(start, 0), end=types.Position(end, 0)),
                    text=text,
                )
            ],
        )
    )


async def _code_actions(
    client: Any, uri: str, start: tuple[int, int], end: tuple[int, int], times: list[float]
) -> list[list[dict[str, Any]]]:
    """The text edits in uri of each code action kenetic offers for the range start..end."""
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(*start), end=types.Position(*end)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    t0 = time.perf_counter()
    actions = await _request(client, "textDocument/codeAction", params) or []
    times.append(time.perf_counter() - t0)
    out = []
    for action in actions:
        edit = action.get("edit") or {}
        changes = list((edit.get("changes") or {}).get(uri) or [])
        for change in edit.get("documentChanges") or []:
            if (change.get("textDocument") or {}).get("uri") == uri:
                changes += change.get("edits") or []
        if changes:
            out.append(changes)
    return out


async def _replay(
    client: Any,
    case: dict[str, Any],
    k: int,
    ws: Path,
    docs: dict[str, str],
    timings: dict[str, list[float]],
    line_range: bool,
) -> dict[str, Any]:
    uri = {path: (ws / path).as_uri() for path in docs}
    by_uri = {u: p for p, u in uri.items()}
    version = dict.fromkeys(docs, 1)
    for path, text in docs.items():
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri[path], language_id=case["language"], version=1, text=text
                )
            )
        )
    # edits are sorted by (path, start): the examples come before the remaining sites of their
    # file, so one shift per file maps the case's lines to the current document's
    shift = dict.fromkeys(docs, 0)
    regions: dict[str, list[J.Hunk]] = {p: [] for p in docs}
    applied: dict[str, list[dict[str, Any]]] = {p: [] for p in docs}
    edits = case["edits"]
    last = None
    for e in edits[:k]:
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        version[path] += 1
        _did_change(client, uri[path], version[path], start, end, e["new"])
        docs[path] = J.apply_lines(docs[path], start, end, e["new"])
        regions[path].append(J.example_region(start, e["old"], e["new"]))
        applied[path].append(e)
        shift[path] += e["new"].count("\n") - e["old"].count("\n")
        last = (path, J.cursor_position(e["old"], e["new"], start))
        await asyncio.sleep(2 * IDLE_GAP_MS / 1000)
        # and until the server closed the burst: on a loaded machine its idle timer can fire
        # late, and two edits a few lines apart would then be captured as one
        await _wait_idle(client)
    remaining = []
    for e in edits[k:]:
        path = e["path"]
        start, end = e["start"][0] + shift[path], e["end"][0] + shift[path]
        want = J.norm(J.apply_lines(docs[path], start, end, e["new"]))
        cursor = J.cursor_position(e["old"], e["new"], start)
        remaining.append((path, start, end, want, cursor))
    lines = {p: text.split("\n") for p, text in docs.items()}
    has_commit = bool(case.get("commit_edits"))
    pending: dict[str, list[J.Hunk]] = {}

    def commit_hunks(path: str) -> list[J.Hunk]:
        if path not in pending:
            ce = [e for e in case["commit_edits"] if e["path"] == path]
            pending[path] = J.pending_hunks(docs[path], ce, applied[path], case["files"][path])
        return pending[path]

    def judge(path: str, text_edits: list[dict[str, Any]]) -> list[int]:
        result = J.norm(J.apply_text_edits(docs[path], text_edits))
        return [i for i, site in enumerate(remaining) if site[0] == path and site[3] == result]

    def reverses(path: str, text_edits: list[dict[str, Any]]) -> bool:
        return any(
            J.is_reversal(lines[path], J.line_hunk(lines[path], te), regions[path])
            for te in text_edits
        )

    assert last is not None
    t0 = time.perf_counter()
    nxt = await _request(client, "kenetic/nextEdits", {
        "textDocument": {"uri": uri[last[0]]},
        "position": {"line": last[1][0], "character": last[1][1]}, "limit": 1000})  # fmt: skip
    next_s = time.perf_counter() - t0
    timings["nextEdits"].append(next_s)
    counts = dict.fromkeys((J.SAME, J.DIFFERENT, J.UNCHANGED, "unjudged"), 0)
    correct = rev_next = 0
    next_hits: set[int] = set()
    for edit in nxt["edits"]:
        at = by_uri.get(edit["uri"])
        if at is None:  # outside the case's files: nothing to judge it by
            counts["unjudged"] += 1
            continue
        rev_next += reverses(at, [edit])
        ok = judge(at, [edit])
        if ok:
            correct += 1
            next_hits.update(ok)
        elif has_commit:
            hunk = J.line_hunk(lines[at], edit)
            counts[J.judge_against_commit(lines[at], hunk, commit_hunks(at))] += 1
        else:
            counts["unjudged"] += 1
    cursor_hits: set[int] = set()
    line_hits: set[int] = set()
    rev_action = 0
    for i, (path, start, end, _, cursor) in enumerate(remaining):
        found = await _code_actions(client, uri[path], cursor, cursor, timings["codeAction"])
        rev_action += sum(reverses(path, changes) for changes in found)
        if any(i in judge(path, changes) for changes in found):
            cursor_hits.add(i)
        if line_range:
            found = await _code_actions(
                client, uri[path], (start, 0), (end, 0), timings["codeAction_line"]
            )
            if any(i in judge(path, changes) for changes in found):
                line_hits.add(i)
    row = {
        "id": case["id"],
        "kind": case["kind"],
        "language": case["language"],
        "has_commit_edits": has_commit,
        "suggestions": len(nxt["edits"]),
        "correct": correct,
        **counts,
        "sites": len(remaining),
        "sites_hit": len(next_hits | cursor_hits),
        "action_hits": len(cursor_hits),
        "reversals_nextEdits": rev_next,
        "reversals_codeAction": rev_action,
        "nextEdits_ms": round(1000 * next_s, 1),
    }
    if line_range:
        row["sites_hit_line"] = len(next_hits | line_hits)
        row["action_hits_line"] = len(line_hits)
        row["hidden_from_cursor"] = len(line_hits - cursor_hits - next_hits)
    return row


def _failed(case: dict[str, Any], k: int, exc: Exception) -> dict[str, Any]:
    """A failed case is reported, not fatal: it counts its sites as missed."""
    return {"id": case["id"], "kind": case["kind"], "language": case["language"],
            "has_commit_edits": bool(case.get("commit_edits")), "suggestions": 0, "correct": 0,
            "sites": max(0, len(case["edits"]) - k), "sites_hit": 0, "action_hits": 0,
            "error": f"{type(exc).__name__}: {exc}"}  # fmt: skip


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    cases = [json.loads(line) for line in args.data.open() if line.strip()]
    if args.case:
        cases = [c for c in cases if any(x in c["id"] for x in args.case)]
    cases = cases[:: max(1, args.every)]
    if args.limit:
        cases = cases[: args.limit]
    line_range = args.action_range == "line"
    report: dict[str, Any] = {"data": str(args.data), "cases": len(cases), "jobs": args.jobs,
                              "action_range": args.action_range}  # fmt: skip
    no_commit = sum(1 for c in cases if not c.get("commit_edits"))
    if no_commit:
        report["note"] = (
            f"{no_commit} cases have no commit_edits: their precision is labelled-only "
            "(suggestions not correct for a labelled site are counted as unjudged, not same)"
        )
    out = args.rows.open("w") if args.rows else None
    gate = asyncio.Semaphore(args.jobs)
    for k in args.k or (1, 2):
        timings: dict[str, list[float]] = {"codeAction": [], "nextEdits": [], "codeAction_line": []}

        async def one(case: dict[str, Any], k: int = k, timings: Any = timings) -> dict[str, Any]:
            async with gate:
                try:
                    return await run_case(case, k, timings, line_range)
                except Exception as exc:
                    return _failed(case, k, exc)

        t0 = time.monotonic()
        rows = await asyncio.gather(*(one(c) for c in cases))
        for r in rows:
            if out is not None:
                out.write(json.dumps({"k": k, **r}) + "\n")
        latency = {
            name: {"p50": J.percentile(xs, 0.5), "p95": J.percentile(xs, 0.95), "n": len(xs)}
            for name, xs in timings.items()
            if xs or name != "codeAction_line"
        }
        report[f"k={k}"] = {
            "all": J.summarise(rows),
            "by_kind": J.by_group(rows, "kind"),
            "by_language": J.by_group(rows, "language"),
            "errors": sum(1 for r in rows if "error" in r),
            "latency_ms": latency,
            "wall_s": round(time.monotonic() - t0, 1),
        }
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="a corpus file (JSON lines)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases")
    ap.add_argument("--jobs", type=int, default=1, help="cases replayed at once")
    ap.add_argument("--case", action="append", default=[], help="only cases whose id contains this")
    ap.add_argument("--k", type=int, action="append", choices=(1, 2), help="default: 1 and 2")
    ap.add_argument("--every", type=int, default=1, help="keep every Nth case")
    ap.add_argument("--rows", type=Path, help="write one JSON line per case and k here")
    ap.add_argument(
        "--action-range",
        choices=("cursor", "line"),
        default="cursor",
        help="line: also ask each code action with the site's whole lines, for comparison",
    )
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
