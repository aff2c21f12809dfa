"""The TRM ranker: trm.model's tiny recursive model behind trm.ranker's Ranker protocol.

    ranker = TRMRanker(store_dir / "trm", fallback=RuleRanker())   # or a ModelHolder, or a TRM
    scores = ranker.score(context, candidates)                     # one float per candidate

The source is a directory of versioned checkpoints (`trm-v{N}.pt`, the newest is used and a newer
one is picked up within `reload_interval_s`), one checkpoint file, a ModelHolder that a
BackgroundTrainer swaps new models into, or a model. Any failure - no checkpoint yet, a corrupt
one, a model whose feature sizes do not match trm.features, an exception or a non-finite score -
ranks with the fallback instead; each kind of failure is logged once.

Importing this module does not import torch: the server builds the ranker on its initialize
path. torch is imported by the first score() that has a model to run (through trm.model).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from trm.features import CANDIDATE_DIM, CONTEXT_DIM, FEATURES_VERSION, featurize, preselect
from trm.ranker import Ranker, RuleRanker
from trm.tokens import EDITS, TOKEN_DIM, token_features

__all__ = ["ModelHolder", "TRMRanker", "checkpoint_path", "checkpoints", "latest_checkpoint"]

log = logging.getLogger(__name__)
CHECKPOINT_GLOB = "trm-v*.pt"
_VERSION_RE = re.compile(r"trm-v(\d+)\.pt")


def checkpoint_path(directory: str | os.PathLike[str], version: int) -> Path:
    return Path(directory) / f"trm-v{version}.pt"


def checkpoints(directory: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """(version, path) of the checkpoints in a directory, oldest first."""
    out = []
    try:
        for p in Path(directory).glob(CHECKPOINT_GLOB):
            m = _VERSION_RE.fullmatch(p.name)
            if m:
                out.append((int(m.group(1)), p))
    except OSError:
        return []
    return sorted(out)


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    found = checkpoints(directory)
    return found[-1][1] if found else None


class ModelHolder:
    """The current model, swapped atomically: readers get the old or the new one, never a mix."""

    def __init__(self, model: Any = None, version: int = 0) -> None:
        self._lock = threading.Lock()
        self._current: tuple[Any, int] = (model, version)

    def get(self) -> Any:
        return self._current[0]  # one read of one tuple: atomic under the GIL

    def get_versioned(self) -> tuple[Any, int]:
        return self._current

    @property
    def version(self) -> int:
        return self._current[1]

    def swap(self, model: Any, version: int | None = None) -> Any:
        """Install a model (version: the given one, else one more); returns the old model."""
        with self._lock:
            old, old_version = self._current
            self._current = (model, old_version + 1 if version is None else version)
        return old


class _Failure(Exception):
    """A reason to rank with the fallback; its `kind` is what is logged once."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class TRMRanker:
    """Ranks with the TRM, or with the fallback whenever the TRM cannot (see the module doc)."""

    name = "trm"

    def __init__(
        self,
        source: Any,
        fallback: Ranker | None = None,
        *,
        reload_interval_s: float = 5.0,
    ) -> None:
        self.fallback: Ranker = fallback if fallback is not None else RuleRanker()
        self.reload_interval_s = reload_interval_s
        self.holder: ModelHolder | None = None
        self.path: Path | None = None
        self._model: Any = None
        self._loaded: tuple[str, float] | None = None  # (checkpoint path, mtime) last tried
        self._checked = -float("inf")
        self._logged: set[str] = set()
        self.last_used = "none"  # "trm" or the fallback's name: which ranked the last call
        if isinstance(source, ModelHolder):
            self.holder = source
        elif isinstance(source, (str, os.PathLike)):
            self.path = Path(source)
        else:
            self._model = source

    # -- the model ---------------------------------------------------------------------------

    def _checkpoint_file(self) -> Path | None:
        assert self.path is not None
        if self.path.is_dir():
            return latest_checkpoint(self.path)
        return self.path if self.path.exists() else None

    def _from_path(self) -> Any:
        now = time.monotonic()
        if now - self._checked >= self.reload_interval_s or self._loaded is None:
            self._checked = now
            found = self._checkpoint_file()
            if found is None:
                self._model, self._loaded = None, None
                raise _Failure("missing", f"no TRM checkpoint in {self.path} yet")
            try:
                key = (str(found), found.stat().st_mtime)
            except OSError as e:
                raise _Failure("missing", f"cannot stat {found}: {e}") from e
            if key != self._loaded:
                self._loaded, self._model = key, None
                self._model = self._load(found)
        if self._model is None:
            raise _Failure("load", f"TRM checkpoint {self._loaded} could not be used")
        return self._model

    def _load(self, path: Path) -> Any:
        from trm.checkpoint import CheckpointError, load  # imports torch: only once a model is due

        meta = path.with_suffix(".json")
        if meta.exists():
            try:
                version = json.loads(meta.read_text()).get("features_version")
            except (OSError, ValueError):
                version = None
            if version is not None and version != FEATURES_VERSION:
                raise _Failure(
                    "features", f"{path} was trained on features v{version}, "
                    f"this build makes v{FEATURES_VERSION}"
                )  # fmt: skip
        try:
            return load(path)
        except CheckpointError as e:
            raise _Failure("load", str(e)) from e

    def model(self) -> Any:
        """The model that would rank now; raises _Failure when there is none."""
        if self.holder is not None:
            model = self.holder.get()
            if model is None:
                raise _Failure("missing", "no TRM trained yet")
            return model
        if self.path is not None:
            return self._from_path()
        if self._model is None:
            raise _Failure("missing", "no TRM model")
        return self._model

    # -- ranking -----------------------------------------------------------------------------

    def score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        if not candidates:
            return []
        try:
            scores = self._score(context, candidates)
            self.last_used = self.name
            return scores
        except _Failure as e:
            self._log_once(e.kind, str(e), None)
        except Exception as e:  # never let the model take ranking down
            self._log_once(f"error:{type(e).__name__}", f"TRM ranking failed: {e!r}", e)
        self.last_used = self.fallback.name
        return self.fallback.score(context, candidates)

    def _score(self, context: dict[str, Any], candidates: list[dict[str, Any]]) -> list[float]:
        model = self.model()
        cfg = model.config
        if (cfg.context_dim, cfg.candidate_dim) != (CONTEXT_DIM, CANDIDATE_DIM):
            raise _Failure(
                "shape", f"TRM expects features {cfg.context_dim}/{cfg.candidate_dim}, "
                f"trm.features makes {CONTEXT_DIM}/{CANDIDATE_DIM}"
            )  # fmt: skip
        if cfg.token_dim and (cfg.token_dim, cfg.edits) != (TOKEN_DIM, EDITS):
            raise _Failure(
                "shape", f"TRM expects token views {cfg.token_dim}/{cfg.edits}, "
                f"trm.tokens makes {TOKEN_DIM}/{EDITS}"
            )  # fmt: skip
        import torch

        ctx, feats = featurize(context, candidates)
        count = len(candidates)
        # More candidates than the model takes: the best by rule score (ties to the nearest
        # site) are ranked by the model (training capped its sets the same way); the rest follow
        # in rule order.
        keep = preselect(feats, cfg.max_candidates)
        edits = views = None
        if cfg.token_dim:
            e, v = token_features(context, [candidates[int(i)] for i in keep])
            edits, views = torch.from_numpy(e)[None], torch.from_numpy(v)[None]
        raw = model.score(
            torch.from_numpy(ctx)[None], torch.from_numpy(np.ascontiguousarray(feats[keep]))[None],
            edits=edits, views=views,
        )[0]  # fmt: skip
        values = raw.tolist()
        if not all(np.isfinite(values)):
            raise _Failure("nonfinite", "TRM produced a non-finite score")
        if count == len(keep):
            return [float(v) for v in values]
        out = np.empty(count)
        out[keep] = values
        rest = np.setdiff1d(np.arange(count), keep)
        floor = min(values) - 1.0
        # below every model-ranked candidate, in rule order
        by_rule = rest[np.argsort(-feats[rest, 46], kind="stable")]
        out[by_rule] = floor - np.arange(len(by_rule)) / max(1, len(by_rule))
        return [float(v) for v in out]

    def _log_once(self, kind: str, message: str, error: Exception | None) -> None:
        if kind in self._logged:
            log.debug("TRM unavailable (%s): %s", kind, message)
            return
        self._logged.add(kind)
        if kind == "missing":  # the cold start: expected, not a fault
            log.info("%s; ranking with %s", message, self.fallback.name)
        else:
            log.warning(
                "%s; ranking with %s", message, self.fallback.name, exc_info=error is not None
            )
