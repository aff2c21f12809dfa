"""Params of kenetic's custom methods and commands, validated with pydantic.

pygls hands custom params over untyped; every custom handler validates them here first and a
malformed request gets a JSON-RPC InvalidParams answer at once (see `validate`). Unknown extra
fields are refused too: a typo in a client should be loud, not silently ignored.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pygls.exceptions import JsonRpcInvalidParams

from memory.store.text import storable_value


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class TextDocumentId(Params):
    uri: str


class StatsParams(Params):
    pass


class EpisodesParams(Params):
    limit: int = Field(50, ge=1, le=10_000)
    kind: Literal["edit", "command", "agent"] | None = None
    uri: str | None = None
    # with the bulky internals too (an edit's `structural`: both syntax windows, for mining)
    full: bool = False


class DidRunCommandParams(Params):
    command: str = Field(min_length=1, max_length=100_000)
    cwd: str | None = None
    exit_code: int | None = Field(None, alias="exitCode")
    duration_ms: float | None = Field(None, alias="durationMs", ge=0)
    source: Literal["terminal", "task", "editor"] = "terminal"


class SessionCommandParams(Params):
    """kenetic.newSession / kenetic.freeze take no arguments (or one empty object)."""

    reason: str | None = None


class Position(Params):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class NextEditsParams(Params):
    text_document: TextDocumentId = Field(alias="textDocument")
    position: Position | None = None
    limit: int | None = Field(None, ge=1, le=10_000)


class SkillsParams(Params):
    language: str | None = None
    limit: int = Field(100, ge=1, le=10_000)


class SkillParams(Params):
    id: str = Field(min_length=1)


class RecordOutcomeParams(Params):
    suggestion_id: str = Field(alias="suggestionId", min_length=1)
    outcome: Literal["accepted", "rejected"] = "accepted"


class ToggleSuggestionsParams(Params):
    # absent: flip the current state
    enabled: bool | None = None
    # absent: every document of the session
    uri: str | None = Field(None, min_length=1)


class ExportSkillParams(Params):
    """kenetic.exportSkill: one skill as an ast-grep or semgrep rule (memory.export)."""

    skill_id: str = Field(min_length=1, validation_alias=AliasChoices("skillId", "id"))
    format: Literal["ast-grep", "semgrep"] = "ast-grep"
    # where to write: absolute, or relative to the skill's workspace folder
    dir: str | None = Field(default=None, min_length=1)


class DeleteSkillParams(Params):
    id: str = Field(min_length=1)


class RenameSkillParams(Params):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)


class ApplySkillParams(Params):
    # "skillId" is taken too (the name kenetic/nextEdits gives it)
    id: str = Field(min_length=1, validation_alias=AliasChoices("id", "skillId"))
    uri: str = Field(min_length=1)
    scope: Literal["here", "file", "workspace"] = "here"
    position: Position | None = None


class Range(Params):
    start: Position
    end: Position


class AgentRunParams(Params):
    task: str = Field(min_length=1, max_length=100_000)
    text_document: TextDocumentId | None = Field(None, alias="textDocument")
    range: Range | None = None
    # client-initiated progress (LSP WorkDoneProgressParams); else the server creates a token
    work_done_token: str | int | None = Field(None, alias="workDoneToken")


class PatternsParams(Params):
    limit: int = Field(50, ge=1, le=10_000)


class PatternParams(Params):
    id: str = Field(min_length=1, max_length=200)


class RunPatternParams(Params):
    id: str = Field(min_length=1, max_length=200)
    uri: str | None = None
    # fills the pattern template's {task}; a default names the pattern and the document
    task: str | None = Field(None, max_length=100_000)
    range: Range | None = None


class RankDict(BaseModel):
    """A dict the rankers read (trm/features.py, trm/ranker.py): every key they read is typed
    here, so a wrong type is InvalidParams and never a ranker's TypeError (InternalError);
    keys no ranker reads pass through untouched."""

    model_config = ConfigDict(
        extra="allow", strict=True, allow_inf_nan=False, alias_generator=to_camel
    )

    def plain(self) -> dict[str, Any]:
        """Back to the dict the rankers take, with the client's own keys."""
        return self.model_dump(by_alias=True, exclude_unset=True)


Count = float | None  # counts may come as 3 or 3.0; never negative
NONNEGATIVE = Field(None, ge=0)


class RankCommand(RankDict):
    command: str | None = None
    exit_code: float | None = None


class RankContext(RankDict):
    kind: str | None = None
    now: float | None = Field(None, ge=0)
    language: str | None = None
    uri: str | None = None
    cursor_line: int | None = Field(None, ge=0)
    cursor_node_types: list[str] | None = None
    recent_edit_shapes: list[str] | None = None
    recent_edit_lines: list[int] | None = None
    recent_commands: list[RankCommand] | None = None


