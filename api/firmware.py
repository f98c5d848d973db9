"""The firmware catalogue: signed releases per hardware model, which band a rollout
reaches, the update a band is offered, and sending it (or a reminder) to the band
through its gateway (docs/mqtt.md, "Firmware update"). Used by the API routes and by
``bandhub firmware``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from api.db import fetch_all, fetch_one
from api.errors import ApiError
from bandhub.contracts import dfu
from bandhub.contracts.gatt import DecodeError
from bandhub.contracts.messages import CommandRequest

UPDATE_TTL_S = 7 * 86400.0  # how long a gateway keeps trying to install an update
_PUBLIC = (
    "id, model, version, notes_en, notes_zh, size, encode(sha256, 'hex') AS sha256,"
    " rollout, rollout_percent, rollout_group, paused, created_at"
)


def rollout_bucket(release: dict, band_id: str) -> int:
    """0-99, stable for one band and one release: a band inside a 10 % rollout stays
    inside when it grows to 50 %. Salted by the release, so the same bands are not
    always the first to get a new version."""
    key = f"{release['model']}/{release['version']}/{band_id}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 100


def reaches(release: dict, band_id: str, groups: set[str]) -> bool:
    """Does the release's rollout include this band (not paused)?"""
    if release["paused"]:
        return False
    mode = release["rollout"]
    if mode == "all":
        return True
    if mode == "percent":
        return rollout_bucket(release, band_id) < release["rollout_percent"]
    if mode == "group":
        return release["rollout_group"] in groups
    return False


async def add_release(
    conn: AsyncConnection,
    image: bytes,
    signature: bytes,
    notes_en: str,
    notes_zh: str,
    public_key: str = "",
) -> dict:
    """Store a release; the model and version come from the image's own header. With
    the vendor's ``public_key`` (hex) set, a signature it does not verify is refused."""
    try:
        header = dfu.ImageHeader.decode(image)
    except DecodeError as exc:
        raise ApiError(422, "invalid_image", str(exc)) from exc
    if len(signature) != 64:
        raise ApiError(422, "invalid_signature", "an Ed25519 signature is 64 bytes")
    if public_key and not dfu.signature_ok(bytes.fromhex(public_key), image, signature):
        raise ApiError(422, "invalid_signature", "the signature does not verify (vendor key)")
    if len(image) > 1024 * 1024:
        raise ApiError(422, "invalid_image", "images are at most 1 MiB")
    try:
        return await fetch_one(
            conn,
            "INSERT INTO firmware_releases (model, version, version_key, notes_en, notes_zh,"
            " image, size, sha256, signature) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {_PUBLIC}",
            (header.model, header.version, list(dfu.version_key(header.version)), notes_en,
             notes_zh, image, len(image), dfu.sha256(image), signature),
        )  # fmt: skip
    except UniqueViolation as exc:
        raise ApiError(
            409, "release_exists", f"{header.model} {header.version} is already catalogued"
        ) from exc


async def releases(conn: AsyncConnection) -> list[dict]:
    return await fetch_all(
        conn, f"SELECT {_PUBLIC} FROM firmware_releases ORDER BY model, version_key DESC"
    )


async def set_rollout(
    conn: AsyncConnection,
    release_id: int,
    *,
    mode: str | None = None,
    percent: int | None = None,
    group: str | None = None,
    paused: bool | None = None,
) -> dict:
    """Change a release's rollout (all, percent, group or none) or pause/resume it."""
    row = await fetch_one(conn, "SELECT * FROM firmware_releases WHERE id = %s", (release_id,))
    if row is None:
        raise ApiError(404, "unknown_release", f"no firmware release {release_id}")
    if mode == "percent" and (percent is None or not 0 <= percent <= 100):
        raise ApiError(422, "invalid_request", "a percentage rollout needs percent 0-100")
    if mode == "group" and not group:
        raise ApiError(422, "invalid_request", "a group rollout needs the group's name")
    return await fetch_one(
        conn,
        "UPDATE firmware_releases SET rollout = coalesce(%s, rollout),"
        " rollout_percent = coalesce(%s, rollout_percent), rollout_group = coalesce(%s,"
        f" rollout_group), paused = coalesce(%s, paused) WHERE id = %s RETURNING {_PUBLIC}",
        (mode, percent if mode == "percent" else None, group if mode == "group" else None,
         paused, release_id),
    )  # fmt: skip


async def set_group(conn: AsyncConnection, name: str, band_ids: list[str]) -> int:
    """The named group is exactly these bands (unknown band ids are refused)."""
    known = await fetch_all(conn, "SELECT band_id FROM bands WHERE band_id = ANY(%s)", (band_ids,))
    missing = set(band_ids) - {r["band_id"] for r in known}
    if missing:
        raise ApiError(422, "unknown_band", f"no such bands: {', '.join(sorted(missing))}")
    await conn.execute("DELETE FROM firmware_groups WHERE name = %s", (name,))
    for band_id in band_ids:
        await conn.execute("INSERT INTO firmware_groups VALUES (%s, %s)", (name, band_id))
    return len(band_ids)


