"""The baseline for tests/bench/capture.py: a pygls server that only syncs documents."""

from pygls.lsp.server import LanguageServer

if __name__ == "__main__":
    LanguageServer("bare", "1").start_io()
