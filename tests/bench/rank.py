"""Benchmark of the TRM ranker: latency against DESIGN §8 (32 candidates in <= 5 ms p95 on one
core) and, with --quality, ranking quality against the rule ranker on replayed real edits.

Prints one JSON object. Parts:
- latency: p50/p95/p99 of TRM.score on 32 candidates with one thread, for an untrained model (the
  halting head never fires: every call runs N_sup_infer steps, the worst case) and a model
  briefly trained on a toy task (halting learned), plus the eager path and the paper's
  configuration (one supervision step, a few calls) for contrast.
- quality (--quality): outcome logs replayed from /work/shared/data/edit_replay_dev.jsonl (read
  in place, never copied; the replayed logs are cached under $KENETIC_BENCH_CACHE, default
  /tmp/kenetic-rank-cache). Each case (one commit, one change made at >= 3 sites) is replayed
  edit by edit through the real engine (memory.edits.structural_edit, memory.skills.SkillMiner
  with min_examples=2, memory.matching.SkillIndex.matches_in). After each edit from the 2nd on,
  the developer is shown every site of every skill in the case's files: the skills mined from
  the edits so far and, as distractors, the skills mined from the other cases of the same
  repository (last used 1+ days before). The ground-truth next edit is the accepted suggestion
  when a suggestion's rewrite yields exactly the document with that edit applied; the rest are
  rejected (outcome counts per skill carry over within a repository). Each case is replayed in
  its natural (file) order and in up to --rotations-1 rotations of it (the developer starts at
  another site and works down, wrapping round): one pass gives only ~590 shown sets.
  The TRM (trm.train.Trainer, default settings, --seeds trainings averaged) is trained on rich,
  numpy, flask and pip and evaluated on requests, pydantic and scrapy against trm.ranker's
  RuleRanker; both are ranked with the server's tie-break (same file, then nearest site). MRR and
  top-1 of the accepted suggestion over sets that have one; the learning curve (MRR vs training
  outcomes) is drawn into docs/trm_learning_curve.png (matplotlib, Agg).
  --time-5000 times the default training schedule on 5,000 outcomes.

    .venv/bin/python tests/bench/rank.py [--calls 2000] [--no-train] [--no-latency]
        [--quality [--rotations 4] [--seeds 3] [--no-curve] [--time-5000] [--no-cache]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from memory.edits import structural_edit
from memory.matching import SkillIndex, apply_match
from memory.skills import Skill, SkillMiner
from memory.syntax import byte_offset, enclosing_named_node, parse
from trm.model import EMA, TRM, TRMConfig, train_step

BUDGET_P95_MS = 5.0
# The paper's Sudoku configuration, for contrast only.
PAPER = TRMConfig(width=512, heads=8, expansion=4.0, n=6, T=3, N_sup=16, N_sup_infer=1)


def random_inputs(
    config: TRMConfig, k: int, count: int, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(1, config.context_dim, generator=g),
            torch.randn(1, k, config.candidate_dim, generator=g),
        )
        for _ in range(count)
    ]


def toy_batch(config: TRMConfig, batch: int, k: int, seed: int) -> dict[str, torch.Tensor]:
    """The positive candidate is the one whose features align with the context (noisily)."""
    assert config.context_dim == config.candidate_dim
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(batch, config.context_dim, generator=g)
    candidates = torch.randn(batch, k, config.candidate_dim, generator=g)
    targets = torch.randint(0, k, (batch,), generator=g)
    noise = torch.randn(batch, config.candidate_dim, generator=g)
    candidates[torch.arange(batch), targets] = context + 0.5 * noise
    return {"context": context, "candidates": candidates, "targets": targets}


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    s = sorted(samples_ms)

    def at(q: float) -> float:
        return round(s[min(len(s) - 1, int(q * len(s)))], 3)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


def time_scoring(model: TRM, k: int, calls: int, warmup: int) -> dict[str, Any]:
    """Latency of model.score over `calls` calls after `warmup`, cycling 64 distinct inputs."""
    pool = random_inputs(model.config, k, 64, seed=1)
    model.eval()
    for i in range(warmup):
        model.score(*pool[i % len(pool)])
    samples, steps = [], 0
    for i in range(calls):
        context, candidates = pool[i % len(pool)]
        t0 = time.perf_counter_ns()
        model.score(context, candidates)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        steps += model.last_steps
    return {"calls": calls, **percentiles(samples), "mean_steps": round(steps / calls, 3)}


def toy_trained(config: TRMConfig, k: int, steps: int) -> tuple[TRM, dict[str, Any]]:
    """A model trained briefly on the toy task, so that its halting head has learned to fire."""
    torch.manual_seed(0)
    model = TRM(config)
    optimizer = model.configure_optimizer(lr=3e-3, weight_decay=0.0)
    ema = EMA(model, decay=config.ema_decay)
    t0 = time.perf_counter()
    for i in range(steps):
        train_step(model, optimizer, toy_batch(config, 32, k, seed=i), ema=ema)
    train_s = time.perf_counter() - t0
    ema.copy_to(model)
    held_out = toy_batch(config, 256, k, seed=10_000)
    scores = model.score(held_out["context"], held_out["candidates"])
    accuracy = float((scores.argmax(-1) == held_out["targets"]).float().mean())
    return model, {"train_steps": steps, "train_s": round(train_s, 1), "toy_top1": accuracy}


def paper_single_pass(k: int, calls: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model = TRM(replace(PAPER, max_candidates=max(k, PAPER.max_candidates)))
    model.use_trace = False
    timed = time_scoring(model, k, calls=calls, warmup=1)
    return {
        "width": PAPER.width,
        "heads": PAPER.heads,
        "T": PAPER.T,
        "n": PAPER.n,
        "expansion": PAPER.expansion,
        "calls": calls,
        "single_pass_p50_ms": timed["p50_ms"],
    }


def latency(args: argparse.Namespace) -> dict[str, Any]:
    config = TRMConfig()
    k = args.candidates
    torch.manual_seed(0)
    untrained = TRM(config)
    result: dict[str, Any] = {
        "candidates": k,
        "threads": torch.get_num_threads(),
        "width": config.width,
        "heads": config.heads,
        "mixer": config.mixer,
        "depth": config.depth,
        "T": config.T,
        "n": config.n,
        "N_sup_train": config.N_sup,
        "N_sup_infer": config.N_sup_infer,
        "halting": config.halting,
        "parameters": sum(p.numel() for p in untrained.parameters()),
        "untrained": time_scoring(untrained, k, args.calls, args.warmup),
    }
    untrained.use_trace = False
    result["untrained_eager"] = time_scoring(untrained, k, args.calls // 4, args.warmup)
    if args.train_steps > 0:
        model, training = toy_trained(config, k, args.train_steps)
        result["toy_trained"] = {**training, **time_scoring(model, k, args.calls, args.warmup)}
    worst = result["untrained"]["p95_ms"]
    result["meets_budget"] = worst <= BUDGET_P95_MS
    result["paper_config"] = paper_single_pass(k, args.paper_calls)
    return result


# -- quality: replayed outcomes, TRM vs rules ------------------------------------------------

DATA = Path("/work/shared/data/edit_replay_dev.jsonl")
CACHE = Path(os.environ.get("KENETIC_BENCH_CACHE", "/tmp/kenetic-rank-cache"))
TRAIN_REPOS = ("Textualize/rich", "numpy/numpy", "pallets/flask", "pypa/pip")
EVAL_REPOS = ("psf/requests", "pydantic/pydantic", "scrapy/scrapy")
CURVE_SIZES = (50, 100, 200, 500, 1000, 2000)
STEP_S = 20.0  # simulated seconds between two edits of one case
REPLAY_VERSION = 1  # bump when the replay changes: the cache key includes it


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n"))


def _apply_lines(text: str, start: int, end: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:start]) + new + "".join(lines[end:])


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text[:limit]


def _orders(n: int, rotations: int) -> list[list[int]]:
    """The natural (file) order, then rotations of it: the developer starts at another site
    and works down, wrapping around; every rotation is a plausible session of its own."""
    out = [list(range(n))]
    for r in range(1, min(n, rotations)):
        start = (r * n) // min(n, rotations)
        out.append([(start + i) % n for i in range(n)])
    return out


def _cursor_nodes(language: str, text: str, line: int) -> list[str]:
    tree = parse(language, text)
    if tree is None:
        return []
    lines = text.split("\n")
    col = len(lines[line]) - len(lines[line].lstrip()) if line < len(lines) else 0
    pos = byte_offset(text, line, col)
    node = enclosing_named_node(tree, pos, pos + 1)
    out: list[str] = []
    while node is not None and len(out) < 8:
        out.append(node.type)
        node = node.parent
    return out


def _case_library(case: dict[str, Any]) -> list[Skill]:
    """Skills mined from all of one case's edits: the distractors other cases see."""
    miner = SkillMiner(min_examples=2)
    docs = dict(case["files"])
    shift: dict[str, int] = {}
    for n, e in enumerate(case["edits"]):
        path = e["path"]
        d = shift.get(path, 0)
        before = docs[path]
        after = _apply_lines(before, e["start"][0] + d, e["end"][0] + d, e["new"])
        se = structural_edit(case["language"], before, after)
        if se is not None:
            miner.add(f"{case['id']}#{n}", se)
        docs[path] = after
        shift[path] = d + e["new"].count("\n") - e["old"].count("\n")
    return miner.skills()


