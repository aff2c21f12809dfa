"""The gateway against fake Anthropic and Ollama servers, through the real SDKs."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from server.agent.llm import LLMGateway, RetryPolicy
from server.agent.masking import mask
from server.agent.messages import LLMError, Message, NoProviderConfigured, ToolCall
from server.agent.providers import AnthropicProvider, OllamaProvider
from tests.agent.conftest import FAST_RETRY, KEY, FakeHTTP
from tests.agent.wire import (
    anthropic_error,
    anthropic_message,
    anthropic_stream,
    ollama_error,
    ollama_reply,
    ollama_stream,
    text,
    tool_use,
)

TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file",
        "inputSchema": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    }
]


def anthropic(fake: FakeHTTP, **kw: Any) -> AnthropicProvider:
    return AnthropicProvider(KEY, base_url=fake.url, timeout_s=5, **kw)


def ollama(fake: FakeHTTP, **kw: Any) -> OllamaProvider:
    return OllamaProvider(fake.url, timeout_s=5, **kw)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_anthropic_stream_text_tool_use_and_usage(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_stream(
            text("Let me look."),
            tool_use("toolu_1", "read_file", '{"pa', 'th": "a.py"}'),
            tokens_in=25,
            tokens_out=15,
        )
    )
    gw = LLMGateway([anthropic(fake_http)], retry=FAST_RETRY)
    reply = await gw.chat([Message("user", "fix a.py")], system="be brief", tools=TOOLS)
    assert reply.message.text == "Let me look."
    assert reply.message.tool_calls == [ToolCall("toolu_1", "read_file", {"path": "a.py"})]
    assert reply.stop_reason == "tool_use"
    u = reply.usage
    assert (u.provider, u.input_tokens, u.output_tokens, u.estimated, u.attempts) == (
        "anthropic",
        25,
        15,
        False,
        1,
    )
    req = fake_http.requests[0]
    assert req["path"] == "/v1/messages"
    # SDK 2.x sends the key as a bearer token; 0.x sent x-api-key
    headers = req["headers"]
    assert KEY in (
        headers.get("x-api-key"),
        headers.get("authorization", "").removeprefix("Bearer "),
    )
    body = req["body"]
    assert body["stream"] is True and body["system"] == "be brief"
    assert body["model"] == "claude-sonnet-4-6"
    assert body["tools"][0]["input_schema"]["required"] == ["path"]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "fix a.py"}]}]


async def test_anthropic_non_streaming(fake_http: FakeHTTP) -> None:
    fake_http.push(anthropic_message(text("ok"), tool_use("t1", "read_file", '{"path": "b"}')))
    gw = LLMGateway([anthropic(fake_http, stream=False)], retry=FAST_RETRY)
    reply = await gw.chat([Message("user", "hi")], tools=TOOLS)
    assert reply.message.tool_calls[0].arguments == {"path": "b"}
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (11, 7)
    assert "stream" not in fake_http.requests[0]["body"]


async def test_tool_history_becomes_alternating_turns(fake_http: FakeHTTP) -> None:
    fake_http.push(anthropic_stream(text("done")))
    history = [
        Message("user", "task"),
        Message(
            "assistant",
            "",
            [
                ToolCall("t1", "read_file", {"path": "a"}),
                ToolCall("t2", "read_file", {"path": "b"}),
            ],
        ),
        Message("tool", "A", tool_call_id="t1", tool_name="read_file"),
        Message("tool", "no such file", tool_call_id="t2", tool_name="read_file", is_error=True),
    ]
    await LLMGateway([anthropic(fake_http)], retry=FAST_RETRY).chat(history, tools=TOOLS)
    sent = fake_http.requests[0]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["type"] for b in sent[2]["content"]] == ["tool_result", "tool_result"]
    assert sent[2]["content"][1] == {
        "type": "tool_result",
        "tool_use_id": "t2",
        "content": "no such file",
        "is_error": True,
    }


async def test_retries_429_529_500_with_backoff_then_success(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_error(429, "rate_limit_error", "slow down"),
        anthropic_error(529, "overloaded_error", "overloaded"),
        anthropic_error(500, "api_error", "boom"),
        anthropic_stream(text("finally")),
    )
    sleeps = Sleeps()
    policy = RetryPolicy(retries=3, base_s=0.1, max_s=10)
    gw = LLMGateway([anthropic(fake_http)], retry=policy, sleep=sleeps)
    reply = await gw.chat([Message("user", "x")])
    assert reply.message.text == "finally" and reply.usage.attempts == 4
    assert len(fake_http.requests) == 4
    # exponential with jitter: each wait within [step/2, step], step = 0.1 * 2^n
    for n, wait in enumerate(sleeps.waits):
        assert 0.1 * 2**n / 2 <= wait <= 0.1 * 2**n


async def test_retry_after_is_honoured(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_error(429, "rate_limit_error", "wait", retry_after="3"),
        anthropic_stream(text("ok")),
    )
    sleeps = Sleeps()
    gw = LLMGateway([anthropic(fake_http)], retry=RetryPolicy(base_s=0.01, max_s=5), sleep=sleeps)
    await gw.chat([Message("user", "x")])
    assert sleeps.waits == [3.0]


async def test_gives_up_after_retries(fake_http: FakeHTTP) -> None:
    fake_http.push(*[anthropic_error(529, "overloaded_error", "overloaded")] * 4)
    gw = LLMGateway([anthropic(fake_http)], retry=FAST_RETRY)
    with pytest.raises(LLMError, match="529"):
        await gw.chat([Message("user", "x")])
    assert len(fake_http.requests) == 4


async def test_client_errors_are_not_retried(fake_http: FakeHTTP) -> None:
    fake_http.push(anthropic_error(400, "invalid_request_error", "bad"))
    with pytest.raises(LLMError, match="400"):
        await LLMGateway([anthropic(fake_http)], retry=FAST_RETRY).chat([Message("user", "x")])
    assert len(fake_http.requests) == 1


async def test_stream_cut_midway_is_retried(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_stream(text("partial answer that is long enough"), cut=True),
        anthropic_stream(text("no message_stop"), finish=False),
        anthropic_stream(text("whole")),
    )
    reply = await LLMGateway([anthropic(fake_http)], retry=FAST_RETRY).chat([Message("user", "x")])
    assert reply.message.text == "whole" and reply.usage.attempts == 3


async def test_malformed_tool_json_is_reported_never_repaired(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_stream(
            tool_use("t1", "read_file", '{"path": "a.py",', "}"),
            tool_use("t2", "read_file", "{path: 'b.py'"),
        )
    )
    reply = await LLMGateway([anthropic(fake_http)], retry=FAST_RETRY).chat([Message("user", "x")])
    first, second = reply.message.tool_calls
    # a guessed repair may run a call the model never wrote (issue 16, item 7): ask again
    assert first.arguments == {} and "not valid JSON" in (first.error or "")
    assert second.arguments == {} and "not valid JSON" in (second.error or "")


async def test_unrepairable_tool_json_becomes_an_error_for_the_model(fake_http: FakeHTTP) -> None:
    fake_http.push(anthropic_stream(tool_use("t1", "read_file", "<<<not json>>>")))
    reply = await LLMGateway([anthropic(fake_http)], retry=FAST_RETRY).chat([Message("user", "x")])
    call = reply.message.tool_calls[0]
    assert call.arguments == {} and "not valid JSON" in (call.error or "")


async def test_fallback_to_ollama_when_anthropic_keeps_failing(fake_http: FakeHTTP) -> None:
    fake_http.push(
        *[anthropic_error(529, "overloaded_error", "overloaded")] * 2,
        ollama_stream("from ollama", counts=(30, 9)),
    )
    gw = LLMGateway(
        [anthropic(fake_http), ollama(fake_http)],
        retry=RetryPolicy(retries=1, base_s=0.001, max_s=0.01),
    )
    reply = await gw.chat([Message("user", "x")], system="sys", tools=TOOLS)
    assert reply.message.text == "from ollama"
    assert (reply.usage.provider, reply.usage.input_tokens, reply.usage.output_tokens) == (
        "ollama",
        30,
        9,
    )
    last = fake_http.requests[-1]
    assert last["path"] == "/api/chat"
    assert last["body"]["messages"][0] == {"role": "system", "content": "sys"}
    assert last["body"]["tools"][0]["function"]["name"] == "read_file"
    assert [c.provider for c in gw.calls] == ["ollama"]


async def test_ollama_stream_with_tool_calls_and_tool_messages(fake_http: FakeHTTP) -> None:
    fake_http.push(ollama_stream("", [{"name": "read_file", "arguments": {"path": "a.py"}}]))
    history = [
        Message("user", "t"),
        Message("assistant", "", [ToolCall("c0", "read_file", {"path": "x"})]),
        Message("tool", "X", tool_call_id="c0", tool_name="read_file"),
    ]
    reply = await LLMGateway([ollama(fake_http)], retry=FAST_RETRY).chat(history, tools=TOOLS)
    assert reply.message.tool_calls[0].name == "read_file"
    assert reply.message.tool_calls[0].arguments == {"path": "a.py"}
    assert reply.stop_reason == "tool_use"
    sent = fake_http.requests[0]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "read_file", "arguments": {"path": "x"}}
    assert sent[2] == {"role": "tool", "content": "X", "tool_name": "read_file"}


async def test_ollama_non_streaming_and_retry_on_429_and_cut(fake_http: FakeHTTP) -> None:
    fake_http.push(ollama_error(429, "busy"), ollama_reply("whole"))
    gw = LLMGateway([ollama(fake_http, stream=False)], retry=FAST_RETRY)
    reply = await gw.chat([Message("user", "x")])
    assert reply.message.text == "whole" and reply.usage.attempts == 2
    assert reply.usage.input_tokens == 40
    fake_http.push(
        ollama_stream("a long enough answer to be cut", cut=True),
        ollama_error(503, "loading"),
        ollama_stream("fine"),
    )
    reply = await LLMGateway([ollama(fake_http)], retry=FAST_RETRY).chat([Message("user", "x")])
    assert reply.message.text == "fine" and reply.usage.attempts == 3


async def test_usage_is_estimated_when_the_provider_does_not_count(fake_http: FakeHTTP) -> None:
    fake_http.push(ollama_stream("twelve chars", counts=None))
    reply = await LLMGateway([ollama(fake_http)], retry=FAST_RETRY).chat(
        [Message("user", "x" * 40)]
    )
    assert reply.usage.estimated and reply.usage.output_tokens == 3
    assert reply.usage.input_tokens >= 10


def test_no_provider_configured_gives_a_clear_error() -> None:
    with pytest.raises(NoProviderConfigured) as info:
        LLMGateway.from_settings({}, env={})
    message = str(info.value)
    assert "ANTHROPIC_API_KEY" in message and "OLLAMA_HOST" in message
    assert "docs/agent.md" in message
    with pytest.raises(NoProviderConfigured, match='agent.provider is "anthropic"'):
        LLMGateway.from_settings({"provider": "anthropic"}, env={"OLLAMA_HOST": "x"})


def test_providers_from_settings_and_environment() -> None:
    env = {"ANTHROPIC_API_KEY": KEY, "OLLAMA_HOST": "http://127.0.0.1:9"}
    gw = LLMGateway.from_settings({"models": {"main": "claude-x"}}, env=env)
    assert [p.name for p in gw.providers] == ["anthropic", "ollama"]
    assert gw.primary.models == {"main": "claude-x", "summarise": "claude-haiku-4-5"}
    gw = LLMGateway.from_settings(
        {"provider": "ollama", "fallback": "none", "ollama": {"models": {"summarise": "tiny"}}},
        env=env,
    )
    assert [p.name for p in gw.providers] == ["ollama"]
    assert gw.primary.models["summarise"] == "tiny"
    gw = LLMGateway.from_settings({"ollama": {"host": "http://h:1"}}, env={})
    assert gw.primary.name == "ollama" and gw.primary.host == "http://h:1"


async def test_keys_are_masked_in_logs(
    fake_http: FakeHTTP, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw = LLMGateway.from_settings(
        {"anthropic": {"baseUrl": fake_http.url}, "retries": 1}, env={"ANTHROPIC_API_KEY": KEY}
    )
    gw.retry = FAST_RETRY
    # a server that echoes the key back in its error, twice (retried), then refuses for good
    fake_http.push(
        anthropic_error(500, "api_error", f"bad key {KEY}"),
        anthropic_error(401, "authentication_error", f"invalid x-api-key {KEY}"),
    )
    with pytest.raises(LLMError) as info:
        await gw.chat([Message("user", "x")])
    assert KEY not in str(info.value) and "****" in str(info.value)
    logging.getLogger("server.agent.llm").warning("configured with %s", KEY)
    logging.getLogger("anthropic").debug("header x-api-key: %s", KEY)
    assert caplog.records, "expected log lines"
    assert KEY not in caplog.text
    assert "****" in caplog.text
    assert mask(f"key={KEY}") == f"key=****{KEY[-4:]}"
