"""One TRM training run over an outcome log: the job others wait on, and the run itself.

server.suggest.trm_state runs these from a daemon thread, training in a child process
(trm.train_worker: its own interpreter and torch threads, so requests never wait on its GIL);
`kenetic train` (server.train_cli) trains in its own process, in the foreground (trm.train).
KENETIC_TRAIN_IN=thread trains the server's runs in a thread of the server instead (the old way,
kept for tests/bench/train_serve.py to compare). torch is imported only inside a run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trm.train_config import SHIPPED_TRM, TrainConfig
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
        self.worker: Any = None  # the trainer running it (a WorkerTrainer has a pid), once known

    @property
    def pid(self) -> int | None:
        """The training process's pid while it runs (None in a thread or when done)."""
        return getattr(self.worker, "pid", None)

    def stop(self) -> None:
        """Stop at the next step; what was trained so far is still saved and swapped in."""
        worker = self.worker
        if worker is not None:
            worker.stop()

    def report(self, step: int, total: int, loss: float) -> None:
        self.step, self.total = step, total
        for listener in list(self.listeners):
            try:
                listener(step, total, loss)
            except Exception:
                log.exception("training progress listener failed")


def train_config(settings: TrmSettings) -> TrainConfig:
    pretrained = settings.start_from == "pretrained" and SHIPPED_TRM.is_file()
    return TrainConfig(
        min_outcomes=settings.min_outcomes,
        time_budget_s=settings.train_time_budget_s,
        threads=settings.train_threads,
        init=str(SHIPPED_TRM) if pretrained else None,
    )


def where() -> str:
    """Where the server trains: "process" (a child, the default) or "thread" (the old way)."""
    return "thread" if os.environ.get("KENETIC_TRAIN_IN", "").strip() == "thread" else "process"


def run_training(
    directory: Path, holder: ModelHolder,
    outcomes: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]], settings: TrmSettings,
    progress: Progress | None = None, *, job: TrainJob | None = None, mode: str = "process",
) -> dict[str, Any]:  # fmt: skip
    """Train on an outcome log, save trm-v{N}.pt and swap it into the holder; this thread waits.

    mode "process": in a child process (trm.train_worker), the parent loads its checkpoint;
    "thread": in a thread of this process (trm.train.BackgroundTrainer). `outcomes` may be a
    function that reads the log: then, in a process, the parent lets go of it once it is handed
    to the child. Held during the run, its ~300 objects per shown set would be walked by every
    full garbage collection of the server (100 ms and more for a few thousand sets, in whichever
    request handler allocates), which is most of what a training cost the requests."""
    log_ = outcomes() if callable(outcomes) else outcomes
    n = len(log_)
    if n < settings.min_outcomes:
        raise TooFewOutcomes(n, settings.min_outcomes)
    kwargs: dict[str, Any] = {"train": train_config(settings), "keep": settings.keep_checkpoints,
                              "progress": progress}  # fmt: skip
    if mode == "process":
        from trm.train_worker import WorkerTrainer  # no torch until the checkpoint is loaded

        worker = WorkerTrainer(directory, holder, **kwargs)
        if job is not None:
            job.worker = worker
        worker.start(log_)
        del log_, outcomes  # the worker's thread drops its copy once the child has the log
        worker.wait()
        if worker.last_error is not None:
            raise worker.last_error
        summary = worker.last_result
        if summary is None:
            raise TooFewOutcomes(n, settings.min_outcomes)
        pid, version, path = summary["pid"], int(summary["version"]), summary["checkpoint"]
    else:
        from trm.train import BackgroundTrainer  # imports torch

        trainer = BackgroundTrainer(directory, holder, **kwargs)
        if job is not None:
            job.worker = trainer
        trainer.start(log_)
        trainer.wait()
        if trainer.last_error is not None:
            raise trainer.last_error
        if trainer.last_result is None:
            raise TooFewOutcomes(n, settings.min_outcomes)
        summary, pid = trainer.last_result.summary(), os.getpid()
        version, path = holder.version, str(trainer.last_path)
    return {
        "trained": True,
        "outcomes": summary["outcomes"],
        "loss": summary["loss"],
        "version": version,
        "steps": summary["steps"],
        "seconds": summary["seconds"],
        "checkpoint": path,
        "pid": pid,
    }
