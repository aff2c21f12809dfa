"""The store: one SQLite file per workspace folder and what reads and writes it whole.

Here are the Store itself (WAL, one writer thread, `kill -9`-safe once a write is acknowledged;
database), its numbered migrations (migrations), the helpers every table is written and its
key-value state read through (schema), consistent checkpoints and restores (checkpoints) and
export/import of a store as JSON lines (portable). This is the bottom of memory: it imports
nothing else of memory, and nothing of LSP or torch.
"""