class RankCandidate(RankDict):
    skill_id: str | None = None
    name: str | None = None
    text: str | None = None
    template_text: str | None = None
    match_text: str | None = None
    root: str | None = None
    uri: str | None = None
    support: Count = NONNEGATIVE
    specificity: float | None = None
    accepted: Count = NONNEGATIVE
    rejected: Count = NONNEGATIVE
    undone: Count = NONNEGATIVE
    shown: Count = NONNEGATIVE
    shown_in_session: Count = NONNEGATIVE
    last_used: float | None = None
    age_s: float | None = None
    distance: float | None = None
    line_delta: float | None = None
    site_line: float | None = None
    same_file: bool | None = None
    just_applied: bool | None = None


class RankParams(Params):
    """kenetic/rank: score candidates as the server would (dicts as trm.features reads them)."""

    context: RankContext = Field(default_factory=RankContext)
    candidates: list[RankCandidate] = Field(max_length=10_000)
    # whose store's ranker (a document or folder URI); default: context.uri, then the first
    uri: str | None = None


class TrainParams(Params):
    """kenetic.train: train the ranker of this document's or folder's store (default: first)."""

    uri: str | None = None


P = TypeVar("P", bound=Params)


def to_plain(value: Any) -> Any:
    """pygls's namedtuple-like params back into plain JSON values."""
    if hasattr(value, "_asdict"):
        return {k: to_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def validate(model: type[P], params: Any) -> P:
    """Validate raw params; raise InvalidParams with pydantic's message when they are wrong."""
    # text is made storable where it enters: a lone surrogate (a `\\udcff` escape) would
    # otherwise fail length checks here and every UTF-8 encode after
    raw = storable_value(to_plain(params))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"params must be an object, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise JsonRpcInvalidParams(f"invalid params: {problems}") from None


# objects whose keys are someone else's words (a memory item's or a moment's `data`, what the
# user stored under `metadata`, a checkpoint's row `counts` by table): passed on as they are
FREE_FORM = frozenset({"data", "metadata", "counts"})


SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


def _camel(key: Any) -> Any:
    """`ref_id` -> `refId`; any other key (a heading, a URI, `createdAt`) as it is."""
    if isinstance(key, str) and SNAKE.fullmatch(key):
        head, *rest = key.split("_")
        return head + "".join(part[:1].upper() + part[1:] for part in rest)
    return key


def camel_keys(value: Any) -> Any:
    """snake_case keys to camelCase, recursively (memory results come from dataclasses with
    Python names; the protocol speaks camelCase everywhere)."""
    if isinstance(value, dict):
        return {_camel(k): v if k in FREE_FORM else camel_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [camel_keys(v) for v in value]
    return value


def validate_command_args(model: type[P], arguments: list[Any] | None) -> P:
    """Commands take one object argument (or none)."""
    args = to_plain(arguments) or []
    if len(args) > 1:
        raise JsonRpcInvalidParams("expected at most one argument object")
    return validate(model, args[0] if args else {})


# -- memory (server.features.memory) --------------------------------------------------------

ITEM_KIND = Literal["episode", "skill", "pattern", "note"]


class FolderParams(Params):
    """Params of a memory method: which workspace folder it is about."""

    # which workspace folder's memory; the first folder when absent
    folder: str | None = None


class RecallParams(FolderParams):
    query: str = Field(min_length=1, max_length=20_000)
    k: int = Field(10, ge=1, le=200)
    kinds: list[ITEM_KIND] | None = None
    language: str | None = None
    uri: str | None = None
    since: float | None = None
    until: float | None = None


class MemoryMetadata(Params):
    """What a stored memory item may carry (memory.recall.api METADATA_KEYS), each typed."""

    ref: str | int | None = None
    language: str | None = None
    uri: str | None = None
    source: str | None = None
    importance: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    pinned: bool | None = None
    protected: bool | None = None
    data: dict[str, Any] | None = None

    def plain(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class StoreParams(FolderParams):
    text: str = Field(min_length=1, max_length=100_000)
    kind: ITEM_KIND
    metadata: MemoryMetadata | None = None


class LinkParams(FolderParams):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    type: str = Field(min_length=1)


class PathParams(FolderParams):
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)


class MomentsParams(FolderParams):
    n: int = Field(20, ge=1, le=1000)


class RememberParams(FolderParams):
    text: str = Field(min_length=1, max_length=20_000)
    heading: str | None = Field(None, max_length=200)
    scope: Literal["project", "user"] = "project"


class CheckpointParams(FolderParams):
    description: str = Field("", max_length=1000)


class RestoreParams(FolderParams):
    id: str = Field(min_length=1, max_length=200)
