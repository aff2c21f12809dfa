"""server.positions gives pygls's answers for every encoding, without its per-character loops
(issue 16, item 15: a 1 MB line cost ~70 ms per keystroke in pygls's codec)."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from server.positions import FastPositionCodec

ENCODINGS = [
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf32,
]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_same_answers_as_pygls(encoding: types.PositionEncodingKind) -> None:
    rng = random.Random(15)
    slow, fast = PositionCodec(encoding), FastPositionCodec(encoding)
    alphabet = "ab c\té€😋\r\n"  # ASCII, 2- and 3-byte UTF-8, a surrogate pair in UTF-16
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        lines = text.splitlines(keepends=True)
        line, char = rng.randint(0, 5), rng.randint(0, 32)
        # pygls clamps a column past the end by mutating the position: give each its own
        assert slow.position_from_client_units(
            lines, types.Position(line=line, character=char)
        ) == fast.position_from_client_units(lines, types.Position(line=line, character=char))
        pos = types.Position(line=line, character=char)
        assert slow.position_to_client_units(lines, pos) == fast.position_to_client_units(
            lines, pos
        )
        assert slow.client_num_units(text) == fast.client_num_units(text)


def test_a_position_after_an_emoji() -> None:
    lines = ['x="😋"\n']
    fast = FastPositionCodec(types.PositionEncodingKind.Utf16)
    # the closing quote: 5 UTF-16 units in, 4 code points in
    assert (
        fast.position_from_client_units(lines, types.Position(line=0, character=5)).character == 4
    )
    assert fast.position_to_client_units(lines, types.Position(line=0, character=4)).character == 5
