"""A GumTree-style diff of two syntax forests: identical subtrees top-down, then containers
bottom-up. memory.skills.edits uses it to tell which subtrees an edit carried over unchanged."""

from __future__ import annotations

from memory.skills.syn import Syn

Path = list[int]  # child indices from a root down to a node


def at_forest(nodes: list[Syn], path: Path) -> Syn:
    """The subtree at path in a forest (the path's first step picks the tree)."""
    return at(nodes[path[0]], path[1:])


def at(s: Syn, path: Path) -> Syn:
    """The subtree at path (child indices) below s."""
    for k in path:
        s = s.children[k]
    return s


def _walk(nodes: list[Syn], prefix: Path) -> list[tuple[Path, Syn]]:
    out: list[tuple[Path, Syn]] = []
    for k, n in enumerate(nodes):
        here = [*prefix, k]
        out.append((here, n))
        out.extend(_walk(n.children, here))
    return out


def _height(s: Syn) -> int:
    return 1 + max((_height(c) for c in s.children), default=0)


def diff_trees(
    before: list[Syn], after: list[Syn], *, min_height: int = 1, dice: float = 0.5
) -> list[tuple[Path, Path]]:
    """Map before subtrees to after subtrees: identical subtrees top-down (tallest first, unique
    matches only), then containers bottom-up when enough of their descendants are mapped.
    Paths index into the given forests."""
    nb, na = _walk(before, []), _walk(after, [])
    if len(nb) * len(na) > 4_000_000:
        return []  # quadratic below: a window this large is not a skill anyway
    by_key: dict[tuple[str, str], list[int]] = {}
    for k, (_, s) in enumerate(na):
        by_key.setdefault((s.type, s.key), []).append(k)
    mapped_b: dict[int, int] = {}
    used_a: set[int] = set()
    order = sorted(range(len(nb)), key=lambda k: -_height(nb[k][1]))
    covered: set[int] = set()
    for k in order:
        path, s = nb[k]
        if k in covered or _height(s) < min_height or not s.key:
            continue
        cands = [c for c in by_key.get((s.type, s.key), []) if c not in used_a]
        if len(cands) != 1 or len(by_key[(s.type, s.key)]) != 1:
            continue
        mapped_b[k] = cands[0]
        used_a.add(cands[0])
        # descendants of an identical match are matched with it
        covered.update(d for d, (p, _) in enumerate(nb) if p[: len(path)] == path)
    out = [(nb[k][0], na[v][0]) for k, v in mapped_b.items()]
    # bottom-up: containers of the same type whose mapped descendants mostly correspond
    for kb, (pb, sb) in enumerate(nb):
        if kb in mapped_b or not sb.children:
            continue
        inside = [v for k, v in mapped_b.items() if nb[k][0][: len(pb)] == pb and k != kb]
        if not inside:
            continue
        best, best_score = None, 0.0
        for ka, (pa, sa) in enumerate(na):
            if ka in used_a or sa.type != sb.type:
                continue
            common = sum(1 for v in inside if na[v][0][: len(pa)] == pa)
            score = 2 * common / (len(inside) + max(1, len(sa.children)))
            if score > best_score:
                best, best_score = ka, score
        if best is not None and best_score >= dice:
            used_a.add(best)
            out.append((pb, na[best][0]))
    return out
