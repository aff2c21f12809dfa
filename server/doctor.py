"""`kenetic doctor`: is this install healthy, and where does it keep what it learns?"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from server import __version__

CORE_MODULES = ["pygls", "lsprotocol", "pydantic", "tree_sitter", "numpy", "faiss", "pathspec"]


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _store_report(workspace: Path) -> dict[str, Any]:
    from memory.store.database import Store, StoreError, project_store_path

    path = project_store_path(workspace)
    report: dict[str, Any] = {"path": str(path), "exists": path.exists()}
    if not path.exists():
        report["ok"] = True
        report["note"] = "no store yet: it is created when the server first captures"
        return report
    try:
        store = Store(path, create=False)
    except (StoreError, sqlite3.Error, OSError) as exc:
        report["ok"] = False
        report["error"] = str(exc)
        return report
    try:
        health = store.health()
        report.update(health)
        report["episodes"] = dict(store.stats.episodes)
        report["ok"] = health["integrity"] == "ok"
    finally:
        store.close()
    return report


def collect(workspace: str) -> dict[str, Any]:
    from memory.skills import syntax

    core = {name: _importable(name) for name in CORE_MODULES}
    grammars = syntax.grammar_versions()
    report: dict[str, Any] = {
        "version": __version__,
        "core": core,
        "grammars": grammars,
        "store": _store_report(Path(workspace).resolve()),
        "trm": {"torch": _importable("torch")},
        "agent": {
            "anthropic": {
                "importable": _importable("anthropic"),
                "configured": bool(os.environ.get("ANTHROPIC_API_KEY")),
            },
            "ollama": {
                "importable": _importable("ollama"),
                "configured": bool(os.environ.get("OLLAMA_HOST")),
            },
        },
    }
    problems = [f"core module {n} is not importable" for n, ok in core.items() if not ok]
    problems += [f"grammar {k} does not load" for k, v in grammars.items() if v is None]
    if not report["store"]["ok"]:
        problems.append(f"store: {report['store'].get('error') or 'integrity check failed'}")
    report["problems"] = problems
    return report


def run_doctor(workspace: str, *, as_json: bool = False) -> int:
    report = collect(workspace)
    if as_json:
        print(json.dumps(report, indent=2))
        return 1 if report["problems"] else 0
    ok = "ok"
    print(f"kenetic {report['version']}")
    for name, good in report["core"].items():
        print(f"  {name:<12} {ok if good else 'MISSING'}")
    print("grammars:")
    for key, ver in report["grammars"].items():
        print(f"  {key:<12} {ver or 'MISSING'}")
    store = report["store"]
    print(f"store: {store['path']}")
    if store.get("error"):
        print(f"  ERROR {store['error']}")
    elif store.get("exists"):
        print(f"  schema {store.get('schema')}, integrity {store.get('integrity')}")
        print(f"  episodes {store.get('episodes')}")
    else:
        print(f"  {store.get('note')}")
    print(f"trm: torch {'importable' if report['trm']['torch'] else 'not installed (rules only)'}")
    for name, info in report["agent"].items():
        state = "importable" if info["importable"] else "not installed"
        conf = "configured" if info["configured"] else "not configured"
        print(f"agent: {name} {state}, {conf}")
    if report["problems"]:
        print("problems:")
        for problem in report["problems"]:
            print(f"  - {problem}")
        return 1
    print("no problems found")
    return 0