class _History:
    """Outcome counts per skill, as the server's skill store keeps them, over one replay pass."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, float]] = {}

    def of(self, skill_id: str) -> dict[str, float]:
        return self.counts.setdefault(
            skill_id, {"accepted": 0, "rejected": 0, "undone": 0, "shown": 0, "lastUsed": 0.0}
        )

    def record(self, ids: list[str], accepted: str | None, now: float) -> None:
        for sid in set(ids):
            c = self.of(sid)
            c["shown"] += 1
            if accepted is not None and sid != accepted:
                c["rejected"] += 1
        if accepted is not None:
            c = self.of(accepted)
            c["accepted"] += 1
            c["lastUsed"] = now


def replay_case(
    case: dict[str, Any],
    order: list[int],
    library: list[tuple[Skill, float]],
    history: _History,
    t0: float,
    session: str,
) -> list[dict[str, Any]]:
    """Replay one case's edits in `order`; one shown set per step from the 2nd edit on."""
    lang = case["language"]
    edits = case["edits"]
    docs = dict(case["files"])
    applied: set[int] = set()
    deltas: dict[int, int] = {}
    miner = SkillMiner(min_examples=2)
    recent: list[str] = []
    last_used: dict[str, float] = {}
    out: list[dict[str, Any]] = []

    def current(i: int) -> tuple[int, int]:
        e = edits[i]
        d = sum(
            deltas[j]
            for j in applied
            if edits[j]["path"] == e["path"] and edits[j]["start"][0] < e["start"][0]
        )
        return e["start"][0] + d, e["end"][0] + d

    for step, i in enumerate(order):
        e = edits[i]
        path = e["path"]
        start, end = current(i)
        before = docs[path]
        after = _apply_lines(before, start, end, e["new"])
        now = t0 + STEP_S * step
        se = structural_edit(lang, before, after)
        just = {s.id for s in miner.add(f"{session}#{i}", se)} if se is not None else set()
        for sid in just:
            last_used[sid] = now
        docs[path] = after
        applied.add(i)
        deltas[i] = e["new"].count("\n") - e["old"].count("\n")
        recent = [*recent[-2:], _short(e["old"]) + " => " + _short(e["new"])]
        if step == 0 or step + 1 >= len(order):
            continue
        # what the developer is shown now: every site of every known skill in the open files
        own = miner.skills()
        skills: dict[str, tuple[Skill, float]] = {s.id: (s, last_used.get(s.id, now)) for s in own}
        for s, used in library:
            skills.setdefault(s.id, (s, used))
        index = SkillIndex([s for s, _ in skills.values()])
        cursor = start
        nxt = order[step + 1]
        n_start, n_end = current(nxt)
        n_path = edits[nxt]["path"]
        want = _norm(_apply_lines(docs[n_path], n_start, n_end, edits[nxt]["new"]))
        candidates: list[dict[str, Any]] = []
        accepted: int | None = None
        for p, text in docs.items():
            tree = parse(lang, text)
            for sid, (s, used) in skills.items():
                for m in index.matches_in(sid, lang, text, tree):
                    same = p == path
                    if (
                        accepted is None
                        and p == n_path
                        and n_start - 2 <= m.start_line <= n_end + 2
                        and _norm(apply_match(text, m)) == want
                    ):
                        accepted = len(candidates)
                    h = history.of(sid)
                    candidates.append(
                        {
                            "skillId": sid,
                            "name": s.name,
                            "templateText": s.pattern_text("before") + " => "
                            + s.pattern_text("after"),
                            "root": s.root,
                            "matchText": _short(m.old_text) + " => " + _short(m.new_text),
                            "support": s.support,
                            "specificity": s.specificity,
                            "lastUsed": max(used, h["lastUsed"]),
                            "accepted": h["accepted"],
                            "rejected": h["rejected"],
                            "undone": h["undone"],
                            "shown": h["shown"],
                            "distance": abs(m.start_line - cursor) if same else None,
                            "lineDelta": m.start_line - cursor if same else None,
                            "sameFile": same,
                            "justApplied": sid in just,
                        }
                    )  # fmt: skip
        if not candidates:
            continue
        context = {
            "kind": "nextEdits",
            "now": now,
            "language": lang,
            "cursorNodeTypes": _cursor_nodes(lang, after, start),
            "recentEditShapes": list(recent),
            "recentCommands": [],
        }
        history.record(
            [c["skillId"] for c in candidates],
            candidates[accepted]["skillId"] if accepted is not None else None,
            now,
        )
        out.append(
            {
                "context": context,
                "candidates": candidates,
                "accepted_index": accepted,
                "session": session,
                "t": now,
                "repo": case["repo"],
                "case": case["id"],
            }
        )
    return out


