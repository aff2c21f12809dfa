"""What the LLM providers share: which errors are worth a retry, per-role models, cancelling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.agent.messages import DEFAULT_MODELS, TaskCancelled

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def models_for(kind: str, section: Any, override: Any | None) -> dict[str, str]:
    models = dict(DEFAULT_MODELS[kind])
    for layer in (section.models, override):
        if layer is not None:
            models.update({k: v for k, v in layer.model_dump().items() if v})
    return models


def check_cancelled(is_cancelled: Callable[[], bool] | None) -> None:
    if is_cancelled is not None and is_cancelled():
        raise TaskCancelled()


def retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
