"""A small YAML writer for rule files: block mappings and lists, every string double-quoted.

A double-quoted YAML scalar reads JSON's string escapes, so json.dumps writes strings that any
YAML reader takes back exactly (code with quotes, backslashes, tabs, `$` and `#`). Writing it
here keeps the exporters free of a YAML dependency the server would otherwise need.
"""

from __future__ import annotations

import json
from typing import Any


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if value is None:
        return "null"
    return json.dumps(str(value), ensure_ascii=False)


def dump(value: Any, indent: int = 0) -> str:
    """value (dicts, lists, strings, numbers) as YAML lines, ending in a newline."""
    return "".join(_lines(value, indent))


def _lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, dict):
        if not value:
            return [pad + "{}\n"]
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                out.append(f"{pad}{key}:\n")
                out.extend(_lines(item, indent + 2))
            else:
                out.append(f"{pad}{key}: {_inline(item)}\n")
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]\n"]
        for item in value:
            if isinstance(item, dict | list) and item:
                inner = _lines(item, indent + 2)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out.extend(inner[1:])
            else:
                out.append(f"{pad}- {_inline(item)}\n")
        return out
    return [pad + scalar(value) + "\n"]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def comment(lines: list[str]) -> str:
    """Lines as YAML comments (one `#` line each, long reasons kept on one line)."""
    return "".join(f"# {line}".rstrip() + "\n" for text in lines for line in text.split("\n"))
