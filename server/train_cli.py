"""`kenetic train`: train a workspace's TRM ranker from its store, with a progress bar on stderr.

It reads the shown-set log (server.suggest.shown), trains as the server would (same settings,
same trainer, here in the foreground, in this process: not in a child as the server does) and
writes `<store dir>/trm/trm-v{N}.pt`. A running server adopts it within 30 s of its next
ranking; the next start loads the newest checkpoint.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from memory.store.database import Store, StoreError, project_store_path
from server.settings import read_toml, resolve, user_config_path
from server.suggest.shown import read_outcome_log
from server.suggest.training import TooFewOutcomes, run_training
from trm.trm_ranker import ModelHolder


class Bar:
    """A plain-text progress bar redrawn in place with \\r (at most ten times a second)."""

    def __init__(self, out: TextIO, width: int = 30) -> None:
        self.out, self.width = out, width
        self.last = 0.0
        self.drawn = False

    def update(self, step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and step < total:
            return
        self.last = now
        filled = self.width * step // max(1, total)
        bar = "#" * filled + "." * (self.width - filled)
        self.out.write(f"\rtraining [{bar}] {step}/{total} loss {loss:.3f}")
        self.out.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.out.write("\n")
            self.out.flush()


def run_train(
    workspace: str,
    *,
    as_json: bool = False,
    min_outcomes: int | None = None,
    time_budget_s: float | None = None,
) -> int:
    folder = Path(workspace).resolve()
    layers: list[dict[str, Any]] = []
    for path in (user_config_path(), folder / ".kenetic" / "config.toml"):
        layer, errors = read_toml(path)
        layers.append(layer)
        for message in errors:
            print(message, file=sys.stderr)
    settings, errors = resolve(layers)
    for message in errors:
        print(message, file=sys.stderr)
    trm = settings.trm
    if min_outcomes is not None:
        trm = trm.model_copy(update={"min_outcomes": max(1, min_outcomes)})
    if time_budget_s is not None:
        trm = trm.model_copy(update={"train_time_budget_s": max(0.1, time_budget_s)})
    store_path = project_store_path(folder, settings.store.path or None)
    try:
        store = Store(store_path, create=False)
    except (StoreError, OSError) as exc:
        print(f"kenetic train: {exc}", file=sys.stderr)
        return 1
    try:
        outcomes = read_outcome_log(store, trm.max_shown_sets)
    finally:
        store.close()
    bar = Bar(sys.stderr)
    try:
        result = run_training(
            store_path.parent / "trm", ModelHolder(), outcomes, trm, bar.update, mode="thread"
        )
    except TooFewOutcomes as exc:
        print(f"kenetic train: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        bar.close()
        print(f"kenetic train: training failed: {exc}", file=sys.stderr)
        return 1
    bar.close()
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"trained trm v{result['version']} on {result['outcomes']} outcomes "
            f"({result['steps']} steps, {result['seconds']} s, loss {result['loss']}): "
            f"{result['checkpoint']}"
        )
    return 0
