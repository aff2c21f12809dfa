"""Text made storable: what the store applies to every string it writes.

Python strings may hold surrogate code points that UTF-8 cannot encode: a path decoded with
`surrogateescape`, or a JSON string from a client with a `\\udcff` escape. SQLite stores
UTF-8, so one such string raises `UnicodeEncodeError` in the writer. The store runs every text
argument and every JSON document through `storable` on its way in, so no caller can forget it:
a surrogate pair written as two code points becomes the character it encodes, and a lone
surrogate becomes U+FFFD (the replacement character).
"""

from __future__ import annotations

from typing import Any


def storable(text: str) -> str:
    """`text` with lone surrogates replaced (the same object when it has none)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def storable_value(value: Any) -> Any:
    """A JSON-like value with every string in it (dict keys included) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {
            (storable(k) if isinstance(k, str) else k): storable_value(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [storable_value(v) for v in value]
    return value
