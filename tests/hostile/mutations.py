"""Hypothesis strategies that damage recorded provider requests the way the internet does, and the
budget every hostile-input test shares.

HOSTILE_EXAMPLES scales the examples each test tries (default: a CI-sized run); derandomized, so a
failure in CI fails again on a laptop. Run longer by hand: HOSTILE_EXAMPLES=2000 python3 run.py test tests/hostile
"""

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "100"))


def budget(share: float = 1.0) -> Callable[[T], T]:
    """Hypothesis settings for one hostile test: `share` of HOSTILE_EXAMPLES examples, no deadline."""
    return settings(max_examples=max(5, int(EXAMPLES * share)), deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# Text a sender controls: every code point UTF-8 can carry, controls, NUL, RTL marks, emoji.
JUNK_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", " ", "\x00", "\u202e\u202d", "🙂" * 50, "%", "%zz", "&", "=", "+", "-1", "0", "1e309", "NaN",
                     "99999999999999999999999", "[]", "{}", "null", "true", "<script>", "whatsapp:", "whatsapp:+"]),
    st.integers(1_000, 60_000).map(lambda n: "x" * n),
)
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                      JUNK_TEXT)
JUNK_JSON: st.SearchStrategy[Any] = st.recursive(
    JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JUNK_TEXT, inner, max_size=3),
    max_leaves=6)


@st.composite
def damaged_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """The bytes with a few flips, insertions, deletions, truncations or repeats."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(out)))
        match draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"])):
            case "flip" if out:
                at = min(at, len(out) - 1)
                out[at] ^= 1 << draw(st.integers(0, 7))
            case "insert":
                out[at:at] = draw(st.binary(min_size=1, max_size=20) | st.sampled_from([b"\x00", b"\xff\xfe", b"%"]))
            case "delete":
                del out[at:at + draw(st.integers(1, 30))]
            case "truncate":
                del out[at:]
            case "repeat":
                out[at:at] = out[at:at + draw(st.integers(1, 200))]
    return bytes(out)


@st.composite
def damaged_form(draw: st.DrawFn, fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Form fields with some dropped, repeated, renamed or given values of the wrong kind."""
    out = list(fields)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(out) - 1)))
        match draw(st.sampled_from(["drop", "repeat", "value", "rename", "add"])):
            case "drop" if out:
                del out[at]
            case "repeat" if out:
                out.insert(at, (out[at][0], draw(JUNK_TEXT)))
            case "value" if out:
                out[at] = (out[at][0], draw(JUNK_TEXT))
            case "rename" if out:
                out[at] = (draw(JUNK_TEXT), out[at][1])
            case _:
                out.append((draw(st.sampled_from(["NumMedia", "MediaUrl0", "MediaUrl7", "Latitude", "Longitude",
                                                  "MessageStatus", "ErrorCode", "From", "CallStatus"]) | JUNK_TEXT),
                            draw(JUNK_TEXT)))
    return out


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _places(value, (*path, index))
    return found


@st.composite
def damaged_json(draw: st.DrawFn, document: Any) -> Any:
    """The document with a field dropped, repeated, emptied or given a value of another type."""
    out = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_places(out)))
        if not path:
            out = draw(JUNK_JSON) if draw(st.integers(0, 9)) == 0 else out
            continue
        parent = out
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        match draw(st.sampled_from(["drop", "value", "repeat", "huge"])):
            case "drop":
                del parent[last]
            case "value":
                parent[last] = draw(JUNK_JSON)
            case "repeat" if isinstance(parent, list):
                parent.insert(last, parent[last])
            case "repeat":
                parent[last] = [parent[last], parent[last]]
            case _:
                parent[last] = "é" * draw(st.integers(1_000, 20_000))
    return out


def deeply_nested(depth: int) -> bytes:
    """A JSON text the standard parser recurses into `depth` times: valid, and hostile."""
    return b'{"update_id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
