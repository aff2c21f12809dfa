"""Files on disk that no editor has open, read and parsed once while they stay unchanged.

kenetic/nextEdits looks beyond the open documents into the folder's files of the language, and
asks again after every edit the developer makes. Reading and parsing the same unchanged files
each time cost most of a request on a folder of long files, so the text, its lines and its tree
(when a search needed one) are kept per file, for as long as its size and modification time
stay what they were; the least recently used go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from server.suggest.documents import split_lines

if TYPE_CHECKING:
    from tree_sitter import Tree


@dataclass
class DiskFile:
    text: str
    lines: list[str]
    tree: Tree | None = None

    def keep(self, tree: Tree) -> None:
        """The search parsed the file: the next one need not."""
        self.tree = tree


class DiskTrees:
    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._files: OrderedDict[str, tuple[tuple[int, int], DiskFile]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: Path) -> DiskFile | None:
        """The file as it is on disk now; None when it cannot be read as UTF-8 text."""
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_size, st.st_mtime_ns)
        key = str(path)
        with self._lock:
            known = self._files.get(key)
            if known is not None and known[0] == stamp:
                self._files.move_to_end(key)
                return known[1]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        found = DiskFile(text, split_lines(text))
        with self._lock:
            self._files[key] = (stamp, found)
            self._files.move_to_end(key)
            while len(self._files) > self.size:
                self._files.popitem(last=False)
        return found

    def __len__(self) -> int:
        return len(self._files)
