"""The FastAPI application: one router per resource, a connection pool for the app's
lifetime, and JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api import webapp
from api.command_publisher import CommandPublisher
from api.errors import install
from api.routes import (
    alerts,
    audit,
    auth,
    bands,
    challenges,
    commands,
    contacts,
    dead_letters,
    firmware,
    gateways,
    home_assistant,
    organisations,
    privacy,
    shares,
    summaries,
)
from bandhub.settings import Settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with app.state.pool:
        try:
            yield
        finally:
            app.state.commands.close()


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="bandhub",
        version="0.1.0",
        description="Health summaries and alerts from bandhub wristbands.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.pool = AsyncConnectionPool(
        settings.database_url, min_size=1, max_size=8, open=False, kwargs={"row_factory": dict_row}
    )
    app.state.commands = CommandPublisher(settings)
    install(app)
    routers = (auth, bands, gateways, shares, organisations, contacts, commands, summaries, alerts)
    for resource in (*routers, challenges, home_assistant, audit, privacy, dead_letters, firmware):
        app.include_router(resource.router)
    webapp.mount(app)
    return app
