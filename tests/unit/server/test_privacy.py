"""Ignore rules and secret redaction, with real-looking samples."""

from __future__ import annotations

from pathlib import Path

from server.capture.privacy import REDACTED, IgnoreRules, redact


def test_gitignore_kenetic_ignore_settings_and_secret_names(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("local_*.py\n")
    (tmp_path / ".kenetic").mkdir()
    (tmp_path / ".kenetic" / "ignore").write_text("generated/**\n")
    rules = IgnoreRules(tmp_path, ["vendor/**"])
    ignored = [
        "build/out.py",
        "debug.log",
        "sub/local_settings.py",
        "generated/api.py",
        "vendor/lib.py",
        ".env",
        ".env.production",
        "certs/server.pem",
        "deploy.key",
        "home/id_rsa",
        "home/id_ed25519.pub",
    ]
    kept = ["src/app.py", "keep.log", "local_settings.py", "sub/app.py", "environment.py"]
    for name in ignored:
        assert rules.ignored(tmp_path / name), name
    for name in kept:
        assert not rules.ignored(tmp_path / name), name
    assert rules.ignored(tmp_path.parent / "elsewhere.py")  # outside the folder


def test_redacts_cloud_keys_tokens_and_keyword_assignments() -> None:
    samples = {
        'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n': "AKIAIOSFODNN7EXAMPLE",
        'GITHUB_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"\n': "ghp_16C7e42F292c6912E7710",
        'password = "correct-horse-battery-staple"\n': "correct-horse-battery-staple",
        'slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"\n': "xoxb-1234",
        'client_secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"\n': "9f8e7d6c5b4a3928",
    }
    for text, secret in samples.items():
        out, n = redact(text, "settings.py")
        assert secret not in out, out
        assert REDACTED in out and n >= 1


def test_redacts_private_key_blocks_whole() -> None:
    key = (
        "KEY = '''\n-----BEGIN RSA PRIVATE KEY-----\n"
        "MIIEowIBAAKCAQEA7bq4mJm0kW1nX8yq3vQ5lq0cGf1oZbq2Yt4W\n"
        "-----END RSA PRIVATE KEY-----\n'''\n"
    )
    out, n = redact(key)
    assert "MIIEowIBAAKCAQEA" not in out and "BEGIN RSA" not in out
    assert out.startswith("KEY = '''\n" + REDACTED) and n >= 1


def test_ordinary_code_is_left_alone() -> None:
    code = "def total(items):\n    return sum(item.price for item in items)\n"
    assert redact(code) == (code, 0)
