"""Train the site model (memory.skills.site_model) on labelled sites from tests/bench/sites.py.

    .venv/bin/python tests/bench/site_train.py --train TRAIN_ROWS.jsonl [...] \
        --validate VALID_ROWS.jsonl [...] [--out memory/skills/site_model.json] [--precision 0.95]

A site is positive when the protocol counts it right for kenetic/nextEdits (correct, or same as
the commit). Logistic regression with L2, fitted by full-batch gradient descent in numpy (a
few thousand rows of a dozen features). The threshold is the lowest probability at which the
training rows reach the wanted precision; validation rows (other repositories) only report.
Prints JSON: per rows file, precision and the share of right sites kept, without the model
and with it. --out writes the weights; nothing is written without it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memory.skills.site_model import FEATURES  # noqa: E402

RIGHT = {"correct", "same"}


def load(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    rows = [json.loads(line) for p in paths for line in p.open()]
    rows = [r for r in rows if len(r["x"]) == len(FEATURES)]
    x = np.array([r["x"] for r in rows], dtype=np.float64).reshape(-1, len(FEATURES))
    y = np.array([r["label"] in RIGHT for r in rows], dtype=np.float64)
    return x, y, rows


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 4000) -> np.ndarray:
    """Weights of a logistic regression; features scaled for the fit, weights returned unscaled
    so the server applies them to raw features."""
    mu, sd = x[:, 1:].mean(axis=0), x[:, 1:].std(axis=0)
    # a feature constant in the corpus says nothing: it gets no weight (not a huge one that
    # cancels the bias)
    sd = np.where(sd < 1e-6, np.inf, sd)
    z = np.hstack([x[:, :1], (x[:, 1:] - mu) / sd])
    w = np.zeros(z.shape[1])
    # the rare class weighs as much as the common one in all
    pos = max(1.0, y.sum())
    neg = max(1.0, len(y) - y.sum())
    weight = np.where(y > 0, len(y) / (2 * pos), len(y) / (2 * neg))
    lr = 0.5
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (weight * (p - y)) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= lr * grad
    raw = np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]
    return raw


def probabilities(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))


def threshold_for(p: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest threshold whose kept sites reach the precision (0 when all sites do)."""
    best = 1.0
    for t in sorted(set(np.round(p, 4).tolist())):
        kept = p >= t
        if kept.sum() and y[kept].mean() >= precision:
            best = t
            break
    return float(best)


def figures(rows: list[dict[str, Any]], keep: np.ndarray) -> dict[str, Any]:
    """Per corpus: sites, precision and right sites kept, all offered vs the model's choice."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[f"{r['corpus']}:{r.get('language')}"].append(i)
    out = {}
    for name, idx in sorted(groups.items()):
        right = [rows[i]["label"] in RIGHT for i in idx]
        kept = [bool(keep[i]) for i in idx]
        n_kept = sum(kept)
        right_kept = sum(1 for r, k in zip(right, kept, strict=True) if r and k)
        out[name] = {
            "sites": len(idx),
            "precision_all": round(sum(right) / len(idx), 3) if idx else None,
            "precision_model": round(right_kept / n_kept, 3) if n_kept else None,
            "kept": n_kept,
            "right_kept_share": round(right_kept / sum(right), 3) if sum(right) else None,
            "cases": len({rows[i]["id"] for i in idx}),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, nargs="+", required=True)
    ap.add_argument("--validate", type=Path, nargs="*", default=[])
    ap.add_argument("--precision", type=float, default=0.95)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    x, y, rows = load(args.train)
    w = fit(x, y, args.l2)
    p = probabilities(w, x)
    t = threshold_for(p, y, args.precision)
    report: dict[str, Any] = {
        "features": dict(zip(FEATURES, np.round(w, 4).tolist(), strict=True)),
        "threshold": round(t, 4),
        "train": figures(rows, p >= t),
    }
    for path in args.validate:
        vx, _, vrows = load([path])
        report[f"validate:{path.name}"] = figures(vrows, probabilities(w, vx) >= t)
    if args.out:
        meta = {
            "trained": datetime.date.today().isoformat(),
            "train_sites": len(rows),
            "train_repositories": len({r["repo"] for r in rows}),
            "precision_target": args.precision,
        }
        model = {"features": list(FEATURES), "weights": w.tolist(), "threshold": t, **meta}
        args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
