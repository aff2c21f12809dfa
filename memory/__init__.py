"""Durable knowledge: episodes, skills, patterns, vectors, links and notes.

This room knows nothing of LSP or torch: the server and the model read and write through it.
It has three houses, each importing only the ones before it:
- `memory.store`: the SQLite store (one writer thread, numbered migrations), the schema helpers
  every table is written through, checkpoints and export/import; imports nothing of memory;
- `memory.skills`: the rewrite engine, from an edit's syntax trees to a skill and from a skill
  to the sites and rewrites it offers, plus the skills' persistence; may import `memory.store`;
- `memory.recall`: embeddings, vector indexes, typed links, retention, ingest, notes, ALS,
  moments and WorkspaceMemory, the API the server calls; may import `memory.store` and
  `memory.skills`.
"""
