"""The LLM gateway: one message shape for every provider, with retries, fallback and usage.

The agent loop speaks `Message`/`ToolCall`/`Reply`; providers translate to and from their SDK
(`anthropic` Messages API with tools, streamed or not; `ollama` chat with tools, streamed or not).
A call is retried on rate limits (429), overload (529), server errors, timeouts and streams cut
midway, with exponential backoff and jitter (honouring `retry-after`); when the primary gives up,
the fallback provider gets the same request. Every reply carries its token usage: the provider's
counts where it reports them, an estimate (characters / 4) otherwise.

API keys come from the environment only and are masked in log lines (see `SecretMaskFilter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from server.agent.config import AgentSettings
from server.agent.patterns import JsonRepairError, parse_json_loose

log = logging.getLogger(__name__)

DEFAULT_MODELS = {
    "anthropic": {"main": "claude-sonnet-4-6", "summarise": "claude-haiku-4-5"},
    "ollama": {"main": "qwen2.5-coder:7b", "summarise": "qwen2.5-coder:1.5b"},
}
HOW_TO_CONFIGURE = (
    "Set ANTHROPIC_API_KEY in the environment kenetic starts in (Anthropic), or run Ollama and "
    "set OLLAMA_HOST (e.g. http://127.0.0.1:11434) or the setting agent.ollama.host; "
    "agent.provider chooses between them. See docs/agent.md."
)


class AgentConfigError(Exception):
    """A configuration problem the user must fix; the message is meant for them, as is."""


class NoProviderConfigured(AgentConfigError):
    def __init__(self, detail: str = "no LLM provider is configured for agent tasks.") -> None:
        super().__init__(f"kenetic: {detail} {HOW_TO_CONFIGURE}")


class TaskCancelled(Exception):
    """The user cancelled the task; raised at the next await that checks."""


class LLMError(Exception):
    def __init__(
        self,
        message: str,
        *,
        provider: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(mask(message))
        self.provider = provider
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


# ----------------------------------------------------------------------------- message shapes


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # set when the model's arguments could not be parsed even after repair
    error: str | None = None


@dataclass
class Message:
    role: str  # "user" | "assistant" | "tool"
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None  # role "tool": the call this answers
    tool_name: str | None = None
    is_error: bool = False


@dataclass
class Usage:
    provider: str
    model: str
    role: str
    input_tokens: int
    output_tokens: int
    estimated: bool  # True when the provider did not report counts
    attempts: int = 1
    ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Reply:
    message: Message
    stop_reason: str
    usage: Usage


def estimate_tokens(text: str) -> int:
    """A provider-free estimate: about four characters a token for English and code."""
    return (len(text) + 3) // 4


def estimate_messages(system: str, messages: Sequence[Message], tools: Sequence[dict]) -> int:
    total = estimate_tokens(system) + estimate_tokens(json.dumps(list(tools)))
    for m in messages:
        total += 4 + estimate_tokens(m.text)
        for c in m.tool_calls:
            total += estimate_tokens(c.name) + estimate_tokens(json.dumps(c.arguments))
    return total


# ----------------------------------------------------------------------------- key masking

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
    ) -> None:
        if not providers:
            raise NoProviderConfigured()
        self.providers = list(providers)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.calls: list[Usage] = []

    @classmethod
    def from_settings(
        cls,
        settings: AgentSettings | Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> LLMGateway:
        """Providers from `agent.*` settings and the environment; NoProviderConfigured if none."""
        from server.agent.providers import build_providers

        s = (
            settings
            if isinstance(settings, AgentSettings)
            else AgentSettings.model_validate(dict(settings or {}))
        )
        env = os.environ if env is None else env
        providers = build_providers(s, env)
        install_log_masking([p.secret for p in providers if getattr(p, "secret", None)])
        return cls(providers, retry=retry or RetryPolicy(retries=s.retries))

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
        for provider in self.providers:
            try:
                return await self._with_retries(
                    provider, messages, system, tools, role, max_tokens, is_cancelled
                )
            except LLMError as exc:
                errors.append(f"{provider.name}: {exc}")
                if provider is not self.providers[-1]:
                    log.warning(
                        "%s failed (%s); falling back to %s",
                        provider.name,
                        exc,
                        self.providers[self.providers.index(provider) + 1].name,
                    )
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
    ) -> Reply:
        model = provider.models.get(role) or provider.models["main"]
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
                if not exc.retryable or attempt >= self.retry.retries:
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


def parse_tool_arguments(raw: str | Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Tool arguments from a model: a dict, or JSON text repaired when malformed."""
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, Mapping):
        return dict(raw), None
    try:
        value = parse_json_loose(raw)
    except JsonRepairError as exc:
        return {}, f"tool arguments were not valid JSON ({exc}); send them again as a JSON object"
    if not isinstance(value, dict):
        return {}, "tool arguments must be a JSON object"
    return value, None
