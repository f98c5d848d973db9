"""One-click acknowledgement links: an HMAC over (alert, contact) with a key the
database holds (``server_keys``), so the dispatcher that writes the link and the API
that checks it agree without sharing configuration."""

from __future__ import annotations

import hashlib
import hmac


def ack_signature(key: str, alert_id: int, contact_id: int) -> str:
    msg = f"ack:{alert_id}:{contact_id}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()[:32]


def ack_url(base: str, key: str, alert_id: int, contact_id: int) -> str:
    sig = ack_signature(key, alert_id, contact_id)
    return f"{base.rstrip('/')}/alerts/{alert_id}/ack-link?contact={contact_id}&sig={sig}"


def valid(key: str, alert_id: int, contact_id: int, sig: str) -> bool:
    return hmac.compare_digest(ack_signature(key, alert_id, contact_id), sig)


def opt_out_signature(key: str, contact_id: int) -> str:
    msg = f"opt-out:{contact_id}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()[:32]


def opt_out_url(base: str, key: str, contact_id: int) -> str:
    sig = opt_out_signature(key, contact_id)
    return f"{base.rstrip('/')}/contacts/{contact_id}/opt-out?sig={sig}"


def valid_opt_out(key: str, contact_id: int, sig: str) -> bool:
    return sig.isascii() and hmac.compare_digest(opt_out_signature(key, contact_id), sig)
