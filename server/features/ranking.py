"""The ranker as LSP features: kenetic/rank and kenetic.train (server.suggest.ranking).

kenetic/rank scores a client's candidates with the ranker the server uses for the store;
kenetic.train trains that store's TRM now, in a background thread, reporting `$/progress`, and
answers once the new checkpoint is in use (or with an error when there are too few outcomes).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from server.protocol import RankParams, TrainParams, validate, validate_command_args
from server.server import KeneticServer  # at run time: pygls reads command annotations
from server.suggest.service import SuggestService
from server.suggest.training import TooFewOutcomes
from server.workspaces import Folder

log = logging.getLogger(__name__)


class TrainingFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be carried out."""

    CODE = -32803


class TrainProgress:
    """$/progress for one training run; silent when the client cannot show progress."""

    def __init__(self, ls: KeneticServer) -> None:
        self.ls = ls
        self.token = f"kenetic-train-{uuid.uuid4().hex[:12]}"
        self.on = False
        self.loop = asyncio.get_running_loop()
        self._last = 0.0

    async def begin(self) -> None:
        caps = getattr(self.ls.client_capabilities, "window", None)
        if not getattr(caps, "work_done_progress", False):
            return
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(self.token), 10)
        except Exception as exc:  # a client that refuses progress still gets its training
            log.info("work done progress refused: %s", exc)
            return
        self.on = True
        self.ls.work_done_progress.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title="kenetic: training the ranker", message="preparing", percentage=0
            ),
        )

    def report(self, step: int, total: int, loss: float) -> None:
        """From the training thread: at most ~5 reports a second reach the client."""
        now = time.monotonic()
        if not self.on or (now - self._last < 0.2 and step < total):
            return
        self._last = now
        message = f"step {step}/{total}" + (f", loss {loss:.3f}" if math.isfinite(loss) else "")
        value = types.WorkDoneProgressReport(
            message=message, percentage=min(99, step * 100 // max(1, total))
        )
        self.loop.call_soon_threadsafe(self._send, value)

    def _send(self, value: types.WorkDoneProgressReport) -> None:
        if self.on:
            self.ls.work_done_progress.report(self.token, value)

    def end(self, message: str) -> None:
        if self.on:
            self.on = False
            self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
        self.ls.work_done_progress.tokens.pop(self.token, None)


def setup(server: KeneticServer) -> None:
    ranking = server.service(SuggestService).ranking

    def attach(folder: Folder) -> None:
        ranking.attach(folder)

    server.workspaces.store_opened.append(attach)

    @server.feature("kenetic/rank")
    def rank(ls: KeneticServer, params: Any) -> dict[str, Any]:
        """Scores for the given candidates, and which ranker gave them."""
        p = validate(RankParams, params)
        state = ls.service(SuggestService).ranking.state_for(p.uri or p.context.uri)
        context, candidates = p.context.plain(), [c.plain() for c in p.candidates]
        scores, ranker = ls.service(SuggestService).ranking.score(state, context, candidates)
        return {"scores": [float(s) for s in scores], "ranker": ranker}

    @server.command("kenetic.train")
    async def train(ls: KeneticServer, *args: Any) -> dict[str, Any]:
        """Train the ranker now (in the background); the summary once the new model is in use."""
        p = validate_command_args(TrainParams, list(args))
        state = ls.service(SuggestService).ranking.state_for(p.uri)
        if state is None:
            raise JsonRpcInvalidParams("no workspace store to train the ranker from")
        if not state.enabled:
            raise TrainingFailed("the TRM ranker is off (trm.enabled is false)")
        progress = TrainProgress(ls)
        await progress.begin()
        job = state.train()
        job.listeners.append(progress.report)
        try:
            result = await asyncio.wrap_future(job.future)
        except TooFewOutcomes as e:
            progress.end("too few outcomes")
            raise TrainingFailed(
                str(e), data={"outcomes": e.outcomes, "minOutcomes": e.needed}
            ) from None
        except Exception as e:
            progress.end("failed")
            raise TrainingFailed(f"training the ranker failed: {e}") from None
        finally:
            job.listeners.remove(progress.report)
        progress.end(f"trm v{result['version']} in use")
        return result
