"""Token views of a ranking request: what each rewrite takes out and puts in, for the TRM.

The 64 hand features (trm.features) say where a site is and how its skill has fared; they do
not say what the site's rewrite *is*. This module gives the TRM the token sequences: for each
candidate, the tokens its site's rewrite removes and adds (`matchText`, "old => new") and those
its skill's template removes and adds (`templateText`); for the context, the same two views of
each of the session's last EDITS edits (`recentEditShapes`, newest last).

Each view is the mean of fixed random vectors, one per token (hashed into BUCKETS, the same in
every process; a seeded table, never trained). Fixed on purpose: a learned embedding would learn
this corpus's identifiers and rules, which a blind repository does not share, while a fixed one
leaves the model only what carries over — whether two rewrites move the same tokens (their
views' dot product), which attention between a candidate's token and an edit's token can read.

No torch here: the ranker builds these on the request path before it touches the model.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CANDIDATE_TOKEN_DIM", "EDITS", "EDIT_DIM", "TOKEN_DIM", "token_features"]

TOKEN_DIM = 32  # D: the size of one view
EDITS = 4  # recent edits the context carries, newest last
EDIT_DIM = 2 * TOKEN_DIM + 1  # removed, added, and 1.0 when the slot holds an edit
CANDIDATE_TOKEN_DIM = 4 * TOKEN_DIM  # site removed, site added, skill removed, skill added
BUCKETS = 4096
MAX_TOKENS = 64  # per side of a rewrite: a long text's view is its first tokens'
ARROW = " => "
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")
# unit-length rows (in expectation), so a view's scale does not grow with the tokens it holds
_TABLE = (
    np.random.default_rng(20261207).standard_normal((BUCKETS, TOKEN_DIM)) / np.sqrt(TOKEN_DIM)
).astype(np.float32)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)[:MAX_TOKENS]


def _bucket(token: str) -> int:
    return zlib.crc32(token.encode("utf-8", "surrogatepass")) % BUCKETS


def _mean(toks: Counter[str]) -> np.ndarray:
    if not toks:
        return np.zeros(TOKEN_DIM, dtype=np.float32)
    idx = np.fromiter((_bucket(t) for t in toks.elements()), dtype=np.int64)
    return _TABLE[idx].mean(axis=0)


def rewrite_views(text: str) -> np.ndarray:
    """(2 * TOKEN_DIM,): the views of the tokens an "old => new" rewrite removes and adds (a
    text without the arrow reads as all added)."""
    old, sep, new = text.partition(ARROW)
    if not sep:
        old, new = "", text
    a, b = Counter(tokens(old)), Counter(tokens(new))
    return np.concatenate([_mean(a - b), _mean(b - a)])


def token_features(
    context: dict[str, Any], candidates: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """(EDITS, EDIT_DIM) for the recent edits (oldest slot first; empty slots are zeros) and
    (K, CANDIDATE_TOKEN_DIM) for the candidates. Missing or odd keys read as empty text."""
    edits = np.zeros((EDITS, EDIT_DIM), dtype=np.float32)
    shapes = context.get("recentEditShapes")
    recent = [s for s in shapes if isinstance(s, str)][-EDITS:] if isinstance(shapes, list) else []
    for slot, shape in zip(range(EDITS - len(recent), EDITS), recent, strict=True):
        edits[slot, :-1] = rewrite_views(shape)
        edits[slot, -1] = 1.0
    out = np.zeros((len(candidates), CANDIDATE_TOKEN_DIM), dtype=np.float32)
    seen: dict[str, np.ndarray] = {}  # a skill's template recurs on each of its sites
    for i, c in enumerate(candidates):
        for j, key in enumerate(("matchText", "templateText")):
            text = c.get(key)
            if not isinstance(text, str) or not text:
                continue
            view = seen.get(text)
            if view is None:
                view = seen[text] = rewrite_views(text)
            out[i, j * 2 * TOKEN_DIM : (j + 1) * 2 * TOKEN_DIM] = view
    return edits, out
