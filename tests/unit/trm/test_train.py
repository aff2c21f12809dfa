"""Unit tests of TRM training (objectives, Trainer, BackgroundTrainer, ModelHolder) and of the
TRM ranker's fallbacks. A small model and a toy outcome log keep the file to seconds."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from trm.checkpoint import save  # noqa: E402
from trm.features import CANDIDATE_DIM, CONTEXT_DIM  # noqa: E402
from trm.model import TRM, TRMConfig  # noqa: E402
from trm.ranker import RuleRanker  # noqa: E402
from trm.train import (  # noqa: E402
    OBJECTIVES,
    BackgroundTrainer,
    ModelHolder,
    Objectives,
    TrainConfig,
    Trainer,
    prepare,
)
from trm.trm_ranker import TRMRanker, checkpoints  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SMALL = TRMConfig(
    context_dim=CONTEXT_DIM, candidate_dim=CANDIDATE_DIM, max_candidates=16, width=32, heads=2,
    n=1, T=2, N_sup=2,
)  # fmt: skip
FAST = TrainConfig(batch_size=16, epochs=2.0, min_steps=1, min_outcomes=20, time_budget_s=30.0)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy_log(n: int, seed: int = 0, k: int = 6) -> list[dict[str, Any]]:
    """Sessions of 5 steps; the developer takes the nearest site below the cursor of the skill
    just applied by hand, and 1 set in 5 is dismissed (nothing accepted)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        cands: list[dict[str, Any]] = [
            {"skillId": f"sk_{rnd.randrange(6)}", "support": rnd.randrange(1, 9),
             "specificity": rnd.random(), "lastUsed": 1000.0 + i - rnd.randrange(0, 500),
             "lineDelta": rnd.randrange(-40, 40), "sameFile": rnd.random() < 0.8,
             "justApplied": rnd.random() < 0.4}
            for _ in range(rnd.randrange(2, k + 1))
        ]  # fmt: skip
        for c in cands:
            c["distance"] = abs(c["lineDelta"])

        def key(j: int, cands: list[dict[str, Any]] = cands) -> tuple[bool, bool, int]:
            c = cands[j]
            return (not c["justApplied"], c["lineDelta"] < 0 or not c["sameFile"], c["distance"])

        accepted = min(range(len(cands)), key=key) if rnd.random() < 0.8 else None
        context = {"kind": "nextEdits", "now": 1000.0 + i, "language": "python",
                   "recentEditShapes": [f"a{i % 3} => b{i % 3}"]}  # fmt: skip
        out.append({"context": context, "candidates": cands, "accepted_index": accepted,
                    "session": f"s{i // 5}", "t": 1000.0 + i})  # fmt: skip
    return out


# -- objectives ------------------------------------------------------------------------------


def test_default_objective_weights() -> None:
    assert TrainConfig().weights() == {
        "contrastive": 1.0, "next_action": 0.5, "outcome": 0.3, "masked_action": 0.2,
    }  # fmt: skip
    assert TrainConfig().min_outcomes == 100


def test_prepare_links_sessions_and_drops_bad_sets() -> None:
    log = toy_log(20)
    log.append({"context": {}, "candidates": [], "accepted_index": None, "session": "x"})
    log.append({"context": {}, "candidates": [{}], "accepted_index": 3, "session": "x"})
    data = prepare(log, max_candidates=16)
    assert len(data) == 20
    assert data.context.shape == (20, CONTEXT_DIM)
    assert data.candidates.shape[2] == CANDIDATE_DIM
    linked = np.nonzero(data.prev >= 0)[0]
    assert len(linked) > 0
    for i in linked:
        j = data.prev[i]
        assert data.next[j] == i and data.target[i] >= 0 and data.target[j] >= 0


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_each_objective_is_finite_and_a_few_steps_lower_it(objective: str) -> None:
    weights: dict[str, Any] = {f"{k}_weight": float(k == objective) for k in OBJECTIVES}
    tc = replace(FAST, **weights)
    torch.manual_seed(0)
    model = TRM(SMALL)
    objectives = Objectives(model, tc)
    data = prepare(toy_log(64), SMALL.max_candidates)
    optimizer = torch.optim.AdamW(objectives.parameters(), lr=3e-3)
    model.train()
    first = last = None
    for _ in range(8):
        # rows() runs the action heads, so the same rows are rebuilt for every step
        rng = np.random.default_rng(0)
        inputs, w = objectives.rows(data, np.arange(len(data)), aux=64, rng=rng)
        loss, parts = objectives(inputs, w)
        assert torch.isfinite(loss) and objective in parts and np.isfinite(parts[objective])
        first = parts[objective] if first is None else first
        last = parts[objective]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert first is not None and last is not None and last < first


