"""What an edit episode keeps: redacted everywhere (the structural edit's context and trees,
not only the changed lines), and bounded in size whatever the document (issue 16, items 6, 15)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.store.database import Store
from server.capture.bursts import ClosedBurst
from server.capture.recorder import DocumentInfo, Recorder, _Job
from server.settings import CaptureSettings
from tests.unit.server.secret_corpus import samples

# samples written `name = "value"`, so that they can be a keyword argument
SAMPLES = [s for s in samples() if re.fullmatch(r'\w+ = "[^"\n]*"', s.line)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "kenetic.db")
    yield s
    s.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.stop()


def build(
    recorder: Recorder, store: Store, before: str, after: str, name: str = "settings.py"
) -> dict:
    grammar = "python" if name.endswith(".py") else "javascript"
    doc = DocumentInfo(f"file:///ws/{name}", grammar, grammar, store, name, CaptureSettings())
    burst = ClosedBurst(doc.uri, before, after, 2, 3, 0.0, 0.1, 2, "idle")
    episode = recorder.build(_Job(burst, doc, "s1", 400, None))
    assert episode is not None
    return episode.data


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_a_secret_beside_the_change_is_not_kept(
    recorder: Recorder, store: Store, sample: object
) -> None:
    line, secret = sample.line, sample.secret  # type: ignore[attr-defined]
    # the change is on the line after the secret, in the same call: its context is the call
    before = f"client = Client({line.replace(' = ', '=')},\n                timeout=3)\n"
    after = before.replace("timeout=3", "timeout=5")
    data = build(recorder, store, before, after)
    assert data["region"]["after"] == "                timeout=5)\n"  # the changed line alone
    structural = data["structural"]
    assert structural is not None  # learnt from, with the secret cut out
    assert "timeout=5" in structural["context_after"]
    assert secret not in json.dumps(data, ensure_ascii=False)


def test_a_secret_in_a_sibling_statement_is_not_kept(recorder: Recorder, store: Store) -> None:
    # a statement added to a long module: the context is the new statement and two siblings
    # each side (the enclosing node, the module, is too long to keep)
    token = next(s for s in SAMPLES if s.name == "github token")
    before = "".join(f"x{i} = {i}\n" for i in range(500)) + f"{token.line}\ntimeout = 3\n"
    after = before + "retries = 2\n"
    data = build(recorder, store, before, after)
    assert data["region"]["after"] == "retries = 2\n"
    assert data["structural"] is not None and "retries = 2" in data["structural"]["context_after"]
    assert token.secret not in json.dumps(data, ensure_ascii=False)


def test_a_huge_line_is_recorded_without_its_text(recorder: Recorder, store: Store) -> None:
    # one line of a minified file is the whole file: no redaction, parse or diff of it
    minified = "var a=" + ",".join(f"x{i}=function(){{return {i}}}" for i in range(40_000)) + ";\n"
    assert len(minified) > 1_000_000
    after = minified.replace("return 7}", "return 8}", 1)
    data = build(recorder, store, minified, after, "bundle.min.js")
    region = data["region"]
    assert region["truncated"] and region["before"] is None and region["after"] is None
    assert data["structural"] is None and data["node"] == {"before": None, "after": None}
    assert region["beforeLines"] == region["afterLines"] == 1


def test_a_huge_sibling_is_not_kept_as_context(recorder: Recorder, store: Store) -> None:
    # a statement added after a minified one: the region is small, but the structural edit's
    # context (the new statement and its siblings) would take in the whole minified line
    minified = "var a=" + ",".join(f"x{i}=function(){{return {i}}}" for i in range(40_000))
    before = minified + ";\nvar b = 1;\n"
    after = before + "var c = 2;\n"
    data = build(recorder, store, before, after, "bundle.min.js")
    assert data["region"]["after"] == "var c = 2;\n" and not data["region"]["truncated"]
    assert data["structural"] is None or len(json.dumps(data["structural"])) < 100_000
