"""TRM checkpoints: save() and load() a trm.model.TRM as a versioned, validated file.

A checkpoint is plain data (a format tag, a format version, the TRMConfig as a dict and the
state dict), read with `torch.load(weights_only=True)`: never code to run. load() refuses
anything that does not match its own config, so a corrupt or foreign file fails loudly
(CheckpointError) and the ranker falls back to rules.
"""

from __future__ import annotations

import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from trm.model import TRM, TRMConfig

if TYPE_CHECKING:
    from trm.layers import EMA

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "load", "save"]

CHECKPOINT_FORMAT = "kenetic-trm"
CHECKPOINT_VERSION = 1


class CheckpointError(Exception):
    """A checkpoint is missing, corrupt, from another format version or of the wrong shape."""


def save(model: TRM, path: str | os.PathLike[str], ema: EMA | None = None) -> None:
    """Write a versioned checkpoint; with an EMA, its averaged weights are what is saved.

    Written to a temporary file and renamed, so a crash never leaves a half-written checkpoint.
    """
    state = ema.shadow if ema is not None else model.state_dict()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in state.items()},
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load(path: str | os.PathLike[str]) -> TRM:
    """Read a checkpoint written by save(); raises CheckpointError if it cannot be trusted."""
    try:
        # weights_only: a checkpoint is data, never code to run.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types here: pickle, zip, EOF, OS errors
        raise CheckpointError(f"cannot read TRM checkpoint {path}: {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} has format version {payload.get('version')!r}, "
            f"this build reads version {CHECKPOINT_VERSION}"
        )
    raw_config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(raw_config, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{path} lacks a config or a state dict")
    known = {f.name for f in fields(TRMConfig)}
    if set(raw_config) - known:
        raise CheckpointError(f"{path} has unknown config keys {sorted(set(raw_config) - known)}")
    try:
        model = TRM(TRMConfig(**raw_config))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path} has an invalid config: {e}") from e
    expected = model.state_dict()
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its config: missing {sorted(missing)}, "
            f"unexpected {sorted(unexpected)}"
        )
    for k, v in expected.items():
        got = state[k]
        if not isinstance(got, torch.Tensor) or got.shape != v.shape or got.dtype != v.dtype:
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise CheckpointError(f"{path}: {k} is {shape}, expected {tuple(v.shape)} {v.dtype}")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"{path}: {k} holds non-finite values")
    model.load_state_dict(state)
    model.eval()
    return model
