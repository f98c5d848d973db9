"""PostgreSQL's binary wire forms, packed with ``struct``: arrays for query parameters
and timestamps for binary COPY.

psycopg's list dumper walks a Python list element by element in Python (it was the
largest single cost of keeping the rollups current); one ``struct.pack`` per array is
several times cheaper, and PostgreSQL reads the binary form without parsing text.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

PG_EPOCH = 946_684_800  # 2000-01-01 00:00 UTC, PostgreSQL's zero for timestamps
MINUTE_US = 60_000_000


def pg_micros(unix: float) -> int:
    """Microseconds since 2000-01-01 UTC, rounded exactly as
    ``datetime.fromtimestamp`` rounds (half to even), so a record's stored time does
    not depend on which path wrote it."""
    seconds = int(unix)
    micros = round((unix - seconds) * 1e6)
    return (seconds - PG_EPOCH) * 1_000_000 + micros


class PgArray(bytes):
    """A one-dimensional array in PostgreSQL's binary form (no NULL elements)."""

    oid = 0


def _array_type(name: str, array_oid: int) -> type[PgArray]:
    cls = type(name, (PgArray,), {"oid": array_oid})
    dumper = type(
        f"{name}Dumper",
        (Dumper,),
        {"format": Format.BINARY, "oid": array_oid, "dump": lambda self, obj: obj},
    )
    _DUMPERS.append((cls, dumper))
    return cls


_DUMPERS: list[tuple[type, type[Dumper]]] = []
TextArray = _array_type("TextArray", 1009)
Int2Array = _array_type("Int2Array", 1005)
Int4Array = _array_type("Int4Array", 1007)
Int8Array = _array_type("Int8Array", 1016)
TimestamptzArray = _array_type("TimestamptzArray", 1185)

# array type -> (element oid, element size, struct code)
_ELEMENTS: dict[type[PgArray], tuple[int, int, str]] = {
    Int2Array: (21, 2, "h"),
    Int4Array: (23, 4, "i"),
    Int8Array: (20, 8, "q"),
    TimestamptzArray: (1184, 8, "q"),  # microseconds since PG_EPOCH
}
_LAYOUTS: dict[tuple[str, int], struct.Struct] = {}


def register(conn: psycopg.Connection) -> None:
    """Let ``conn`` send these arrays as they are (query parameters and COPY)."""
    for cls, dumper in _DUMPERS:
        conn.adapters.register_dumper(cls, dumper)


def array_header(elem_oid: int, n: int) -> bytes:
    """The header of a one-dimensional array of ``n`` elements (or an empty one)."""
    if not n:
        return struct.pack("!iii", 0, 0, elem_oid)
    return struct.pack("!5i", 1, 0, elem_oid, n, 1)


def fixed_array(cls: type[PgArray], values: Sequence[int | float]) -> PgArray:
    """An array of fixed-size elements (ints, timestamps as microseconds)."""
    elem_oid, size, code = _ELEMENTS[cls]
    n = len(values)
    if not n:
        return cls(array_header(elem_oid, 0))
    layout = _LAYOUTS.get((code, n))
    if layout is None:
        layout = _LAYOUTS.setdefault((code, n), struct.Struct("!5i" + f"i{code}" * n))
    return cls(layout.pack(1, 0, elem_oid, n, 1, *[x for v in values for x in (size, v)]))


def text_array(values: Sequence[str]) -> PgArray:
    encoded = [v.encode() for v in values]
    body = b"".join(struct.pack("!i", len(b)) + b for b in encoded)
    return TextArray(array_header(25, len(encoded)) + body)
