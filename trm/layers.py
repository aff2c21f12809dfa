"""The building blocks of the tiny recursive model: the shared 2-layer network, the stable-max
loss and the weight EMA. trm/model.py assembles them into the recursion.

Each layer is post-norm (the residual sum is RMS-normalised, with no learned weight), has no
biases, mixes across tokens (masked self-attention or an MLP over the token axis) and then
applies a SwiGLU across channels. The recursion in trm/model.py calls the same network many
times per ranking, so these modules keep the number of tensor operations low: at this width the
CPU cost is dominated by per-operation overhead, not by arithmetic.

Shapes: B batch, L tokens (1 context + K candidates), W width, H heads, D = W // H.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

RMS_EPS = 1e-5


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """Weightless RMSNorm over the last axis, as in the paper's post-norm blocks."""
    return F.rms_norm(x, (x.shape[-1],), eps=RMS_EPS)


def _hidden_size(width: int, expansion: float) -> int:
    # SwiGLU has three matrices instead of two, so 2/3 of the usual 4x keeps the parameter count;
    # rounded up to a multiple of 16 for friendlier matmul shapes.
    return -(-round(expansion * width * 2 / 3) // 16) * 16


class SwiGLU(nn.Module):
    """SwiGLU feed-forward without biases: down(silu(gate(x)) * up(x))."""

    def __init__(self, width: int, expansion: float) -> None:
        super().__init__()
        hidden = _hidden_size(width, expansion)
        # gate and up share one matmul: one kernel launch instead of two.
        self.gate_up = nn.Linear(width, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)  # (..., hidden) each
        return self.down(F.silu(gate) * up)


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention without biases or positions.

    No positional encoding on purpose: candidates are a set, so the scores are equivariant to
    their order. The context token is told apart by its own input projection.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        assert width % heads == 0, "width must be divisible by heads"
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        B, L, W = x.shape
        # (B, L, 3, H, D) -> (3, B, H, L, D)
        qkv = self.qkv(x).view(B, L, 3, self.heads, W // self.heads).permute(2, 0, 3, 1, 4)
        # attn_mask: (B, 1, 1, L) bool, True = may be attended to; masked candidates are never
        # keys, so they cannot change any other token.
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attn_mask)
        return self.out(y.transpose(1, 2).reshape(B, L, W))  # (B, L, W)


class TokenMLP(nn.Module):
    """MLP-mixer over the token axis (the paper's attention-free variant) for a fixed L tokens.

    Masked tokens are zeroed before mixing, so their features never reach the other tokens.
    """

    def __init__(self, tokens: int, expansion: float) -> None:
        super().__init__()
        self.mix = SwiGLU(tokens, expansion)

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
        if keep is not None:
            x = x * keep  # keep: (B, L, 1) float, 0 on masked tokens
        return self.mix(x.transpose(1, 2)).transpose(1, 2)  # (B, L, W)


class Layer(nn.Module):
    """One post-norm layer: token mixing, then a channel SwiGLU, each followed by RMSNorm."""

    def __init__(self, width: int, heads: int, mixer: str, tokens: int, expansion: float) -> None:
        super().__init__()
        self.mixer: nn.Module
        if mixer == "attention":
            self.mixer = SelfAttention(width, heads)
        else:
            self.mixer = TokenMLP(tokens, expansion)
        self.mlp = SwiGLU(width, expansion)

    def forward(self, h: torch.Tensor, token_mask: torch.Tensor | None) -> torch.Tensor:
        h = rms_norm(h + self.mixer(h, token_mask))
        return rms_norm(h + self.mlp(h))


class Net(nn.Module):
    """The one shared network that the recursion applies to both the latent and the answer."""

    def __init__(
        self, width: int, heads: int, mixer: str, tokens: int, expansion: float, depth: int
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            Layer(width, heads, mixer, tokens, expansion) for _ in range(depth)
        )

    def forward(self, h: torch.Tensor, token_mask: torch.Tensor | None) -> torch.Tensor:
        # h: (B, L, W); token_mask is the mixer's mask (see SelfAttention / TokenMLP), or None
        # when every token is valid, which lets attention take its unmasked fast path.
        for layer in self.layers:
            h = layer(h, token_mask)
        return h


def stablemax_cross_entropy(
    scores: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Listwise stable-max cross-entropy, one positive per row (paper, after Prieto et al.).

    s(x) = x + 1 for x >= 0 and 1 / (1 - x) otherwise replaces exp: it grows linearly, so the
    loss cannot push scores towards the float limits the way softmax does late in training.
    Returns the per-row loss (B,).
    """
    # Both branches of torch.where are differentiated, so each sees only its own half of the
    # axis: 1 / (1 - x) at x = 1 would otherwise put inf * 0 = nan into the gradient.
    s = torch.where(scores >= 0, scores.clamp(min=0) + 1, 1 / (1 - scores.clamp(max=0)))
    s = s.masked_fill(~mask, 0.0)  # (B, K); masked candidates (-inf scores) weigh nothing
    positive = s.gather(1, targets[:, None]).squeeze(1)  # (B,)
    return s.sum(-1).log() - positive.log()


class EMA:
    """Exponential moving average of a model's parameters and buffers, for evaluation and saving.

    With warmup (default) the effective decay is min(decay, (1 + updates) / (10 + updates)), so
    a model trained for only a few hundred steps is not mostly its random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.shadow[k].lerp_(v.detach(), 1.0 - d)  # shadow = d*shadow + (1-d)*v
            else:
                self.shadow[k].copy_(v)
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        model.load_state_dict(self.shadow)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates,
                "shadow": dict(self.shadow)}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay, self.warmup, self.updates = state["decay"], state["warmup"], state["updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
