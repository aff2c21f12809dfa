"""The training data and objectives of trm.train: an outcome log as padded arrays (prepare) and
the four objectives' loss over a batch of them (Objectives). See trm.train for the log format.

This module imports torch at import time, like trm.train.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trm.features import CANDIDATE_DIM, CONTEXT_DIM, featurize, preselect
from trm.layers import stablemax_cross_entropy
from trm.model import TRM
from trm.tokens import CANDIDATE_TOKEN_DIM, EDIT_DIM, EDITS, token_features
from trm.train_config import TrainConfig

__all__ = ["OBJECTIVES", "Objectives", "Prepared", "prepare"]

OBJECTIVES = ("contrastive", "next_action", "outcome", "masked_action")


# -- data ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """An outcome log as padded arrays. N sets, K = the largest set (<= max_candidates)."""

    context: np.ndarray  # (N, Dc)
    candidates: np.ndarray  # (N, K, Dk)
    mask: np.ndarray  # (N, K) bool
    target: np.ndarray  # (N,) int64, -1 when nothing was accepted (or it was undone)
    prev: np.ndarray  # (N,) index of the previous set with an accepted candidate, -1 if none
    next: np.ndarray  # (N,) the next such set in the session, -1 if none
    edits: np.ndarray | None = None  # (N, EDITS, EDIT_DIM) with token views (trm.tokens)
    views: np.ndarray | None = None  # (N, K, CANDIDATE_TOKEN_DIM)

    def __len__(self) -> int:
        return len(self.target)

    def action(self, rows: np.ndarray) -> np.ndarray:
        """Features of the accepted candidate of each row (rows must have one). (R, Dk)"""
        return self.candidates[rows, self.target[rows]]


def _accepted(outcome: dict[str, Any]) -> int:
    i = outcome.get("accepted_index")
    if i is None or outcome.get("undone") or isinstance(i, bool):
        return -1
    return int(i)


def _cap(features: np.ndarray, target: int, cap: int) -> tuple[np.ndarray, int, np.ndarray]:
    """Keep the accepted candidate and the best others by rule score, ties to the nearest site,
    when a set is too big (trm.features.preselect).

    The ranker pre-selects the same way (trm.trm_ranker), so training sees what inference does.
    """
    if len(features) <= cap:
        return features, target, np.arange(len(features))
    keep = preselect(features, cap, target)
    return features[keep], (int(np.flatnonzero(keep == target)[0]) if target >= 0 else -1), keep


def prepare(
    outcomes: Sequence[dict[str, Any]], max_candidates: int = 64, tokens: bool = False
) -> Prepared:
    """Featurise an outcome log; sets with no candidates or a bad accepted_index are dropped.
    With `tokens`, also the token views of trm.tokens (for a TRM with token_dim)."""
    rows: list[tuple[np.ndarray, np.ndarray, int, str, float]] = []
    seqs: list[tuple[np.ndarray, np.ndarray]] = []
    for o in outcomes:
        cands = o.get("candidates") or []
        accepted = _accepted(o)
        if not cands or accepted >= len(cands):
            continue
        context_ = o.get("context") or {}
        ctx, feats = featurize(context_, cands)
        feats, accepted, keep = _cap(feats, accepted, max_candidates)
        rows.append((ctx, feats, accepted, str(o.get("session") or ""), float(o.get("t") or 0.0)))
        if tokens:
            edits, views = token_features(context_, [cands[int(i)] for i in keep])
            seqs.append((edits, views))
    N = len(rows)
    K = max((len(r[1]) for r in rows), default=1)
    context = np.zeros((N, CONTEXT_DIM), dtype=np.float32)
    candidates = np.zeros((N, K, CANDIDATE_DIM), dtype=np.float32)
    mask = np.zeros((N, K), dtype=bool)
    target = np.full(N, -1, dtype=np.int64)
    for i, (ctx, feats, tgt, _, _) in enumerate(rows):
        context[i] = ctx
        candidates[i, : len(feats)] = feats
        mask[i, : len(feats)] = True
        target[i] = tgt
    edits_a = views_a = None
    if tokens:
        edits_a = np.zeros((N, EDITS, EDIT_DIM), dtype=np.float32)
        views_a = np.zeros((N, K, CANDIDATE_TOKEN_DIM), dtype=np.float32)
        for i, (e, v) in enumerate(seqs):
            edits_a[i], views_a[i, : len(v)] = e, v
    prev = np.full(N, -1, dtype=np.int64)
    nxt = np.full(N, -1, dtype=np.int64)
    sessions: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        if target[i] >= 0 and r[3]:
            sessions.setdefault(r[3], []).append(i)
    for members in sessions.values():
        members.sort(key=lambda i: (rows[i][4], i))
        for a, b in zip(members, members[1:], strict=False):
            nxt[a], prev[b] = b, a
    return Prepared(context, candidates, mask, target, prev, nxt, edits_a, views_a)


# -- objectives ------------------------------------------------------------------------------


class Objectives(nn.Module):
    """The TRM plus the small heads the auxiliary objectives need; the loss of a batch."""

    def __init__(self, model: TRM, config: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.weights = config.weights()
        Dc, Dk = model.config.context_dim, model.config.candidate_dim
        # An accepted candidate's features as a context: the previous / next action in a session.
        self.prev_action = nn.Linear(Dk, Dc, bias=False)
        self.next_action = nn.Linear(Dk, Dc, bias=False)
        self.mask_context = nn.Parameter(torch.zeros(Dc))  # stands in for a masked step
        # Accept probability = sigmoid(a * score + b): a calibration of the ranking score.
        self.outcome_scale = nn.Parameter(torch.ones(()))
        self.outcome_bias = nn.Parameter(torch.full((), -1.0))
        for lin in (self.prev_action, self.next_action):
            nn.init.normal_(lin.weight, std=0.5 / math.sqrt(Dk))

    def rows(
        self, data: Prepared, idx: np.ndarray, aux: int, rng: np.random.Generator
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The batch's rows for all four objectives: inputs and per-row objective weights.

        Every set of the batch is a contrastive and an outcome row; up to `aux` of those with a
        neighbour in their session are also a next-action row and a masked-action row.
        """
        w = self.weights
        t = data.target[idx]
        has = t >= 0
        nxt_rows = idx[has & (data.prev[idx] >= 0)] if w["next_action"] > 0 else idx[:0]
        msk_rows = (
            idx[has & ((data.prev[idx] >= 0) | (data.next[idx] >= 0))]
            if w["masked_action"] > 0
            else idx[:0]
        )
        if len(nxt_rows) > aux:
            nxt_rows = np.sort(rng.choice(nxt_rows, aux, replace=False))
        if len(msk_rows) > aux:
            msk_rows = np.sort(rng.choice(msk_rows, aux, replace=False))
        all_rows = np.concatenate([idx, nxt_rows, msk_rows])
        K = int(data.mask[all_rows].sum(1).max())
        cands = torch.from_numpy(data.candidates[all_rows, :K])
        mask = torch.from_numpy(data.mask[all_rows, :K])
        target = torch.from_numpy(data.target[all_rows])

        ctx_main = torch.from_numpy(data.context[idx])
        prev = data.prev[nxt_rows]
        ctx_next = torch.from_numpy(data.context[prev]) + self.prev_action(
            torch.from_numpy(data.action(prev))
        )
        p, n = data.prev[msk_rows], data.next[msk_rows]
        has_p = torch.from_numpy(p >= 0).float()[:, None]
        has_n = torch.from_numpy(n >= 0).float()[:, None]
        act_p = torch.from_numpy(data.action(np.maximum(p, 0))) * has_p
        act_n = torch.from_numpy(data.action(np.maximum(n, 0))) * has_n
        ctx_mask = self.mask_context + self.prev_action(act_p) + self.next_action(act_n)
        context = torch.cat([ctx_main, ctx_next, ctx_mask])

        B, R = len(idx), len(all_rows)
        kind = torch.zeros(R, dtype=torch.long)  # 0 main, 1 next action, 2 masked action
        kind[B : B + len(nxt_rows)] = 1
        kind[B + len(nxt_rows) :] = 2
        has_target = (target >= 0).float()
        ce_weight = (
            has_target
            * torch.tensor([w["contrastive"], w["next_action"], w["masked_action"]])[kind]
        )
        main = (kind == 0).float()
        labels = torch.zeros(R, K)
        rows_with = torch.nonzero(target >= 0).squeeze(1)
        labels[rows_with, target[rows_with]] = 1.0
        inputs = {"context": context, "candidates": cands, "mask": mask, "target": target}
        if data.edits is not None and data.views is not None:
            # a next-action row reads the previous set's edits; a masked step's are unknown
            edits = np.concatenate(
                [data.edits[idx], data.edits[prev], np.zeros_like(data.edits[msk_rows])]
            )
            inputs["edits"] = torch.from_numpy(edits)
            inputs["views"] = torch.from_numpy(data.views[all_rows, :K])
        weights = {"kind": kind, "ce": ce_weight, "main": main, "labels": labels}
        return inputs, weights

    def forward(
        self, inputs: dict[str, torch.Tensor], weights: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted total loss and each objective's loss (mean over its rows and steps)."""
        model, cfg = self.model, self.model.config
        mask, target, kind = inputs["mask"], inputs["target"], weights["kind"]
        safe_target = target.clamp(min=0)  # rows without a target get zero CE weight
        x, token_mask = model._embed(
            inputs["context"], inputs["candidates"], mask, inputs.get("edits"), inputs.get("views")
        )
        y = model.y_init.expand_as(x)
        z = model.z_init.expand_as(x)
        R = x.shape[0]
        halted = torch.zeros(R, dtype=torch.bool)
        sums = {k: x.new_zeros(()) for k in (*OBJECTIVES, "halt")}
        counts = {k: x.new_zeros(()) for k in sums}
        maskf = mask.float()
        for _ in range(cfg.N_sup):
            y, z, scores, q = model.step(x, y, z, token_mask, mask)
            running = (~halted).float()  # (R,)
            ce = stablemax_cross_entropy(scores, safe_target, mask)  # (R,)
            for k, name in enumerate(("contrastive", "next_action", "masked_action")):
                sel = running * (kind == k).float() * (target >= 0).float()
                sums[name] = sums[name] + (ce * sel).sum()
                counts[name] = counts[name] + sel.sum()
            logits = self.outcome_scale * scores.masked_fill(~mask, 0.0) + self.outcome_bias
            bce = F.binary_cross_entropy_with_logits(logits, weights["labels"], reduction="none")
            sel = (running * weights["main"])[:, None] * maskf  # (R, K)
            sums["outcome"] = sums["outcome"] + (bce * sel).sum()
            counts["outcome"] = counts["outcome"] + sel.sum()
            with torch.no_grad():
                correct = (scores.argmax(-1) == target).float()
            halt = F.binary_cross_entropy_with_logits(q, correct, reduction="none")
            sel = running * (target >= 0).float()
            sums["halt"] = sums["halt"] + (halt * sel).sum()
            counts["halt"] = counts["halt"] + sel.sum()
            if cfg.halting:
                halted = halted | (q.detach() > cfg.halt_threshold)
                if bool(halted.all()):
                    break
        losses = {k: sums[k] / counts[k].clamp(min=1.0) for k in sums}
        total = losses["halt"] + sum(self.weights[k] * losses[k] for k in OBJECTIVES)
        report = {k: float(v.detach()) for k, v in losses.items() if float(counts[k]) > 0}
        return total, report
