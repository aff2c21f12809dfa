"""The ranker as LSP features: kenetic/rank and kenetic.train (server.suggest.ranking).

kenetic/rank scores a client's candidates with the ranker the server uses for the store;
kenetic.train trains that store's TRM now, in a child process (trm.train_worker), reporting
`$/progress`, and answers once the new checkpoint is in use (or with an error when there are
too few outcomes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from typing import Any

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from server.protocol import RankParams, TrainParams, validate, validate_command_args
from server.server import KeneticServer  # at run time: pygls reads command annotations
from server.suggest.progress import Reporter, Run
from server.suggest.service import SuggestService
from server.suggest.training import TooFewOutcomes, TrainJob
from server.workspaces import Folder

log = logging.getLogger(__name__)


class TrainingFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be carried out."""

    CODE = -32803


def follow(reporter: Reporter, job: TrainJob) -> Run:
    """$/progress for one training run (kenetic.train's or one the outcomes started), from the
    training thread: at most ~5 reports a second reach the client."""
    run = reporter.start("kenetic: training ranker")
    last = [0.0]

    def report(step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and step < total:
            return
        last[0] = now
        message = f"step {step}/{total}" + (f", loss {loss:.3f}" if math.isfinite(loss) else "")
        run.report(message, min(99, step * 100 // max(1, total)))

    def finished(future: Any) -> None:
        error = future.exception()
        if error is None:
            run.done(f"trm v{future.result()['version']} in use")
        else:
            run.done("too few outcomes" if isinstance(error, TooFewOutcomes) else "failed")

    job.listeners.append(report)
    job.future.add_done_callback(finished)
    return run


def setup(server: KeneticServer) -> None:
    ranking = server.service(SuggestService).ranking
    reporter = server.service(SuggestService).progress  # bound to the loop at initialized
    runs: weakref.WeakKeyDictionary[TrainJob, Run] = weakref.WeakKeyDictionary()

    def on_job(job: TrainJob) -> None:
        runs[job] = follow(reporter, job)

    ranking.on_job = on_job

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
        job = state.train()  # on_job follows it with $/progress
        run = runs.get(job)
        try:
            result = await asyncio.wrap_future(job.future)
        except TooFewOutcomes as e:
            raise TrainingFailed(
                str(e), data={"outcomes": e.outcomes, "minOutcomes": e.needed}
            ) from None
        except Exception as e:
            raise TrainingFailed(f"training the ranker failed: {e}") from None
        finally:
            if run is not None:  # the progress ends before the answer
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(run.ended), 10)
        return result
