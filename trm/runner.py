"""What a background training run shares, in a thread (trm.train.BackgroundTrainer) or a child
process (trm.train_worker.WorkerTrainer): one run at a time, started only on enough outcomes,
`running` and `wait()`, and the last result or error handed to `on_done`.

No torch here: the server's side of a child-process run must not import it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from trm.train_config import TrainConfig
from trm.trm_ranker import ModelHolder

log = logging.getLogger(__name__)

R = TypeVar("R")
Progress = Callable[[int, int, float], None]


class BackgroundRun(Generic[R]):
    """Runs `_run(*args)` in a daemon thread; subclasses say what args a run gets (`_args`)
    and what it does, and end it with `_finish(result, error)`."""

    thread_name = "kenetic-trm-run"

    def __init__(
        self,
        directory: str | os.PathLike[str],
        holder: ModelHolder,
        *,
        train: TrainConfig | None = None,
        keep: int = 3,
        progress: Progress | None = None,
        on_done: Callable[[R | None, BaseException | None], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.holder = holder
        self.train_config = train or TrainConfig()
        self.keep = max(1, keep)
        self.progress = progress
        self.on_done = on_done
        self.last_result: R | None = None
        self.last_error: BaseException | None = None
        self.last_path: Path | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def min_outcomes(self) -> int:
        return self.train_config.min_outcomes

    @property
    def running(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def start(self, outcomes: Sequence[dict[str, Any]]) -> bool:
        """Start a run on a copy of the log; False when one is running or too few outcomes."""
        if len(outcomes) < self.train_config.min_outcomes:
            return False
        with self._lock:
            if self.running:
                return False
            self._thread = threading.Thread(
                target=self._run, args=self._args(list(outcomes)), name=self.thread_name,
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run; True when none is running any more."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return not self.running

    def _args(self, outcomes: list[dict[str, Any]]) -> tuple[Any, ...]:
        raise NotImplementedError

    def _run(self, *args: Any) -> None:
        raise NotImplementedError

    def _finish(self, result: R | None, error: BaseException | None) -> None:
        self.last_result, self.last_error = result, error
        if self.on_done is not None:
            try:
                self.on_done(result, error)
            except Exception:
                log.exception("TRM on_done callback failed")
