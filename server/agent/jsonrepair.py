"""JSON from a model's reply, recovered in layers when it is not strict JSON.

strict parse -> code fences stripped -> first {...}/[...] block -> trailing commas, quotes and
literals fixed, unclosed brackets closed -> a clear JsonRepairError. Pattern extraction reads
the summarisation model's replies through it, and the providers a tool call's arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any


class JsonRepairError(ValueError):
    """Text that is not JSON even after every repair; the message says what was tried."""


_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][\w\-]*)(\s*:)")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


def parse_json_loose(text: str) -> Any:
    """JSON from a model's reply, repaired in layers; JsonRepairError when nothing works."""
    if not isinstance(text, str) or not text.strip():
        raise JsonRepairError("expected JSON text, got nothing")
    first: json.JSONDecodeError | None = None
    for candidate in _candidates(text.strip()):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            first = first or exc
    snippet = text.strip()[:80].replace("\n", " ")
    raise JsonRepairError(
        f"not JSON even after repair (strict parse: {first}); the text starts with {snippet!r}"
    )


def _candidates(text: str) -> Iterable[str]:
    yield text
    fenced = _FENCE.search(text)
    unfenced = fenced.group(1).strip() if fenced else text
    if unfenced != text:
        yield unfenced
    block = _first_block(unfenced)
    if block and block != unfenced:
        yield block
    base = block or unfenced
    yield _fix(base)
    yield _fix(_close_open(base))


def _first_block(text: str) -> str | None:
    """The first balanced {...} or [...] (string-aware); the unclosed rest if it never closes."""
    start = next((i for i, ch in enumerate(text) if ch in "{["), None)
    if start is None:
        return None
    depth, in_str, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            escaped = not escaped and ch == "\\"
            if ch == '"' and not escaped:
                in_str = False
            continue
        if ch == '"':
            in_str, escaped = True, False
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return text[start:]


def _fix(text: str) -> str:
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    text = _requote(text)
    text = _BARE_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2)}"{m.group(3)}', text)
    return _TRAILING_COMMA.sub(r"\1", text)


def _requote(text: str) -> str:
    """Single-quoted strings to double-quoted, Python literals to JSON, outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j : j + 2])
                    j += 2
                    continue
                buf.append('\\"' if text[j] == '"' else text[j])
                j += 1
            body = "".join(buf)
            if ch == "'":
                body = body.replace("\\'", "'")
            out.append(f'"{body}"')
            i = j + 1
            continue
        m = re.match(r"True|False|None", text[i:])
        if m and (i == 0 or not text[i - 1].isalnum()):
            out.append(_PY_LITERALS[m.group(0)])
            i += len(m.group(0))
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _close_open(text: str) -> str:
    """Close the strings and brackets a truncated reply left open."""
    stack: list[str] = []
    in_str, escaped = False, False
    for ch in text:
        if in_str:
            escaped = not escaped and ch == "\\"
            if ch == '"' and not escaped:
                in_str = False
            continue
        if ch == '"':
            in_str, escaped = True, False
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    tail = '"' if in_str else ""
    return text.rstrip().rstrip(",") + tail + "".join(reversed(stack))
