"""The LLM gateway: one message shape for every provider, with retries, fallback and usage.

The agent loop speaks `Message`/`ToolCall`/`Reply` (server.agent.messages); providers translate
to and from their SDK (`anthropic` Messages API with tools, streamed or not; `ollama` chat with
tools, streamed or not).
A call is retried on rate limits (429), overload (529), server errors, timeouts and streams cut
midway, with exponential backoff and jitter (honouring `retry-after`); when the primary gives up,
the fallback provider gets the same request. Every reply carries its token usage: the provider's
counts where it reports them, an estimate (characters / 4) otherwise.

A gateway lives for one task and keeps a circuit breaker across its steps: a provider that gave
up (retries spent on a provider that is down) is skipped for the task's later steps while another
one is left, instead of spending every retry again on each step. A rejected key (401/403) is
said as such and never sends the code to the other provider on its own: only when the user named
that provider in agent.fallback.

API keys come from the environment only and are masked in log lines (server.agent.masking).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from server.agent.config import AgentSettings
from server.agent.masking import install_log_masking
from server.agent.messages import (
    LLMError,
    Message,
    NoProviderConfigured,
    Reply,
    TaskCancelled,
    Usage,
    estimate_messages,
    estimate_tokens,
)
from server.agent.providers import build_providers

log = logging.getLogger(__name__)

AUTH_STATUS = {401, 403}
# where each provider's credentials come from, for the message of a rejected key
KEY_SOURCES = {"anthropic": "ANTHROPIC_API_KEY", "ollama": "OLLAMA_API_KEY"}

# ----------------------------------------------------------------------------- providers


class Provider(Protocol):
    name: str
    models: dict[str, str]
    context_tokens: int
    max_output_tokens: int

    async def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[dict],
        model: str,
        max_tokens: int,
        is_cancelled: Callable[[], bool] | None,
    ) -> tuple[Message, str, int | None, int | None]: ...


@dataclass
class RetryPolicy:
    retries: int = 4  # attempts after the first
    base_s: float = 0.5
    max_s: float = 20.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        # "equal jitter": never less than half the exponential step, never in lockstep
        step = min(self.max_s, self.base_s * (2**attempt))
        wait = step / 2 + random.uniform(0, step / 2)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_s))
        return wait


class LLMGateway:
    """Sends a conversation to the primary provider, retrying, then to the fallback."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        fallback_on_auth: bool = False,
    ) -> None:
        if not providers:
            raise NoProviderConfigured()
        self.providers = list(providers)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.calls: list[Usage] = []
        # the user named the fallback provider (agent.fallback): a rejected key may fall back
        self.fallback_on_auth = fallback_on_auth
        # the circuit breaker: providers that gave up during this gateway's task
        self.broken: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: AgentSettings | Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> LLMGateway:
        """Providers from `agent.*` settings and the environment; NoProviderConfigured if none."""
        s = (
            settings
            if isinstance(settings, AgentSettings)
            else AgentSettings.model_validate(dict(settings or {}))
        )
        env = os.environ if env is None else env
        providers = build_providers(s, env)
        install_log_masking([p.secret for p in providers if getattr(p, "secret", None)])
        return cls(
            providers,
            retry=retry or RetryPolicy(retries=s.retries),
            fallback_on_auth=s.fallback in ("anthropic", "ollama"),
        )

    @property
    def primary(self) -> Provider:
        return self.providers[0]

    def context_tokens(self) -> int:
        return self.primary.context_tokens

    async def chat(
        self,
        messages: Sequence[Message],
        *,
        system: str = "",
        tools: Sequence[dict] = (),
        role: str = "main",
        max_tokens: int | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> Reply:
        """One assistant turn. Raises LLMError when every provider gave up."""
        errors: list[str] = []
        live = [p for p in self.providers if p.name not in self.broken]
        # every provider broke earlier in the task: one more try each, without retries
        retries = None if live else 0
        for provider in live or self.providers:
            try:
                return await self._with_retries(
                    provider, messages, system, tools, role, max_tokens, is_cancelled, retries
                )
            except LLMError as exc:
                if exc.status in AUTH_STATUS:
                    self.broken.add(provider.name)
                    exc = LLMError(
                        f"{provider.name} rejected the API key (HTTP {exc.status}: {exc}); "
                        f"check {KEY_SOURCES.get(provider.name, 'its API key')}",
                        provider=provider.name,
                        retryable=False,
                        status=exc.status,
                    )
                    if not self.fallback_on_auth:
                        # never send the code elsewhere unasked because a key is wrong
                        raise exc from None
                elif exc.retryable:  # down: retries spent; skip it for the task's next steps
                    self.broken.add(provider.name)
                errors.append(f"{provider.name}: {exc}")
                if provider is not (live or self.providers)[-1]:
                    log.warning("%s failed (%s); falling back", provider.name, exc)
        raise LLMError("; ".join(errors), provider=self.providers[-1].name, retryable=False)

    async def _with_retries(
        self,
        provider: Provider,
        messages: Sequence[Message],
        system: str,
        tools: Sequence[dict],
        role: str,
        max_tokens: int | None,
        is_cancelled: Callable[[], bool] | None,
        retries: int | None = None,
    ) -> Reply:
        model = provider.models.get(role) or provider.models["main"]
        retries = self.retry.retries if retries is None else retries
        limit = max_tokens or provider.max_output_tokens
        start = time.monotonic()
        attempt = 0
        while True:
            if is_cancelled is not None and is_cancelled():
                raise TaskCancelled()
            try:
                message, stop, tokens_in, tokens_out = await provider.complete(
                    system, messages, tools, model, limit, is_cancelled
                )
                break
            except LLMError as exc:
                if not exc.retryable or attempt >= retries:
                    raise
                wait = self.retry.delay(attempt, exc.retry_after)
                log.info(
                    "%s %s (status %s); retry %d in %.2fs",
                    provider.name,
                    exc,
                    exc.status,
                    attempt + 1,
                    wait,
                )
                attempt += 1
                await self._sleep(wait)
        estimated = tokens_in is None or tokens_out is None
        if tokens_in is None:
            tokens_in = estimate_messages(system, messages, tools)
        if tokens_out is None:
            tokens_out = estimate_tokens(message.text) + sum(
                estimate_tokens(json.dumps(c.arguments)) for c in message.tool_calls
            )
        usage = Usage(
            provider.name,
            model,
            role,
            tokens_in,
            tokens_out,
            estimated,
            attempt + 1,
            round((time.monotonic() - start) * 1000, 1),
        )
        self.calls.append(usage)
        return Reply(message, stop, usage)