# -- Trainer ---------------------------------------------------------------------------------


def test_trainer_waits_for_min_outcomes() -> None:
    trainer = Trainer(SMALL, replace(FAST, min_outcomes=50))
    assert trainer.train(toy_log(49)) is None
    result = trainer.train(toy_log(50))
    assert result is not None and result.outcomes == 50 and result.steps > 0


def test_trainer_learns_the_toy_preference_and_reports_progress() -> None:
    calls: list[tuple[int, int, float]] = []
    tc = replace(FAST, epochs=12.0)
    result = Trainer(SMALL, tc, progress=lambda *a: calls.append(a)).train(toy_log(200))
    assert result is not None
    assert [c[0] for c in calls] == list(range(1, result.steps + 1))
    assert all(c[1] == calls[0][1] and np.isfinite(c[2]) for c in calls)
    held = [o for o in toy_log(100, seed=1) if o["accepted_index"] is not None]
    ranker = TRMRanker(result.model)
    top1 = np.mean([
        int(np.argmax(ranker.score(o["context"], o["candidates"]))) == o["accepted_index"]
        for o in held
    ])  # fmt: skip
    assert ranker.last_used == "trm"
    assert top1 > 0.6, top1  # chance is ~1/4


def test_trainer_respects_the_time_budget() -> None:
    tc = replace(FAST, epochs=10_000.0, max_steps=10**9, time_budget_s=0.5)
    result = Trainer(SMALL, tc).train(toy_log(100))
    # stopped by the clock, far short of its steps (no wall-time assert: the machine is shared)
    assert result is not None and result.stopped_by_budget and result.steps < 10**6


def test_a_budget_spent_before_training_still_takes_one_step() -> None:
    """On a busy machine preparing the log can use up the whole budget: the run still yields a
    model that took a step (and its progress is reported), never an untrained one."""
    steps: list[int] = []
    tc = replace(FAST, epochs=10_000.0, max_steps=10**9, time_budget_s=0.0)
    result = Trainer(SMALL, tc, lambda step, total, loss: steps.append(step)).train(toy_log(40))
    assert result is not None and result.stopped_by_budget
    assert result.steps == 1 and steps == [1]


