"""Training the TRM ranker from the developer's own outcomes, in the foreground or a daemon thread
(the server trains in a child process instead: trm.train_worker runs a Trainer there).

An outcome log is a list of shown sets, one per ranking the developer saw:

    {"context": {...}, "candidates": [{...}, ...],   the dicts trm.features reads
     "accepted_index": int | None,                   the candidate accepted, None if none was
     "undone": bool (optional),                      it was accepted and then undone
     "session": str, "t": epoch seconds}             a session is one sequence of steps

Four objectives, all unsupervised in the sense that they need nothing beyond the log:
- contrastive (weight 1.0): the accepted candidate against the shown-not-accepted ones of its set:
  the TRM's listwise stable-max cross-entropy (an InfoNCE over the shown set);
- next action (0.5): the candidate accepted at step s, predicted from the previous step's context
  and the action taken there (not from step s's own context);
- outcome (0.3): each candidate's accept probability, BCE per candidate on an affine map of its
  score; this is the only objective that learns from sets where nothing was accepted;
- masked action (0.2): step s's context is masked out and its accepted candidate is predicted
  from the actions either side of it in the session.
Every objective is deep-supervised like TRM.forward (each supervision step scored, carry
detached), in one forward pass over the rows of all four. The small heads they need (the action
projections, the mask context, the outcome calibration) live in `Objectives`, not in the model:
a checkpoint is a plain TRM.

This module imports torch at import time: import it off the initialize path (the slow clock).
ModelHolder lives in trm.trm_ranker (no torch), prepare and Objectives in trm.objectives; all are
re-exported here.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trm.checkpoint import save
from trm.features import CANDIDATE_DIM, CONTEXT_DIM, FEATURES_VERSION
from trm.layers import EMA
from trm.model import TRM, TRMConfig
from trm.objectives import OBJECTIVES, Objectives, Prepared, prepare
from trm.runner import BackgroundRun, Progress
from trm.tokens import EDITS, TOKEN_DIM
from trm.train_config import TrainConfig
from trm.trm_ranker import ModelHolder, checkpoint_path, checkpoints

__all__ = [
    "BackgroundTrainer",
    "ModelHolder",
    "Objectives",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "prepare",
    "save_run",
]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: TRM  # EMA weights, eval mode: ready to rank and to save
    outcomes: int  # shown sets in the log
    steps: int  # optimiser steps run
    seconds: float  # featurising + optimisation
    prepare_seconds: float  # featurising alone
    stopped_by_budget: bool
    losses: dict[str, float] = field(default_factory=dict)  # per objective, last 20 steps
    loss: float = math.nan  # weighted total, last 20 steps

    def summary(self) -> dict[str, Any]:
        return {
            "outcomes": self.outcomes,
            "steps": self.steps,
            "seconds": round(self.seconds, 2),
            "prepare_seconds": round(self.prepare_seconds, 2),
            "stopped_by_budget": self.stopped_by_budget,
            "loss": round(self.loss, 4),
            "losses": {k: round(v, 4) for k, v in self.losses.items()},
            "features_version": FEATURES_VERSION,
        }


def default_config(tokens: bool = True) -> TRMConfig:
    """The model a Trainer builds by default: trm.model's defaults at the feature sizes, with
    two supervision steps in training (inference runs at most N_sup_infer = 2 anyway; four
    doubled the training time for no ranking gain on the edit replay); with `tokens` (the
    default: it ranked as well or better under every simulated developer, docs/trm.md) also
    the token views of trm.tokens."""
    return TRMConfig(
        context_dim=CONTEXT_DIM, candidate_dim=CANDIDATE_DIM, N_sup=2,
        token_dim=TOKEN_DIM if tokens else 0, edits=EDITS,
    )  # fmt: skip


def _load_init(path: str) -> TRM | None:
    """The checkpoint to fine-tune, or None (logged) when it does not load or no longer fits
    the features: then a fresh model is trained, as before there was one."""
    from trm.checkpoint import CheckpointError, load

    try:
        model = load(path)
    except (CheckpointError, OSError) as e:
        log.warning("not fine-tuning %s, training a fresh model: %s", path, e)
        return None
    cfg = model.config
    if (cfg.context_dim, cfg.candidate_dim) != (CONTEXT_DIM, CANDIDATE_DIM) or (
        cfg.token_dim and (cfg.token_dim, cfg.edits) != (TOKEN_DIM, EDITS)
    ):
        log.warning("not fine-tuning %s: made for other features; training a fresh model", path)
        return None
    return model


# -- the trainer -----------------------------------------------------------------------------


class Trainer:
    """Trains a fresh TRM on an outcome log within a time budget; seeded, CPU only."""

    def __init__(
        self,
        config: TRMConfig | None = None,
        train: TrainConfig | None = None,
        progress: Progress | None = None,
        init: TRM | None = None,
    ) -> None:
        self.train_config = train or TrainConfig()
        if init is None and self.train_config.init:
            init = _load_init(self.train_config.init)
        self.init = init  # a model to fine-tune (its config is used); None: a fresh one
        self.config = init.config if init is not None else config or default_config()
        if (self.config.context_dim, self.config.candidate_dim) != (CONTEXT_DIM, CANDIDATE_DIM):
            raise ValueError(
                f"TRMConfig dims {self.config.context_dim}/{self.config.candidate_dim} must be "
                f"the feature sizes {CONTEXT_DIM}/{CANDIDATE_DIM}"
            )
        self.progress = progress
        self.stop_event = threading.Event()  # set to stop early (the model so far is kept)
        self._prepared_at = 0.0

    def ready(self, outcomes: Sequence[dict[str, Any]]) -> bool:
        return len(outcomes) >= self.train_config.min_outcomes

    def train(self, outcomes: Sequence[dict[str, Any]]) -> TrainResult | None:
        """A trained model, or None when the log has fewer than min_outcomes shown sets."""
        if not self.ready(outcomes):
            return None
        tc = self.train_config
        t0 = time.perf_counter()
        deadline = t0 + tc.time_budget_s
        threads = torch.get_num_threads()
        if tc.threads:
            torch.set_num_threads(tc.threads)
        try:
            data = prepare(
                outcomes,
                min(tc.max_candidates, self.config.max_candidates),
                tokens=self.config.token_dim > 0,
            )
            result = self._fit(data, len(outcomes), t0, deadline)
            result.prepare_seconds = self._prepared_at - t0
            return result
        finally:
            if tc.threads:
                torch.set_num_threads(threads)

    def _fit(self, data: Prepared, n_outcomes: int, t0: float, deadline: float) -> TrainResult:
        tc = self.train_config
        self._prepared_at = time.perf_counter()
        torch.manual_seed(tc.seed)
        rng = np.random.default_rng(tc.seed)
        model = TRM(self.config)
        if self.init is not None:  # fine-tuning: start from the given model's weights
            model.load_state_dict(self.init.state_dict())
        objectives = Objectives(model, tc)
        optimizer = _optimizer(objectives, tc)
        ema = EMA(model, decay=self.config.ema_decay)
        N, B = len(data), min(tc.batch_size, max(1, len(data)))
        # fine-tuning takes fewer steps: a store's first hundred sets, passed over hundreds of
        # times, would wash out what the corpus taught
        lo, hi = (tc.fine_tune_min_steps, tc.fine_tune_max_steps) if self.init is not None else (
            tc.min_steps, tc.max_steps)  # fmt: skip
        total = max(1, min(hi, max(lo, math.ceil(tc.epochs * N / B))))
        peak_lr = tc.fine_tune_lr if self.init is not None else tc.lr
        aux = max(1, round(tc.aux_rows * B))
        sizes = data.mask.sum(1)
        batches: list[np.ndarray] = []
        step, budget_hit = 0, False
        recent: list[tuple[float, dict[str, float]]] = []
        model.train()
        while step < total:
            # the budget is checked after the first step: a budget spent in preparing (a busy
            # machine) still yields a model that took one step, never an untrained one
            if (step and time.perf_counter() >= deadline) or self.stop_event.is_set():
                budget_hit = True
                break
            if not batches:
                batches = _batches(sizes, B, rng)
            idx = batches.pop()
            for g in optimizer.param_groups:
                g["lr"] = peak_lr * _schedule(step, total, tc.warmup_steps)
            inputs, weights = objectives.rows(data, idx, aux, rng)
            loss, parts = objectives(inputs, weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tc.grad_clip > 0:
                nn.utils.clip_grad_norm_(objectives.parameters(), tc.grad_clip)
            optimizer.step()
            ema.update(model)
            step += 1
            value = float(loss.detach())
            recent = [*recent[-19:], (value, parts)]
            if self.progress is not None:
                self.progress(step, total, value)
        ema.copy_to(model)
        model.eval()
        losses: dict[str, float] = {}
        for name in (*OBJECTIVES, "halt"):
            vals = [p[name] for _, p in recent if name in p]
            if vals:
                losses[name] = float(np.mean(vals))
        return TrainResult(
            model=model,
            outcomes=n_outcomes,
            steps=step,
            seconds=time.perf_counter() - t0,
            prepare_seconds=0.0,
            stopped_by_budget=budget_hit,
            losses=losses,
            loss=float(np.mean([v for v, _ in recent])) if recent else math.nan,
        )


def _batches(sizes: np.ndarray, B: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches of sets of similar size (little padding), in random order."""
    jitter = rng.random(len(sizes))
    order = np.lexsort((jitter, sizes))  # by size, randomly within a size
    batches = [np.sort(order[i : i + B]) for i in range(0, len(order), B)]
    if len(batches) > 1 and len(batches[-1]) < B // 2:
        # pop first: `batches[-2] = ...(batches.pop())` would index the list after the pop,
        # overwriting another batch (or failing with two batches)
        last = batches.pop()
        batches[-1] = np.sort(np.concatenate([batches[-1], last]))
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


