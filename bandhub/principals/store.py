"""The database half of gateway principals: ``gateways`` rows with hashed passwords,
``gateway_bands`` bindings. The broker half is ``dynsec``; ``gateways`` keeps both in step."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import psycopg

_ITERATIONS = 200_000


def hash_password(password: str) -> str:
    """``pbkdf2_sha256$iterations$salt$hash``: the database never holds a usable password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _ITERATIONS)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    _alg, iterations, salt, digest = stored.split("$")
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass(frozen=True)
class GatewayRow:
    gateway_id: str
    mqtt_username: str | None
    account_id: int | None
    registered_at: dt.datetime | None
    revoked_at: dt.datetime | None
    state: str | None
    bands: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.registered_at is not None and self.revoked_at is None


def get(conn: psycopg.Connection, gateway_id: str) -> GatewayRow | None:
    rows = list_all(conn, gateway_id)
    return rows[0] if rows else None


def list_all(conn: psycopg.Connection, gateway_id: str | None = None) -> list[GatewayRow]:
    """Registered gateways (and the ones only seen on the broker), with their bands."""
    rows = conn.execute(
        "SELECT g.gateway_id, g.mqtt_username, g.account_id, g.registered_at, g.revoked_at,"
        " g.state, COALESCE(array_agg(b.band_id ORDER BY b.band_id)"
        "   FILTER (WHERE b.band_id IS NOT NULL), '{}')"
        " FROM gateways g LEFT JOIN gateway_bands b USING (gateway_id)"
        " WHERE %(id)s::text IS NULL OR g.gateway_id = %(id)s"
        " GROUP BY g.gateway_id ORDER BY g.gateway_id",
        {"id": gateway_id},
    ).fetchall()
    return [GatewayRow(*r[:6], bands=list(r[6])) for r in rows]


def save_registration(
    conn: psycopg.Connection, gateway_id: str, username: str, password: str, account_id: int | None
) -> None:
    conn.execute(
        "INSERT INTO gateways (gateway_id, mqtt_username, password_hash, account_id,"
        " registered_at) VALUES (%s, %s, %s, %s, now())"
        " ON CONFLICT (gateway_id) DO UPDATE SET mqtt_username = EXCLUDED.mqtt_username,"
        " password_hash = EXCLUDED.password_hash,"
        " account_id = COALESCE(EXCLUDED.account_id, gateways.account_id),"
        " registered_at = COALESCE(gateways.registered_at, now())",
        (gateway_id, username, hash_password(password), account_id),
    )


def set_binding(conn: psycopg.Connection, gateway_id: str, band_id: str, bound: bool) -> bool:
    """Bind or unbind; True when that changed anything."""
    if bound:
        cur = conn.execute(
            "INSERT INTO gateway_bands (gateway_id, band_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (gateway_id, band_id),
        )
    else:
        cur = conn.execute(
            "DELETE FROM gateway_bands WHERE gateway_id = %s AND band_id = %s",
            (gateway_id, band_id),
        )
    return cur.rowcount > 0


def gateways_of_band(
    conn: psycopg.Connection, band_id: str, account_id: int | None = None
) -> list[str]:
    """The gateways the band is bound to (only ``account_id``'s, if given)."""
    rows = conn.execute(
        "SELECT b.gateway_id FROM gateway_bands b JOIN gateways g USING (gateway_id)"
        " WHERE b.band_id = %(band)s"
        " AND (%(account)s::bigint IS NULL OR g.account_id = %(account)s) ORDER BY 1",
        {"band": band_id, "account": account_id},
    ).fetchall()
    return [r[0] for r in rows]


def mark_revoked(conn: psycopg.Connection, gateway_id: str) -> None:
    """Revoked for good: the row stays (for the record), its bindings go."""
    conn.execute("UPDATE gateways SET revoked_at = now() WHERE gateway_id = %s", (gateway_id,))
    conn.execute("DELETE FROM gateway_bands WHERE gateway_id = %s", (gateway_id,))


def bound_pairs(conn: psycopg.Connection, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (gateway_id, band_id) pairs are bindings of an active gateway (one query)."""
    if not pairs:
        return set()
    gws, bands = zip(*sorted(pairs), strict=True)
    rows = conn.execute(
        "SELECT b.gateway_id, b.band_id FROM unnest(%s::text[], %s::text[]) AS p(gw, band)"
        " JOIN gateway_bands b ON b.gateway_id = p.gw AND b.band_id = p.band"
        " JOIN gateways g ON g.gateway_id = b.gateway_id"
        " WHERE g.registered_at IS NOT NULL AND g.revoked_at IS NULL",
        (list(gws), list(bands)),
    ).fetchall()
    return {(r[0], r[1]) for r in rows}