def replay_repo(cases: list[dict[str, Any]], rotations: int) -> list[dict[str, Any]]:
    """Every case of one repository, each in its natural order and up to rotations-1 more."""
    libraries = [_case_library(c) for c in cases]
    out: list[dict[str, Any]] = []
    n_orders = max(len(_orders(len(c["edits"]), rotations)) for c in cases)
    for r in range(n_orders):
        history = _History()  # each pass is a separate developer history
        for ci, case in enumerate(cases):
            orders = _orders(len(case["edits"]), rotations)
            if r >= len(orders):
                continue
            t0 = 1.0e9 + ci * DAY_S
            # other cases' skills, last used the day (or days) before this session
            library = [
                (s, t0 - DAY_S * (1 + abs(cj - ci)))
                for cj, skills in enumerate(libraries)
                if cj != ci
                for s in skills
            ]
            out += replay_case(case, orders[r], library, history, t0, f"{case['id']}/r{r}")
    return out


DAY_S = 24 * 3600.0


def outcome_logs(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Outcome logs per repository, replayed once and cached outside the repository."""
    key = hashlib.sha1(
        f"{REPLAY_VERSION}:{args.rotations}:{args.data}:{args.data.stat().st_mtime}".encode()
    ).hexdigest()[:12]
    cache = CACHE / f"outcomes-{key}.json"
    if cache.exists() and not args.no_cache:
        logs: dict[str, list[dict[str, Any]]] = json.loads(cache.read_text())
        return logs
    cases = [json.loads(line) for line in args.data.open()]
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for c in cases:
        by_repo.setdefault(c["repo"], []).append(c)
    logs = {}
    for repo, group in sorted(by_repo.items()):
        t = time.perf_counter()
        logs[repo] = replay_repo(group, args.rotations)
        print(f"replayed {repo}: {len(logs[repo])} shown sets, "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)  # fmt: skip
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(logs))
    return logs


def _tiebreak(c: dict[str, Any]) -> tuple[int, float]:
    # The server's tie-break (server.suggest.service.rank): the site nearest the cursor.
    d = c.get("distance")
    return (0 if c.get("sameFile") else 1, float(d) if d is not None else math.inf)


def rank_of_accepted(scores: list[float], outcome: dict[str, Any]) -> int:
    cands = outcome["candidates"]
    order = sorted(range(len(cands)), key=lambda k: (-scores[k], *_tiebreak(cands[k]), k))
    return order.index(outcome["accepted_index"]) + 1


def evaluate(ranker: Any, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    ranks = [
        rank_of_accepted(ranker.score(o["context"], o["candidates"]), o)
        for o in outcomes
        if o["accepted_index"] is not None
    ]
    if not ranks:
        return {"sets": 0, "mrr": None, "top1": None}
    return {
        "sets": len(ranks),
        "mrr": round(statistics.fmean(1.0 / r for r in ranks), 4),
        "top1": round(statistics.fmean(float(r == 1) for r in ranks), 4),
    }


def _train(outcomes: list[dict[str, Any]], seed: int, budget_s: float) -> Any:
    from trm.train import TrainConfig, Trainer

    # the defaults the server trains with; min_outcomes lowered for the curve's first point
    tc = TrainConfig(seed=seed, time_budget_s=budget_s, min_outcomes=1)
    return Trainer(train=tc).train(outcomes)


def _plot(curve: list[dict[str, Any]], rules_mrr: float, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no learning-curve image", file=sys.stderr)
        return False
    xs = [p["outcomes"] for p in curve]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    ax.plot(xs, [p["mrr"] for p in curve], "o-", label="TRM (mean of seeds)")
    for p in curve:
        ax.plot([p["outcomes"]] * len(p["mrr_per_seed"]), p["mrr_per_seed"], ".", color="C0",
                alpha=0.35)  # fmt: skip
    ax.axhline(rules_mrr, color="gray", linestyle="--", label="rule ranker")
    ax.set_xscale("log")
    ax.set_xlabel("training outcomes (shown sets, 4 repositories)")
    ax.set_ylabel("MRR on 3 held-out repositories")
    ax.set_title("TRM ranker learning curve (edit replay)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def quality(args: argparse.Namespace) -> dict[str, Any]:
    """Train on outcome logs replayed from 4 repositories, evaluate on 3 held-out ones."""
    from trm.ranker import RuleRanker
    from trm.trm_ranker import TRMRanker

    logs = outcome_logs(args)
    train = [o for r in TRAIN_REPOS for o in logs.get(r, [])]
    held = [o for r in EVAL_REPOS for o in logs.get(r, [])]
    natural = [o for o in held if o["session"].endswith("/r0")]
    rules = RuleRanker()

    def count(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        sizes = [len(o["candidates"]) for o in outcomes]
        pos = sum(o["accepted_index"] is not None for o in outcomes)
        return {
            "shown_sets": len(outcomes),
            "with_accepted": pos,
            "candidates_mean": round(statistics.fmean(sizes), 1) if sizes else 0,
            "candidates_max": max(sizes, default=0),
        }

    seeds = [args.seed + i for i in range(max(1, args.seeds))]

    def trained(outcomes: list[dict[str, Any]]) -> list[Any]:
        return [_train(outcomes, seed, args.budget) for seed in seeds]

    def scored(models: list[Any], outcomes: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean over the seeds' models, and each seed's figure."""
        runs = []
        for res in models:
            ranker = TRMRanker(res.model, fallback=rules)
            runs.append(evaluate(ranker, outcomes))
            assert ranker.last_used == "trm", "the TRM fell back to rules during evaluation"
        return {
            "sets": runs[0]["sets"],
            "mrr": round(statistics.fmean(r["mrr"] for r in runs), 4),
            "top1": round(statistics.fmean(r["top1"] for r in runs), 4),
            "mrr_per_seed": [r["mrr"] for r in runs],
        }

    t = time.perf_counter()
    full = trained(train)
    train_s = (time.perf_counter() - t) / len(seeds)
    result: dict[str, Any] = {
        "data": str(args.data),
        "train_repos": list(TRAIN_REPOS),
        "eval_repos": list(EVAL_REPOS),
        "rotations": args.rotations,
        "seeds": seeds,
        "train": count(train),
        "eval": count(held),
        "eval_natural_order": count(natural),
        "training": full[0].summary() | {"wall_s_mean": round(train_s, 1)},
        "rules": evaluate(rules, held),
        "trm": scored(full, held),
        "rules_natural_order": evaluate(rules, natural),
        "trm_natural_order": scored(full, natural),
        "per_repo": {
            r: {
                "rules": evaluate(rules, [o for o in held if o["repo"] == r]),
                "trm": scored(full, [o for o in held if o["repo"] == r]),
            }
            for r in EVAL_REPOS
        },
    }
    rm, tm = result["rules"]["mrr"], result["trm"]["mrr"]
    result["relative_mrr_gain"] = round(tm / rm - 1.0, 4) if rm and tm else None
    rn, tn = result["rules_natural_order"]["mrr"], result["trm_natural_order"]["mrr"]
    result["relative_mrr_gain_natural_order"] = round(tn / rn - 1.0, 4) if rn and tn else None
    result["meets_goal_15pct"] = bool(rm and tm and tm >= 1.15 * rm)
    if not args.no_curve:
        rng = random.Random(args.seed)
        shuffled = rng.sample(train, len(train))
        curve = []
        for n in [s for s in CURVE_SIZES if s < len(train)] + [len(train)]:
            models = full if n == len(train) else trained(shuffled[:n])
            point = scored(models, held)
            train_s = round(statistics.fmean(m.seconds for m in models), 1)
            curve.append({"outcomes": n, "mrr": point["mrr"], "top1": point["top1"],
                          "mrr_per_seed": point["mrr_per_seed"], "steps": models[0].steps,
                          "train_s": train_s})  # fmt: skip
            print(f"curve {n}: {point}", file=sys.stderr)
        result["learning_curve"] = curve
        png = Path(__file__).resolve().parents[2] / "docs" / "trm_learning_curve.png"
        if _plot(curve, result["rules"]["mrr"], png):
            result["learning_curve_png"] = str(png.relative_to(png.parents[1]))
    if args.time_5000:
        result["train_5000"] = time_5000(train, args)
    return result


def time_5000(train: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Wall time to train on 5,000 outcomes (the replayed log, repeated if shorter), 1 thread."""
    from trm.train import TrainConfig, Trainer

    log = (train * (5000 // max(1, len(train)) + 1))[:5000]
    tc = TrainConfig(seed=args.seed, time_budget_s=600.0)  # the default schedule, unbudgeted
    t = time.perf_counter()
    res = Trainer(train=tc).train(log)
    assert res is not None
    return {"outcomes": 5000, "wall_s": round(time.perf_counter() - t, 1), **res.summary()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--paper-calls", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=100, help="toy training; 0 skips")
    parser.add_argument("--no-train", dest="train_steps", action="store_const", const=0)
    parser.add_argument("--quality", action="store_true", help="the quality part")
    parser.add_argument("--no-latency", dest="latency", action="store_false")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rotations", type=int, default=4, help="replay orders per case")
    parser.add_argument("--budget", type=float, default=60.0, help="training budget, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3, help="TRM trainings per point, averaged")
    parser.add_argument("--no-cache", action="store_true", help="replay again, ignore the cache")
    parser.add_argument("--no-curve", action="store_true", help="skip the learning curve")
    parser.add_argument("--time-5000", action="store_true", help="time training on 5,000 outcomes")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the budget is for one core
    report: dict[str, Any] = {
        "bench": "trm-rank",
        "budget_p95_ms": BUDGET_P95_MS,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "config": asdict(TRMConfig()),
        "latency": latency(args) if args.latency else None,
        "quality": quality(args) if args.quality else None,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