@pytest.mark.parametrize("n", [1, 31, 33, 40, 47, 48, 100, 130])
def test_an_epoch_of_batches_holds_every_set_once(n: int) -> None:
    from trm.train import _batches

    sizes = np.random.default_rng(n).integers(2, 9, size=n)
    batches = _batches(sizes, 32, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert all(len(b) >= 16 for b in batches) or len(batches) == 1


def test_trainer_is_seeded() -> None:
    a = Trainer(SMALL, FAST).train(toy_log(40))
    b = Trainer(SMALL, FAST).train(toy_log(40))
    assert a is not None and b is not None
    for (k, va), vb in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(va, vb), k


# -- ModelHolder and BackgroundTrainer -------------------------------------------------------


def test_holder_swaps_atomically() -> None:
    holder = ModelHolder()
    assert holder.get() is None and holder.version == 0
    models = [object() for _ in range(2000)]
    version_of = {id(m): v for v, m in enumerate(models, start=1)}
    bad: list[tuple[int, int]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            model, version = holder.get_versioned()
            if model is not None and version_of[id(model)] != version:
                bad.append((version_of[id(model)], version))

    t = threading.Thread(target=reader)
    t.start()
    for v, m in enumerate(models, start=1):
        holder.swap(m, v)
    done.set()
    t.join()
    assert not bad and holder.get() is models[-1] and holder.version == len(models)
    assert holder.swap("next") is models[-1] and holder.version == len(models) + 1


def test_background_trainer_does_not_block_and_keeps_three_versions(tmp_path: Path) -> None:
    holder = ModelHolder()
    done: list[Any] = []
    bg = BackgroundTrainer(
        tmp_path / "trm", holder, config=SMALL, train=replace(FAST, epochs=6.0),
        on_done=lambda result, error: done.append((result, error)),
    )  # fmt: skip
    assert not bg.start(toy_log(10))  # too few outcomes: nothing starts
    log = toy_log(120)
    t0 = time.perf_counter()
    assert bg.start(log)
    start_s = time.perf_counter() - t0
    assert bg.running and not bg.start(log)  # one training at a time
    # the caller keeps working while the model trains: it ticks every 10 ms
    ticks, gaps, last = 0, [], time.perf_counter()
    while bg.running:
        time.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last, ticks = now, ticks + 1
    assert start_s < 0.5, start_s
    assert ticks >= 5 and max(gaps) < 0.5, (ticks, max(gaps))
    assert done and done[0][1] is None and bg.last_error is None
    assert [v for v, _ in checkpoints(tmp_path / "trm")] == [1]
    assert holder.version == 1 and holder.get() is done[0][0].model
    assert (tmp_path / "trm" / "trm-v1.json").exists()
    for _ in range(3):
        assert bg.start(log[:60])
        assert bg.wait(60)
    assert [v for v, _ in checkpoints(tmp_path / "trm")] == [2, 3, 4]
    assert not (tmp_path / "trm" / "trm-v1.json").exists()
    assert holder.version == 4
    ranker = TRMRanker(tmp_path / "trm", reload_interval_s=0.0)
    o = log[0]
    assert len(ranker.score(o["context"], o["candidates"])) == len(o["candidates"])
    assert ranker.last_used == "trm"


def test_background_trainer_failure_keeps_the_old_model(tmp_path: Path) -> None:
    holder = ModelHolder("old", 7)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    bg = BackgroundTrainer(blocker / "trm", holder, config=SMALL, train=FAST)
    assert bg.start(toy_log(30)) and bg.wait(60)
    assert bg.last_error is not None and holder.get_versioned() == ("old", 7)


# -- TRMRanker -------------------------------------------------------------------------------


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "trm.trm_ranker" and r.levelno >= logging.INFO]


def _check_fallback(ranker: TRMRanker, caplog: pytest.LogCaptureFixture) -> None:
    o = toy_log(1)[0]
    rules = RuleRanker().score(o["context"], o["candidates"])
    with caplog.at_level(logging.INFO, logger="trm.trm_ranker"):
        for _ in range(3):
            assert ranker.score(o["context"], o["candidates"]) == rules
            assert ranker.last_used == "rules"
    assert len(_records(caplog)) == 1, [r.getMessage() for r in _records(caplog)]


def test_ranker_falls_back_without_a_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _check_fallback(TRMRanker(tmp_path / "nothing-here", fallback=RuleRanker()), caplog)


def test_ranker_falls_back_on_a_corrupt_checkpoint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "trm-v1.pt").write_bytes(b"\x00not a checkpoint" * 10)
    _check_fallback(TRMRanker(tmp_path, reload_interval_s=0.0), caplog)
    assert "cannot read" in _records(caplog)[0].getMessage()


def test_ranker_falls_back_on_a_shape_mismatch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(TRM(replace(SMALL, context_dim=8)), tmp_path / "trm-v1.pt")
    _check_fallback(TRMRanker(tmp_path, reload_interval_s=0.0), caplog)
    assert "expects features" in _records(caplog)[0].getMessage()


def test_ranker_falls_back_on_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        config = SMALL

        def score(self, *args: Any) -> Any:
            raise RuntimeError("boom")

    _check_fallback(TRMRanker(Broken()), caplog)


def test_ranker_falls_back_before_the_first_training(caplog: pytest.LogCaptureFixture) -> None:
    holder = ModelHolder()
    ranker = TRMRanker(holder)
    _check_fallback(ranker, caplog)
    holder.swap(TRM(SMALL).eval())
    o = toy_log(1)[0]
    ranker.score(o["context"], o["candidates"])
    assert ranker.last_used == "trm"


def test_ranker_scores_more_candidates_than_the_model_takes() -> None:
    torch.manual_seed(0)
    ranker = TRMRanker(TRM(SMALL).eval())
    o = toy_log(1)[0]
    cands = [dict(o["candidates"][0], support=i % 7 + 1, distance=i) for i in range(40)]
    scores = ranker.score(o["context"], cands)
    assert ranker.last_used == "trm" and len(scores) == 40 and np.isfinite(scores).all()
    assert ranker.score(o["context"], []) == []


def test_importing_the_ranker_does_not_import_torch() -> None:
    code = (
        "import sys, trm, trm.trm_ranker; "
        "r = trm.trm_ranker.TRMRanker('/nonexistent'); "
        "r.score({}, [{'skillId': 'a', 'support': 2}]); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
