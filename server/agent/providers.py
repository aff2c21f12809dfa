"""Anthropic and Ollama behind the gateway's one message shape.

Each provider turns `Message`s into its SDK's request, reads the reply (streamed or whole) back
into a `Message`, and maps the SDK's errors onto `LLMError(retryable=...)` so the gateway decides
about retries the same way for both. The SDK's own retries are off: one policy, one place.
SDKs are imported on first use, never on the server's start path. The providers live in
server.agent.anthropic_provider and server.agent.ollama_provider; this module picks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from server.agent.anthropic_provider import AnthropicProvider
from server.agent.config import AgentSettings
from server.agent.messages import NoProviderConfigured
from server.agent.ollama_provider import OllamaProvider
from server.agent.provider_base import RETRYABLE_STATUS
from server.agent.provider_base import models_for as _models

__all__ = ["RETRYABLE_STATUS", "AnthropicProvider", "OllamaProvider", "build_providers"]


def build_providers(s: AgentSettings, env: Mapping[str, str]) -> list[Any]:
    """[primary, fallback?] from settings and the environment; NoProviderConfigured if none."""
    key = env.get("ANTHROPIC_API_KEY", "").strip()
    host = (s.ollama.host or env.get("OLLAMA_HOST", "")).strip()
    available: dict[str, Callable[[Any], Any]] = {}
    if key:
        available["anthropic"] = lambda override: AnthropicProvider(
            key,
            base_url=s.anthropic.base_url or env.get("ANTHROPIC_BASE_URL") or None,
            models=_models("anthropic", s.anthropic, override),
            context_tokens=s.anthropic.context_tokens,
            max_output_tokens=s.anthropic.max_output_tokens,
            stream=s.anthropic.stream,
            timeout_s=s.anthropic.timeout_s,
        )
    if host:
        available["ollama"] = lambda override: OllamaProvider(
            host,
            models=_models("ollama", s.ollama, override),
            context_tokens=s.ollama.context_tokens,
            max_output_tokens=s.ollama.max_output_tokens,
            stream=s.ollama.stream,
            timeout_s=s.ollama.timeout_s,
        )
    if s.provider == "anthropic" and "anthropic" not in available:
        raise NoProviderConfigured(
            'agent.provider is "anthropic" but ANTHROPIC_API_KEY is not set.'
        )
    if s.provider == "ollama" and "ollama" not in available:
        raise NoProviderConfigured(
            'agent.provider is "ollama" but neither OLLAMA_HOST nor agent.ollama.host is set.'
        )
    primary = s.provider if s.provider != "auto" else next(iter(available), None)
    if primary is None:
        raise NoProviderConfigured()
    providers = [available[primary](s.models)]
    if s.fallback != "none":
        other = next((k for k in available if k != primary), None)
        wanted = other if s.fallback == "auto" else s.fallback
        if wanted and wanted != primary and wanted in available:
            providers.append(available[wanted](None))
    return providers
