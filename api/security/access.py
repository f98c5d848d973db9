"""What a person may do for a band: one place that turns their roles (owner, a share,
the band's care organisation, support) into scopes, for one band and for lists."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from psycopg import AsyncConnection
from psycopg.rows import dict_row


class Scope(StrEnum):
    SUMMARIES = "summaries"  # daily summaries, history, heart-rate series
    LIVE = "live"  # live heart rate, raw streaming
    ALERTS = "alerts"  # see, acknowledge and resolve alerts; see the contacts
    SETTINGS = "settings"  # band settings, contacts, commands
    DIAGNOSTICS = "diagnostics"  # connection, battery, firmware: no health data
    OWNER = "owner"  # sharing, organisation, unclaim, transfer, audit log


GRANTABLE = (Scope.SUMMARIES, Scope.LIVE, Scope.ALERTS, Scope.SETTINGS)
OWNER_SCOPES = frozenset(Scope)
STAFF_SCOPES = frozenset({Scope.SUMMARIES, Scope.LIVE, Scope.ALERTS, Scope.DIAGNOSTICS})
ORG_ADMIN_SCOPES = STAFF_SCOPES | {Scope.SETTINGS}
SUPPORT_SCOPES = frozenset({Scope.DIAGNOSTICS})


@dataclass(frozen=True)
class Principal:
    """A signed-in account, as the access token and its live session say."""

    account_id: int
    session_id: int
    email: str
    email_verified: bool
    is_support: bool


@dataclass(frozen=True)
class BandRoles:
    owner: bool
    shared: frozenset[str]
    org_role: str | None
    support: bool

    def scopes(self) -> frozenset[Scope]:
        if self.owner:
            return OWNER_SCOPES
        scopes: set[Scope] = {Scope(s) for s in self.shared}
        if scopes:
            scopes.add(Scope.DIAGNOSTICS)
        if self.org_role == "admin":
            scopes |= ORG_ADMIN_SCOPES
        elif self.org_role == "staff":
            scopes |= STAFF_SCOPES
        if self.support:
            scopes |= SUPPORT_SCOPES
        return frozenset(scopes)

    def actor(self) -> str:
        """The role named in the audit log."""
        if self.owner:
            return "owner"
        if self.shared:
            return "share"
        if self.org_role:
            return f"org_{self.org_role}"
        return "support" if self.support else "none"


_ROLES_SQL = """
SELECT b.owner_id IS NOT DISTINCT FROM %(a)s AS owner,
       COALESCE((SELECT array_agg(DISTINCT s) FROM shares sh, unnest(sh.scopes) s
                 WHERE sh.band_id = b.band_id AND sh.account_id = %(a)s
                   AND sh.accepted_at IS NOT NULL AND sh.revoked_at IS NULL), '{}') AS shared,
       (SELECT m.role FROM org_members m
        WHERE m.org_id = b.org_id AND m.account_id = %(a)s) AS org_role
FROM bands b WHERE b.band_id = %(b)s
"""


async def band_roles(conn: AsyncConnection, who: Principal, band_id: str) -> BandRoles | None:
    """The caller's roles for an existing band; None when the band does not exist."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_ROLES_SQL, {"a": who.account_id, "b": band_id})
    row = await cur.fetchone()
    if row is None:
        return None
    return BandRoles(row["owner"], frozenset(row["shared"]), row["org_role"], who.is_support)


def visible_bands_sql(who: Principal, scope: Scope) -> tuple[str, dict]:
    """``band_id IN (…)`` for the bands on which the caller holds ``scope``, to put in a
    list's WHERE clause (the same rules as ``BandRoles.scopes``)."""
    if who.is_support and scope in SUPPORT_SCOPES:
        return "TRUE", {}
    sql = """band_id IN (
        SELECT band_id FROM bands WHERE owner_id = %(viewer)s
        UNION SELECT band_id FROM shares WHERE account_id = %(viewer)s
          AND accepted_at IS NOT NULL AND revoked_at IS NULL
          AND (%(scope)s = ANY(scopes) OR %(scope)s = 'diagnostics')
        UNION SELECT b.band_id FROM bands b JOIN org_members m ON m.org_id = b.org_id
          WHERE m.account_id = %(viewer)s
            AND (%(scope)s = ANY(%(staff)s)
                 OR (m.role = 'admin' AND %(scope)s = ANY(%(admin)s))))"""
    return sql, {
        "viewer": who.account_id,
        "scope": str(scope),
        "staff": [str(s) for s in STAFF_SCOPES],
        "admin": [str(s) for s in ORG_ADMIN_SCOPES],
    }
