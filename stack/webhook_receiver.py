"""A small webhook receiver that checks Standard Webhooks signatures.

The demo registers it as band 1's emergency contact so a fall alert's delivery can
be seen; tests use it as the real HTTP endpoint on the other side of the dispatcher.
Its verification is written from the Standard Webhooks spec, independently of the
signing code, so that the two check each other.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stack.ports import free_port

TOLERANCE_S = 300


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True if ``webhook-signature`` holds a v1 HMAC-SHA256 of ``id.timestamp.body``."""
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit() or abs(time.time() - int(ts)) > TOLERANCE_S:
        return False
    key = secret.removeprefix("whsec_")
    try:
        key_bytes = base64.b64decode(key, validate=True)
    except ValueError:
        key_bytes = key.encode()
    expected = base64.b64encode(
        hmac.new(key_bytes, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    given = headers.get("webhook-signature", "").split()
    return any(sig.startswith("v1,") and hmac.compare_digest(sig[3:], expected) for sig in given)


@dataclass
class Delivery:
    webhook_id: str
    valid_signature: bool
    payload: dict
    received_at: float


@dataclass
class WebhookReceiver:
    """Runs on 127.0.0.1:<port>; ``deliveries`` lists what arrived, in order."""

    secret: str
    port: int = 0
    fail_with: int | None = None  # answer this status instead of 200 (to test retries)
    deliveries: list[Delivery] = field(default_factory=list)
    # while set and not released, requests are recorded but not answered (a sender
    # killed mid-send sees no reply)
    hold: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self.fail_with is not None:
            return JSONResponse({"error": "receiver told to fail"}, status_code=self.fail_with)
        headers = {k.lower(): v for k, v in request.headers.items()}
        ok = verify_signature(self.secret, headers, body)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"unparsed": body.decode(errors="replace")}
        self.deliveries.append(Delivery(headers.get("webhook-id", ""), ok, payload, time.time()))
        self.arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return JSONResponse({"ok": ok}, status_code=200 if ok else 401)

    async def start(self) -> None:
        if not self.port:
            self.port = free_port()
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():  # e.g. the port was taken meanwhile
                raise RuntimeError(f"webhook receiver could not start on port {self.port}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
