"""Redaction against the secrets corpus: every provider's key, PEM blocks, JWTs, URLs with
passwords, and the shell and CLI forms a command line holds (issue 16, item 5)."""

from __future__ import annotations

import pytest

from server.capture.privacy import REDACTED, redact, redact_strings
from tests.unit.server.secret_corpus import ORDINARY, samples

SAMPLES = samples()


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
@pytest.mark.parametrize("filename", ["settings.py", "deploy.sh", "command"])
def test_every_sample_is_redacted(sample: object, filename: str) -> None:
    line, secret = sample.line, sample.secret  # type: ignore[attr-defined]
    out, n = redact(line + "\n", filename)
    assert secret not in out, out
    assert REDACTED in out and n >= 1
    # redacting again finds nothing more: the marker itself is no secret
    assert redact(out, filename) == (out, 0)


def test_shell_forms_keep_what_surrounds_the_secret() -> None:
    by_name = {s.name: s for s in SAMPLES}
    expected = {
        "export, unquoted": "export AWS_SECRET_ACCESS_KEY=" + REDACTED,
        "env prefix": "PGPASSWORD=" + REDACTED + " psql -h db -U app",
        "mysql -p": "mysql -u root -p" + REDACTED + " shop",
        "curl -u": "curl -u alice:" + REDACTED + " https://api.example.com/v1",
        "url password with & and !": "psql 'postgres://app:" + REDACTED + "@db.internal/app'",
    }
    for name, text in expected.items():
        assert redact(by_name[name].line, "command")[0] == text


@pytest.mark.parametrize("code", ORDINARY)
def test_code_near_a_secret_is_left_alone(code: str) -> None:
    for filename in ("app.py", "command"):
        assert redact(code, filename) == (code, 0)


def test_every_string_of_a_value_is_redacted() -> None:
    openai = next(s for s in SAMPLES if s.name == "openai project key")
    value = {"a": [openai.line, {"b": openai.line}], "n": 3}
    out, n = redact_strings(value, "command")
    assert n == 2 and openai.secret not in repr(out) and out["n"] == 3
