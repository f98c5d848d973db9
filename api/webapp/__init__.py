"""The companion web app: static files (plain ES modules, no build step) that bandhub
serves at ``/app/`` and that talk to the public API like any other client."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """``/app/`` serves index.html (``/app`` redirects there: the router adds the slash).
    A mount is not an API route: it is neither in the OpenAPI document nor in the
    authorization matrix, and it holds no data, only the app's own files."""
    app.mount("/app", StaticFiles(directory=STATIC, html=True), name="webapp")
