"""Features: turn a ranking request (plain dicts) into the fixed-size vectors the TRM reads.

The context and candidate dicts are a superset of what trm.ranker's RuleRanker reads, so the
server builds one pair of dicts for either ranker. Every key is optional; a missing key reads as
"unknown", never as an error. Keys (camelCase, JSON-ready, as in trm.ranker):

    context {
      "kind": "codeAction" | "inline" | "nextEdits" | "apply",
      "now": epoch seconds (ages are measured from it; 0/missing: ages unknown),
      "language": str,
      "uri": str                    the cursor's document
      "cursorNodeTypes": [str]      syntax node types at the cursor, innermost first
      "recentEditShapes": [str]     the last few edits, newest last, e.g. "old text => new text"
      "recentCommands": [{"command": str, "exitCode": int}]   newest last
      "cursorLine": int             the cursor's line (0-based)
      "recentEditLines": [int]      lines of the last few edits in the cursor's document, oldest
                                    first, where they are now (later edits' line shifts applied)
    }
    candidate {
      "skillId": str, "name": str,
      "templateText": str           the skill's before => after template (or "text")
      "root": str                   the syntax node type the skill rewrites
      "matchText": str              this site's rewrite, "old text => new text"
      "support": int, "specificity": float 0..1,
      "lastUsed": epoch seconds (0: never)   or "ageS": seconds since last used
      "accepted", "rejected", "undone", "shown": int   the skill's outcome history
      "distance": lines from the cursor (abs)  "lineDelta": signed (site line - cursor line)
      "sameFile": bool              the site is in the document the cursor is in
      "justApplied": bool           the developer just made this rewrite by hand
      "uri": str, "siteLine": int   the site's document, and its line (0-based) there
      "shownInSession": int         how often this session showed this site (same document,
                                    skill and rewrite) without it being accepted
    }

The vectors are numpy float32: context (CONTEXT_DIM,), candidates (K, CANDIDATE_DIM). Bag-of-
token parts use feature hashing (memory.recall.embedders.HashedEmbedder: CRC-32 buckets, the same in
every process), so the features are deterministic. Set-level features (the nearest site below
the cursor, the rule score's rank, a site's order among its skill's sites) are computed over the
candidates of one request.

No torch here: the ranker featurizes on the request path before it touches the model.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from memory.recall.embedders import HashedEmbedder
from trm.ranker import RuleRanker

__all__ = [
    "CANDIDATE_DIM",
    "CANDIDATE_FEATURES",
    "CONTEXT_DIM",
    "CONTEXT_FEATURES",
    "FEATURES_VERSION",
    "candidate_features",
    "context_features",
    "featurize",
    "preselect",
]

FEATURES_VERSION = 2  # bump when a feature changes meaning: old checkpoints then mis-rank
CONTEXT_DIM = 64
CANDIDATE_DIM = 64

KINDS = ("codeAction", "inline", "nextEdits", "apply")
HOUR = 3600.0
DAY = 24 * HOUR

# (name, start, width) of each feature block; the docs' features table is this list.
CONTEXT_FEATURES: list[tuple[str, int, int]] = [
    ("language (hashed one-hot)", 0, 4),
    ("kind one-hot (codeAction, inline, nextEdits, apply, other)", 4, 5),
    ("cursor node types (hashed bag)", 9, 16),
    ("recent edit shapes (hashed embedding)", 25, 16),
    ("recent commands, first word (hashed bag)", 41, 8),
    ("recent edits, log count", 49, 1),
    ("recent commands, log count", 50, 1),
    ("failed fraction of recent commands", 51, 1),
    ("last command failed", 52, 1),
    ("constant 1", 53, 1),
    ("recent edits in this file: moving down, moving up (shares of steps)", 54, 2),
    ("reserved (0)", 56, 8),
]
CANDIDATE_FEATURES: list[tuple[str, int, int]] = [
    ("skill template (hashed embedding)", 0, 24),
    ("similarity of template to recent edits", 24, 1),
    ("similarity of this rewrite to the last edit", 25, 1),
    ("this rewrite's text is known", 26, 1),
    ("skill root is a cursor node type", 27, 1),
    ("support: log, saturating", 28, 2),
    ("specificity", 30, 1),
    ("age: log hours, week decay, hour decay, never used", 31, 4),
    ("accepted, rejected, undone, shown (log)", 35, 4),
    ("smoothed acceptance rate", 39, 1),
    ("distance: log lines, unknown", 40, 2),
    ("direction: below (+1) / above (-1) the cursor", 42, 1),
    ("same file, same file unknown", 43, 2),
    ("just applied by hand", 45, 1),
    ("rule ranker score", 46, 1),
    ("distance rank in the set", 47, 1),
    ("nearest site below the cursor in the file", 48, 1),
    ("rule score rank in the set", 49, 1),
    ("rule score minus the set's best", 50, 1),
    ("set size (log)", 51, 1),
    ("share of the set from this skill", 52, 1),
    ("constant 1", 53, 1),
    ("order among the skill's sites in the file, from the cursor down, wrapping", 54, 2),
    ("first of the skill's sites in the other files (path order from the cursor's)", 56, 1),
    ("passed over: between two recent edits, the later one below", 57, 1),
    ("shown in this session and not accepted (log); shown before", 58, 2),
    ("other file: 1 / its place in path order after the cursor's file", 60, 1),
    ("shown in this session (log) minus the most of the skill's sites", 61, 1),
    ("reserved (0)", 62, 2),
]

_RULES = RuleRanker()
_TEMPLATE = HashedEmbedder(24)  # the candidate's own template block
_SHAPE = HashedEmbedder(16)  # the context's recent-edit block
_SIM = HashedEmbedder(256)  # wide enough that cosine similarities mean something
_CACHE_MAX = 20_000
_cache: dict[tuple[int, str], np.ndarray] = {}


def _embed(embedder: HashedEmbedder, text: str) -> np.ndarray:
    key = (embedder.dim, text)
    hit = _cache.get(key)
    if hit is None:
        hit = embedder.embed([text])[0]
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()  # a crude bound; the working set (live skills) refills it at once
        _cache[key] = hit
    return hit


def _bucket(text: str, n: int) -> int:
    return zlib.crc32(text.encode("utf-8", "replace")) % n


def _num(d: dict[str, Any], key: str, default: float = 0.0) -> float:
    v = d.get(key)
    if v is None:
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        return default
    return f if math.isfinite(f) else default


def _strings(v: Any, limit: int) -> list[str]:
    if not isinstance(v, (list, tuple)):
        return []
    return [str(x) for x in v[-limit:] if x is not None]


def context_features(context: dict[str, Any]) -> np.ndarray:
    """The context vector (CONTEXT_DIM,) float32."""
    out = np.zeros(CONTEXT_DIM, dtype=np.float32)
    language = str(context.get("language") or "")
    if language:
        out[_bucket(language, 4)] = 1.0
    kind = context.get("kind")
    out[4 + (KINDS.index(kind) if kind in KINDS else 4)] = 1.0
    nodes = _strings(context.get("cursorNodeTypes"), 8)
    for depth, typ in enumerate(nodes):
        out[9 + _bucket(typ, 16)] += 1.0 / (1 + depth)  # the innermost node weighs most
    shapes = _strings(context.get("recentEditShapes"), 5)
    if shapes:
        out[25:41] = _embed(_SHAPE, "\n".join(shapes))
    commands = [c for c in (context.get("recentCommands") or [])[-8:] if isinstance(c, dict)]
    failed = 0
    for c in commands:
        words = str(c.get("command") or "").split()
        if words:
            out[41 + _bucket(words[0], 8)] += 1.0
        failed += int(_num(c, "exitCode") != 0)
    out[49] = math.log1p(len(shapes))
    out[50] = math.log1p(len(commands))
    out[51] = failed / len(commands) if commands else 0.0
    out[52] = float(bool(commands) and _num(commands[-1], "exitCode") != 0)
    out[53] = 1.0
    steps = np.diff(_lines(context.get("recentEditLines"), 5))
    if len(steps):
        out[54] = float((steps > 0).mean())
        out[55] = float((steps < 0).mean())
    return out


def _lines(v: Any, limit: int) -> list[float]:
    """The finite numbers of a list (the last `limit`), e.g. recentEditLines."""
    if not isinstance(v, (list, tuple)):
        return []
    out = []
    for x in v[-limit:]:
        try:
            f = float(x)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def _template_text(c: dict[str, Any]) -> str:
    return str(c.get("templateText") or c.get("text") or c.get("name") or c.get("skillId") or "")


def _age_s(context: dict[str, Any], c: dict[str, Any]) -> float | None:
    if c.get("ageS") is not None:
        return max(0.0, _num(c, "ageS"))
    now, last = _num(context, "now"), _num(c, "lastUsed")
    if now <= 0 or last <= 0:
        return None
    return max(0.0, now - last)


def candidate_features(context: dict[str, Any], candidates: Sequence[dict[str, Any]]) -> np.ndarray:
    """The candidate vectors (K, CANDIDATE_DIM) float32, for one context."""
    K = len(candidates)
    out = np.zeros((K, CANDIDATE_DIM), dtype=np.float32)
    if K == 0:
        return out
    shapes = _strings(context.get("recentEditShapes"), 5)
    recent = _embed(_SIM, "\n".join(shapes)) if shapes else None
    last = _embed(_SIM, shapes[-1]) if shapes else None
    nodes = set(_strings(context.get("cursorNodeTypes"), 8))
    rules = _rule_scores(context, candidates)
    for i, c in enumerate(candidates):
        row = out[i]
        template = _template_text(c)
        row[0:24] = _embed(_TEMPLATE, template)
        if recent is not None and template:
            row[24] = float(_embed(_SIM, template) @ recent)
        match_text = c.get("matchText")
        if match_text:
            row[26] = 1.0
            if last is not None:
                row[25] = float(_embed(_SIM, str(match_text)) @ last)
        row[27] = float(bool(c.get("root")) and c.get("root") in nodes)
        support = max(0.0, _num(c, "support"))
        row[28] = math.log1p(support) / 3.0
        row[29] = support / (support + 1.0)
        row[30] = min(1.0, max(0.0, _num(c, "specificity")))
        age = _age_s(context, c)
        if age is None:
            row[34] = 1.0
        else:
            row[31] = math.log1p(age / HOUR) / 5.0
            row[32] = 0.5 ** (age / (7 * DAY))
            row[33] = 0.5 ** (age / HOUR)
        acc, rej = max(0.0, _num(c, "accepted")), max(0.0, _num(c, "rejected"))
        undo, shown = max(0.0, _num(c, "undone")), max(0.0, _num(c, "shown"))
        row[35:39] = [math.log1p(acc), math.log1p(rej), math.log1p(undo), math.log1p(shown)]
        row[39] = (acc + 1.0) / (acc + rej + 2.0 * undo + 2.0)
        if c.get("distance") is None and c.get("lineDelta") is None:
            row[41] = 1.0
        else:
            dist = abs(_num(c, "lineDelta")) if c.get("distance") is None else _num(c, "distance")
            row[40] = math.log1p(max(0.0, dist)) / 5.0
        if c.get("lineDelta") is not None:
            row[42] = float(np.sign(_num(c, "lineDelta")))
        if c.get("sameFile") is None:
            row[44] = 1.0
        else:
            row[43] = float(bool(c.get("sameFile")))
        row[45] = float(bool(c.get("justApplied")))
        row[46] = rules[i]
        row[53] = 1.0
        shown_here = max(0.0, _num(c, "shownInSession"))
        row[58] = math.log1p(shown_here) / 3.0
        row[59] = float(shown_here > 0)
    _set_features(candidates, out, rules)
    _site_order(context, candidates, out)
    return out


_RULE_KEYS = ("support", "specificity", "lastUsed", "accepted", "rejected", "undone")


def _rule_scores(context: dict[str, Any], candidates: Sequence[dict[str, Any]]) -> np.ndarray:
    """RuleRanker's scores on cleaned copies (it trusts its input; features must not), at a
    fixed `now` so that the same dicts always give the same features."""
    clean = [
        {k: min(1e12, max(0.0, _num(c, k))) for k in _RULE_KEYS} for c in candidates
    ]  # fmt: skip
    now = _num(context, "now") or max((c["lastUsed"] for c in clean), default=0.0) or 1.0
    return np.asarray(_RULES.score({"now": now}, clean), dtype=np.float64)


def _set_features(candidates: Sequence[dict[str, Any]], out: np.ndarray, rules: np.ndarray) -> None:
    K = len(candidates)
    dist = np.array(
        [math.inf if c.get("distance") is None and c.get("lineDelta") is None
         else abs(_num(c, "lineDelta")) if c.get("distance") is None else _num(c, "distance")
         for c in candidates]
    )  # fmt: skip
    order = np.argsort(dist, kind="stable")
    ranks = np.empty(K)
    ranks[order] = np.arange(K)
    out[:, 47] = ranks / K
    below = [
        i
        for i, c in enumerate(candidates)
        if c.get("lineDelta") is not None
        and _num(c, "lineDelta") >= 0
        and c.get("sameFile") is not False
    ]
    if below:
        out[min(below, key=lambda i: (_num(candidates[i], "lineDelta"), i)), 48] = 1.0
    order = np.argsort(-rules, kind="stable")
    ranks[order] = np.arange(K)
    out[:, 49] = ranks / K
    out[:, 50] = rules - rules.max()
    out[:, 51] = math.log1p(K) / 4.0
    ids = [str(c.get("skillId") or "") for c in candidates]
    counts: dict[str, int] = {}
    for s in ids:
        counts[s] = counts.get(s, 0) + 1
    out[:, 52] = [counts[s] / K for s in ids]


def _site_order(
    context: dict[str, Any], candidates: Sequence[dict[str, Any]], out: np.ndarray
) -> None:
    """Where each site stands among its skill's sites: the order a developer working down the
    file from the cursor (and wrapping round to the top) reaches them, whether the session's
    recent edits went past it, the first site in the other files (the documents after the
    cursor's in path order first), and whether this session showed it less than the others."""
    cursor = context.get("cursorLine")
    edits = _lines(context.get("recentEditLines"), 5)
    jumps = [(a, b) for a, b in zip(edits, edits[1:], strict=False) if b > a]
    same: dict[str, list[tuple[bool, float, float, int]]] = {}
    other: dict[str, list[tuple[int, float, int]]] = {}
    here = str(context.get("uri") or "")
    docs = sorted({here, *(str(c["uri"]) for c in candidates if c.get("uri"))})
    at = docs.index(here)
    shown: dict[str, list[tuple[float, int]]] = {}
    for i, c in enumerate(candidates):
        sid = str(c.get("skillId") or "")
        if c.get("lineDelta") is not None and c.get("sameFile") is not False:
            delta = _num(c, "lineDelta")
            line = (
                _num(c, "siteLine") if c.get("siteLine") is not None
                else _num(context, "cursorLine") + delta if cursor is not None
                else None
            )  # fmt: skip
            passed = line is not None and any(a < line < b for a, b in jumps)
            out[i, 57] = float(passed)
            same.setdefault(sid, []).append((delta < 0, delta, float(passed), i))
        elif c.get("sameFile") is False:
            doc = (docs.index(str(c["uri"])) - at) % len(docs) if c.get("uri") and here else 0
            if doc:
                out[i, 60] = 1.0 / doc
            other.setdefault(sid, []).append((doc, _num(c, "siteLine", math.inf), i))
        shown.setdefault(sid, []).append((math.log1p(max(0.0, _num(c, "shownInSession"))), i))
    for sites in same.values():
        sites.sort()
        first_open = True
        for rank, (_, _, skipped, i) in enumerate(sites):
            out[i, 54] = 1.0 / (1.0 + rank)
            if first_open and not skipped:
                out[i, 55] = 1.0
                first_open = False
    for others in other.values():
        first = min(others)
        if math.isfinite(first[1]) or first[0]:  # a line or a document order to go by
            out[first[2], 56] = 1.0
    for counts in shown.values():
        most = max(n for n, _ in counts)
        for n, i in counts:
            out[i, 61] = n - most


def preselect(features: np.ndarray, cap: int, keep: int = -1) -> np.ndarray:
    """The indices (sorted) of the `cap` candidates the model ranks when a set has more: the
    best by rule score, ties to the nearest site (the server's tie-break), plus `keep` (the
    accepted candidate, in training) if it would be left out."""
    if len(features) <= cap:
        return np.arange(len(features))
    dist = np.where(features[:, 41] > 0, np.inf, features[:, 40])
    order = np.lexsort((dist, -features[:, 46]))  # rule score first, then distance
    chosen = order[:cap].copy()
    if keep >= 0 and keep not in chosen:
        chosen[-1] = keep
    return np.sort(chosen)


def featurize(
    context: dict[str, Any], candidates: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray]:
    """(context (CONTEXT_DIM,), candidates (K, CANDIDATE_DIM)), float32, for one request."""
    return context_features(context), candidate_features(context, candidates)
