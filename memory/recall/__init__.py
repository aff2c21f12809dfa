"""Recall: what memory brings back for a task, and the knowledge it brings back from.

Memory items and their knobs (items), embeddings (embedders), FAISS indexes (vectors, with
vector_ann, vector_rows and vector_file), typed links between episodes, skills, patterns and notes
(graph), decay and pruning (retention), hybrid recall scoring (index), what enters memory from
the store (ingest), Markdown notes (notes), the active learning state (als), the last memory
events (moments), and WorkspaceMemory, the API the server calls (api). May import
`memory.store` and `memory.skills`; nothing of LSP or torch.
"""
