"""`kenetic memory ...`: a workspace's memory from the command line.

Subcommands: store, recall, link, path, stats, export, import, remember, moments, als,
checkpoint, checkpoints, restore. Each opens the store of `--workspace` (default: the current
directory) the way the server does, prints plain text or `--json`, and returns an exit status:
0 done, 1 failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from memory.recall.items import ITEM_KINDS
from memory.store.database import StoreError
from server.protocol import camel_keys

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _when(text: str) -> float:
    """'7d' / '12h' (ago), epoch seconds, or an ISO date/time -> epoch seconds."""
    m = _AGO.match(text)
    if m:
        return time.time() - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 7d, 12h, epoch seconds or ISO"
        ) from exc


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--workspace", default=argparse.SUPPRESS, help="workspace folder (default: .)"
    )
    common.add_argument("--json", action="store_true", help="print JSON")
    p = argparse.ArgumentParser(
        prog="kenetic memory", description="Query and edit a workspace's memory.", parents=[common]
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("store", parents=[common], help="store a memory item")
    s.add_argument("text")
    s.add_argument("--kind", choices=ITEM_KINDS, default="note")
    s.add_argument("--ref", help="what it refers to (an episode id, a skill id)")
    s.add_argument("--language")
    s.add_argument("--uri")
    s.add_argument("--importance", type=float, default=0.5)
    s.add_argument("--pin", action="store_true", help="never prune it")

    r = sub.add_parser("recall", parents=[common], help="recall items like a query")
    r.add_argument("query")
    r.add_argument("-k", type=int, default=10)
    r.add_argument("--kind", action="append", choices=ITEM_KINDS, dest="kinds")
    r.add_argument("--language")
    r.add_argument("--uri", help="a file uri, or a folder uri ending in /")
    r.add_argument("--since", type=_when, help="7d, 12h, epoch seconds or ISO date")
    r.add_argument("--until", type=_when)

    ln = sub.add_parser("link", parents=[common], help="link two nodes (episode:12, skill:ab)")
    ln.add_argument("src")
    ln.add_argument("dst")
    ln.add_argument("--type", default="related")
    ln.add_argument("--weight", type=float, default=1.0)

    pa = sub.add_parser("path", parents=[common], help="shortest path between two nodes")
    pa.add_argument("src")
    pa.add_argument("dst")
    pa.add_argument("--type", action="append", dest="types", help="follow only these links")
    pa.add_argument("--directed", action="store_true")

    sub.add_parser("stats", parents=[common], help="counts of items, links, skips, prunes")
    ex = sub.add_parser("export", parents=[common], help="write memory as JSON Lines")
    ex.add_argument("file", nargs="?", default="-", help="output file (default: stdout)")
    im = sub.add_parser("import", parents=[common], help="merge a JSON Lines export")
    im.add_argument("file")

    rem = sub.add_parser("remember", parents=[common], help="append a note to KENETIC.md")
    rem.add_argument("text")
    rem.add_argument("--heading")
    rem.add_argument("--scope", choices=("project", "user"), default="project")

    mo = sub.add_parser("moments", parents=[common], help="the latest memory events")
    mo.add_argument("-n", type=int, default=20)
    sub.add_parser("als", parents=[common], help="the active learning state")
    cp = sub.add_parser("checkpoint", parents=[common], help="copy the store aside")
    cp.add_argument("description", nargs="?", default="")
    sub.add_parser("checkpoints", parents=[common], help="list checkpoints")
    rs = sub.add_parser("restore", parents=[common], help="restore a checkpoint")
    rs.add_argument("id")
    return p


def _print(data: Any, as_json: bool, text: str, *, as_stored: bool = False) -> None:
    # the shapes the server answers with (camelCase keys); what only the command line prints
    # (stats, export, import) counts by names as stored: tables, link types, episode kinds
    shaped = data if as_stored else camel_keys(data)
    print(json.dumps(shaped, indent=2, ensure_ascii=False) if as_json else text)


def _run(args: argparse.Namespace, workspace: Path) -> int:
    from memory.recall.api import WorkspaceMemory
    from memory.store import checkpoints, portable
    from memory.store.database import Store, project_store_path

    path = project_store_path(workspace)
    if args.cmd == "restore":
        restored = checkpoints.restore(path, args.id)
        restored.close()
        _print({"restored": args.id, "store": str(path)}, args.json, f"restored {args.id}")
        return 0
    store = Store(path)
    # notes are read where they matter (recall, stats, remember), not for a link or an export
    mem = WorkspaceMemory(
        store, workspace, read_notes=args.cmd in ("recall", "stats", "store", "remember")
    )
    try:
        return _command(args, mem, portable)
    finally:
        mem.close()
        store.close()


def _command(args: argparse.Namespace, mem: Any, portable: Any) -> int:
    j = args.json
    if args.cmd == "store":
        meta = {"importance": args.importance, "pinned": args.pin, "source": "cli"}
        meta.update({k: v for k in ("ref", "language", "uri") if (v := getattr(args, k))})
        out = mem.store_item(args.text, args.kind, meta)
        what = "stored" if out["stored"] else "near-duplicate of"
        _print(out, j, f"{what} {out['node']} (id {out['id']})")
    elif args.cmd == "recall":
        out = mem.recall(
            args.query,
            args.k,
            args.kinds,
            language=args.language,
            uri=args.uri,
            since=args.since,
            until=args.until,
            trigger="cli",
        )
        lines = [
            f"{h['score']:.3f}  {h['item']['node']:<24} {h['item']['text'].splitlines()[0][:70]}"
            for h in out["items"]
        ]
        _print(out, j, "\n".join(lines) or "nothing recalled")
    elif args.cmd == "link":
        out = mem.link(args.src, args.dst, args.type, args.weight)
        _print(out, j, f"linked {args.src} -[{args.type}]-> {args.dst}")
    elif args.cmd == "path":
        out = mem.path(args.src, args.dst, args.types, directed=args.directed)
        if not out["found"]:
            _print(out, j, f"no path from {args.src} to {args.dst}")
            return 1
        steps = [out["nodes"][0]]
        for link, node in zip(out["links"], out["nodes"][1:], strict=True):
            steps.append(f"-[{link['type']}]- {node}")
        _print(out, j, " ".join(steps))
    elif args.cmd == "stats":
        out = mem.stats()
        text = (
            f"{out['items']} items ({', '.join(f'{k} {v}' for k, v in out['byKind'].items())}),"
            f" {out['protected']} protected, {sum(out['links'].values())} links,"
            f" {out['duplicates']} near-duplicates skipped, {out['pruned']} pruned"
        )
        _print(out, j, text, as_stored=True)
    elif args.cmd == "export":
        if args.file == "-":
            portable.export_jsonl(mem.store, sys.stdout)
        else:
            counts = portable.export_jsonl(mem.store, Path(args.file))
            text = f"exported {sum(counts.values())} rows to {args.file}"
            _print(counts, j, text, as_stored=True)
    elif args.cmd == "import":
        out = portable.import_jsonl(mem.store, Path(args.file))
        mem.index.sync()
        text = f"imported {sum(out['added'].values())} rows, {out['skipped']} present"
        _print(out, j, text, as_stored=True)
    elif args.cmd == "remember":
        out = mem.remember(args.text, args.heading, args.scope)
        _print(out, j, f"remembered under '{out['heading']}' in {out['path']}")
    elif args.cmd == "moments":
        out = mem.recent_moments(args.n)
        lines = [
            f"{time.strftime('%H:%M:%S', time.localtime(m['at']))} {m['event']:<9}"
            f" {m['subject'] or ''} {m['trigger'] or ''}"
            for m in out["moments"]
        ]
        _print(out, j, "\n".join(lines) or "no moments yet")
    elif args.cmd == "als":
        out = mem.als_state()
        _print(out, True, "")
    elif args.cmd == "checkpoint":
        out = mem.checkpoint(args.description)
        _print(out, j, f"checkpoint {out['id']}")
    elif args.cmd == "checkpoints":
        out = mem.list_checkpoints()
        lines = [f"{c['id']}  {c.get('description', '')}" for c in out["checkpoints"]]
        _print(out, j, "\n".join(lines) or "no checkpoints")
    return 0


def memory_main(argv: list[str] | None = None) -> int:
    """Entry point for `kenetic memory ...`; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad usage
        return int(exc.code or 0)
    workspace = Path(getattr(args, "workspace", ".")).resolve()
    if not workspace.is_dir():
        print(f"kenetic memory: {workspace} is not a folder", file=sys.stderr)
        return 2
    try:
        return _run(args, workspace)
    except (StoreError, ValueError, OSError, RuntimeError) as exc:
        print(f"kenetic memory: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(memory_main())
