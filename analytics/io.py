"""Reading recordings for ``bandhub analyze``: CSV (plain or gzip) with a header row.

Every problem with a file becomes an :class:`InputError` whose message is one line
a user can act on; the command turns it into exit code 2.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """A recording that cannot be analysed, with a one-line reason."""


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a recording") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: damaged gzip file ({exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file") from None


def read_columns(
    path: str | Path, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """The named columns as float arrays; empty cells become NaN in optional columns."""
    path = Path(path)
    text = read_text(path)
    header_line, _, body = text.partition("\n")
    header = [h.strip().lower() for h in header_line.strip().split(",")]
    if not header_line.strip():
        raise InputError(f"{path}: empty file")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header)}"
        )
    wanted = [c for c in [*required, *optional] if c in header]
    idx = [header.index(c) for c in wanted]
    data = _parse(path, body, len(header), idx, wanted)
    out = dict(zip(wanted, data.T, strict=True))
    for c in required:
        bad = np.flatnonzero(np.isnan(out[c]))
        if bad.size:
            raise InputError(f"{path}: line {bad[0] + 2}: empty value in column '{c}'")
    return out


def _parse(path: Path, body: str, width: int, idx: list[int], names: list[str]) -> np.ndarray:
    try:  # fast path: numpy's C parser
        arr = np.loadtxt(io.StringIO(body), delimiter=",", usecols=idx, ndmin=2, dtype=float)
        return arr
    except ValueError:
        pass
    rows = []
    for lineno, row in enumerate(csv.reader(io.StringIO(body)), start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != width:
            raise InputError(f"{path}: line {lineno}: expected {width} fields, found {len(row)}")
        values = []
        for i, name in zip(idx, names, strict=True):
            cell = row[i].strip()
            if cell == "" or cell.lower() == "nan":
                values.append(np.nan)
                continue
            try:
                values.append(float(cell))
            except ValueError:
                raise InputError(
                    f"{path}: line {lineno}: column '{name}' is not a number: {cell[:20]!r}"
                ) from None
        rows.append(values)
    return np.asarray(rows, dtype=float).reshape(-1, len(idx))


def sample_rate(path: str | Path, t: np.ndarray, fs: float | None = None) -> float:
    """The rate given, or the one the time column implies; time must increase."""
    if t.size < 2:
        raise InputError(f"{path}: too short: {t.size} sample(s)")
    dt = np.diff(t)
    if np.any(dt <= 0):
        i = int(np.flatnonzero(dt <= 0)[0])
        raise InputError(f"{path}: time is not increasing at line {i + 3} (t={t[i + 1]:g})")
    if fs is not None:
        if fs <= 0:
            raise InputError(f"{path}: --fs must be positive, got {fs:g}")
        return float(fs)
    return float(1.0 / np.median(dt))


def require_duration(path: str | Path, t: np.ndarray, seconds: float, what: str) -> None:
    span = float(t[-1] - t[0]) if t.size else 0.0
    if span < seconds:
        raise InputError(f"{path}: too short for {what}: {span:.1f} s, need at least {seconds:g} s")
