"""Anthropic and Ollama behind the gateway's one message shape.

Each provider turns `Message`s into its SDK's request, reads the reply (streamed or whole) back
into a `Message`, and maps the SDK's errors onto `LLMError(retryable=...)` so the gateway decides
about retries the same way for both. The SDK's own retries are off: one policy, one place.
SDKs are imported on first use, never on the server's start path.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from server.agent.config import AgentSettings
from server.agent.llm import (
    DEFAULT_MODELS,
    LLMError,
    Message,
    NoProviderConfigured,
    TaskCancelled,
    ToolCall,
    parse_tool_arguments,
)

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def _models(kind: str, section: Any, override: Any | None) -> dict[str, str]:
    models = dict(DEFAULT_MODELS[kind])
    for layer in (section.models, override):
        if layer is not None:
            models.update({k: v for k, v in layer.model_dump().items() if v})
    return models


def _check(is_cancelled: Callable[[], bool] | None) -> None:
    if is_cancelled is not None and is_cancelled():
        raise TaskCancelled()


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- Anthropic


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        models: dict[str, str] | None = None,
        context_tokens: int = 120_000,
        max_output_tokens: int = 4096,
        stream: bool = True,
        timeout_s: float = 120.0,
    ) -> None:
        self.secret = api_key
        self.base_url = base_url or None
        self.models = models or dict(DEFAULT_MODELS["anthropic"])
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.stream = stream
        self.timeout_s = timeout_s
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import anthropic

            self._client = anthropic.AsyncAnthropic(
                api_key=self.secret, base_url=self.base_url, max_retries=0, timeout=self.timeout_s
            )
        return self._client

    @staticmethod
    def to_request(messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Anthropic wants alternating user/assistant turns; tool results are user blocks."""
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.role == "assistant":
                blocks: list[dict[str, Any]] = [{"type": "text", "text": m.text}] if m.text else []
                blocks += [
                    {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                    for c in m.tool_calls
                ]
                role = "assistant"
            elif m.role == "tool":
                blocks = [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.tool_call_id,
                        "content": m.text or "(no output)",
                        "is_error": m.is_error,
                    }
                ]
                role = "user"
            else:
                blocks, role = [{"type": "text", "text": m.text or "(empty)"}], "user"
            if out and out[-1]["role"] == role:
                out[-1]["content"].extend(blocks)
            else:
                out.append({"role": role, "content": blocks})
        return out

    async def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[dict],
        model: str,
        max_tokens: int,
        is_cancelled: Callable[[], bool] | None,
    ) -> tuple[Message, str, int | None, int | None]:
        import anthropic
        import httpx2

        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": self.to_request(messages),
        }
        if system:
            kwargs["system"] = system
        if tools:
            kwargs["tools"] = [
                {
                    "name": t["name"],
                    "description": t.get("description", ""),
                    "input_schema": t.get("inputSchema") or {"type": "object"},
                }
                for t in tools
            ]
        try:
            if self.stream:
                return await self._streamed(kwargs, is_cancelled)
            reply = await self.client().messages.create(**kwargs)
            blocks = [b.model_dump() for b in reply.content]
            return (
                _from_blocks(blocks),
                reply.stop_reason or "end_turn",
                reply.usage.input_tokens,
                reply.usage.output_tokens,
            )
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            raise LLMError(
                f"HTTP {status}: {exc.api_message or exc.message}",
                provider=self.name,
                retryable=status in RETRYABLE_STATUS or status >= 500,
                status=status,
                retry_after=_retry_after(exc.response.headers),
            ) from None
        except anthropic.APIConnectionError as exc:  # timeouts included
            raise LLMError(
                f"connection failed: {exc.message}", provider=self.name, retryable=True
            ) from None
        except anthropic.AnthropicError as exc:
            raise LLMError(str(exc), provider=self.name, retryable=False) from None
        except (httpx2.TransportError, json.JSONDecodeError) as exc:
            # raised while iterating a stream the server cut midway: not wrapped by the SDK
            raise LLMError(
                f"stream cut: {type(exc).__name__}: {exc}", provider=self.name, retryable=True
            ) from None

    async def _streamed(
        self,
        kwargs: dict[str, Any],
        is_cancelled: Callable[[], bool] | None,
    ) -> tuple[Message, str, int | None, int | None]:
        blocks: dict[int, dict[str, Any]] = {}
        tokens_in: int | None = None
        tokens_out: int | None = None
        stop, finished = "end_turn", False
        stream = await self.client().messages.create(**kwargs, stream=True)
        async with stream:
            async for event in stream:
                _check(is_cancelled)
                kind = event.type
                if kind == "message_start":
                    tokens_in = event.message.usage.input_tokens
                    tokens_out = event.message.usage.output_tokens
                elif kind == "content_block_start":
                    block = event.content_block.model_dump()
                    block["partial_json"] = ""
                    blocks[event.index] = block
                elif kind == "content_block_delta":
                    block = blocks.setdefault(event.index, {"type": "text", "text": ""})
                    if event.delta.type == "text_delta":
                        block["text"] = block.get("text", "") + event.delta.text
                    elif event.delta.type == "input_json_delta":
                        block["partial_json"] += event.delta.partial_json
                elif kind == "message_delta":
                    stop = event.delta.stop_reason or stop
                    tokens_out = event.usage.output_tokens
                    if event.usage.input_tokens is not None:
                        tokens_in = event.usage.input_tokens
                elif kind == "message_stop":
                    finished = True
        if not finished:
            raise LLMError("stream ended before message_stop", provider=self.name, retryable=True)
        for block in blocks.values():
            if block.get("type") == "tool_use" and block.get("partial_json"):
                block["input"] = block["partial_json"]
        return _from_blocks([blocks[i] for i in sorted(blocks)]), stop, tokens_in, tokens_out


