"""trm.tokens (the token views of a ranking request) and the TRM that reads them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trm.tokens import (
    _TABLE,
    CANDIDATE_TOKEN_DIM,
    EDIT_DIM,
    EDITS,
    TOKEN_DIM,
    _bucket,
    rewrite_views,
    token_features,
    tokens,
)

ROOT = Path(__file__).resolve().parents[3]
D = TOKEN_DIM


def test_a_view_holds_what_the_rewrite_takes_out_and_puts_in() -> None:
    assert tokens("self._rows.append(x1)") == ["self", ".", "_rows", ".", "append", "(", "x1", ")"]
    v = rewrite_views("print(value) => logger.info(value)")
    assert v.shape == (2 * D,)
    np.testing.assert_allclose(v[:D], _TABLE[_bucket("print")])  # removed: print only
    added = np.mean([_TABLE[_bucket(t)] for t in ("logger", ".", "info")], axis=0)
    np.testing.assert_allclose(v[D:], added, rtol=1e-6)  # value and the parens cancel out


def test_the_same_rewrite_at_another_site_has_the_same_view() -> None:
    """What carries to a repository nobody trained on: the tokens a rewrite moves, not the
    names around them."""
    a = rewrite_views("print(rows) => logger.info(rows)")
    b = rewrite_views("print(self.total) => logger.info(self.total)")
    np.testing.assert_allclose(a, b)
    c = rewrite_views("assert x == 1 => self.assertEqual(x, 1)")
    assert float(a @ c) < float(a @ a)


def test_text_without_an_arrow_reads_as_added_and_empty_text_as_zeros() -> None:
    v = rewrite_views("logger")
    assert not v[:D].any() and v[D:].any()
    assert not rewrite_views("").any()


def test_token_features_fill_the_newest_edit_slots_last() -> None:
    context = {"recentEditShapes": ["a => b", 7, "c => d"]}  # a non-string is skipped
    cands: list[dict[str, Any]] = [
        {"matchText": "print(v) => logger.info(v)", "templateText": "print($X) => logger.info($X)"},
        {"matchText": "x => y"},
        {},  # no text at all: zeros, not an error
    ]
    edits, views = token_features(context, cands)
    assert edits.shape == (EDITS, EDIT_DIM) and views.shape == (3, CANDIDATE_TOKEN_DIM)
    assert edits[:, -1].tolist() == [0.0] * (EDITS - 2) + [1.0, 1.0]
    np.testing.assert_allclose(edits[-1, :-1], rewrite_views("c => d"))
    np.testing.assert_allclose(views[0, : 2 * D], rewrite_views("print(v) => logger.info(v)"))
    assert views[0, 2 * D :].any() and not views[1, 2 * D :].any() and not views[2].any()
    empty_edits, empty_views = token_features({"recentEditShapes": "not a list"}, [])
    assert not empty_edits.any() and empty_views.shape == (0, CANDIDATE_TOKEN_DIM)


def test_views_are_the_same_in_every_process() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from trm.tokens import rewrite_views\n"
        "print(repr(rewrite_views('foo(a) => bar(a, 1)').tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123"}).stdout  # fmt: skip
    assert eval(out) == rewrite_views("foo(a) => bar(a, 1)").tolist()


# -- the TRM with token views ----------------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.fixture
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def token_model(seed: int = 0, **kw: Any) -> Any:
    from trm.model import TRM, TRMConfig

    torch.manual_seed(seed)
    cfg = TRMConfig(context_dim=8, candidate_dim=8, max_candidates=16, width=32, heads=2,
                    token_dim=D, edits=EDITS, **kw)  # fmt: skip
    return TRM(cfg).eval()


def test_the_model_reads_edits_and_views(one_thread: None) -> None:
    model = token_model()
    g = torch.Generator().manual_seed(3)
    ctx, cand = torch.randn(2, 8, generator=g), torch.randn(2, 5, 8, generator=g)
    edits, views = (
        torch.randn(2, EDITS, EDIT_DIM, generator=g),
        torch.randn(2, 5, 4 * D, generator=g),
    )
    base = model.score(ctx, cand, edits=edits, views=views)
    assert base.shape == (2, 5) and torch.isfinite(base).all()
    assert not torch.allclose(base, model.score(ctx, cand, edits=edits))  # views matter
    assert not torch.allclose(base, model.score(ctx, cand, views=views))  # so do the edits
    # the traced path (all candidates valid) and the eager masked path agree
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, -1] = False
    eager = model(ctx, cand, mask, edits=edits, views=views)[0]
    torch.testing.assert_close(eager[0], base[0], rtol=1e-4, atol=1e-5)
    assert eager[1, -1] == float("-inf")
    short = model(ctx[1:], cand[1:, :4], edits=edits[1:], views=views[1:, :4])[0]
    torch.testing.assert_close(eager[1, :4], short[0], rtol=1e-4, atol=1e-5)


def test_a_token_checkpoint_round_trips_and_an_old_one_still_loads(tmp_path: Path) -> None:
    from trm.checkpoint import load, save
    from trm.model import TRM, TRMConfig

    model = token_model()
    save(model, tmp_path / "tok.pt")
    back = load(tmp_path / "tok.pt")
    assert back.config.token_dim == D and back.config.first == 1 + EDITS
    g = torch.Generator().manual_seed(4)
    ctx, cand = torch.randn(1, 8, generator=g), torch.randn(1, 3, 8, generator=g)
    views = torch.randn(1, 3, 4 * D, generator=g)
    torch.testing.assert_close(
        back.score(ctx, cand, views=views), model.score(ctx, cand, views=views)
    )
    old = TRM(TRMConfig(context_dim=8, candidate_dim=8, max_candidates=16, width=32, heads=2))
    save(old, tmp_path / "old.pt")
    assert load(tmp_path / "old.pt").config.token_dim == 0  # hand features only, as before


def test_the_ranker_gives_a_token_model_the_views_of_each_candidate(one_thread: None) -> None:
    from tests.unit.trm.test_train import toy_log
    from trm.ranker import RuleRanker
    from trm.train import Trainer, default_config
    from trm.train_config import TrainConfig
    from trm.trm_ranker import TRMRanker

    log = toy_log(60)
    for o in log:
        for c in o["candidates"]:
            c["matchText"] = f"print({c['skillId']}) => logger.info({c['skillId']})"
    fast = TrainConfig(batch_size=16, min_steps=3, max_steps=3, min_outcomes=20, threads=1,
                       fine_tune_min_steps=2, fine_tune_max_steps=2)  # fmt: skip
    res = Trainer(config=default_config(tokens=True), train=fast).train(log)
    assert res is not None and res.model.config.token_dim == D
    ranker = TRMRanker(res.model, fallback=RuleRanker())
    context, cands = log[0]["context"], log[0]["candidates"]
    a = ranker.score(context, cands)
    assert ranker.last_used == "trm" and len(a) == len(cands)
    changed = [{**c, "matchText": "x => y"} for c in cands]
    assert ranker.score(context, changed) != a  # the rewrite's tokens reach the model
    # fine-tuning starts from the model given, in its config
    tuned = Trainer(train=fast, init=res.model).train(log[:30])
    assert tuned is not None and tuned.model.config == res.model.config
    assert tuned.model is not res.model and tuned.steps == 2  # the fine-tuning bounds
    moved = [
        float((a - b).detach().abs().max())
        for a, b in zip(tuned.model.parameters(), res.model.parameters(), strict=True)
    ]
    assert max(moved) > 0 and max(moved) < 0.1  # near where it started, not a fresh model


def test_a_checkpoint_named_in_the_config_is_fine_tuned_and_a_bad_one_is_not(
    tmp_path: Path, one_thread: None, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.unit.trm.test_train import toy_log
    from trm.checkpoint import save
    from trm.train import Trainer, default_config
    from trm.train_config import TrainConfig

    start = token_model()  # the wrong feature sizes for the ranker's features
    save(start, tmp_path / "foreign.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    fast = TrainConfig(batch_size=16, min_steps=2, max_steps=2, min_outcomes=20, threads=1)
    for name in ("foreign.pt", "corrupt.pt", "missing.pt"):
        tc = TrainConfig(**{**fast.__dict__, "init": str(tmp_path / name)})
        trainer = Trainer(train=tc)
        assert trainer.init is None and trainer.config == default_config()
    assert "training a fresh model" in caplog.text
    res = Trainer(config=default_config(tokens=True), train=fast).train(toy_log(40))
    assert res is not None
    save(res.model, tmp_path / "pre.pt")
    trainer = Trainer(train=TrainConfig(**{**fast.__dict__, "init": str(tmp_path / "pre.pt")}))
    assert trainer.init is not None and trainer.config.token_dim == D


def test_the_shipped_trm_loads_ranks_and_is_where_server_trainings_start(
    one_thread: None,
) -> None:
    from server.settings import TrmSettings
    from server.suggest.training import train_config
    from tests.bench.rank import request_dicts
    from trm.checkpoint import load
    from trm.ranker import RuleRanker
    from trm.train_config import SHIPPED_TRM
    from trm.trm_ranker import TRMRanker

    model = load(SHIPPED_TRM)
    assert model.config.token_dim == D and model.config.edits == EDITS
    ranker = TRMRanker(model, fallback=RuleRanker())
    context, cands = request_dicts(32, seed=1)
    scores = ranker.score(context, cands)
    assert ranker.last_used == "trm" and len(scores) == 32 and len(set(scores)) > 1
    assert train_config(TrmSettings()).init == str(SHIPPED_TRM)
    assert train_config(TrmSettings.model_validate({"startFrom": "scratch"})).init is None
