"""Settings layers merge in order and invalid values fall back with a message."""

from __future__ import annotations

from server.settings import Settings, resolve, unwrap


def test_defaults() -> None:
    s = Settings()
    assert s.capture.idle_gap_ms == 1500
    assert s.capture.ignore == [] and s.store.path == ""


def test_layers_override_in_order() -> None:
    user = {"capture": {"idleGapMs": 900, "ignore": ["*.gen.py"]}}
    project = {"capture": {"idleGapMs": 800}}
    init = {"kenetic": {"capture": {"maxRegionLines": 50}}}
    client = {"capture.idleGapMs": 700}
    s, errors = resolve([user, project, init, client])
    assert errors == []
    assert s.capture.idle_gap_ms == 700
    assert s.capture.max_region_lines == 50
    assert s.capture.ignore == ["*.gen.py"]


def test_invalid_value_falls_back_to_lower_layer_default_with_message() -> None:
    s, errors = resolve([{"capture": {"idleGapMs": "soon", "maxRegionLines": 10}}])
    assert s.capture.idle_gap_ms == 1500
    assert s.capture.max_region_lines == 10
    assert len(errors) == 1 and "capture.idleGapMs" in errors[0] or "idle_gap_ms" in errors[0]


def test_out_of_range_and_bad_list_items() -> None:
    s, errors = resolve([{"capture": {"idleGapMs": -5, "ignore": ["ok", 3]}}])
    assert s.capture.idle_gap_ms == 1500 and s.capture.ignore == []
    assert len(errors) >= 2


def test_unwrap_accepts_nested_dotted_and_namespaced() -> None:
    assert unwrap({"kenetic": {"capture.idleGapMs": 5}}) == {"capture": {"idleGapMs": 5}}
    assert unwrap(None) == {} and unwrap([1, 2]) == {}
