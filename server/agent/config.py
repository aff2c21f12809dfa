"""The `agent.*` settings: which LLM provider runs agent tasks, and what the agent may do.

A pydantic section in the style of server/settings.py (camelCase aliases, unknown keys ignored),
meant to be mounted there as `agent: AgentSettings`. Secrets are never settings: the Anthropic key
comes from ANTHROPIC_API_KEY only; Ollama's host may come from OLLAMA_HOST or `agent.ollama.host`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RoleModels(_Section):
    """A model per role; empty means the provider's default for that role."""

    main: str = ""
    summarise: str = ""


class AnthropicSettings(_Section):
    # empty: ANTHROPIC_BASE_URL, else the SDK's default (api.anthropic.com)
    base_url: str = Field("", alias="baseUrl")
    models: RoleModels = Field(default_factory=RoleModels)
    # the context budget the agent packs its six blocks into (well under the model's window)
    context_tokens: int = Field(120_000, alias="contextTokens", ge=2_000, le=2_000_000)
    max_output_tokens: int = Field(4096, alias="maxOutputTokens", ge=64, le=128_000)
    stream: bool = True
    timeout_s: float = Field(120.0, alias="timeoutS", gt=0, le=3600)


class OllamaSettings(_Section):
    # empty: OLLAMA_HOST; Ollama counts as configured only when one of the two is set
    host: str = ""
    models: RoleModels = Field(default_factory=RoleModels)
    # sent as num_ctx too: Ollama's own default window is small and silently truncates
    context_tokens: int = Field(16_384, alias="contextTokens", ge=1_000, le=2_000_000)
    max_output_tokens: int = Field(2048, alias="maxOutputTokens", ge=64, le=128_000)
    stream: bool = True
    timeout_s: float = Field(300.0, alias="timeoutS", gt=0, le=3600)


class McpServerSettings(_Section):
    """An MCP server started over stdio whose tools join the agent's registry."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str = ""


class AgentSettings(_Section):
    enabled: bool = True
    # auto: Anthropic when ANTHROPIC_API_KEY is set, else Ollama when a host is set
    provider: Literal["auto", "anthropic", "ollama"] = "auto"
    # auto: the other provider when it is configured too; none: never fall back
    fallback: Literal["auto", "anthropic", "ollama", "none"] = "auto"
    # per-role models of the primary provider (override agent.<provider>.models)
    models: RoleModels = Field(default_factory=RoleModels)
    max_steps: int = Field(25, alias="maxSteps", ge=1, le=500)
    # more tools than this and only the most relevant ones are offered to the model
    max_tools: int = Field(24, alias="maxTools", ge=1, le=500)
    retries: int = Field(4, ge=0, le=20)
    command_timeout_s: float = Field(120.0, alias="commandTimeoutS", gt=0, le=3600)
    output_cap_chars: int = Field(16_000, alias="outputCapChars", ge=1_000, le=1_000_000)
    # regular expressions refused on top of the built-in list (never instead of it)
    blocked_commands: list[str] = Field(default_factory=list, alias="blockedCommands")
    # environment variables (names or globs) a command gets although they look like secrets;
    # all others named like a token, key, secret, password, auth or credential, or holding a
    # URL with a password, are stripped (server.agent.shell)
    pass_env: list[str] = Field(default_factory=list, alias="passEnv")
    mcp_servers: list[McpServerSettings] = Field(default_factory=list, alias="mcpServers")
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
