"""One TRM training run over an outcome log: the job others wait on, and the run itself.

server.suggest.ranking starts these on a daemon thread; `kenetic train` (server.train_cli) runs
one in the foreground. trm.train (and so torch) is imported only here, inside the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trm.train_config import TrainConfig
from trm.trm_ranker import ModelHolder

if TYPE_CHECKING:
    from server.settings import TrmSettings

log = logging.getLogger(__name__)


class TooFewOutcomes(Exception):
    def __init__(self, outcomes: int, needed: int) -> None:
        super().__init__(
            f"too few outcomes to train the ranker: {outcomes} shown sets with an outcome, "
            f"trm.minOutcomes is {needed}"
        )
        self.outcomes, self.needed = outcomes, needed


Progress = Callable[[int, int, float], None]


class TrainJob:
    """One training run: its result (a Future) and its progress, for whoever waits on it."""

    def __init__(self) -> None:
        self.future: Future[dict[str, Any]] = Future()
        self.listeners: list[Progress] = []
        self.step = self.total = 0

    def report(self, step: int, total: int, loss: float) -> None:
        self.step, self.total = step, total
        for listener in list(self.listeners):
            try:
                listener(step, total, loss)
            except Exception:
                log.exception("training progress listener failed")


def train_config(settings: TrmSettings) -> TrainConfig:
    return TrainConfig(
        min_outcomes=settings.min_outcomes,
        time_budget_s=settings.train_time_budget_s,
        threads=settings.train_threads,
    )


def run_training(
    directory: Path, holder: ModelHolder, outcomes: list[dict[str, Any]], settings: TrmSettings,
    progress: Progress | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train on an outcome log in this thread, save trm-v{N}.pt and swap it into the holder."""
    if len(outcomes) < settings.min_outcomes:
        raise TooFewOutcomes(len(outcomes), settings.min_outcomes)
    from trm.train import BackgroundTrainer  # imports torch

    trainer = BackgroundTrainer(
        directory, holder, train=train_config(settings), keep=settings.keep_checkpoints,
        progress=progress,
    )  # fmt: skip
    trainer.start(outcomes)
    trainer.wait()
    if trainer.last_error is not None:
        raise trainer.last_error
    result = trainer.last_result
    if result is None:
        raise TooFewOutcomes(len(outcomes), settings.min_outcomes)
    return {
        "trained": True,
        "outcomes": result.outcomes,
        "loss": round(result.loss, 4),
        "version": holder.version,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "checkpoint": str(trainer.last_path),
    }
