"""Settings: one pydantic model, merged from five layers.

defaults < $XDG_CONFIG_HOME/kenetic/config.toml < <workspace>/.kenetic/config.toml
         < initializationOptions < workspace/didChangeConfiguration

A value that does not validate is dropped with a message for the user and the lower layer's
value (in the end the default) stands, so one typo never turns kenetic off.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from server.agent.config import AgentSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CaptureSettings(_Section):
    idle_gap_ms: int = Field(1500, alias="idleGapMs", ge=10, le=600_000)
    # a burst farther than this many lines from a new change closes ("a jump elsewhere")
    jump_lines: int = Field(3, alias="jumpLines", ge=0, le=10_000)
    # regions longer than this are recorded without their text (a paste is not a lesson)
    max_region_lines: int = Field(400, alias="maxRegionLines", ge=1, le=1_000_000)
    # ... or larger than this many characters (one line of a minified file): the work per
    # episode stays bounded, whatever the document
    max_region_bytes: int = Field(65_536, alias="maxRegionBytes", ge=1)
    # documents larger than this are not captured at all
    max_document_bytes: int = Field(5_000_000, alias="maxDocumentBytes", ge=1)
    ignore: list[str] = Field(default_factory=list)
    enabled: bool = True


class StoreSettings(_Section):
    # empty: <workspace>/.kenetic/kenetic.db (or under KENETIC_HOME)
    path: str = ""


class NextEditsSettings(_Section):
    # kenetic/nextEdits scans open documents, then workspace files of the same language, within
    # these bounds (a monorepo must not stall the answer)
    max_files: int = Field(2000, alias="maxFiles", ge=0, le=1_000_000)
    time_budget_ms: int = Field(2000, alias="timeBudgetMs", ge=10, le=600_000)
    max_file_bytes: int = Field(1_000_000, alias="maxFileBytes", ge=1)
    limit: int = Field(50, ge=1, le=10_000)
    # offer unasked only the sites the shipped site model finds likely (memory.skills.site_model);
    # false offers every site a skill matches, as code actions do
    site_model: bool = Field(True, alias="siteModel")


class SuggestSettings(_Section):
    """Whether suggestions are offered (code actions, inline completions, next edits); capture
    is not affected (capture.enabled). Globs match the workspace-relative path ("/" separated;
    a pattern without "/" matches the file name in any folder, "**" any number of folders)."""

    enabled: bool = True
    disabled_languages: list[str] = Field(default_factory=list, alias="disabledLanguages")
    disabled_globs: list[str] = Field(default_factory=list, alias="disabledGlobs")
    # a background run (skill mining) reports $/progress once it has taken this long
    progress_after_ms: int = Field(300, alias="progressAfterMs", ge=0, le=600_000)


class SkillsSettings(_Section):
    enabled: bool = True
    # similar edits needed before a skill is offered (1: every edit is a skill for its own text)
    min_examples: int = Field(2, alias="minExamples", ge=1, le=100)
    # "user": skills learned in any workspace are offered in every workspace
    scope: Literal["project", "user"] = "project"
    # support from which a skill is offered by kenetic/nextEdits without having just been used
    strong_support: int = Field(3, alias="strongSupport", ge=1, le=1_000_000)
    max_actions: int = Field(5, alias="maxActions", ge=1, le=100)
    # an accepted suggestion reverted within this window is recorded as undone
    undo_window_ms: int = Field(30_000, alias="undoWindowMs", ge=0, le=3_600_000)
    next_edits: NextEditsSettings = Field(default_factory=NextEditsSettings, alias="nextEdits")


class MemorySection(_Section):
    """Recall, retention and self-tuning knobs (memory.recall.items.MemorySettings,
    memory.recall.als)."""

    embedder: Literal["hashed", "minilm", "ollama"] = "hashed"
    max_items: int = Field(50_000, alias="maxItems", ge=100, le=10_000_000)
    novelty_threshold: float = Field(0.97, alias="noveltyThreshold", ge=0.5, le=1.0)
    half_life_days: float = Field(14.0, alias="halfLifeDays", gt=0, le=3650)
    w_similarity: float = Field(1.0, alias="weightSimilarity", ge=0, le=10)
    w_graph: float = Field(0.6, alias="weightGraph", ge=0, le=10)
    w_recency: float = Field(0.25, alias="weightRecency", ge=0, le=10)
    w_importance: float = Field(0.25, alias="weightImportance", ge=0, le=10)
    min_relevance: float = Field(0.15, alias="minRelevance", ge=0, le=1)
    graph_hops: int = Field(1, alias="graphHops", ge=0, le=4)
    debounce_min_ms: float = Field(75.0, alias="debounceMinMs", ge=0, le=60_000)
    debounce_max_ms: float = Field(3000.0, alias="debounceMaxMs", ge=0, le=600_000)
    # rejections in a row (0: never) that silence unasked-for suggestions for quietSeconds
    quiet_after: int = Field(3, alias="quietAfter", ge=0, le=1000)
    quiet_s: float = Field(60.0, alias="quietSeconds", ge=0, le=86_400)

    def recall_settings(self) -> Any:
        from memory.recall.items import MemorySettings

        return MemorySettings(
            embedder=self.embedder,
            max_items=self.max_items,
            novelty_threshold=self.novelty_threshold,
            half_life_days=self.half_life_days,
            w_similarity=self.w_similarity,
            w_graph=self.w_graph,
            w_recency=self.w_recency,
            w_importance=self.w_importance,
            min_relevance=self.min_relevance,
            graph_hops=self.graph_hops,
        )

    def als_settings(self) -> Any:
        from memory.recall.als import AlsSettings

        return AlsSettings(
            debounce_min_ms=self.debounce_min_ms,
            debounce_max_ms=max(self.debounce_max_ms, self.debounce_min_ms),
            quiet_after=self.quiet_after,
            quiet_s=self.quiet_s,
        )


class TrmSettings(_Section):
    """The TRM ranker (trm/, docs/trm.md): rules until enough outcomes, then a trained model."""

    # off: rank with the rules, record no shown sets, never train or load a model
    enabled: bool = True
    # shown sets with an outcome (accepted, rejected or undone) needed before the first training
    min_outcomes: int = Field(100, alias="minOutcomes", ge=1, le=10_000_000)
    # new such sets after which the model is trained again, on the whole log (from trm.startFrom)
    retrain_every: int = Field(50, alias="retrainEvery", ge=1, le=10_000_000)
    # wall-clock budget of one training run (the run stops there and keeps what it has)
    train_time_budget_s: float = Field(60.0, alias="trainTimeBudgetS", gt=0, le=3600)
    # torch threads while training: one leaves the other cores to the editor
    train_threads: int = Field(1, alias="trainThreads", ge=1, le=256)
    # shown sets kept in the store (the newest); older ones are deleted
    max_shown_sets: int = Field(20_000, alias="maxShownSets", ge=100, le=10_000_000)
    # checkpoints kept beside the store (<store dir>/trm/trm-v{N}.pt), newest first
    keep_checkpoints: int = Field(3, alias="keepCheckpoints", ge=1, le=100)
    # which ranker serves: "auto" lets a challenger take over once it beats the one serving on
    # this store's later outcomes (server/suggest/champion.py); the others pin one
    champion: Literal["auto", "rules", "lr", "trm"] = "auto"
    # where a training starts: "pretrained" fine-tunes the TRM shipped with kenetic (trained on
    # other people's repositories) on this store's outcomes; "scratch" starts a fresh model
    start_from: Literal["pretrained", "scratch"] = Field("pretrained", alias="startFrom")


class TeamSettings(_Section):
    """The team store (docs/team.md): skill cards shared through a PostgreSQL database."""

    # postgresql://role@host:port/database; the password comes from PGPASSWORD or ~/.pgpass,
    # never from kenetic's settings
    url: str = ""
    # "skills": share skill cards and their outcome counts; "off": nothing leaves the machine
    share: Literal["off", "skills"] = "off"
    sync_interval_ms: int = Field(30_000, alias="syncIntervalMs", ge=50, le=86_400_000)

    @field_validator("url")
    @classmethod
    def _no_password(cls, url: str) -> str:
        url = url.strip()
        if not url:
            return url
        parsed = urlsplit(url)
        if parsed.scheme not in ("postgresql", "postgres"):
            raise ValueError("must be a postgresql:// URL")
        if parsed.password is not None or "password=" in parsed.query:
            raise ValueError("must not hold a password: use PGPASSWORD or ~/.pgpass")
        return url


class Settings(_Section):
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    skills: SkillsSettings = Field(default_factory=SkillsSettings)
    suggest: SuggestSettings = Field(default_factory=SuggestSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    memory: MemorySection = Field(default_factory=MemorySection)
    trm: TrmSettings = Field(default_factory=TrmSettings)
    team: TeamSettings = Field(default_factory=TeamSettings)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "kenetic" / "config.toml"


def read_toml(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A config file as a dict; a missing file is empty, a broken one is reported."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f), []
    except FileNotFoundError:
        return {}, []
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return {}, [f"kenetic: ignoring {path}: {exc}"]


def unwrap(options: Any) -> dict[str, Any]:
    """Client settings arrive as {...}, {"kenetic": {...}} or with dotted keys; normalise."""
    if not isinstance(options, dict):
        return {}
    if isinstance(options.get("kenetic"), dict):
        options = options["kenetic"]
    out: dict[str, Any] = {}
    for key, value in options.items():
        if not isinstance(key, str):
            continue
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
                node[parts[-1]] = _deep_merge(node[parts[-1]], value)
            else:
                node[parts[-1]] = value
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _drop(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    node: Any = data
    for part in loc[:-1]:
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if isinstance(node, dict):
        node.pop(loc[-1], None)


def resolve(layers: list[dict[str, Any]]) -> tuple[Settings, list[str]]:
    """Merge layers (lowest first) and validate, dropping each invalid value with a message."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _deep_merge(merged, unwrap(layer))
    errors: list[str] = []
    for _ in range(50):  # each round drops at least one bad value
        try:
            return Settings.model_validate(merged), errors
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                name = ".".join(str(p) for p in loc)
                errors.append(f"kenetic: invalid setting {name}: {err['msg']}; using the default")
                if loc:
                    _drop(merged, loc)
                    # a list item error must drop the whole list, not leave a hole
                    if isinstance(loc[-1], int):
                        _drop(merged, loc[:-1])
    return Settings(), errors
