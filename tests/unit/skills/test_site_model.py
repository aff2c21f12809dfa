"""The site model's features and the shipped weights (memory.skills.site_model)."""

import json
from pathlib import Path

from memory.skills.site_model import (
    FEATURES,
    MODEL_PATH,
    SiteContext,
    features,
    load_model,
    skill_facts,
)
from tests.unit.skills.mined import mine


def _where(text: str, **kw: object) -> SiteContext:
    base = {"same_file": True, "distance": 3, "sites": 2, "sites_in_file": 2, "path": "a.py"}
    return SiteContext(text=text, **{**base, **kw})  # type: ignore[arg-type]


def test_features_read_the_site_against_the_examples() -> None:
    doc = "print(a)\nprint(b)\nprint(1)\nprint(c)\n"
    miner, [skill], after = mine("python", doc, ("print(a)", "logger.info(a)"),
                                 ("print(b)", "logger.info(b)"))  # fmt: skip
    facts = skill_facts(skill)
    assert facts["new_words"] == ["info", "logger"]
    names = dict(zip(FEATURES, features(skill, facts, {"h0": "c"}, _where(after)), strict=True))
    number = dict(zip(FEATURES, features(skill, facts, {"h0": "1"}, _where(after)), strict=True))
    # a name where the examples had names; a number is another kind of text
    assert names["hole_kind_agrees"] == 1.0 and number["hole_kind_agrees"] == 0.0
    # the file already uses `logger` and `info` once the examples are made
    assert names["new_words_present"] == 1.0
    far = dict(zip(FEATURES, features(skill, facts, {"h0": "c"}, _where(after, same_file=False)),
                   strict=True))  # fmt: skip
    assert far["same_file"] == 0.0 and far["distance"] > names["distance"]
    assert len(names) == len(FEATURES)


def test_the_shipped_model_fits_the_features() -> None:
    model = load_model()
    assert model is not None, f"{MODEL_PATH} is missing or out of date with FEATURES"
    assert len(model.weights) == len(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert model.meta["train_sites"] > 1000


def test_a_model_for_other_features_is_not_used(tmp_path: Path) -> None:
    stale = tmp_path / "m.json"
    stale.write_text(
        json.dumps({"features": ["bias", "gone"], "weights": [0, 1], "threshold": 0.5})
    )
    assert load_model(str(stale)) is None
    assert load_model(str(tmp_path / "missing.json")) is None
