"""The skill engine: from an edit's syntax trees to a skill, and from a skill to what it offers.

Learning: tree-sitter grammars (syntax), templates with holes (templates), the GumTree-style
tree diff (treediff), structural edits (edits), anti-unification of two edits (mining, miner),
words two examples merely shared made holes (loosen), text transforms of a hole (transforms),
when a skill is trusted (validity) and the skill itself (skill). Offering: the matcher's view of
a skill (entry), finding sites (matching), the text of each rewrite (rewrites) and line wrapping
as the file's formatter would (linewrap). skill_store persists skills and outcomes. May import
`memory.store` (for skill_store only); nothing of recall, LSP or torch.
"""