def _from_blocks(blocks: Sequence[Mapping[str, Any]]) -> Message:
    text, calls = [], []
    for b in blocks:
        if b.get("type") == "text":
            text.append(b.get("text") or "")
        elif b.get("type") == "tool_use":
            args, error = parse_tool_arguments(b.get("input"))
            calls.append(ToolCall(str(b.get("id")), str(b.get("name")), args, error))
    return Message("assistant", "".join(text), calls)


# ----------------------------------------------------------------------------- Ollama


class OllamaProvider:
    name = "ollama"

    def __init__(
        self,
        host: str,
        *,
        models: dict[str, str] | None = None,
        context_tokens: int = 16_384,
        max_output_tokens: int = 2048,
        stream: bool = True,
        timeout_s: float = 300.0,
    ) -> None:
        self.host = host
        self.secret = os.environ.get("OLLAMA_API_KEY") or None
        self.models = models or dict(DEFAULT_MODELS["ollama"])
        self.context_tokens = context_tokens
        self.max_output_tokens = max_output_tokens
        self.stream = stream
        self.timeout_s = timeout_s
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import ollama

            self._client = ollama.AsyncClient(host=self.host, timeout=self.timeout_s)
        return self._client

    @staticmethod
    def to_request(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        for m in messages:
            if m.role == "assistant":
                item: dict[str, Any] = {"role": "assistant", "content": m.text}
                if m.tool_calls:
                    item["tool_calls"] = [
                        {"function": {"name": c.name, "arguments": c.arguments}}
                        for c in m.tool_calls
                    ]
                out.append(item)
            elif m.role == "tool":
                out.append(
                    {"role": "tool", "content": m.text or "(no output)", "tool_name": m.tool_name}
                )
            else:
                out.append({"role": "user", "content": m.text})
        return out

    async def complete(
        self,
        system: str,
        messages: Sequence[Message],
        tools: Sequence[dict],
        model: str,
        max_tokens: int,
        is_cancelled: Callable[[], bool] | None,
    ) -> tuple[Message, str, int | None, int | None]:
        import httpx
        import ollama
        import pydantic

        kwargs: dict[str, Any] = {
            "model": model,
            "messages": self.to_request(system, messages),
            "options": {"num_predict": max_tokens, "num_ctx": self.context_tokens},
        }
        if tools:
            kwargs["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t["name"],
                        "description": t.get("description", ""),
                        "parameters": t.get("inputSchema") or {"type": "object"},
                    },
                }
                for t in tools
            ]
        text: list[str] = []
        raw_calls: list[Any] = []
        final: Any = None
        try:
            if self.stream:
                async for part in await self.client().chat(**kwargs, stream=True):
                    _check(is_cancelled)
                    text.append(part.message.content or "")
                    raw_calls.extend(part.message.tool_calls or [])
                    if part.done:
                        final = part
                if final is None:
                    raise LLMError("stream ended before done", provider=self.name, retryable=True)
            else:
                final = await self.client().chat(**kwargs)
                text.append(final.message.content or "")
                raw_calls.extend(final.message.tool_calls or [])
        except ollama.ResponseError as exc:
            status = exc.status_code
            raise LLMError(
                f"HTTP {status}: {exc.error}",
                provider=self.name,
                retryable=status in RETRYABLE_STATUS or status >= 500 or status < 0,
                status=status,
            ) from None
        except (ConnectionError, httpx.TransportError, json.JSONDecodeError) as exc:
            raise LLMError(
                f"{type(exc).__name__}: {exc}", provider=self.name, retryable=True
            ) from None
        except pydantic.ValidationError as exc:  # e.g. tool arguments that are not an object
            raise LLMError(
                f"malformed reply: {exc.errors()[0]['msg']}", provider=self.name, retryable=True
            ) from None
        calls = []
        for i, c in enumerate(raw_calls):
            args, error = parse_tool_arguments(c.function.arguments)
            calls.append(ToolCall(f"call_{i}_{c.function.name}", c.function.name, args, error))
        stop = "tool_use" if calls else (final.done_reason or "stop")
        return (
            Message("assistant", "".join(text), calls),
            stop,
            final.prompt_eval_count,
            final.eval_count,
        )


# ----------------------------------------------------------------------------- from settings


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
