"""The Ollama provider: chat requests from the gateway's `Message`s, streamed or not.

Errors map onto `LLMError(retryable=...)`; a connection that fails is worth a retry. The SDK is
imported on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from server.agent.messages import (
    DEFAULT_MODELS,
    MAX_TOKENS,
    LLMError,
    Message,
    ToolCall,
    parse_tool_arguments,
)
from server.agent.provider_base import RETRYABLE_STATUS, check_cancelled


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
                    check_cancelled(is_cancelled)
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
        if final.done_reason == "length":  # num_predict reached: the reply may be cut anywhere
            stop = MAX_TOKENS
        else:
            stop = "tool_use" if calls else (final.done_reason or "stop")
        return (
            Message("assistant", "".join(text), calls),
            stop,
            final.prompt_eval_count,
            final.eval_count,
        )
