"""Claim codes: proof that whoever registers a band holds it (the code is printed on
its box). The code is an HMAC of the band id under a secret the manufacturer and the
server share (``BANDHUB_CLAIM_SECRET``), so the server can check it without a list
and nobody can derive the code of someone else's band from its id."""

from __future__ import annotations

import base64
import hashlib
import hmac


def claim_code(secret: str, band_id: str) -> str:
    digest = hmac.new(secret.encode(), band_id.encode(), hashlib.sha256).digest()
    code = base64.b32encode(digest).decode()[:8]
    return f"{code[:4]}-{code[4:]}"


def valid(secret: str, band_id: str, code: str) -> bool:
    given = code.strip().upper().replace(" ", "")
    if "-" not in given and len(given) == 8:
        given = f"{given[:4]}-{given[4:]}"
    return hmac.compare_digest(claim_code(secret, band_id), given)
