"""Access tokens (short-lived signed JWTs naming the session) and opaque secrets
(refresh tokens, e-mail and invitation tokens) stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    account_id: int
    session_id: int


def new_secret() -> str:
    """A random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint_access(key: str, account_id: int, session_id: int, ttl_s: float) -> str:
    now = int(time.time())
    claims = {"sub": str(account_id), "sid": session_id, "iat": now, "exp": now + int(ttl_s)}
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def read_access(key: str, token: str) -> AccessClaims | None:
    """The claims of a valid, unexpired token; None for anything else."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[_ALGORITHM], options={"require": ["sub", "sid", "exp"]}
        )
        return AccessClaims(int(claims["sub"]), int(claims["sid"]))
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
