"""The layout holds: no import circle, and imports only point down the layers.

Every import counts, wherever it stands: at the top of a module, inside a function, or under
`if TYPE_CHECKING:` (a circle that only the type checker walks is still a knot in the design).
The layers (docs/architecture.md): server -> trm -> memory, and inside memory
recall -> skills -> store, with team and export (memory.team, memory.export) beside recall on
skills and store; memory never imports server or trm. `kenetic mcp` (server.mcp) sits beside the
LSP server and uses its parts; of the rest of server only the command line (server.cli) may load
it, so the language server never imports the MCP SDK. torch is imported by trm alone. The VS
Code client's TypeScript modules are held to the same rule: no circle among them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "memory", "trm")

# what each layer may import, besides itself (outer layers first); a module belongs to the
# longest layer name that prefixes it
MAY_IMPORT = {
    "server.cli": {"server", "server.mcp", "trm", "memory"},
    "server.mcp": {"server", "trm", "memory"},
    "server": {"trm", "memory"},
    "trm": {"memory"},
    # a memory package not named below still imports nothing outside memory
    "memory": {"memory"},
    "memory.recall": {"memory.skills", "memory.store"},
    "memory.team": {"memory.skills", "memory.store"},
    "memory.export": {"memory.skills", "memory.store"},
    "memory.skills": {"memory.store"},
    "memory.store": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported(name: str, path: Path, tree: ast.AST) -> Iterator[str]:
    """Every module name an import in this tree may load (`from a import b` yields a and a.b)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)


def import_graph(
    modules: dict[str, Path], sources: dict[str, str] | None = None
) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's __init__ only when named)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        text = sources[name] if sources is not None else path.read_text()
        tree = ast.parse(text)
        graph[name] = {m for m in imported(name, path, tree) if m in modules and m != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> str | None:
    """The most specific layer a module belongs to (None: outside the three packages)."""
    best = None
    for layer in MAY_IMPORT:
        if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best or ""):
            best = layer
    return best


def against_layers(graph: dict[str, set[str]]) -> list[str]:
    wrong = []
    for source, targets in sorted(graph.items()):
        mine = layer_of(source)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine is None or theirs is None or theirs == mine:
                continue
            if not any(theirs == ok or theirs.startswith(ok + ".") for ok in MAY_IMPORT[mine]):
                wrong.append(f"{source} imports {target} ({mine} may not import {theirs})")
    return wrong


def test_no_import_circle_among_the_project_modules() -> None:
    assert circles(import_graph(project_modules())) == []


def test_imports_point_down_the_layers() -> None:
    assert against_layers(import_graph(project_modules())) == []


def test_only_trm_imports_torch() -> None:
    modules = project_modules()
    users = [
        name
        for name, path in modules.items()
        if not name.startswith("trm")
        and any(
            m == "torch" or m.startswith("torch.")
            for m in imported(name, path, ast.parse(path.read_text()))
        )
    ]
    assert users == []


def test_the_checks_see_a_circle_and_an_upward_import() -> None:
    """The checks above are only worth something if they fail on what they forbid: a circle
    hidden under TYPE_CHECKING, and memory's store importing the skill engine."""
    modules = {
        "memory.store.database": ROOT / "memory/store/database.py",
        "memory.skills.skill": ROOT / "memory/skills/skill.py",
        "memory.skills.entry": ROOT / "memory/skills/entry.py",
    }
    sources = {
        "memory.store.database": "from memory.skills.skill import Skill\n",
        "memory.skills.skill": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from memory.skills.entry import SkillEntry\n"
        ),
        "memory.skills.entry": "def f():\n    from memory.skills import skill\n",
    }
    graph = import_graph(modules, sources)
    assert circles(graph) == [["memory.skills.entry", "memory.skills.skill"]]
    assert against_layers(graph) == [
        "memory.store.database imports memory.skills.skill "
        "(memory.store may not import memory.skills)"
    ]


def test_the_checks_hold_the_team_export_and_mcp_packages() -> None:
    """memory's team store and rule export import no server code and no recall; only the
    command line loads `kenetic mcp`; the MCP server may use the rest of server."""
    names = {
        "memory.team.client": "from server.settings import TeamSettings\n",
        "memory.export.common": "def f():\n    from memory.recall import api\n",
        "memory.recall.api": "",
        "memory.skills.skill": "",
        "memory.newhouse.x": "import trm.model\nfrom memory.skills import skill\n",
        "trm.model": "",
        "server.settings": "",
        "server.features.skills": "from server.mcp import app\n",
        "server.cli": "from server.mcp.app import main\n",
        "server.mcp.app": "from server.features import skills\nfrom memory.skills import skill\n",
    }
    modules = {name: ROOT / (name.replace(".", "/") + ".py") for name in names}
    graph = import_graph(modules, names)
    assert circles(graph) == [["server.features.skills", "server.mcp.app"]]
    assert against_layers(graph) == [
        "memory.export.common imports memory.recall.api "
        "(memory.export may not import memory.recall)",
        "memory.newhouse.x imports trm.model (memory may not import trm)",
        "memory.team.client imports server.settings (memory.team may not import server)",
        "server.features.skills imports server.mcp.app (server may not import server.mcp)",
    ]


# -- the VS Code client ------------------------------------------------------------------------

TS_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.{1,2}/[^'"]+)['"]""", re.M)
VSCODE_SRC = ROOT / "editors" / "vscode" / "src"


def ts_graph() -> dict[str, set[str]]:
    files = {
        p.relative_to(VSCODE_SRC).with_suffix("").as_posix(): p for p in VSCODE_SRC.rglob("*.ts")
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = set()
        for spec in TS_IMPORT.findall(path.read_text()):
            target = (path.parent / spec).resolve().relative_to(VSCODE_SRC.resolve()).as_posix()
            if target in files:
                targets.add(target)
        graph[name] = targets
    return graph


def test_no_import_circle_in_the_vscode_client() -> None:
    graph = ts_graph()
    assert "extension" in graph and graph["extension"], "the import scan found no imports"
    assert circles(graph) == []
