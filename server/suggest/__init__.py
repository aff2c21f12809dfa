"""Suggestions: skills offered back to the developer, and what became of them.

documents (parsed versions, edit baselines) -> sites (where skills apply) -> service (libraries,
mining, ranking) -> actions (code actions, inline completion), scan (next edits), apply
(kenetic.applySkill); outcomes records shown / accepted / rejected / undone.
"""
