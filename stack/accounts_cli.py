"""``bandhub accounts``: what an operator does to accounts from the server's shell
(create one, make someone support staff, end someone's sessions); everything else is
the API's."""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated

import typer

from stack.cli_support import fail, with_db

accounts_app = typer.Typer(help="Accounts, from the server's shell.", no_args_is_help=True)


@accounts_app.command("create")
def create(
    email: str,
    password: Annotated[
        str | None, typer.Option(help="Default: a random one, printed once")
    ] = None,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    support: Annotated[bool, typer.Option(help="bandhub support staff")] = False,
) -> None:
    """Create an account whose address is taken as confirmed (the operator vouches)."""
    from api.accounts import create_account

    chosen = password or secrets.token_urlsafe(12)
    if len(chosen) < 10:
        fail("a password has at least 10 characters")

    async def work(conn):
        return await create_account(conn, email, chosen, name, verified=True, support=support)

    account = asyncio.run(with_db(work))
    typer.echo(f"account {account['id']}: {account['email']}" + (" (support)" if support else ""))
    if password is None:
        typer.echo(f"password: {chosen}")


@accounts_app.command("support")
def make_support(
    email: str, revoke: Annotated[bool, typer.Option(help="Take the role away")] = False
) -> None:
    """Make an account bandhub support staff (diagnostics of every band, no health data)."""

    async def work(conn):
        cur = await conn.execute(
            "UPDATE accounts SET is_support = %s WHERE lower(email) = lower(%s) RETURNING id",
            (not revoke, email),
        )
        return await cur.fetchone()

    if asyncio.run(with_db(work)) is None:
        fail(f"no account {email}")
    typer.echo(f"{email}: support {'revoked' if revoke else 'granted'}")


@accounts_app.command("sign-out")
def sign_out(email: str) -> None:
    """End every session of an account at once (a lost phone, a leaver)."""
    from api.accounts import revoke_sessions

    async def work(conn):
        cur = await conn.execute("SELECT id FROM accounts WHERE lower(email) = lower(%s)", (email,))
        row = await cur.fetchone()
        if row is not None:
            await revoke_sessions(conn, row["id"])
        return row

    if asyncio.run(with_db(work)) is None:
        fail(f"no account {email}")
    typer.echo(f"{email}: every session ended")
