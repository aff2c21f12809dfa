"""The training knobs of trm.train, apart so that settings and objectives read them without torch.

trm.objectives weighs its four losses by them and trm.train runs the optimisation with them;
server.suggest.training builds one from the user's settings before any torch import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# the TRM pretrained on the replay corpora (tests/bench/rank_pretrain.py --trm-out), shipped
SHIPPED_TRM = Path(__file__).with_name("ranker_trm.pt")


@dataclass
class TrainConfig:
    # Objective weights (the defaults).
    contrastive_weight: float = 1.0  # accepted vs shown-not-accepted, listwise
    next_action_weight: float = 0.5  # next accepted candidate from the previous step
    outcome_weight: float = 0.3  # per-candidate accept probability (BCE)
    masked_action_weight: float = 0.2  # a masked step's action from its neighbours
    # Optimisation. Sized so that 5,000 outcomes train in under 60 s on one shared CPU core:
    # at this model size a step costs ~0.1 s, mostly per-operation overhead.
    epochs: float = 10.0  # passes over the log, within min_steps..max_steps
    min_steps: int = 300  # small logs get more passes: a few dozen steps learn little
    max_steps: int = 600  # large logs get fewer passes (5,000 sets: ~4 epochs)
    fine_tune_min_steps: int = 60  # the same bounds when fine-tuning a pretrained model (init)
    fine_tune_max_steps: int = 150
    fine_tune_lr: float = 3e-4  # and its peak learning rate (chosen on validation, docs/trm.md)
    batch_size: int = 32  # shown sets per step (the auxiliary rows come on top)
    aux_rows: float = 0.25  # next/masked-action rows per step, each, as a share of batch_size
    # Candidates kept per shown set in training: the accepted one plus the best others by rule
    # score, ties to the nearest site (the hard negatives; trm.features.preselect). Bigger sets
    # cost more per step for little gain on the replay (32: MRR +0.002, budget-bound when busy).
    max_candidates: int = 16
    lr: float = 3e-3  # AdamW peak learning rate, cosine-decayed to 10% after a short warmup
    warmup_steps: int = 20
    weight_decay: float = 0.05
    grad_clip: float = 1.0
    time_budget_s: float = 60.0  # wall-clock budget for the optimisation loop
    seed: int = 0  # model init and batch order
    min_outcomes: int = 100  # shown sets needed before training (DESIGN §6 cold start)
    threads: int | None = None  # torch intra-op threads while training (None: leave as is)
    # A checkpoint to fine-tune (its weights and config are the start; SHIPPED_TRM is the one
    # pretrained on the corpus); None, or a file that does not load: a fresh model.
    init: str | None = None

    def weights(self) -> dict[str, float]:
        return {
            "contrastive": self.contrastive_weight,
            "next_action": self.next_action_weight,
            "outcome": self.outcome_weight,
            "masked_action": self.masked_action_weight,
        }
