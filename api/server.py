"""Run the API with uvicorn inside an asyncio program."""

from __future__ import annotations

import asyncio

import uvicorn

from api.main import create_app
from bandhub.settings import Settings


async def serve_api(settings: Settings, stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
