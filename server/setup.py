"""The one place that builds the server and registers every feature (esbonio's pattern)."""

from __future__ import annotations

from server.features import capture, commands, lifecycle, queries
from server.server import KeneticServer

FEATURES = [lifecycle, capture, commands, queries]


def create_server() -> KeneticServer:
    server = KeneticServer()
    for feature in FEATURES:
        feature.setup(server)
    return server