def _optimizer(objectives: Objectives, tc: TrainConfig) -> torch.optim.AdamW:
    params = [p for p in objectives.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": tc.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=tc.lr, betas=(0.9, 0.95))


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


# -- background training ---------------------------------------------------------------------


class BackgroundTrainer(BackgroundRun[TrainResult]):
    """Trains in a daemon thread, writes `trm-v{N}.pt` into `directory` (the last `keep` kept)
    and swaps the new model into `holder`. start() never blocks on training."""

    thread_name = "kenetic-trm-train"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        holder: ModelHolder,
        *,
        config: TRMConfig | None = None,
        train: TrainConfig | None = None,
        keep: int = 3,
        progress: Progress | None = None,
        on_done: Callable[[TrainResult | None, BaseException | None], None] | None = None,
    ) -> None:
        super().__init__(
            directory, holder, train=train, keep=keep, progress=progress, on_done=on_done
        )
        self.config = config
        self._trainer: Trainer | None = None

    def _args(self, outcomes: list[dict[str, Any]]) -> tuple[Any, ...]:
        self._trainer = Trainer(self.config, self.train_config, self.progress)
        return (outcomes, self._trainer)

    def stop(self) -> None:
        """Ask a running training to stop at its next step (it still saves what it has)."""
        if self._trainer is not None:
            self._trainer.stop_event.set()

    def _run(self, outcomes: list[dict[str, Any]], trainer: Trainer) -> None:
        result: TrainResult | None = None
        error: BaseException | None = None
        try:
            result = trainer.train(outcomes)
            if result is not None:
                version, path = save_run(result, self.directory, self.keep)
                self.last_path = path
                self.holder.swap(result.model, version)
                log.info("TRM v%d trained: %s", version, result.summary())
        except Exception as e:  # a failed training leaves the old model in place
            error = e
            log.exception("TRM training failed; the current ranker stays")
        self._finish(result, error)


def save_run(result: TrainResult, directory: Path, keep: int) -> tuple[int, Path]:
    """Save a run as the next `trm-v{N}.pt` (+ its .json summary) and keep the newest `keep`."""
    directory.mkdir(parents=True, exist_ok=True)
    version = max((v for v, _ in checkpoints(directory)), default=0) + 1
    path = checkpoint_path(directory, version)
    save(result.model, path)
    _write_meta(path, result)
    for _, old in checkpoints(directory)[:-keep]:
        for p in (old, old.with_suffix(".json")):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    return version, path


def _write_meta(path: Path, result: TrainResult) -> None:
    import json

    meta = {**result.summary(), "config": asdict(result.model.config), "saved": time.time()}
    tmp = path.with_name(path.stem + ".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, path.with_suffix(".json"))
