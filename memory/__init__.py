"""Durable knowledge: episodes, skills, patterns, vectors, links and notes.

This room knows nothing of LSP or torch: the server and the model read and write through it.
"""