async def installed(conn: AsyncConnection, band_id: str) -> tuple[str, str, dict | None]:
    """(model, firmware version, update progress) as the band's gateway last said."""
    row = await fetch_one(conn, "SELECT status FROM band_status WHERE band_id = %s", (band_id,))
    status = row["status"] if row else {}
    return status.get("model", ""), status.get("firmware", ""), status.get("update")


async def offered(conn: AsyncConnection, band_id: str) -> dict | None:
    """The newest release newer than what the band runs that its rollout reaches."""
    model, current, _ = await installed(conn, band_id)
    if not model or not current:
        return None
    groups = {
        r["name"]
        for r in await fetch_all(
            conn, "SELECT name FROM firmware_groups WHERE band_id = %s", (band_id,)
        )
    }
    candidates = await fetch_all(
        conn,
        "SELECT * FROM firmware_releases WHERE model = %s AND version_key > %s::integer[]"
        " AND NOT paused AND rollout <> 'none' ORDER BY version_key DESC",
        (model, list(dfu.version_key(current))),
    )
    return next((r for r in candidates if reaches(r, band_id, groups)), None)


async def choice(conn: AsyncConnection, band_id: str) -> dict | None:
    return await fetch_one(conn, "SELECT * FROM band_firmware WHERE band_id = %s", (band_id,))


async def _remember(conn: AsyncConnection, band_id: str, **columns) -> None:
    names = ", ".join(columns)
    marks = ", ".join(f"%({c})s" for c in columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    await conn.execute(
        f"INSERT INTO band_firmware (band_id, {names}) VALUES (%(band_id)s, {marks})"
        f" ON CONFLICT (band_id) DO UPDATE SET {updates}, updated_at = now()",
        {"band_id": band_id, **columns},
    )


async def active_alert(conn: AsyncConnection, band_id: str) -> bool:
    row = await fetch_one(
        conn,
        "SELECT 1 AS x FROM alerts WHERE band_id = %s AND state IN ('pending', 'dispatched')",
        (band_id,),
    )
    return row is not None


async def request_update(
    conn: AsyncConnection, commands, band_id: str, release: dict, not_before: dt.datetime | None
) -> str:
    """Send the release to the band's gateway (``commands``: api.command_publisher); it
    installs it between syncs, at once or from ``not_before``. Returns the command id."""
    if await active_alert(conn, band_id):
        raise ApiError(409, "alert_active", "the band has an open alert: update it afterwards")
    start = not_before.timestamp() if not_before else 0
    command = CommandRequest(
        v=1,
        id=f"fw-{release['id']}-{time.time_ns()}",
        cmd="firmware_update",
        args=dfu.update_args(
            release["version"], bytes(release["image"]), bytes(release["signature"]), start
        ),
        ttl_s=UPDATE_TTL_S if not start else min(UPDATE_TTL_S, start - time.time() + 86400),
        issued_at=time.time(),
    )
    await commands.publish(band_id, command)
    await _remember(
        conn, band_id, release_id=release["id"], choice="scheduled" if start else "now",
        scheduled_for=not_before, postponed_until=None, command_id=command.id,
    )  # fmt: skip
    return command.id


async def postpone(conn: AsyncConnection, band_id: str, release: dict, until: dt.datetime):
    await _remember(
        conn, band_id, release_id=release["id"], choice="postponed", postponed_until=until,
        scheduled_for=None,
    )  # fmt: skip


def reminder_text(version: str) -> str:
    """What the band shows (New Alert carries at most 18 bytes)."""
    return f"Update {version}"[:18]


async def remind(conn: AsyncConnection, commands, band_ids: list[str] | None = None) -> list[str]:
    """Tell each band that has an update on offer, once per release, with a message on
    its screen (it vibrates); not while the owner postponed it. Returns the band ids."""
    rows = await fetch_all(
        conn,
        "SELECT b.band_id, f.reminded_release_id, f.postponed_until, f.choice FROM bands b"
        " LEFT JOIN band_firmware f USING (band_id) WHERE %s::text[] IS NULL"
        " OR b.band_id = ANY(%s::text[]) ORDER BY b.band_id",
        (band_ids, band_ids),
    )
    told = []
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        release = await offered(conn, row["band_id"])
        if release is None or row["reminded_release_id"] == release["id"]:
            continue
        if row["postponed_until"] is not None and row["postponed_until"] > now:
            continue
        command = CommandRequest(
            v=1, id=f"fw-remind-{release['id']}-{time.time_ns()}", cmd="message",
            args={"text": reminder_text(release["version"])}, ttl_s=86400.0,
            issued_at=time.time(),
        )  # fmt: skip
        await commands.publish(row["band_id"], command)
        await _remember(conn, row["band_id"], reminded_release_id=release["id"], reminded_at=now)
        told.append(row["band_id"])
    return told
