"""Unit tests of the tiny recursive model: shapes, masking, recursion, halting, EMA, checkpoints.

Small configurations keep the whole file to a few seconds on one core.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from trm.checkpoint import CheckpointError, load, save  # noqa: E402
from trm.model import EMA, TRM, TRMConfig, stablemax_cross_entropy, train_step  # noqa: E402

SMALL = TRMConfig(
    context_dim=8, candidate_dim=8, max_candidates=16, width=32, heads=2, n=2, T=2, N_sup=2
)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # The model is served on one core; one thread is also several times faster on a shared box.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_model(seed: int = 0, trace: bool = False, **overrides: object) -> TRM:
    torch.manual_seed(seed)
    model = TRM(replace(SMALL, **overrides)).eval()
    model.use_trace = trace  # tracing costs ~0.1 s a model; one test covers the traced path
    return model


def inputs(B: int = 3, K: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 8, generator=g), torch.randn(B, K, 8, generator=g)


def toy_batch(B: int, K: int, seed: int) -> dict[str, torch.Tensor]:
    """The positive candidate is the one whose features align with the context."""
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(B, 8, generator=g)
    candidates = torch.randn(B, K, 8, generator=g)
    targets = torch.randint(0, K, (B,), generator=g)
    targets[: B // 4] = torch.randint(0, K - 2, (B // 4,), generator=g)
    candidates[torch.arange(B), targets] = context + 0.3 * torch.randn(B, 8, generator=g)
    mask = torch.ones(B, K, dtype=torch.bool)
    mask[: B // 4, -2:] = False  # a quarter of the rows have two candidates fewer
    return {"context": context, "candidates": candidates, "mask": mask, "targets": targets}


@pytest.mark.parametrize("mixer", ["attention", "mlp"])
def test_masked_candidates_score_minus_inf_and_never_affect_others(mixer: str) -> None:
    model = make_model(mixer=mixer)
    context, candidates = inputs()
    mask = torch.tensor([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], dtype=torch.bool)
    with torch.no_grad():
        scores, loss = model(context, candidates, mask)
    assert scores.shape == (3, 5) and loss is None
    assert torch.isneginf(scores[~mask]).all()
    assert torch.isfinite(scores[mask]).all()

    changed = candidates.clone()
    changed[~mask] = float("nan")  # even nan features of a masked candidate stay out
    with torch.no_grad():
        again, _ = model(context, changed, mask)
    assert torch.equal(again[mask], scores[mask])


def test_masked_padding_matches_the_shorter_list() -> None:
    model = make_model()
    context, candidates = inputs(B=1, K=5)
    mask = torch.tensor([[1, 1, 1, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        padded, _ = model(context, candidates, mask)
        short, _ = model(context, candidates[:, :3])
    torch.testing.assert_close(padded[:, :3], short, rtol=1e-5, atol=1e-5)


def test_score_traced_path_matches_eager_and_sees_weight_updates() -> None:
    model = make_model(trace=True, N_sup_infer=2)
    context, candidates = inputs(B=2, K=7)
    traced = model.score(context, candidates)
    model.use_trace = False
    eager = model.score(context, candidates)
    torch.testing.assert_close(traced, eager, rtol=1e-5, atol=1e-6)
    # The trace shares the parameters: a checkpoint loaded in place must be seen, for any K.
    model.use_trace = True
    model.load_state_dict(make_model(seed=5).state_dict())
    traced = model.score(context, candidates[:, :4])
    with torch.no_grad():
        eager, _ = model(context, candidates[:, :4])
    torch.testing.assert_close(traced, eager, rtol=1e-5, atol=1e-6)


def test_same_seed_same_model_and_scores() -> None:
    context, candidates = inputs()
    a, b, c = make_model(seed=7), make_model(seed=7), make_model(seed=8)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert torch.equal(a.score(context, candidates), b.score(context, candidates))
    assert not torch.equal(a.score(context, candidates), c.score(context, candidates))


def test_halting_head_that_fires_stops_after_one_step() -> None:
    context, candidates = inputs()
    model = make_model(N_sup=4, N_sup_infer=3)
    model.score(context, candidates)
    assert model.last_steps == 3  # q starts at -5: never fires, the eval cap is the worst case
    with torch.no_grad():
        model.q_head.bias.fill_(10.0)  # forced to fire
    fired = model.score(context, candidates)
    assert model.last_steps == 1
    one_step = make_model(N_sup=4, N_sup_infer=1, trace=True)
    one_step.load_state_dict(model.state_dict())
    assert torch.equal(fired, one_step.score(context, candidates))

    model.train()
    batch = toy_batch(8, 5, seed=0)
    model(batch["context"], batch["candidates"], batch["mask"], batch["targets"])
    assert model.last_steps == 1
    with torch.no_grad():
        model.q_head.bias.fill_(-10.0)
    model(batch["context"], batch["candidates"], batch["mask"], batch["targets"])
    assert model.last_steps == 4  # training supervises up to N_sup


def test_halting_is_per_row() -> None:
    model = make_model(N_sup_infer=2)
    context, candidates = inputs(B=2)
    # q reads y's context token; make it fire for row 0 only by steering its context features.
    with torch.no_grad():
        model.q_head.weight.zero_()
        model.q_head.bias.fill_(-10.0)
        both = model.score(context, candidates)
        one = make_model(N_sup_infer=1)
        one.load_state_dict(model.state_dict())
        first = one.score(context, candidates)
    assert not torch.equal(both, first)  # two steps change the scores
    calls = {"n": 0}

    def fire_row0(module: torch.nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        return torch.tensor([[10.0], [-10.0]])

    model.q_head.register_forward_hook(fire_row0)
    model.use_trace = False  # the hook needs the eager path
    mixed = model.score(context, candidates)
    assert model.last_steps == 2 and calls["n"] == 2
    assert torch.equal(mixed[0], first[0])  # row 0 kept the scores of the step it halted at
    assert torch.equal(mixed[1], both[1])


def test_no_grad_cycles_build_no_graph() -> None:
    model = make_model(T=3, n=2, N_sup=1, halting=False)
    model.train()
    grad_calls: list[bool] = []
    backward_calls = {"n": 0}
    model.net.register_forward_hook(lambda m, a, o: grad_calls.append(torch.is_grad_enabled()))

    def count_backward(module: torch.nn.Module, grad_in: tuple, grad_out: tuple) -> None:
        backward_calls["n"] += 1

    model.net.register_full_backward_hook(count_backward)
    batch = toy_batch(4, 5, seed=0)
    _, loss = model(batch["context"], batch["candidates"], batch["mask"], batch["targets"])
    assert loss is not None
    # T * (n + 1) network calls; only the last cycle's n + 1 record a graph.
    assert grad_calls == [False] * 6 + [True] * 3
    loss.backward()
    assert backward_calls["n"] == 3

    x, token_mask = model._embed(batch["context"], batch["candidates"], batch["mask"])
    y0 = model.y_init.expand_as(x)
    y, z, scores, q = model.step(x, y0, y0, token_mask, batch["mask"])
    assert scores.requires_grad and q.requires_grad
    assert not y.requires_grad and not z.requires_grad  # the carry is detached


def test_ema_update_and_copy() -> None:
    model = make_model()
    old = {k: v.clone() for k, v in model.state_dict().items()}
    ema = EMA(model, decay=0.9, warmup=False)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    new = {k: v.clone() for k, v in model.state_dict().items()}
    ema.update(model)
    for k in old:
        torch.testing.assert_close(ema.shadow[k], 0.9 * old[k] + 0.1 * new[k])

    warm = EMA(make_model(), decay=0.999)
    assert warm.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    warm.updates = 10_000
    assert warm.current_decay() == pytest.approx(0.999)

    restored = EMA(make_model(seed=3))
    restored.load_state_dict(ema.state_dict())
    restored.copy_to(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, ema.shadow[k])


def test_save_load_round_trip_gives_identical_scores(tmp_path: Path) -> None:
    model = make_model(mixer="mlp")
    ema = EMA(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.readout.weight.mul_(3.0)
    ema.update(model)
    path = tmp_path / "trm.pt"
    save(model, path, ema=ema)
    loaded = load(path)
    assert loaded.config == model.config
    ema.copy_to(model)  # what was saved is the EMA
    context, candidates = inputs()
    mask = torch.tensor([[1, 1, 0, 1, 1]] * 3, dtype=torch.bool)
    assert torch.equal(
        loaded.score(context, candidates, mask), model.score(context, candidates, mask)
    )
    assert not list(tmp_path.glob("*.tmp"))


def test_load_rejects_corrupt_foreign_and_mismatched_files(tmp_path: Path) -> None:
    model = make_model()
    good = tmp_path / "good.pt"
    save(model, good)

    with pytest.raises(CheckpointError, match="cannot read"):
        load(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="cannot read"):
        load(garbage)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        load(truncated)

    payload = torch.load(good, weights_only=True)

    def write(name: str, **changes: object) -> Path:
        path = tmp_path / name
        torch.save({**payload, **changes}, path)
        return path

    with pytest.raises(CheckpointError, match="version"):
        load(write("v99.pt", version=99))
    with pytest.raises(CheckpointError, match="not a kenetic-trm"):
        load(write("foreign.pt", format="other"))
    wider = {**payload["config"], "width": 48, "heads": 2}
    with pytest.raises(CheckpointError, match="expected"):
        load(write("shape.pt", config=wider))
    with pytest.raises(CheckpointError, match="invalid config"):
        load(write("badcfg.pt", config={**payload["config"], "mixer": "conv"}))
    state = dict(payload["state_dict"])
    state.pop("readout.weight")
    with pytest.raises(CheckpointError, match="missing"):
        load(write("missing_key.pt", state_dict=state))
    state = {**payload["state_dict"], "readout.weight": torch.full((1, 32), float("nan"))}
    with pytest.raises(CheckpointError, match="non-finite"):
        load(write("nan.pt", state_dict=state))


def test_stablemax_cross_entropy() -> None:
    scores = torch.tensor([[2.0, -1.0, float("-inf")], [1.0, 0.0, -3.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    targets = torch.tensor([0, 1])
    loss = stablemax_cross_entropy(scores, targets, mask)
    # s: [3, 1/2, 0] and [2, 1, 1/4]
    expected = torch.tensor([-torch.log(torch.tensor(3 / 3.5)), -torch.log(torch.tensor(1 / 3.25))])
    torch.testing.assert_close(loss, expected)
    loss.sum().backward()
    assert scores.grad is not None and torch.isfinite(scores.grad).all()  # finite at x = 1


def test_a_few_training_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    model = TRM(SMALL)
    model.use_trace = False
    optimizer = model.configure_optimizer(lr=3e-3, weight_decay=0.0)
    ema = EMA(model, decay=0.999)
    held_out = toy_batch(64, 6, seed=123)

    def evaluate() -> tuple[float, float]:
        """Held-out total loss (ranking + halting) and ranking loss alone."""
        model.eval()
        with torch.no_grad():
            scores, loss = model(**held_out)
        assert loss is not None
        ranking = stablemax_cross_entropy(scores, held_out["targets"], held_out["mask"])
        return float(loss), float(ranking.mean())

    total_before, ranking_before = evaluate()
    for i in range(50):
        train_step(model, optimizer, toy_batch(32, 6, seed=i), ema=ema)
    total_after, ranking_after = evaluate()
    assert total_after < total_before
    assert ranking_after < 0.6 * ranking_before, (ranking_before, ranking_after)
    assert ema.updates == 50
    ema.copy_to(model)  # evaluation uses the EMA weights
    scores = model.score(held_out["context"], held_out["candidates"], held_out["mask"])
    accuracy = (scores.argmax(-1) == held_out["targets"]).float().mean()
    assert accuracy > 0.5  # chance is about 1/5


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="mixer"):
        TRMConfig(mixer="conv")
    with pytest.raises(ValueError, match="divisible"):
        TRMConfig(width=30, heads=4)
    with pytest.raises(ValueError, match=">= 1"):
        TRMConfig(T=0)


def test_importing_trm_does_not_import_torch() -> None:
    code = "import sys, trm; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3])
