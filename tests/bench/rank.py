"""Benchmark of the TRM ranker against DESIGN §8: rank 32 candidates in <= 5 ms p95 on one core.

Prints one JSON object. Parts:
- latency (now): p50/p95/p99 of TRM.score on 32 candidates with one thread, for an untrained
  model (the halting head never fires: every call runs N_sup_infer steps, the worst case) and a
  model briefly trained on a toy task (halting learned), plus the eager path and the paper's
  configuration (one supervision step, a few calls) for contrast.
- quality (--quality, next round): train on outcome logs from 4 repositories, evaluate on 3.

    .venv/bin/python tests/bench/rank.py [--calls 2000] [--no-train] [--quality]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, replace
from typing import Any

import torch

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


def quality(args: argparse.Namespace) -> dict[str, Any]:
    # Next round: train on outcome logs from 4 repositories, evaluate on 3 held-out ones, and
    # report top-1 / MRR against the rule ranker. Needs trm features and the outcome log format.
    raise SystemExit("rank.py --quality is not implemented yet")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=32)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--paper-calls", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=100, help="toy training; 0 skips")
    parser.add_argument("--no-train", dest="train_steps", action="store_const", const=0)
    parser.add_argument("--quality", action="store_true", help="the quality part (next round)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # the budget is for one core
    report: dict[str, Any] = {
        "bench": "trm-rank",
        "budget_p95_ms": BUDGET_P95_MS,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "config": asdict(TRMConfig()),
        "latency": latency(args),
        "quality": quality(args) if args.quality else None,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
