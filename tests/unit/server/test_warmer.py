"""Open documents are parsed while the developer pauses, before the requests that need them
(issue 17 item 7: a nextEdits scan parsed every open document it found unparsed, in the
request). Waiting goes through Warmer.wait, never through sleeps or timing asserts."""

from __future__ import annotations

from pathlib import Path

from server.server import KeneticServer
from server.suggest import scan
from server.suggest.documents import Trees
from server.suggest.service import SuggestService
from server.suggest.warmer import Warmer
from tests.unit.server.test_closing import Wire, served  # noqa: F401  (the in-process server)

HANG_GUARD_S = 30


def test_touched_documents_are_parsed_into_the_cache() -> None:
    trees = Trees()
    texts = {"a.py": "def f(x):\n    return x\n", "b.py": "class C:\n    y = 1\n"}
    warmer = Warmer(lambda uri: trees.get(uri, 1, texts[uri], "python"), delay_s=0)
    for uri in texts:
        warmer.touch(uri)
    assert warmer.wait(HANG_GUARD_S)
    for uri, text in texts.items():
        snap = trees.cached(uri)
        assert snap is not None and snap.text is text  # the very text: scan reuses the tree
        assert snap.tree.root_node.type == "module" and not snap.tree.root_node.has_error
    assert warmer.pending == 0
    warmer.stop()


def test_a_forgotten_or_stopped_document_is_not_parsed() -> None:
    done: list[str] = []
    warmer = Warmer(done.append, delay_s=3600)  # the pause never comes within the test
    warmer.touch("closed.py")
    warmer.touch("open.py")
    warmer.forget("closed.py")
    assert warmer.pending == 1
    warmer.stop()
    warmer.touch("late.py")  # after shutdown: ignored
    assert warmer.pending == 0 and warmer.wait(HANG_GUARD_S) and done == []


def test_opened_documents_have_trees_before_the_first_next_edits(
    served: tuple[KeneticServer, Wire],  # noqa: F811
    tmp_path: Path,
) -> None:
    server, wire = served
    folder = tmp_path / "ws"
    folder.mkdir()
    wire.request("initialize", {
        "capabilities": {},
        "workspaceFolders": [{"uri": folder.as_uri(), "name": "ws"}],
    })  # fmt: skip
    wire.notify("initialized", {})
    uris = []
    for n in range(3):
        uri = (folder / f"m{n}.py").as_uri()
        text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(200 * (n + 1)))
        doc = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        wire.notify("textDocument/didOpen", {"textDocument": doc})
        uris.append(uri)
    wire.request("kenetic/stats", {})  # the opens were handled before this answer
    suggest = server.service(SuggestService)
    assert suggest.warmer.wait(HANG_GUARD_S)
    # what a nextEdits scan reads: every open document comes with the tree of its current text
    workspace = server.workspaces.folder_for(uris[0])
    assert workspace is not None
    sources = scan._sources(suggest, uris[0], "python", workspace)
    assert [s[0] for s in sources][0] == uris[0] and len(sources) == 3
    assert all(tree is not None for _, _, _, tree in sources), sources
    answer = wire.request("kenetic/nextEdits", {
        "textDocument": {"uri": uris[0]}, "position": {"line": 0, "character": 0},
    })  # fmt: skip
    assert answer["edits"] == []  # nothing learned yet; the request still answers

    # closing lets the parse go, and a later pause does not bring it back
    wire.notify("textDocument/didClose", {"textDocument": {"uri": uris[1]}})
    wire.request("kenetic/stats", {})
    assert suggest.warmer.wait(HANG_GUARD_S)
    assert suggest.trees.cached(uris[1]) is None and suggest.trees.cached(uris[2]) is not None
