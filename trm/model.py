"""The tiny recursive model (TRM) that ranks suggestion candidates for one context.

After "Less is More: Recursive Reasoning with Tiny Networks" (arXiv 2510.04871): one shared
2-layer network refines an answer state y and a latent state z. A latent recursion updates z
n times from (x, y, z) and then y once from (y, z); a deep recursion runs that T times, the first
T-1 without gradients; deep supervision repeats the deep recursion up to N_sup times from a
detached carry, scoring every step, and a halting head q learns when the ranking is already
right so inference can stop early.

Here the tokens are [context, candidate_1 .. candidate_K]: fixed-size feature vectors projected
to the model width. y's candidate tokens are read out as one score per candidate, and the
listwise loss is stable-max cross-entropy over the valid candidates.

Shapes: B batch, K candidates, L = 1 + K tokens (1 + max_candidates for the MLP mixer), W width,
Dc / Dk context / candidate feature sizes.

torch is imported here, never by trm/__init__.py: the server's initialize path must stay light.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trm.layers import EMA, Net, rms_norm, stablemax_cross_entropy

MIXERS = ("attention", "mlp")
__all__ = ["EMA", "TRM", "TRMConfig", "stablemax_cross_entropy", "train_step"]


@dataclass
class TRMConfig:
    # Feature sizes are set by the feature extractor; these are placeholders for tests and bench.
    context_dim: int = 64  # size of the context feature vector (Dc)
    candidate_dim: int = 64  # size of each candidate feature vector (Dk)
    max_candidates: int = 64  # most candidates per ranking; fixes the MLP mixer's token count
    # The network. Width, depth and steps are sized for the 5 ms p95 budget on one CPU core
    # (DESIGN §8); the paper's 512 wide, T=3, n=6 takes ~440 ms per pass here.
    width: int = 64  # model width W; per-op overhead dominates below ~64, arithmetic above
    heads: int = 4  # attention heads (head size 16); unused by the MLP mixer
    mixer: str = "attention"  # "attention" (order-free over candidates) or "mlp" across tokens
    depth: int = 2  # layers in the one shared network (the paper's 2: more layers overfit)
    expansion: float = 2.0  # SwiGLU hidden size = expansion * 2/3 * width (paper: 4)
    # The recursion. Each supervision step costs T * (n + 1) network calls.
    n: int = 2  # latent recursion steps: z is refined n times per cycle (paper: 6)
    T: int = 2  # deep recursion cycles, the first T-1 without gradients (paper: 3)
    N_sup: int = 4  # most deep supervision steps in training (paper: 16)
    N_sup_infer: int = 2  # most steps in eval mode: the latency worst case when q never fires
    halting: bool = True  # stop early once the halting head fires (inference and training)
    halt_threshold: float = 0.0  # halt when the q logit exceeds this (0 = sigmoid(q) > 0.5)
    ema_decay: float = 0.999  # EMA of weights used for evaluation and saving (paper: 0.999)
    # Token sequences (trm.tokens): 0 = the hand features only (checkpoints before them). Else
    # the size of one token view: each candidate token also reads its rewrite's and its skill's
    # views, and `edits` more tokens carry the session's recent edits (oldest first).
    token_dim: int = 0
    edits: int = 4

    def __post_init__(self) -> None:
        if self.mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, not {self.mixer!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        if min(self.n, self.T, self.N_sup, self.N_sup_infer, self.depth, self.max_candidates) < 1:
            raise ValueError("n, T, N_sup, N_sup_infer, depth and max_candidates must be >= 1")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if self.token_dim < 0 or self.edits < 0:
            raise ValueError("token_dim and edits must be >= 0")

    @property
    def first(self) -> int:
        """The index of the first candidate token: after the context and the edit tokens."""
        return 1 + (self.edits if self.token_dim else 0)


StepFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor],
    tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
]


class TRM(nn.Module):
    """Scores K candidates for one context by recursive refinement (see the module docstring)."""

    y_init: torch.Tensor  # (W,) buffers, declared for the type checker
    z_init: torch.Tensor

    def __init__(self, config: TRMConfig) -> None:
        super().__init__()
        self.config = config
        W = config.width
        tokens = config.first + config.max_candidates
        self.context_in = nn.Linear(config.context_dim, W, bias=False)
        self.candidate_in = nn.Linear(config.candidate_dim, W, bias=False)
        D = config.token_dim
        if D:
            # a candidate's four views (its rewrite's and its skill's removed/added tokens), and
            # an edit's two plus its presence bit; the edit's slot (its recency) is learned
            self.views_in = nn.Linear(4 * D, W, bias=False)
            self.edit_in = nn.Linear(2 * D + 1, W, bias=False)
            self.edit_slot = nn.Parameter(torch.zeros(config.edits, W))
        self.net = Net(W, config.heads, config.mixer, tokens, config.expansion, config.depth)
        self.readout = nn.Linear(W, 1, bias=False)  # y candidate token -> score
        # The halting head reads the context token of y. It keeps a bias, started at -5 as in the
        # paper, so that q starts far from firing and halting is learned, not stumbled into.
        self.q_head = nn.Linear(W, 1, bias=True)
        # Fixed random starting states (as in the paper): every ranking starts from the same y, z.
        self.register_buffer("y_init", torch.empty(W))
        self.register_buffer("z_init", torch.empty(W))
        self.reset_parameters()
        self.last_steps = 0  # supervision steps the last forward ran (halting makes it vary)
        self.use_trace = True  # score() through a TorchScript trace when no candidate is masked
        self._trace_cache: dict[str, Any] = {}

    def reset_parameters(self) -> None:
        # LeCun-normal, truncated at 2 sigma: keeps post-norm activations near unit scale.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                std = 1.0 / math.sqrt(module.in_features)
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.trunc_normal_(self.y_init, std=1.0, a=-2.0, b=2.0)
        nn.init.trunc_normal_(self.z_init, std=1.0, a=-2.0, b=2.0)
        nn.init.zeros_(self.q_head.weight)
        nn.init.constant_(self.q_head.bias, -5.0)

    # -- recursion ---------------------------------------------------------------------------

    def _latent_recursion(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, token_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        xy = x + y  # y is fixed while z is refined; one add instead of n
        for _ in range(self.config.n):
            z = self.net(xy + z, token_mask)  # (B, L, W)
        y = self.net(y + z, token_mask)  # (B, L, W); no x: y is updated from the latent only
        return y, z

    def _deep_recursion(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, token_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # The first T-1 cycles only improve the carry; backpropagating through them would cost
        # T times the memory for little gain (the paper's finding). Only the last has a graph.
        with torch.no_grad():
            for _ in range(self.config.T - 1):
                y, z = self._latent_recursion(x, y, z, token_mask)
        return self._latent_recursion(x, y, z, token_mask)

    def _embed(
        self,
        context: torch.Tensor,
        candidates: torch.Tensor,
        mask: torch.Tensor,
        edits: torch.Tensor | None = None,
        views: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Input tokens x (B, L, W) and the mixer's token mask (None when all tokens are valid).

        L = 1 + K, or 1 + edits + K with token views: edits (B, E, 2D+1) and views (B, K, 4D)
        (trm.tokens; zeros when not given). Edit tokens are never masked: an empty slot is
        zeros, so the all-valid fast path stays."""
        B, K, _ = candidates.shape
        all_valid = bool(mask.all())
        if not all_valid:
            # Zeroed before projection so that even nan/inf features of a masked candidate cannot
            # leak into the others (0 * nan would, through attention's weighted sum).
            candidates = candidates.masked_fill(~mask[..., None], 0.0)
        ctx = self.context_in(context)[:, None]  # (B, 1, W)
        cand = self.candidate_in(candidates)  # (B, K, W)
        head = [ctx]
        D, E = self.config.token_dim, self.config.edits
        if D:
            if views is not None:
                if not all_valid:
                    views = views.masked_fill(~mask[..., None], 0.0)
                cand = cand + self.views_in(views)
            if edits is None:
                edits = context.new_zeros(B, E, 2 * D + 1)
            head.append(self.edit_in(edits) + self.edit_slot + ctx)  # (B, E, W)
        # Every candidate token also carries the context: the SwiGLU's product then sees
        # context x candidate terms from the first layer, which on a toy task cut the plateau
        # before the ranking starts to learn from ~100 steps to ~10.
        x = rms_norm(torch.cat([*head, cand + ctx], dim=1))  # (B, L, W), unit scale like y, z
        first = self.config.first
        if self.config.mixer == "attention":
            if all_valid:
                return x, None  # lets scaled_dot_product_attention skip the mask
            valid = torch.cat([mask.new_ones(B, first), mask], dim=1)  # (B, L)
            return x, valid[:, None, None, :]  # (B, 1, 1, L): True = may be attended to
        # The MLP mixer mixes a fixed number of tokens, so pad to first + max_candidates.
        pad = self.config.max_candidates - K
        if pad == 0 and all_valid:
            return x, None
        x = F.pad(x, (0, 0, 0, pad))  # (B, first + max_candidates, W)
        valid = F.pad(torch.cat([mask.new_ones(B, first), mask], dim=1), (0, pad), value=False)
        return x, valid[..., None].to(x.dtype)  # (B, L, 1): 1.0 on valid tokens, 0.0 on others

    def step(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        z: torch.Tensor,
        token_mask: torch.Tensor | None,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One deep-supervision step: (y, z) carry in, detached carry, scores and q out."""
        K, first = mask.shape[1], self.config.first
        y, z = self._deep_recursion(x, y, z, token_mask)
        scores = self.readout(y[:, first : first + K]).squeeze(-1)  # (B, K)
        scores = scores.masked_fill(~mask, float("-inf"))
        q = self.q_head(y[:, 0]).squeeze(-1)  # (B,) halting logit
        # The carry is detached: each supervision step is its own short backward pass.
        return y.detach(), z.detach(), scores, q

    # -- entry points ------------------------------------------------------------------------

    def forward(
        self,
        context: torch.Tensor,
        candidates: torch.Tensor,
        mask: torch.Tensor | None = None,
        targets: torch.Tensor | None = None,
        edits: torch.Tensor | None = None,
        views: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Scores (B, K) for each candidate (-inf where masked) and, given targets, the loss.

        context (B, Dc) float, candidates (B, K, Dk) float, mask (B, K) bool with True = real
        candidate (default: all real), targets (B,) long: index of the positive candidate.
        The loss averages, over the supervision steps each row ran, stable-max cross-entropy
        plus the halting head's BCE against "the current scores rank the positive first".
        """
        cfg = self.config
        B, K, Dk = candidates.shape
        assert context.shape == (B, cfg.context_dim), f"context {tuple(context.shape)}"
        assert Dk == cfg.candidate_dim, f"candidate_dim {Dk} != {cfg.candidate_dim}"
        assert 1 <= K <= cfg.max_candidates, f"{K} candidates, max {cfg.max_candidates}"
        if mask is None:
            mask = torch.ones(B, K, dtype=torch.bool, device=candidates.device)
        assert mask.shape == (B, K) and mask.dtype == torch.bool, "mask must be bool (B, K)"
        if targets is not None:
            assert targets.shape == (B,), f"targets {tuple(targets.shape)} != ({B},)"
            assert bool(mask.gather(1, targets[:, None]).all()), "a target is a masked candidate"

        x, token_mask = self._embed(context, candidates, mask, edits, views)
        return self._supervise(x, token_mask, mask, targets, self.step)

    def _supervise(
        self,
        x: torch.Tensor,
        token_mask: torch.Tensor | None,
        mask: torch.Tensor,
        targets: torch.Tensor | None,
        step: StepFn,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Deep supervision: up to N_sup steps from a detached carry, halting rows drop out.

        Training runs up to N_sup steps (more supervision); eval mode up to N_sup_infer, which
        bounds the latency when the halting head does not fire.
        """
        cfg = self.config
        max_steps = cfg.N_sup if self.training else min(cfg.N_sup, cfg.N_sup_infer)
        B = x.shape[0]
        y = self.y_init.expand_as(x)  # (B, L, W)
        z = self.z_init.expand_as(x)
        halted = torch.zeros(B, dtype=torch.bool, device=x.device)
        out: torch.Tensor | None = None
        total = x.new_zeros(())
        count = x.new_zeros(())
        for i in range(max_steps):
            y, z, scores, q = step(x, y, z, token_mask, mask)
            # A row keeps the scores of the step at which it halted.
            out = scores if out is None else torch.where(halted[:, None], out, scores)
            if targets is not None:
                with torch.no_grad():
                    correct = (scores.argmax(-1) == targets).to(q.dtype)  # (B,)
                step_loss = stablemax_cross_entropy(scores, targets, mask)
                step_loss = step_loss + F.binary_cross_entropy_with_logits(
                    q, correct, reduction="none"
                )
                running = (~halted).to(q.dtype)  # halted rows add nothing more
                total = total + (step_loss * running).sum()
                count = count + running.sum()
            self.last_steps = i + 1
            if cfg.halting:
                halted = halted | (q.detach() > cfg.halt_threshold)
                if bool(halted.all()):
                    break
        assert out is not None
        return out, (total / count if targets is not None else None)

    @torch.inference_mode()
    def score(
        self,
        context: torch.Tensor,
        candidates: torch.Tensor,
        mask: torch.Tensor | None = None,
        edits: torch.Tensor | None = None,
        views: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Inference: scores (B, K), -inf where masked, with halting; higher ranks first.

        Meant for a model holding EMA weights (what save() writes and load() returns). When
        every candidate is valid (the ranker's usual call) the step runs as a TorchScript trace:
        at this size Python dispatch, not arithmetic, is most of the cost (~1.9 vs ~3.2 ms per
        step on one core). Masked batches take the eager path, which the trace matches exactly.
        """
        if self.training:
            self.eval()
        if mask is not None and bool(mask.all()):
            mask = None
        if mask is not None or not self.use_trace:
            return self(context, candidates, mask, edits=edits, views=views)[0]
        B, K, _ = candidates.shape
        assert context.shape == (B, self.config.context_dim), f"context {tuple(context.shape)}"
        assert 1 <= K <= self.config.max_candidates, f"{K} candidates"
        mask = torch.ones(B, K, dtype=torch.bool, device=candidates.device)
        x, token_mask = self._embed(context, candidates, mask, edits, views)
        if token_mask is not None:  # the MLP mixer pads to max_candidates: masked anyway
            return self._supervise(x, token_mask, mask, None, self.step)[0]
        return self._supervise(x, None, mask, None, self._traced_step(x, mask))[0]

    def _traced_step(self, x: torch.Tensor, mask: torch.Tensor) -> StepFn:
        # Traced once per model and kept outside the module tree (a plain dict), so it is not in
        # the state dict; it shares the parameters, so later weight updates are seen. The trace is
        # shape-generic (sizes are recorded as ops), so one trace serves every K.
        traced = self._trace_cache.get("step")
        if traced is None:
            y = self.y_init.expand_as(x)
            try:
                with warnings.catch_warnings():
                    # Deprecated since torch 2.9 in favour of torch.compile, which on CPU needs a
                    # C++ toolchain at run time and seconds of compiling per model: not worth it
                    # for a server that swaps models in the background.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    traced = torch.jit.trace(
                        _UnmaskedStep(self), (x, y, y, mask), check_trace=False
                    )
            except Exception:  # a torch without tracing still ranks, only slower
                self.use_trace = False
                return self.step
            self._trace_cache["step"] = traced

        def run(
            x: torch.Tensor,
            y: torch.Tensor,
            z: torch.Tensor,
            token_mask: torch.Tensor | None,
            mask: torch.Tensor,
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            return traced(x, y, z, mask)

        return run

    def configure_optimizer(
        self, lr: float = 1e-3, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95)
    ) -> torch.optim.AdamW:
        """AdamW that decays matrices only (as nanoGPT): biases and gains are left alone."""
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas)


class _UnmaskedStep(nn.Module):
    """TRM.step with no token mask, in the (tensor-only) form torch.jit.trace needs."""

    def __init__(self, model: TRM) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.step(x, y, z, None, mask)


def train_step(
    model: TRM,
    optimizer: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    ema: EMA | None = None,
    grad_clip: float = 1.0,
) -> float:
    """One optimisation step on a batch (keys: context, candidates, mask, targets); the loss."""
    model.train()
    _, loss = model(batch["context"], batch["candidates"], batch.get("mask"), batch["targets"],
                    edits=batch.get("edits"), views=batch.get("views"))  # fmt: skip
    assert loss is not None
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if ema is not None:
        ema.update(model)
    return float(loss.detach())
