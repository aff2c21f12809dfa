"""The gateway across a task's steps (issue 16, item 13): a provider that is down is skipped for
the later steps (a circuit breaker, not five attempts per step), and a rejected key says so and
does not send the code to the other provider unless the user named it in agent.fallback."""

from __future__ import annotations

import pytest

from server.agent.llm import LLMGateway, RetryPolicy
from server.agent.messages import LLMError, Message
from server.agent.providers import AnthropicProvider, OllamaProvider
from tests.agent.conftest import KEY, FakeHTTP
from tests.agent.wire import anthropic_error, anthropic_stream, ollama_stream, text

RETRY_ONCE = RetryPolicy(retries=1, base_s=0.001, max_s=0.01)


def _both(fake: FakeHTTP, **kw: object) -> LLMGateway:
    return LLMGateway(
        [
            AnthropicProvider(KEY, base_url=fake.url, timeout_s=5),
            OllamaProvider(fake.url, timeout_s=5),
        ],
        retry=RETRY_ONCE,
        **kw,  # type: ignore[arg-type]
    )


def _paths(fake: FakeHTTP) -> list[str]:
    return ["ollama" if r["path"] == "/api/chat" else "anthropic" for r in fake.requests]


async def test_a_provider_that_gave_up_is_skipped_for_the_next_steps(fake_http: FakeHTTP) -> None:
    fake_http.push(
        *[anthropic_error(529, "overloaded_error", "overloaded")] * 2,
        ollama_stream("step 1"),
        ollama_stream("step 2"),
        ollama_stream("step 3"),
    )
    gw = _both(fake_http)
    for n in (1, 2, 3):
        reply = await gw.chat([Message("user", f"step {n}")])
        assert reply.message.text == f"step {n}"
    # the two attempts of the first step only; steps 2 and 3 went straight to the fallback
    assert _paths(fake_http) == ["anthropic", "anthropic", "ollama", "ollama", "ollama"]


async def test_every_provider_broken_gets_one_more_try_each(fake_http: FakeHTTP) -> None:
    gw = LLMGateway([AnthropicProvider(KEY, base_url=fake_http.url, timeout_s=5)], retry=RETRY_ONCE)
    fake_http.push(
        *[anthropic_error(529, "overloaded_error", "overloaded")] * 2,
        anthropic_stream(text("back")),
    )
    with pytest.raises(LLMError):
        await gw.chat([Message("user", "x")])
    assert (await gw.chat([Message("user", "x")])).message.text == "back"
    assert len(fake_http.requests) == 3


async def test_a_rejected_key_says_so_and_does_not_fall_back(fake_http: FakeHTTP) -> None:
    fake_http.push(
        anthropic_error(401, "authentication_error", "invalid x-api-key"),
        ollama_stream("should not be asked"),
    )
    gw = _both(fake_http)
    with pytest.raises(LLMError) as info:
        await gw.chat([Message("user", "def secret_code(): ...")])
    assert "rejected the API key" in str(info.value) and "ANTHROPIC_API_KEY" in str(info.value)
    assert _paths(fake_http) == ["anthropic"]  # the code never went to Ollama


async def test_a_rejected_key_falls_back_when_the_user_named_the_fallback(
    fake_http: FakeHTTP,
) -> None:
    settings = {
        "anthropic": {"baseUrl": fake_http.url},
        "ollama": {"host": fake_http.url},
        "fallback": "ollama",
        "retries": 1,
    }
    gw = LLMGateway.from_settings(settings, env={"ANTHROPIC_API_KEY": KEY})
    fake_http.push(
        anthropic_error(401, "authentication_error", "invalid x-api-key"),
        ollama_stream("from ollama"),
    )
    assert (await gw.chat([Message("user", "x")])).message.text == "from ollama"
    assert _paths(fake_http) == ["anthropic", "ollama"]
    # "auto" is not the user naming it: a wrong key stops there
    auto = LLMGateway.from_settings(
        {**settings, "fallback": "auto"}, env={"ANTHROPIC_API_KEY": KEY}
    )
    assert auto.fallback_on_auth is False and len(auto.providers) == 2
