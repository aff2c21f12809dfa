"""The one place that builds the server and registers every feature (esbonio's pattern)."""

from __future__ import annotations

from server.features import (
    agent,
    capture,
    commands,
    lifecycle,
    memory,
    patterns,
    queries,
    ranking,
    skills,
)
from server.server import KeneticServer

FEATURES = [lifecycle, capture, memory, patterns, agent, commands, queries, skills, ranking]


def create_server() -> KeneticServer:
    server = KeneticServer()
    for feature in FEATURES:
        feature.setup(server)
    return server
