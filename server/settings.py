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
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CaptureSettings(_Section):
    idle_gap_ms: int = Field(1500, alias="idleGapMs", ge=10, le=600_000)
    # a burst farther than this many lines from a new change closes ("a jump elsewhere")
    jump_lines: int = Field(3, alias="jumpLines", ge=0, le=10_000)
    # regions longer than this are recorded without their text (a paste is not a lesson)
    max_region_lines: int = Field(400, alias="maxRegionLines", ge=1, le=1_000_000)
    # documents larger than this are not captured at all
    max_document_bytes: int = Field(5_000_000, alias="maxDocumentBytes", ge=1)
    ignore: list[str] = Field(default_factory=list)
    enabled: bool = True


class StoreSettings(_Section):
    # empty: <workspace>/.kenetic/kenetic.db (or under KENETIC_HOME)
    path: str = ""


class Settings(_Section):
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)


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
