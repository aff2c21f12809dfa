"""API keys masked in log lines: the configured keys and anything shaped like one.

The agent's, the SDKs' and the MCP client's loggers get SecretMaskFilter once a provider is built
(install_log_masking); LLMError masks its own message the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

_KEY_SHAPES = re.compile(r"\b(sk-ant-[A-Za-z0-9_\-]{4,}|sk-[A-Za-z0-9_\-]{20,})")
_SECRETS: set[str] = set()
_MASKED_LOGGERS = ("server.agent", "anthropic", "httpx", "httpx2", "httpcore", "ollama", "mcp")


def mask(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _masked(secret))
    return _KEY_SHAPES.sub(lambda m: _masked(m.group(0)), text)


def _masked(secret: str) -> str:
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


class SecretMaskFilter(logging.Filter):
    """Rewrites a record's message with every known key (and key-shaped token) masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; let it through
            return True
        masked = mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = mask(exc_text), None
        return True


_FILTER = SecretMaskFilter()


def install_log_masking(secrets: Sequence[str] = ()) -> None:
    """Mask these secrets (and key-shaped tokens) in the agent's and the SDKs' log lines."""
    _SECRETS.update(s for s in secrets if s and len(s) >= 6)
    names = set(_MASKED_LOGGERS) | {
        name
        for name in logging.Logger.manager.loggerDict
        if any(name.startswith(prefix + ".") for prefix in _MASKED_LOGGERS)
    }
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
