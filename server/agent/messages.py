"""What the agent and its providers say to each other: messages, tool calls, usage and errors.

The loop speaks `Message`/`ToolCall`/`Reply`; each provider (server.agent.anthropic_provider,
server.agent.ollama_provider) translates them to and from its SDK, and the gateway
(server.agent.llm) sends them with retries and fallback. Nothing here calls a provider.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from server.agent.masking import mask

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


def parse_tool_arguments(raw: str | Mapping[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """Tool arguments from a model: a dict, or strict JSON text.

    Never repaired (unlike patterns' JSON, server.agent.jsonrepair): arguments cut short by the
    output limit and "fixed" by closing their brackets would be executed with content missing,
    e.g. an edit_file whose newText lost its last line. The model is asked to send them again.
    """
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, Mapping):
        return dict(raw), None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return {}, (
            f"tool arguments were not valid JSON ({exc.__class__.__name__}: {exc}); the call was "
            "not executed: send it again as one complete JSON object"
        )
    if not isinstance(value, dict):
        return {}, "tool arguments must be a JSON object; the call was not executed"
    return value, None


# the provider-neutral stop reason of a reply cut by the output limit (Anthropic's own word;
# the Ollama provider maps its done_reason "length" to it)
MAX_TOKENS = "max_tokens"
TRUNCATED_CALL = (
    "not executed: your reply was cut at the output limit (max_tokens) while this call was "
    "being written, so its arguments may be incomplete. Send it again, smaller (e.g. split a "
    "long edit_file into several edits)"
)
