"""The Anthropic provider: Messages API requests from the gateway's `Message`s, streamed or not.

Errors map onto `LLMError(retryable=...)` (the SDK's own retries are off: the gateway retries).
The SDK is imported on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from server.agent.messages import DEFAULT_MODELS, LLMError, Message, ToolCall, parse_tool_arguments
from server.agent.provider_base import RETRYABLE_STATUS, check_cancelled, retry_after


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
                retry_after=retry_after(exc.response.headers),
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
                check_cancelled(is_cancelled)
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
